// Protocols are data for the VMM: a copy of v2.json with every state given a
// new name and a new value (written by the test) migrates every bundled v2
// pre-copy scenario exactly like v2 does — same outcome, bytes, times and
// ABI counts; only state names in messages differ, and they map back.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace {

using mdevsim::testing::run_cli;
using nlohmann::json;
namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// New names and values for v2's states: no state keeps its number, and no
// name is part of another (so mapping them back is exact).
const std::map<std::string, std::pair<std::string, int>> kRenamed = {
    {"ERROR", {"Broken", 17}},       {"STOP", {"Halted", 3}},
    {"RUNNING", {"Live", 9}},        {"STOP_COPY", {"Draining", 12}},
    {"RESUMING", {"Loading", 5}},    {"RUNNING_P2P", {"Quiet", 30}},
    {"PRE_COPY", {"Streaming", 21}}, {"PRE_COPY_P2P", {"Hushed", 8}},
};

std::string write_renamed_v2() {
  json p = json::parse(read(fs::path(MDEVSIM_SOURCE_DIR) / "scenarios/protocols/v2.json"), nullptr,
                       true, /*ignore_comments=*/true);
  p["name"] = "v2-renamed";
  for (auto& st : p["states"]) {
    const auto& [name, value] = kRenamed.at(st["name"].get<std::string>());
    st["name"] = name;
    st["value"] = value;
  }
  for (const char* list : {"arcs", "blocked"})
    for (auto& a : p[list])
      for (const char* end : {"from", "to"}) a[end] = kRenamed.at(a[end].get<std::string>()).first;
  const std::string path =
      ::testing::TempDir() + "/v2-renamed." + std::to_string(getpid()) + ".json";
  std::ofstream(path) << p.dump(2);
  return path;
}

// The bundled scenarios that migrate over v2 (stated or by default) in pre-copy.
std::vector<fs::path> v2_scenarios() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(MDEVSIM_SOURCE_DIR) / "scenarios")) {
    if (e.path().extension() != ".json") continue;
    const json s = json::parse(read(e.path()), nullptr, true, true);
    if (!s.contains("migration")) continue;
    const std::string protocol = s.value("/device/protocol"_json_pointer, std::string("v2"));
    if (protocol == "v2") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The renamed run's result with the renamed state names mapped back.
std::string mapped_back(std::string text) {
  for (const auto& [orig, renamed] : kRenamed) {
    const std::string& name = renamed.first;
    for (size_t at = 0; (at = text.find(name, at)) != std::string::npos; at += orig.size())
      text.replace(at, name.size(), orig);
  }
  return text;
}

TEST(RenamedProtocol, EveryBundledV2ScenarioMigratesTheSame) {
  const std::string renamed = write_renamed_v2();
  // The frontend takes its states from the file: no builtin v2 name may show.
  const std::string trace = ::testing::TempDir() + "/renamed.trace." + std::to_string(getpid());
  run_cli("run " + (fs::path(MDEVSIM_SOURCE_DIR) / "scenarios/quickstart.json").string() +
          " --set device.protocol=" + renamed + " --trace " + trace);
  const std::string t = read(trace);
  std::remove(trace.c_str());
  ASSERT_EQ(t.find("[RUNNING]"), std::string::npos)
      << "the frontend must open the device in the renamed file's default state";
  const auto scenarios = v2_scenarios();
  ASSERT_GE(scenarios.size(), 15u) << "the bundled v2 scenarios";
  for (const auto& s : scenarios) {
    SCOPED_TRACE(s.filename().string());
    const auto a = run_cli("run " + s.string() + " --json -");
    const auto b = run_cli("run " + s.string() + " --set device.protocol=" + renamed + " --json -");
    ASSERT_NE(a.code, 2) << a.err;
    EXPECT_EQ(a.code, b.code) << b.err;
    json ja = json::parse(a.out), jb = json::parse(mapped_back(b.out));
    EXPECT_EQ(ja["outcome"], jb["outcome"]) << jb["reason"];
    EXPECT_EQ(ja.dump(1), jb.dump(1));
  }
}

}  // namespace
