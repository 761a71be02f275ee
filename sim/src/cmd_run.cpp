// mdevsim run SCENARIO [--set PATH=VALUE]... [--json FILE|-] [...]
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "mdevsim/sim/cli_options.h"
#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/device_run.h"
#include "mdevsim/sim/host.h"
#include "mdevsim/sim/migration.h"
#include "mdevsim/sim/outputs.h"
#include "mdevsim/sim/report.h"
#include "mdevsim/sim/result.h"
#include "mdevsim/sim/run_outputs.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim/sim/units.h"

namespace mdevsim::sim {

namespace {

constexpr const char* kRunHelp = R"(Usage: mdevsim run SCENARIO [options]

Runs one scenario and prints a short summary. A scenario is a JSON file
(comments allowed); see docs/scenarios.md for every key.

Options:
  --set PATH=VALUE   override a scenario value, e.g. --set device.vram=8GiB
                     or --set workload.dirty_rate=1GiB/s (validated like the file)
  --json FILE|-      write the result JSON (schema mdevsim.result/1) to FILE,
                     or to stdout with '-' (as every output but --vcd can)
  --exact            move device state through read()/write() byte buffers
                     instead of the in-process zero-copy path (same result)
  --trace FILE       every VFIO call of both hosts, strace-style, with its
                     state change and the rules that decided it
                     (docs/abi-trace.md)
  --timeline FILE    Chrome/Perfetto trace-event JSON: phases, device states,
                     link transfers, downtime, counters, ABI calls; open in
                     ui.perfetto.dev (docs/timeline.md)
  --vcd FILE         VCD waveform (GTKWave, Surfer): device states, engines
                     busy, dirty pages, remaining bytes, link bytes in
                     flight, downtime (docs/waveform.md)
  --report FILE      self-contained HTML report with charts (docs/report.md)
  --help             this text

Output files are opened before the run starts: one that cannot be written
stops the command with exit code 2, and so do two outputs given the same
file. '-' writes an output to stdout (--json, --trace, --timeline, --report;
not --vcd, which needs a file); the summary then goes to stderr. For a device-only scenario the trace is
empty and the timeline and report show the device run.

On a terminal, a run that takes more than about 2 s shows its progress
(simulated time, iteration, phase) on one updating line of stderr.

Exit codes: 0 success; 1 the migration failed or verification found a
difference; 2 bad input or an output file that cannot be written.
)";

// The `switchover` reason in words (docs/results.md).
std::string switchover_phrase(const Result& r) {
  if (r.switchover == "converged") return "converged";
  if (r.switchover == "forced") return "not converged, switched over anyway (forced)";
  if (r.switchover == "postcopy") return "then post-copy";
  return r.iterations.empty() ? "no switchover" : "not converged, no switchover";
}

// Faults that took effect, and those that did not (with why).
void print_faults(std::ostream& out, const Result& r) {
  for (const auto& f : r.faults)
    out << "fault      " << f.kind << " at " << format_duration(f.at_s)
        << (f.applied ? ": " : " not applied: ") << f.effect << "\n";
}

void print_summary(std::ostream& out, const Scenario& s, const Result& r) {
  out << "scenario   " << s.name << " (seed " << s.seed << ")\n";
  if (r.device_run) {
    const auto& d = *r.device_run;
    const double configured = s.workload.vram.rate_bytes_per_s;
    out << "simulated  " << format_duration(s.duration_s) << " of a "
        << format_bytes(static_cast<double>(s.device.config.vram_bytes)) << " device, "
        << format_bytes(s.device.config.page_size) << " pages\n";
    out << "writes     " << d.page_writes << " page writes, " << d.unique_pages
        << " distinct pages ("
        << format_bytes(static_cast<double>(d.unique_pages) * s.device.config.page_size) << ")\n";
    out << "rate       " << format_rate(d.achieved_rate) << " achieved";
    if (configured > 0) out << " (configured " << format_rate(configured) << ")";
    out << "\n";
  }
  if (s.migrates) {
    out << "migration  " << s.device.protocol << " (" << (s.device.protocol == "v1" ? "region" : [&] {
      std::string f;
      for (const auto& x : s.device.features) f += (f.empty() ? "" : ",") + x;
      return f;
    }()) << "), " << format_bytes(static_cast<double>(s.device.config.vram_bytes)) << " VRAM, "
        << format_bytes(static_cast<double>(s.vm.ram_bytes)) << " RAM, link " << format_rate(s.link.bandwidth)
        << " line, " << format_rate(s.link.bandwidth * s.link.efficiency) << " usable";
    // max-bandwidth counts the bytes QEMU writes: not scaled by the efficiency.
    if (s.link.rate_limit) out << ", " << format_rate(*s.link.rate_limit) << " rate limit";
    out << "\n";
    out << "iterations " << r.iterations.size() << ", " << switchover_phrase(r) << "\n";
    const bool exceeded = r.outcome == "completed" && r.downtime_s > s.migration.downtime_limit_s;
    out << "downtime   " << format_duration(r.downtime_s) << " (limit "
        << format_duration(s.migration.downtime_limit_s) << (exceeded ? ", exceeded" : "") << ")\n";
    out << "total      " << format_duration(r.total_time_s) << ", "
        << format_bytes(static_cast<double>(r.ram_bytes)) << " RAM + "
        << format_bytes(static_cast<double>(r.device_bytes)) << " device sent\n";
    if (r.postcopy) {
      const auto& pc = *r.postcopy;
      out << "post-copy  " << pc["faults"].get<uint64_t>() << " faults ("
          << pc["device_faults"].get<uint64_t>() << " device, " << pc["ram_faults"].get<uint64_t>()
          << " RAM), stall p50 " << format_duration(pc["stall_p50_s"].get<double>()) << " p99 "
          << format_duration(pc["stall_p99_s"].get<double>()) << ", risk window "
          << format_duration(pc["risk_window_s"].get<double>()) << "\n";
      char slow[96];
      std::snprintf(slow, sizeof slow, "%.1f%% device work, %.1f%% vCPU writes",
                    100 * pc["device_slowdown"].get<double>(),
                    100 * pc["vcpu_slowdown"].get<double>());
      out << "slowdown   " << slow << " behind a never-migrated reference\n";
    }
    if (r.verification.checked)
      out << "verify     "
          << (r.outcome == "vm_lost"
                  ? std::string("not possible: the destination never received every page")
              : r.verification.passed && r.postcopy
                  ? std::string(
                        "passed: destination equals source at the switch, and every fetched page "
                        "carried the source's content")
              : r.verification.passed
                  ? "passed: destination equals source, and continues identically"
                  : (r.verification.failed_check.empty()
                         ? std::string("FAILED")
                         : "FAILED " + describe_verification_failure(r.verification)))
          << "\n";
  }
  print_faults(out, r);
  out << "outcome    " << r.outcome << (r.reason.empty() ? "" : ": " + r.reason) << "\n";
}

int run(int argc, char** argv) {
  std::string scenario_path, json_out, trace_out, timeline_out, vcd_out, report_out;
  bool exact = false;
  std::vector<std::string> overrides;
  cli::ArgReader args(argc, argv, " (see mdevsim run --help)");
  while (args.next()) {
    if (args.help()) {
      std::cout << kRunHelp;
      return 0;
    } else if (args.is("--set")) {
      overrides.push_back(args.value());
    } else if (args.is("--exact")) {
      exact = true;
    } else if (args.is("--json")) {
      json_out = args.value();
    } else if (args.is("--trace")) {
      trace_out = args.value();
    } else if (args.is("--timeline")) {
      timeline_out = args.value();
    } else if (args.is("--vcd")) {
      vcd_out = args.value();
    } else if (args.is("--report")) {
      report_out = args.value();
    } else if (args.looks_like_option()) {
      args.unknown();
    } else {
      args.positional(scenario_path);
    }
  }
  if (scenario_path.empty()) throw cli::UsageError{"missing SCENARIO (see mdevsim run --help)"};
  Scenario s;
  try {
    s = load_scenario(scenario_path, overrides);
  } catch (const InputError& e) {
    std::cerr << "mdevsim: " << e.what() << "\n";
    return 2;
  }
  // Every output file is opened before the run: a typo in a path should not
  // cost a long simulation. '-' is stdout for each output written as a
  // stream (the summary then goes to stderr); two outputs cannot share a path.
  struct Output {
    const char* option;
    const std::string* path;
    std::ofstream file;
    bool to_stdout() const { return *path == "-"; }
    std::ostream& stream() { return to_stdout() ? std::cout : file; }
  };
  Output outputs[] = {{"--json", &json_out, {}},
                      {"--trace", &trace_out, {}},
                      {"--timeline", &timeline_out, {}},
                      {"--report", &report_out, {}},
                      {"--vcd", &vcd_out, {}}};
  Output& json_o = outputs[0];
  Output& trace_o = outputs[1];
  Output& timeline_o = outputs[2];
  Output& report_o = outputs[3];
  bool summary_to_stderr = false;
  for (auto& o : outputs) {
    if (o.path->empty()) continue;
    for (auto* other = outputs; other != &o; ++other) {
      if (other->path->empty()) continue;
      std::error_code ec1, ec2;
      const bool same =
          *other->path == *o.path || (*o.path != "-" && *other->path != "-" &&
                                      std::filesystem::weakly_canonical(*o.path, ec1) ==
                                          std::filesystem::weakly_canonical(*other->path, ec2) &&
                                      !ec1 && !ec2);
      if (same) {
        std::cerr << "mdevsim run: " << other->option << " and " << o.option << " both write "
                  << (*o.path == "-" ? "stdout ('-')" : *o.path)
                  << ": give each output its own file\n";
        return 2;
      }
    }
    if (o.to_stdout()) {
      if (&o == &outputs[4]) {
        std::cerr << "mdevsim run: --vcd -: the waveform needs a file name (SystemC writes and "
                     "rewrites the file itself); '-' is stdout only for --json, --trace, "
                     "--timeline and --report\n";
        return 2;
      }
      summary_to_stderr = true;
      continue;
    }
    errno = 0;
    o.file.open(*o.path, std::ios::binary | std::ios::trunc);
    if (!o.file) {
      std::cerr << "mdevsim run: cannot write " << *o.path << ": "
                << (errno ? std::strerror(errno) : "cannot open it") << "\n";
      return 2;
    }
    if (&o == &outputs[4]) o.file.close();  // SystemC writes the VCD itself: only checked here
  }
  RecorderOptions ro;
  ro.record = !trace_out.empty() || !timeline_out.empty() || !report_out.empty();
  ro.vcd = vcd_out;
  ro.progress = ::isatty(2) == 1;
  // Tests: the progress line at once and at every slice (default: after 2 s
  // of wall time, at most 10 repaints a second).
  if (const char* after = std::getenv("MDEVSIM_PROGRESS_AFTER")) {
    ro.progress_after_s = std::atof(after);
    ro.progress_repaint_s = 0;
  }
  std::optional<RunRecorder> recorder;
  if (ro.record || !ro.vcd.empty() || ro.progress) {
    recorder.emplace(ro);
    recorder->log.protocol = s.device.protocol;
    recorder->log.features = s.device.features;
  }
  RunRecorder* rec = recorder ? &*recorder : nullptr;
  Result r;
  try {
    RunOptions options;
    options.exact = exact;
    options.recorder = rec;
    r = s.migrates ? run_migration(s, options) : run_device_only(s, rec);
    if (rec) rec->close();
  } catch (const std::exception& e) {
    if (rec) rec->close();
    std::cerr << "mdevsim: " << scenario_path << ": " << e.what() << "\n";
    return 2;
  }
  const std::string text = to_json(r).dump(2) + "\n";
  std::ostream& summary = summary_to_stderr ? std::cerr : std::cout;
  print_summary(summary, s, r);
  auto written = [&](Output& o) {
    o.stream().flush();
    if (o.stream()) return true;
    std::cerr << "mdevsim run: cannot write " << (o.to_stdout() ? "stdout" : *o.path) << ": "
              << (errno ? std::strerror(errno) : "write failed") << "\n";
    return false;
  };
  if (rec) {
    if (!trace_out.empty()) {
      write_abi_trace(rec->log, trace_o.stream());
      if (!written(trace_o)) return 2;
    }
    if (!timeline_out.empty()) {
      write_timeline(rec->log, r, timeline_o.stream());
      if (!written(timeline_o)) return 2;
    }
    if (!report_out.empty()) {
      ReportContext ctx;
      if (s.migrates && s.device.protocol == "v1") {
        ctx = ReportContext::from_v1();
      } else if (s.migrates) {
        // The kernel's v2 in its words, or a protocol file in its own; the
        // states and arcs a device with these features implements.
        const bool file = s.device.protocol_def != nullptr;
        ctx = ReportContext::from_drawing(
            draw_protocol(file ? *s.device.protocol_def : vfio::builtin_protocol_v2(),
                          frontend_options(s, true).migration_flags,
                          file ? ProtocolStyle::kFile : ProtocolStyle::kKernel));
        if (file) ctx.features = s.device.features;
      }
      ctx.scenario = s.name;
      if (s.migrates) ctx.downtime_limit_s = s.migration.downtime_limit_s;
      if (s.migrates) ctx.link_bandwidth = s.link.bandwidth;
      write_html_report(r, rec->log, ctx, report_o.stream());
      if (!written(report_o)) return 2;
    }
  }
  if (!json_out.empty()) {
    json_o.stream() << text;
    if (!written(json_o)) return 2;
  }
  return exit_code_for(r);
}

}  // namespace

int cmd_run(int argc, char** argv) {
  return cli::run_command("run", [&] { return run(argc, argv); });
}

}  // namespace mdevsim::sim
