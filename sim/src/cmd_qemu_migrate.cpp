// mdevsim qemu-migrate SCENARIO: a real QEMU source and destination, the
// simulated device interposed into both, driven over QMP (docs/qemu.md).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "mdevsim/sim/cli_options.h"
#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/qemu_support.h"
#include "mdevsim/sim/qmp.h"
#include "mdevsim/sim/result.h"
#include "mdevsim/sim/units.h"

namespace mdevsim::sim {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr const char* kHelp = R"(Usage: mdevsim qemu-migrate SCENARIO [options]

Live-migrates a VM with the scenario's simulated device between two real
QEMU processes on this machine (q35, TCG, no guest OS, RAM from vm.ram),
the device served to each by the interposer libmdevsim-vfio-host.so, and
verifies the destination. See docs/qemu.md.

Options:
  --qemu 7.2|10.0|PATH  which QEMU: 10.0 (installed, protocol v2; default),
                        7.2 (unpacked by scripts/install-deps, protocol v1),
                        or any qemu-system-x86_64 binary
  --uri tcp|unix|file   migration channel: tcp on 127.0.0.1 (default), a unix
                        socket, or a file the destination loads afterwards
                        (10.0 only)
  --set PATH=VALUE      override a scenario value (as mdevsim run)
  --paused              start the source paused (-S); the destination is
                        resumed with 'cont' after the migration
  --json FILE|-         write the result JSON (mdevsim.result/1 plus driver,
                        deterministic=false, qemu) to FILE or stdout
  --trace FILE          every VFIO call of both QEMUs, in the format of
                        mdevsim run --trace (docs/abi-trace.md)
  --keep                keep the work folder (QEMU logs, reports, sysfs)
  --kill-destination-after DURATION
                        fault injection: SIGKILL the destination QEMU this
                        long after 'migrate' (the source must keep running)
  --v1-mmap             QEMU 7.2: let QEMU mmap the v1 data section (the
                        interposer serves a real mapping) instead of
                        x-no-mmap=on, its 8-byte preads
  --no-device           migrate the VM without the simulated device: QEMU's
                        own RAM migration, a baseline (nothing verified)
  --help                this text

Scenario mapping: migration.downtime_limit -> downtime-limit,
link.rate_limit -> max-bandwidth, migration.multifd_channels -> multifd +
multifd-channels, migration.switchover_ack -> return-path + switchover-ack,
migration.dirty_tracking dma_logging|type1|none, migration.start_at -> how long
the source runs before 'migrate', migration.timeout -> the wait bound.

Runs are driven by a real QEMU and are not deterministic (timings, byte
counts); verification is exact.

Exit codes: 0 completed and verified; 1 the migration failed or verification
found a difference; 2 bad input (scenario, option, a protocol or feature this
QEMU does not have, the interposer not built).
)";

struct Side {
  std::string name;  // "source" / "destination"
  std::string dir, sysfsdev, qmp_sock, log, report, trace;
  ChildProcess proc;
  QmpClient qmp;
};

// query-migrate's bytes as {RAM, device}. QEMU 8.1+ reports the device's
// bytes as vfio.transferred, and its ram.transferred is the whole stream
// (migration_transferred_bytes(): migration/migration.c populate_ram_info in
// 10.0), the device's bytes included: RAM's share is the rest. Older QEMUs
// have no vfio entry and count RAM alone there.
std::pair<uint64_t, uint64_t> stream_split(const json& info) {
  const uint64_t stream = info["ram"].value("transferred", uint64_t{0});
  if (!info.contains("vfio")) return {stream, 0};
  const uint64_t device = info["vfio"].value("transferred", uint64_t{0});
  return {stream - std::min(stream, device), device};
}

