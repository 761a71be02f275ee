// The bundled workload scenarios answer what their descriptions say, checked
// against arithmetic on each file's own parameters (read here from the file,
// not from the simulator): pre-copy's first pass sends what is resident at
// the usable link rate (line rate x link.efficiency) after QEMU's zero-page
// scan of the RAM not in use; pre-copy converges iff what the workload can
// dirty during a pass (each pattern at most its region, a hot set its hot
// part plus its cold writes) shrinks to what the downtime limit allows at
// that rate; the final set fits the limit; post-copy
// slows the device down while the weights it reads are still at the source.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim_run.h"

namespace {

using mdevsim::testing::run_scenario;
using mdevsim::testing::scenario_path;
using mdevsim::testing::SimRun;
using nlohmann::json;

constexpr double kEfficiency = 1448.0 / 1538;  // link.efficiency's default
constexpr double kScan = 9e9;                  // vm.scan_bandwidth's default, bytes/s
constexpr double kDowntimeLimit = 0.3;         // every scenario here: 300 ms

// The scenario file as JSON (the quickstart opens with // comment lines).
json scenario_file(const std::string& name) {
  std::ifstream in(scenario_path(name));
  std::string line, text;
  while (std::getline(in, line))
    if (line.rfind("//", 0) != 0) text += line + "\n";
  return json::parse(text);
}

// "12.5GiB", "768MiB", "1354MiB" -> bytes; "25Gbit/s", "2GiB/s" -> bytes/s.
double quantity(const std::string& s) {
  std::size_t end = 0;
  const double v = std::stod(s, &end);
  const std::string unit = s.substr(end);
  if (unit == "GiB" || unit == "GiB/s") return v * (1ull << 30);
  if (unit == "MiB" || unit == "MiB/s") return v * (1ull << 20);
  if (unit == "Gbit/s") return v * 1e9 / 8;
  ADD_FAILURE() << "unit of " << s;
  return 0;
}

// Bytes resident: a size, "N%" of `whole`, or a list of regions.
double resident(const json& r, double whole) {
  if (r.is_array()) {
    double sum = 0;
    for (const auto& region : r) sum += quantity(region["size"]);
    return sum;
  }
  const std::string s = r.get<std::string>();
  if (s.back() == '%') return whole * std::stod(s) / 100;
  return quantity(s);
}

// What a pattern can have dirtied t seconds after a sync, at most: a page
// written twice counts once, so a pattern confined to its region dirties no
// more than the region, and a hot set no more than its hot part plus the
// cold writes.
struct Writer {
  double rate = 0, region = 0, hot = 0, hot_probability = 0;
  double dirty_within(double t) const {
    const double written = rate * t;
    if (hot_probability == 0) return std::min(region, written);
    return std::min(region,
                    std::min(hot, hot_probability * written) + (1 - hot_probability) * written);
  }
};

constexpr double kDmaBuffer = 16.0 * (1 << 20);  // device.dma_buffer's default

struct Expected {
  double usable = 0;        // bytes/s of migration data
  double resident = 0;      // device + RAM bytes holding content at time 0
  double zero_ram = 0;      // RAM bytes not in use (scanned, 8-byte headers only)
  double first_pass_s = 0;  // resident / usable + zero RAM / scan rate
  std::vector<Writer> writers;
  double dirty_within(double t) const {
    double d = 0;
    for (const auto& w : writers) d += w.dirty_within(t);
    return d;
  }
  // Pre-copy by whole passes: each sends what the previous one left dirty
  // (at most dirty_within its duration); the number of passes until the
  // remainder fits the limit, or 0 if it never does within 30.
  int passes_to_converge() const {
    double t = first_pass_s;
    for (int pass = 1; pass <= 30; ++pass) {
      const double left = dirty_within(t);
      if (left / usable <= kDowntimeLimit) return pass;
      t = left / usable;
    }
    return 0;
  }
};

// The region a pattern writes: a named resident region, {offset, size}, or all.
double region_size(const json& p, const json& resident_regions, double whole) {
  if (!p.contains("region")) return whole;
  if (p["region"].is_object()) return quantity(p["region"]["size"]);
  for (const auto& r : resident_regions)
    if (r["name"] == p["region"]) return quantity(r["size"]);
  ADD_FAILURE() << "no region " << p["region"];
  return whole;
}

void add_writers(const json& patterns, const json& regions, double whole, Expected& e) {
  const json list = patterns.is_array() ? patterns : json::array({patterns});
  for (const auto& p : list) {
    Writer w;
    w.region = region_size(p, regions, whole);
    if (p.contains("dirty_rate")) w.rate = quantity(p["dirty_rate"]);
    if (p.contains("frame_size")) w.rate = quantity(p["frame_size"]) * p["fps"].get<double>();
    if (p.value("kind", "uniform") == "hotset") {
      w.hot = w.region * p.value("hot_fraction", 0.1);
      w.hot_probability = p.value("hot_probability", 0.9);
    }
    if (w.rate > 0) e.writers.push_back(w);
    if (p.contains("dma_rate")) e.writers.push_back({quantity(p["dma_rate"]), kDmaBuffer});
  }
}

Expected expect(const json& s) {
  Expected e;
  e.usable = quantity(s["link"]["bandwidth"]) * kEfficiency;
  const double vram = quantity(s["device"]["vram"]), ram = quantity(s["vm"]["ram"]);
  const double ram_resident = resident(s["vm"]["resident"], ram);
  e.resident = resident(s["device"]["resident"], vram) + ram_resident;
  e.zero_ram = ram - ram_resident;
  e.first_pass_s = e.resident / e.usable + e.zero_ram / kScan;
  add_writers(s["workload"], s["device"]["resident"], vram, e);
  add_writers(s["guest"], json::array(), ram, e);
  return e;
}

SimRun run(const std::string& name, const std::string& extra = "") {
  SimRun r = run_scenario(scenario_path(name), extra);
  EXPECT_NE(r.code, 2) << r.out;
  return r;
}

double at(const json& j, const char* key) { return j.at(key).get<double>(); }

// A converged pre-copy run: the workload dirties slower than the link
// drains, the first pass is the resident bytes at the usable rate (plus the
// scan; what is dirtied meanwhile adds little), and the final set fits the
// limit at that rate.
json expect_converged_precopy(const std::string& name, bool first_iteration_is_a_pass) {
  const json s = scenario_file(name);
  const Expected e = expect(s);
  const int passes = e.passes_to_converge();
  EXPECT_GT(passes, 0) << name << ": the premise of converging";
  const SimRun r = run(name);
  const json& j = r.result;
  EXPECT_EQ(j.value("outcome", ""), "completed") << j.value("reason", "");
  if (!j.contains("stop_copy") || j["iterations"].empty()) {
    ADD_FAILURE() << name << ": no pre-copy switchover";
    return j;
  }
  EXPECT_EQ(j["switchover"], "converged");
  EXPECT_TRUE(j["verification"]["passed"].get<bool>());
  // Everything resident crosses the link at least once.
  EXPECT_GE(at(j["bytes"], "total"), e.resident);
  EXPECT_GE(at(j, "total_time_s"), e.resident / e.usable);
  EXPECT_LE(at(j, "total_time_s"), 1.25 * e.first_pass_s + 1.0)
      << "a first pass and a short tail, not many passes";
  if (first_iteration_is_a_pass) {
    // The bound on what is dirtied makes the count an upper bound.
    EXPECT_LE(j["iterations"].size(), static_cast<std::size_t>(passes));
    const double pass = at(j["iterations"][0], "duration_s");
    EXPECT_GE(pass, 0.99 * e.first_pass_s);
    EXPECT_LE(pass, 1.05 * e.first_pass_s);
  }
  // The final set is what the limit allows at the usable rate.
  const json& sc = j["stop_copy"];
  EXPECT_LE(at(sc, "ram_bytes") + at(sc, "device_bytes"), 1.05 * e.usable * kDowntimeLimit);
  EXPECT_LE(at(sc, "transfer_s"), 1.05 * kDowntimeLimit);
  return j;
}

const std::string kPostcopy =
    "--set device.protocol=v2-postcopy "
    "--set 'device.features=[\"stop_copy\",\"p2p\",\"pre_copy\",\"post_copy\"]' "
    "--set migration.mode=postcopy";

TEST(BundledScenarios, QuickstartConvergesAfterAFirstPassOfItsResidentBytes) {
  expect_converged_precopy("quickstart.json", true);
}

TEST(BundledScenarios, VdiConvergesAndStopCopiesNoMoreThanTheFramebuffer) {
  const json j = expect_converged_precopy("vdi-60fps.json", true);
  // The textures are idle: at the switch only framebuffer pages are dirty.
  const json s = scenario_file("vdi-60fps.json");
  double framebuffer = 0;
  for (const auto& region : s["device"]["resident"])
    if (region["name"] == "framebuffer") framebuffer = quantity(region["size"]);
  ASSERT_GT(framebuffer, 0);
  EXPECT_GT(at(j["stop_copy"], "device_bytes"), 0) << "redrawn every frame, always dirty";
  EXPECT_LE(at(j["stop_copy"], "device_bytes"), framebuffer * 1.01);
}

TEST(BundledScenarios, LargeRamVmConvergesAfterAFirstPassOfItsResidentRam) {
  expect_converged_precopy("large-ram-vm.json", false);
}

TEST(BundledScenarios, TrainingConvergesOnlyWhereTheLinkOutrunsTheStep) {
  const json s = scenario_file("training-sweep.json");
  const Expected fast = expect(s);
  ASSERT_GT(fast.passes_to_converge(), 0) << "100 Gbit/s drains faster than a step rewrites";
  const SimRun r = run("training-sweep.json");
  ASSERT_EQ(r.result.value("outcome", ""), "completed") << r.result.value("reason", "");
  EXPECT_EQ(r.result["switchover"], "converged");
  EXPECT_TRUE(r.result["verification"]["passed"].get<bool>());
  EXPECT_GE(at(r.result, "total_time_s"), fast.resident / fast.usable);
  EXPECT_LE(at(r.result["stop_copy"], "transfer_s"), 1.05 * kDowntimeLimit);

  json slow_link = s;
  slow_link["link"]["bandwidth"] = "25Gbit/s";
  const Expected slow = expect(slow_link);
  // Every region is rewritten once a second: over 25 Gbit/s a pass lasts
  // longer than that, so it leaves everything dirty again.
  ASSERT_EQ(slow.passes_to_converge(), 0) << "25 Gbit/s cannot keep up with the step";
  const SimRun cannot =
      run("training-sweep.json", "--set link.bandwidth=25Gbit/s --set migration.max_iterations=5");
  EXPECT_EQ(cannot.result.value("outcome", ""), "cancelled") << cannot.out;
  EXPECT_TRUE(cannot.result["verification"]["source_intact"].get<bool>());
}

TEST(BundledScenarios, InferencePrecopyIsTheQuickstartsAndReadsChangeNothingInIt) {
  // inference-hotset is the quickstart's VM plus reads (and a trickle of
  // DMA reads): neither dirties, so pre-copy moves the same bytes.
  const json with_reads = expect_converged_precopy("inference-hotset.json", true);
  const json without = run("inference-hotset.json", "--set workload.2.read_rate=0").result;
  EXPECT_NEAR(at(with_reads["bytes"], "total"), at(without["bytes"], "total"),
              1e-3 * at(without["bytes"], "total"));
  EXPECT_EQ(with_reads["iterations"].size(), without["iterations"].size());
}

// Every decode step reads all the weights; in post-copy they are at the
// source for at least weights / usable rate after the switch, so the device
// falls behind a never-migrated reference, and further than without reads.
TEST(BundledScenarios, InferencePostcopySlowsTheDeviceBecauseItReadsTheWeights) {
  const json s = scenario_file("inference-hotset.json");
  const Expected e = expect(s);
  const json reads = run("inference-hotset.json", kPostcopy).result;
  ASSERT_EQ(reads.value("outcome", ""), "completed") << reads.value("reason", "");
  const json& pc = reads["postcopy"];
  EXPECT_GE(at(pc, "risk_window_s"), e.resident / e.usable)
      << "everything crosses after the switch";
  EXPECT_GT(at(pc, "device_slowdown"), 0.5);
  const json no_reads =
      run("inference-hotset.json", kPostcopy + " --set workload.2.read_rate=0").result;
  EXPECT_LT(at(no_reads["postcopy"], "device_slowdown"), at(pc, "device_slowdown"));
  EXPECT_LT(no_reads["postcopy"]["device_faults"].get<double>(), pc["device_faults"].get<double>());
}

// Hybrid's pre-copy pass moves the weights; what is left for post-copy is
// only what that pass saw dirtied, far less than the weights.
TEST(BundledScenarios, HybridInferenceSendsTheWeightsBeforeTheSwitch) {
  const json s = scenario_file("hybrid-inference-hotset.json");
  const Expected e = expect(s);
  const double weights = quantity(s["device"]["resident"][0]["size"]);
  ASSERT_EQ(s["device"]["resident"][0]["name"], "weights");
  const json j = run("hybrid-inference-hotset.json").result;
  ASSERT_EQ(j.value("outcome", ""), "completed") << j.value("reason", "");
  ASSERT_EQ(j["iterations"].size(), 1u);
  EXPECT_GE(at(j["iterations"][0], "device_bytes"), weights);
  EXPECT_NEAR(at(j["iterations"][0], "duration_s"), e.first_pass_s, 0.05 * e.first_pass_s);
  EXPECT_LT(at(j["postcopy"], "risk_window_s"), weights / e.usable);
}

}  // namespace
