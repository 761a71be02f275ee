// The VCD waveform: SystemC writes it; the test reads the file back.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>

#include "mdevsim/sim/waveform.h"

namespace mdevsim::sim {
namespace {

using sc_core::sc_time;
using sc_core::SC_US;

// Drives the waveform the way the hosts and the link will: from a thread.
struct Driver : sc_core::sc_module {
  SC_HAS_PROCESS(Driver);
  Driver(sc_core::sc_module_name n, Waveform& w) : sc_core::sc_module(n), w_(w) { SC_THREAD(run); }
  void run() {
    w_.set_device_state(true, 2);   // RUNNING
    w_.set_device_state(false, 2);  // RUNNING
    wait(sc_time(1, SC_US));
    w_.set_device_state(true, 6);  // PRE_COPY
    w_.set_dirty_pages(1000);
    w_.set_engine_busy(true, true);
    wait(sc_time(2, SC_US));
    w_.set_dirty_pages(40);
    w_.set_link_bytes_in_flight(uint64_t{1} << 40);  // wider than 32 bits
    w_.set_remaining_bytes(65536);
    wait(sc_time(1, SC_US));
    w_.set_device_state(true, 3);  // STOP_COPY
    w_.set_engine_busy(true, false);
    w_.set_vm_downtime(true);
    w_.set_device_state(false, 4);  // RESUMING
    wait(sc_time(5, SC_US));
    w_.set_vm_downtime(false);
    w_.set_device_state(false, 2);
  }
  Waveform& w_;
};

struct Vcd {
  std::vector<std::string> lines;
  std::map<std::string, std::string> name_of;  // VCD id → $var name
  std::vector<uint64_t> times;
  // name → (time, value as written: "1", "0", or binary digits)
  std::map<std::string, std::vector<std::pair<uint64_t, std::string>>> changes;
};

Vcd read_vcd(const std::string& path) {
  Vcd v;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) v.lines.push_back(l);
  bool body = false;
  uint64_t now = 0;
  for (const auto& l : v.lines) {
    std::istringstream ls(l);
    std::vector<std::string> tok;
    for (std::string t; ls >> t;) tok.push_back(t);
    if (tok.empty()) continue;
    if (tok[0] == "$var" && tok.size() >= 5) v.name_of[tok[3]] = tok[4];
    if (tok[0] == "$enddefinitions") body = true;
    if (!body) continue;
    if (tok[0][0] == '#') {
      now = std::stoull(tok[0].substr(1));
      v.times.push_back(now);
    } else if (tok[0][0] == 'b' && tok.size() == 2 && v.name_of.count(tok[1])) {
      v.changes[v.name_of[tok[1]]].emplace_back(now, tok[0].substr(1));
    } else if ((tok[0][0] == '0' || tok[0][0] == '1') && v.name_of.count(tok[0].substr(1))) {
      v.changes[v.name_of[tok[0].substr(1)]].emplace_back(now, tok[0].substr(0, 1));
    }
  }
  return v;
}

// The value a signal had at time t (the last change at or before t).
uint64_t value_at(const Vcd& v, const std::string& name, uint64_t t) {
  uint64_t value = 0;
  const auto it = v.changes.find(name);
  if (it == v.changes.end()) return value;
  for (const auto& [when, bits] : it->second)
    if (when <= t) value = std::stoull(bits, nullptr, 2);
  return value;
}

bool has_line_starting(const Vcd& v, const std::string& prefix) {
  for (const auto& l : v.lines)
    if (l.rfind(prefix, 0) == 0) return true;
  return false;
}

TEST(Waveform, WritesAVcdWithEverySignalAndItsChanges) {
  // No ".vcd" suffix: the file must still be written exactly here.
  const auto path = (std::filesystem::temp_directory_path() /
                     ("mdevsim_waveform_" + std::to_string(::getpid()) + ".wave"))
                        .string();
  {
    Waveform w("waveform", path);
    Driver d("driver", w);
    sc_core::sc_start();
    w.close();
    w.close();  // idempotent
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".vcd"));
  const Vcd v = read_vcd(path);
  std::filesystem::remove(path);

  EXPECT_TRUE(has_line_starting(v, "$date"));
  EXPECT_TRUE(has_line_starting(v, "$version"));
  EXPECT_TRUE(has_line_starting(v, "$timescale"));
  EXPECT_TRUE(has_line_starting(v, "$enddefinitions"));
  std::map<std::string, int> seen;
  for (const auto& [id, name] : v.name_of) ++seen[name];
  for (const char* name :
       {"src_device_state", "dst_device_state", "src_engine_busy", "dst_engine_busy", "dirty_pages",
        "link_bytes_in_flight", "remaining_bytes", "vm_downtime"})
    EXPECT_EQ(seen[name], 1) << name;

  ASSERT_GE(v.times.size(), 4u);
  for (size_t i = 1; i < v.times.size(); ++i) EXPECT_LT(v.times[i - 1], v.times[i]) << i;

  // Times are in nanoseconds.
  EXPECT_EQ(value_at(v, "src_device_state", 0), 2u);
  EXPECT_EQ(value_at(v, "src_device_state", 999), 2u);
  EXPECT_EQ(value_at(v, "src_device_state", 1000), 6u);
  EXPECT_EQ(value_at(v, "src_device_state", 4000), 3u);
  EXPECT_EQ(value_at(v, "dirty_pages", 1000), 1000u);
  EXPECT_EQ(value_at(v, "dirty_pages", 3000), 40u);
  EXPECT_EQ(value_at(v, "link_bytes_in_flight", 3000), uint64_t{1} << 40);
  EXPECT_EQ(value_at(v, "remaining_bytes", 3000), 65536u);
  EXPECT_EQ(value_at(v, "src_engine_busy", 1000), 1u);
  EXPECT_EQ(value_at(v, "src_engine_busy", 4000), 0u);
  EXPECT_EQ(value_at(v, "vm_downtime", 3999), 0u);
  EXPECT_EQ(value_at(v, "vm_downtime", 4000), 1u);
  EXPECT_EQ(value_at(v, "vm_downtime", 9000), 0u);
  EXPECT_EQ(value_at(v, "dst_device_state", 4000), 4u);
  EXPECT_EQ(value_at(v, "dst_device_state", 9000), 2u);
}

TEST(Waveform, KeepsAVcdSuffixAsGiven) {
  const auto path = (std::filesystem::temp_directory_path() /
                     ("mdevsim_waveform_" + std::to_string(::getpid()) + ".vcd"))
                        .string();
  {
    Waveform w("waveform", path);
    Driver d("driver", w);
    sc_core::sc_start(sc_time(2, SC_US));
  }  // the destructor closes the file
  ASSERT_TRUE(std::filesystem::exists(path));
  const Vcd v = read_vcd(path);
  std::filesystem::remove(path);
  EXPECT_EQ(value_at(v, "dirty_pages", 1000), 1000u);
}

}  // namespace
}  // namespace mdevsim::sim