std::string tail_of(const std::string& file, size_t lines = 4) {
  const std::string text = read_text(file);
  std::vector<std::string> all;
  std::string cur;
  for (char c : text) {
    if (c == '\n') {
      if (!cur.empty()) all.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  if (!cur.empty()) all.push_back(cur);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : " | ") + all[i];
  return out;
}

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free tcp port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// v1: the bytes of the buffers the source staged (each data_offset read
// notes the size), whether QEMU then preads or mmaps the data section.
uint64_t v1_data_bytes_read(const std::string& trace) {
  std::ifstream in(trace);
  uint64_t total = 0;
  static const std::string kNote = "stages the next buffer (";
  for (std::string l; std::getline(in, l);) {
    if (l.find(" src pread(device, data_offset") == std::string::npos) continue;
    const auto at = l.find(kNote);
    if (at != std::string::npos) total += std::strtoull(l.c_str() + at + kNote.size(), nullptr, 10);
  }
  return total;
}

double r9(double v) { return std::round(v * 1e9) / 1e9; }

// The outcome being built, written at the end whatever happened.
struct Run {
  std::string outcome = "completed", reason;
  json source_info, destination_info;
  std::string source_status, destination_status;
  bool source_alive = true, destination_alive = true;
  std::optional<std::vector<std::string>> destination_arcs;
  std::string source_device_state;  // before quitting
  // query-migrate while it ran: seconds since 'migrate', RAM and device bytes.
  Clock::time_point migrate_at;
  struct Sample {
    double t_s;
    uint64_t ram, device;
  };
  std::vector<Sample> samples;
};

void fail(Run& run, const std::string& why) {
  if (run.outcome == "completed") {
    run.outcome = "failed";
    run.reason = why;
  }
}

// Polls `query-migrate` on `side` until its status is final, `deadline`, or
// the process ends. Returns the last info.
json wait_migration(Side& side, Clock::time_point deadline, Run& run) {
  json info;
  for (;;) {
    if (!side.proc.running()) {
      run.source_alive = side.name != "source" && run.source_alive;
      throw std::runtime_error(side.name + " QEMU exited (code " +
                               std::to_string(side.proc.exit_code()) + "): " + tail_of(side.log));
    }
    // QEMU answers nothing while it holds its big lock for the stop-copy
    // phase: wait as long as the migration may take.
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    info =
        side.qmp.execute("query-migrate", nullptr, std::max<std::chrono::milliseconds>(left, 10s));
    const std::string st = info.value("status", "");
    if (info.contains("ram")) {
      const auto [ram, device] = stream_split(info);
      run.samples.push_back(
          {std::chrono::duration<double>(Clock::now() - run.migrate_at).count(), ram, device});
    }
    if (st == "completed" || st == "failed" || st == "cancelled") return info;
    if (Clock::now() >= deadline) return info;
    std::this_thread::sleep_for(20ms);
  }
}

int qemu_migrate(int argc, char** argv) {
  std::string scenario_path, qemu_spec = "10.0", uri_kind = "tcp", json_out, trace_out;
  std::vector<std::string> sets;
  bool paused = false, keep = false, no_device = false, v1_mmap = false;
  std::optional<double> kill_destination_after;
  cli::ArgReader args(argc, argv, " (see --help)");
  while (args.next()) {
    if (args.help()) {
      std::cout << kHelp;
      return 0;
    } else if (args.is("--qemu")) {
      qemu_spec = args.value();
    } else if (args.is("--uri")) {
      uri_kind = args.value();
      if (uri_kind != "tcp" && uri_kind != "unix" && uri_kind != "file")
        throw cli::UsageError{"--uri must be tcp, unix or file (got '" + uri_kind + "')"};
    } else if (args.is("--set")) {
      sets.push_back(args.value());
    } else if (args.is("--json")) {
      json_out = args.value();
    } else if (args.is("--trace")) {
      trace_out = args.value();
    } else if (args.is("--paused")) {
      paused = true;
    } else if (args.is("--keep")) {
      keep = true;
    } else if (args.is("--kill-destination-after")) {
      const std::string v = args.value();
      try {
        kill_destination_after = parse_duration(v);
      } catch (const std::exception& e) {
        throw cli::UsageError{std::string("--kill-destination-after: ") + e.what()};
      }
    } else if (args.is("--v1-mmap")) {
      v1_mmap = true;
    } else if (args.is("--no-device")) {
      no_device = true;
    } else if (args.looks_like_option()) {
      args.unknown();
    } else {
      args.positional(scenario_path);
    }
  }
  if (scenario_path.empty()) throw cli::UsageError{"missing SCENARIO (see --help)"};
  auto bad = [](const std::string& msg) {
    std::cerr << "mdevsim qemu-migrate: " << msg << "\n";
    return 2;
  };
  QemuScenario qs;
  QemuBinary q;
  try {
    qs = load_qemu_scenario(scenario_path, sets);
    q = find_qemu(qemu_spec);
  } catch (const InputError& e) {
    return bad(e.what());
  }
  const Scenario& s = qs.scenario;
  const QemuMigrationKeys& k = qs.keys;
  const std::string& file = scenario_path;
  // What a QEMU with no guest OS cannot do, or this QEMU does not have.
  if (!s.migrates) return bad(file + ": has no migration section: nothing to migrate");
  if (s.migration.mode != MigrationMode::kPrecopy)
    return bad(file + ": /migration/mode: QEMU migrates VFIO devices with pre-copy only");
  const bool v1_qemu = q.major < 8;  // QEMU 8.0 replaced protocol v1 with v2
  if (s.device.protocol != "v1" && s.device.protocol != "v2")
    return bad(file + ": /device/protocol: QEMU speaks only v1 or v2, not '" + s.device.protocol +
               "'");
  if (s.device.protocol == "v1" && !v1_qemu)
    return bad(file + ": /device/protocol: QEMU " + q.version +
               " speaks protocol v2 only (v1 was removed in QEMU 8.0): use --qemu 7.2");
  if (s.device.protocol == "v2" && v1_qemu)
    return bad(file + ": /device/protocol: QEMU " + q.version +
               " speaks protocol v1 only: use --qemu 10.0 or --set device.protocol=v1");
  for (const auto& g : s.guest_patterns())
    if (g.rate_bytes_per_s > 0 || g.read_rate_bytes_per_s > 0)
      return bad(file +
                 ": /guest: guest RAM dirtying cannot be simulated without a guest OS in QEMU "
                 "(remove the guest section or --set guest.dirty_rate=0)");
  if (!s.vm.resident.empty())
    return bad(file +
               ": /vm/resident: resident guest RAM is not put into a real QEMU's memory "
               "(its RAM starts zero; remove vm.resident)");
  if (!s.faults.empty())
    return bad(file + ": /faults: link faults cannot be injected into a real QEMU migration");
  if (uri_kind == "file" && v1_qemu)
    return bad("--uri file: QEMU " + q.version + " has no file: migration (use tcp or unix)");
  if (uri_kind == "file" && k.multifd_channels > 0)
    return bad(
        "--uri file: multifd to a file needs QEMU's mapped-ram, which this command does "
        "not set up (use tcp or unix)");
  if (uri_kind == "file" && k.switchover_ack)
    return bad("--uri file: switchover-ack needs a return path, which a file does not have");
  if (k.switchover_ack && v1_qemu)
    return bad(file + ": /migration/switchover_ack: QEMU " + q.version +
               " has no switchover-ack capability (QEMU 8.1+)");
  const std::string interposer = no_device ? "" : find_interposer();
  if (interposer.empty() && !no_device)
    return bad(
        "the interposer libmdevsim-vfio-host.so is not built (cmake --build build "
        "--target mdevsim_vfio_host), or set MDEVSIM_VFIO_HOST_LIB");
  // Output files first: a typo should not cost a migration.
  std::ofstream json_file;
  if (!json_out.empty() && json_out != "-") {
    json_file.open(json_out, std::ios::binary | std::ios::trunc);
    if (!json_file) return bad("cannot write " + json_out);
  }
  if (!trace_out.empty()) {
    std::ofstream probe(trace_out, std::ios::binary | std::ios::trunc);
    if (!probe) return bad("cannot write " + trace_out);
  }

  const std::string tmp = make_temp_dir("mdevsim-qemu-migrate");
  const std::string scenario_copy = tmp + "/scenario.json";
  std::ofstream(scenario_copy) << qs.applied.dump(2) << "\n";
  Side src, dst;
  src.name = "source";
  dst.name = "destination";
  const bool return_path = uri_kind != "file";
  std::string uri;
  if (uri_kind == "tcp")
    uri = "tcp:127.0.0.1:" + std::to_string(free_tcp_port());
  else if (uri_kind == "unix")
    uri = "unix:" + tmp + "/migration.sock";
  else
    uri = "file:" + tmp + "/migration.bin";

  const uint64_t ram_mib = (s.vm.ram_bytes + (1u << 20) - 1) >> 20;
  std::string device_arg = "vfio-pci,addr=03.0,sysfsdev=";
  std::string device_opts;
  if (v1_qemu) {
    device_opts = v1_mmap ? ",x-enable-migration=on" : ",x-enable-migration=on,x-no-mmap=on";
  } else if (k.dirty_tracking == DirtyTracking::kType1) {
    device_opts = ",x-device-dirty-page-tracking=off,enable-migration=on";
  } else if (k.dirty_tracking == DirtyTracking::kNone) {
    // QEMU may not use the device's DMA logging and must decide by itself
    // (enable-migration=auto): type1 alone is not enough, a blocker.
    device_opts = ",x-device-dirty-page-tracking=off";
  }
  Run run;
  ojson qemu_j;
  for (Side* side : {&src, &dst}) {
    side->dir = tmp + "/" + (side == &src ? "src" : "dst");
    std::filesystem::create_directories(side->dir);
    side->sysfsdev = make_fake_sysfs(side->dir + "/sysfs", "mdevsim0");
    side->qmp_sock = side->dir + "/qmp.sock";
    side->log = side->dir + "/qemu.log";
    side->report = side->dir + "/report.json";
    side->trace = side->dir + "/abi.trace";
    std::vector<std::string> args = {q.path};
    args.insert(args.end(), q.extra_args.begin(), q.extra_args.end());
    for (const char* a : {"-machine", "q35", "-accel", "tcg", "-nodefaults", "-nographic",
                          "-serial", "none", "-monitor", "none"})
      args.push_back(a);
    args.insert(args.end(), {"-m", std::to_string(ram_mib) + "M", "-qmp",
                             "unix:" + side->qmp_sock + ",server=on,wait=off", "-name",
                             side == &src ? "mdevsim-src" : "mdevsim-dst"});
    if (!no_device) args.insert(args.end(), {"-device", device_arg + side->sysfsdev + device_opts});
    if (side == &src && paused) args.push_back("-S");
    if (side == &dst) args.insert(args.end(), {"-incoming", "defer"});
    auto env = q.env;
    if (!no_device) env.push_back({"LD_PRELOAD", interposer});
    env.insert(env.end(), {{"MDEVSIM_VFIO_SCENARIO", scenario_copy},
                           {"MDEVSIM_VFIO_DEVICE", "mdevsim0"},
                           {"MDEVSIM_VFIO_REPORT", side->report},
                           {"MDEVSIM_SYSFSDEV", side->sysfsdev},
                           {"SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1"}});
    // QEMU 7.2 has no VFIO byte counter: the trace gives the device bytes read.
    if (!trace_out.empty() || v1_qemu) env.push_back({"MDEVSIM_VFIO_TRACE", side->trace});
    side->proc.start(args, env, side->log);
  }
  std::vector<std::string> caps;
  ojson params = ojson::object();
  const auto t_start = Clock::now();
  try {
    for (Side* side : {&src, &dst}) {
      try {
        side->qmp.connect(side->qmp_sock, 15s);
      } catch (const std::exception& e) {
        side->proc.wait(2s);
        throw std::runtime_error(side->name + " QEMU did not start: " + tail_of(side->log));
      }
    }
    if (return_path) caps.push_back("return-path");
    if (k.multifd_channels > 0) caps.push_back("multifd");
    if (k.switchover_ack) caps.push_back("switchover-ack");
    json cap_list = json::array();
    for (const auto& c : caps) cap_list.push_back({{"capability", c}, {"state", true}});
    json sp = {{"downtime-limit",
                static_cast<uint64_t>(std::llround(s.migration.downtime_limit_s * 1000))}};
    if (s.link.rate_limit) sp["max-bandwidth"] = static_cast<uint64_t>(*s.link.rate_limit);
    if (k.multifd_channels > 0) sp["multifd-channels"] = k.multifd_channels;
    for (auto it = sp.begin(); it != sp.end(); ++it) params[it.key()] = it.value();
    for (Side* side : {&src, &dst}) {
      if (!cap_list.empty())
        side->qmp.execute("migrate-set-capabilities", {{"capabilities", cap_list}});
      side->qmp.execute("migrate-set-parameters", sp);
    }
    if (uri_kind != "file") dst.qmp.execute("migrate-incoming", {{"uri", uri}});
    // The source VM (and the device's workload) runs start_at before migrating.
    const auto go = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(s.migration.start_at_s));
    while (Clock::now() < go) {
      if (!src.proc.running() || !dst.proc.running()) break;
      std::this_thread::sleep_for(10ms);
    }
    const double limit = s.migration.timeout_s > 0 ? s.migration.timeout_s : 600;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(limit));
    run.migrate_at = Clock::now();
    try {
      src.qmp.execute("migrate", {{"uri", uri}});
    } catch (const QmpError& e) {
      fail(run, "QEMU refused to migrate: " + e.desc());  // e.g. a migration blocker
    }
    std::thread killer;
    if (kill_destination_after && run.outcome == "completed") {
      const pid_t victim = dst.proc.pid();
      const auto when = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(*kill_destination_after));
      killer = std::thread([victim, when] {
        std::this_thread::sleep_until(when);
        ::kill(victim, SIGKILL);  // reaped by the main thread's ChildProcess
      });
    }
    struct Join {
      std::thread& t;
      ~Join() {
        if (t.joinable()) t.join();
      }
    } join{killer};
    if (run.outcome == "completed") {
      run.source_info = wait_migration(src, deadline, run);
      const std::string st = run.source_info.value("status", "");
      if (st != "completed" && st != "failed" && st != "cancelled") {
        src.qmp.execute("migrate_cancel");
        run.outcome = "cancelled";
        run.reason = "QEMU did not finish within migration.timeout (" + format_duration(limit) +
                     ", status " + st + ")";
        run.source_info = wait_migration(src, Clock::now() + 10s, run);
      } else if (st != "completed") {
        // A destination that refused the stream says why in its log, then exits.
        dst.proc.wait(2s);
        std::string dst_why = tail_of(dst.log);
        if (dst_why.empty() && !dst.proc.running())
          dst_why = "exited with code " + std::to_string(dst.proc.exit_code());
        fail(run, "source: migration " + st + ": " +
                      run.source_info.value("error-desc", std::string("no reason given")) +
                      (dst_why.empty() ? "" : "; destination: " + dst_why));
      }
    }
    if (run.outcome == "completed") {
      if (uri_kind == "file") dst.qmp.execute("migrate-incoming", {{"uri", uri}});
      // The destination: loaded, then running (a paused source: resumed here).
      const auto dst_deadline = Clock::now() + 30s;
      for (;;) {
        if (!dst.proc.running())
          throw std::runtime_error("destination QEMU exited (code " +
                                   std::to_string(dst.proc.exit_code()) + "): " + tail_of(dst.log));
        const json st = dst.qmp.execute("query-status");
        const json mi = dst.qmp.execute("query-migrate");
        run.destination_status = st.value("status", "");
        if (run.destination_status == "running") {
          // The arcs of the migration itself (quitting later stops the VM again).
          std::string ignored;
          if (const auto rep = read_host_report(dst.report, &ignored))
            run.destination_arcs = rep->arcs;
          break;
        }
        if (paused && mi.value("status", "") == "completed" &&
            (run.destination_status == "paused" || run.destination_status == "prelaunch")) {
          dst.qmp.execute("cont");
          continue;
        }
        if (Clock::now() >= dst_deadline) {
          fail(run, "destination did not start running within 30 s (status " +
                        run.destination_status + ")");
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
    }
  } catch (const std::exception& e) {
    fail(run, e.what());
  }
  const double wall_s = std::chrono::duration<double>(Clock::now() - t_start).count();
  // The source's state after the migration: a failed one must leave it running.
  if (src.proc.running() && src.qmp.connected()) {
    try {
      run.source_status = src.qmp.execute("query-status").value("status", "");
      std::string ignored;
      if (const auto rep = read_host_report(src.report, &ignored))
        run.source_device_state = rep->state;
    } catch (const std::exception&) {
    }
  }
  run.source_alive = src.proc.running();
  run.destination_alive = dst.proc.running();
  // Quit both so the interposer writes its final report.
  for (Side* side : {&src, &dst}) {
    if (side->proc.running() && side->qmp.connected()) {
      try {
        side->qmp.execute("quit", nullptr, 5s);
      } catch (const std::exception&) {
      }
    }
  }
  for (Side* side : {&src, &dst})
    if (!side->proc.wait(10s)) side->proc.kill_now();

  // --- verification ---------------------------------------------------------
  std::string why_src, why_dst;
  const auto rs = read_host_report(src.report, &why_src);
  const auto rd = read_host_report(dst.report, &why_dst);
  bool device_state_equal = false;
  uint64_t pages_checked = 0, pages_mismatched = 0;
  std::vector<std::string> differences;
  const bool verify = run.outcome == "completed" && !no_device;
  if (verify) {
    if (!rs) differences.push_back("source: " + why_src);
    if (!rd) differences.push_back("destination: " + why_dst);
    if (rs && rd) {
      if (!rs->digest_at_save_end)
        differences.push_back("the source device reported no state digest at the end of stop-copy");
      else if (!rd->digest_after_resume)
        differences.push_back("the destination device reported no state digest after resuming");
      else if (*rs->digest_at_save_end != *rd->digest_after_resume)
        differences.push_back("device state: source digest " + *rs->digest_at_save_end +
                              " at the end of stop-copy, destination " + *rd->digest_after_resume +
                              " after resuming");
      else
        device_state_equal = true;
      std::map<uint64_t, std::string> at_dst(rd->ram_hashes_at_resume.begin(),
                                             rd->ram_hashes_at_resume.end());
      for (const auto& [iova, hash] : rs->dma_pages) {
        ++pages_checked;
        const auto it = at_dst.find(iova);
        if (it == at_dst.end() || it->second != hash) {
          if (++pages_mismatched <= 5) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "guest page 0x%llx (DMA-written) ",
                          static_cast<unsigned long long>(iova));
            differences.push_back(buf + std::string(it == at_dst.end()
                                                        ? "is zero at the destination"
                                                        : "differs at the destination"));
          }
        }
      }
      // A paused source (-S) never runs its VM, so its device never DMAs.
      if (pages_checked == 0 && rs->dma_bytes_written > 0)
        differences.push_back("the source device DMA-wrote " +
                              std::to_string(rs->dma_bytes_written) +
                              " bytes but reported no DMA-written page");
      else if (s.workload.dma_rate_bytes_per_s > 0 && pages_checked == 0 && !paused)
        differences.push_back(
            "the workload DMAs but the source device reported no DMA-written page");
    }
  }
  const bool passed = verify && differences.empty();
  if (verify && !passed) {
    run.outcome = "failed";
    run.reason = "verification: " + differences.front();
  }
  // A failed migration must leave the source VM running with its device
  // running again (RUNNING for v2, 001b for v1).
  const bool source_intact =
      run.outcome != "completed" && run.source_alive && run.source_status == "running" &&
      (no_device || run.source_device_state == "RUNNING" || run.source_device_state == "001b");

  // --- result -------------------------------------------------------------
  Result r;
  r.scenario = s.name;
  r.seed = s.seed;
  r.outcome = run.outcome;
  r.reason = run.reason;
  const json mi = run.source_info.is_object() ? run.source_info : json::object();
  r.converged = mi.value("status", "") == "completed";
  r.total_time_s = mi.value("total-time", 0.0) / 1000.0;
  r.downtime_s = mi.value("downtime", 0.0) / 1000.0;
  if (mi.contains("ram")) std::tie(r.ram_bytes, r.device_bytes) = stream_split(mi);
  std::string device_bytes_from = "none";
  if (mi.contains("vfio")) {
    device_bytes_from = "qemu";
  } else if (!no_device && v1_qemu) {
    r.device_bytes = v1_data_bytes_read(src.trace);
    device_bytes_from = "trace";
  }
  // The interposer counts calls and failed calls per process.
  for (const auto* rep : {&rs, &rd}) {
    if (!*rep) continue;
    const char* host = rep == &rs ? "src" : "dst";
    if ((*rep)->calls.is_number_unsigned()) r.abi_calls[host] = (*rep)->calls.get<uint64_t>();
    if ((*rep)->errors.is_number_unsigned()) r.abi_errors[host] = (*rep)->errors.get<uint64_t>();
  }
  const ojson base = to_json(r);
  ojson out;
  for (auto it = base.begin(); it != base.end(); ++it) {
    if (it.key() == "verification") {
      out["verification"] = {{"checked", verify},
                             {"passed", passed},
                             {"device_state_equal", device_state_equal},
                             {"dma_pages_checked", pages_checked},
                             {"dma_pages_mismatched", pages_mismatched},
                             {"source_intact", source_intact},
                             {"differences", differences}};
      continue;
    }
    out[it.key()] = it.value();
    if (it.key() == "seed") {
      out["driver"] = {{"name", "qemu-system-x86_64"},
                       {"version", q.version},
                       {"version_line", q.version_line},
                       {"path", q.path}};
      out["deterministic"] = false;
    }
    if (it.key() == "downtime_s")
      out["passes"] = mi.contains("ram") ? mi["ram"].value("dirty-sync-count", uint64_t{0}) : 0;
  }
  ojson arcs = ojson::object();
  if (rs) arcs["src"] = rs->arcs;
  if (run.destination_arcs)
    arcs["dst"] = *run.destination_arcs;
  else if (rd)
    arcs["dst"] = rd->arcs;
  out["qemu"] = {
      {"uri", uri_kind},
      {"paused_source", paused},
      {"capabilities", caps},
      {"parameters", params},
      {"device_options", device_opts},
      {"setup_time_s", r9(mi.value("setup-time", 0.0) / 1000.0)},
      {"ram_precopy_bytes", mi.contains("ram") ? mi["ram"].value("precopy-bytes", uint64_t{0}) : 0},
      {"ram_downtime_bytes",
       mi.contains("ram") ? mi["ram"].value("downtime-bytes", uint64_t{0}) : 0},
      {"wall_time_s", r9(wall_s)},
      {"device_bytes_from", device_bytes_from},
      {"source_status", run.source_status},
      {"source_alive", run.source_alive},
      {"source_device_state", run.source_device_state},
      {"destination_status", run.destination_status},
      {"dma_bytes_written", rs ? rs->dma_bytes_written : 0},
      {"arcs", arcs},
      {"samples", [&] {
         ojson a = ojson::array();
         for (const auto& x : run.samples)
           a.push_back({{"t_s", r9(x.t_s)}, {"ram", x.ram}, {"device", x.device}});
         return a;
       }()}};
  const std::string text = out.dump(2) + "\n";
  if (!trace_out.empty() && !merge_traces(src.trace, dst.trace, trace_out))
    std::cerr << "mdevsim qemu-migrate: cannot write " << trace_out << "\n";
  std::ostream& summary = json_out == "-" ? std::cerr : std::cout;
  summary << "scenario   " << s.name << "\n"
          << "driver     QEMU " << q.version << " (" << q.path << "), " << s.device.protocol << ", "
          << uri_kind << (caps.empty() ? "" : ", ") <<
      [&] {
        std::string c;
        for (const auto& x : caps) c += (c.empty() ? "" : ",") + x;
        return c;
      }() << "\n"
          << "downtime   " << format_duration(r.downtime_s) << " (QEMU's)\n"
          << "total      " << format_duration(r.total_time_s) << ", "
          << format_bytes(static_cast<double>(r.ram_bytes)) << " RAM + "
          << format_bytes(static_cast<double>(r.device_bytes)) << " device sent\n";
  if (verify)
    summary << "verify     "
            << (passed ? "passed: device state digests equal, " + std::to_string(pages_checked) +
                             " DMA-written pages equal"
                       : "FAILED: " + differences.front())
            << "\n";
  summary << "outcome    " << r.outcome << (r.reason.empty() ? "" : ": " + r.reason) << "\n";
  if (json_out == "-")
    std::cout << text;
  else if (!json_out.empty() && !(json_file << text && json_file.flush()))
    return bad("cannot write " + json_out);
  if (keep)
    std::cerr << "mdevsim qemu-migrate: work folder kept: " << tmp << "\n";
  else
    remove_tree(tmp);
  if (r.outcome != "completed" || (verify && !passed)) return 1;
  return 0;
}

}  // namespace

int cmd_qemu_migrate(int argc, char** argv) {
  return cli::run_command("qemu-migrate", [&] { return qemu_migrate(argc, argv); });
}

}  // namespace mdevsim::sim
