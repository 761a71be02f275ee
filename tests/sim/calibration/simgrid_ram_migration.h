// Runs one RAM-only live migration in SimGrid's live-migration plugin
// (sg_vm_migrate) and returns its simulated duration. Shared by the
// calibration test (label simgrid) and tests/bench/bench_simgrid.cpp.
//
// SimGrid's engine cannot be started twice in one process, so each run
// happens in a forked child that writes its results to a pipe.
#pragma once

#include <simgrid/plugins/live_migration.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xbt/log.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <simgrid/s4u.hpp>
#include <simgrid/s4u/VirtualMachine.hpp>
#include <string>
#include <vector>

namespace mdevsim::calibration::simgrid_reference {

struct RamMigration {
  double ram_bytes = 16.0 * 1024 * 1024 * 1024;  // the VM's ramsize, all sent in stage 1
  double dirty_rate_Bps = 200.0 * 1024 * 1024;   // unique bytes dirtied per second
  double link_Bps = 25e9 / 8;                    // 25 Gbit/s
  // SimGrid's default network model (LV08) delivers 0.97 of a link's
  // bandwidth (network/bandwidth-factor, TCP/IP overhead), and a flow's acks
  // take 0.05 of its rate on the way back (network/crosstraffic) on the same
  // shared link: 3.125e9 * 0.97 / 1.05 = 2.887e9 B/s. An ideal link (factor
  // 1, no cross traffic) is the fluid model's assumption.
  bool ideal_link = true;
  // The plugin's max_downtime is fixed at 30 ms (no setter in SimGrid 3.32).
};

// Bandwidth a flow gets on one shared link under SimGrid's default LV08 model.
constexpr double kLv08FlowShare = 0.97 / 1.05;

struct RamMigrationResult {
  double migration_time_s = 0;  // simulated, sg_vm_migrate's start to end
  double wall_time_s = 0;       // the child's engine run, wall clock
};

namespace detail {

inline void run_in_simgrid(const RamMigration& m, RamMigrationResult& out) {
  int argc = 1;
  char name[] = "simgrid-ram-migration";
  char* argv[] = {name, nullptr};
  simgrid::s4u::Engine engine(&argc, argv);
  xbt_log_control_set("root.thresh:warning");  // no INFO line per config change
  if (m.ideal_link) {
    simgrid::s4u::Engine::set_config("network/bandwidth-factor:1.0");
    simgrid::s4u::Engine::set_config("network/latency-factor:1.0");
    simgrid::s4u::Engine::set_config("network/crosstraffic:0");
  }
  sg_vm_live_migration_plugin_init();

  auto* zone = simgrid::s4u::create_full_zone("world");
  constexpr double kHostFlops = 1e9;
  simgrid::s4u::Host* src = zone->create_host("src", kHostFlops);
  simgrid::s4u::Host* dst = zone->create_host("dst", kHostFlops);
  simgrid::s4u::Link* link = zone->create_link("wire", m.link_Bps)->set_latency(0)->seal();
  zone->add_route(src->get_netpoint(), dst->get_netpoint(), nullptr, nullptr,
                  {simgrid::s4u::LinkInRoute(link)}, true);
  zone->seal();

  simgrid::s4u::VirtualMachine* vm = src->create_vm("vm", 1, static_cast<size_t>(m.ram_bytes));
  vm->start();
  // The plugin dirties computed_flops * migration_speed * intensity /
  // host_speed bytes; a guest computing at the host's speed therefore
  // dirties intensity * migration_speed bytes per second.
  sg_vm_set_migration_speed(vm, m.link_Bps);
  sg_vm_set_dirty_page_intensity(vm, m.dirty_rate_Bps / m.link_Bps);
  sg_vm_set_working_set_memory(vm, static_cast<sg_size_t>(m.ram_bytes));  // no cap

  simgrid::s4u::Actor::create("guest", vm, [] {
    simgrid::s4u::Actor::self()->daemonize();  // the run ends with the migration
    simgrid::s4u::this_actor::execute(1e18);
  });
  simgrid::s4u::Actor::create("migrator", src, [vm, dst, &out] {
    const double start = simgrid::s4u::Engine::get_clock();
    sg_vm_migrate(vm, dst);
    out.migration_time_s = simgrid::s4u::Engine::get_clock() - start;
  });
  const auto wall_start = std::chrono::steady_clock::now();
  engine.run();
  out.wall_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  vm->destroy();
}

}  // namespace detail

// nullopt (and `error` says why) when the child failed.
inline std::optional<RamMigrationResult> run(const RamMigration& m, std::string* error = nullptr) {
  int fds[2];
  if (pipe(fds) != 0) {
    if (error) *error = "pipe() failed";
    return std::nullopt;
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    RamMigrationResult r;
    detail::run_in_simgrid(m, r);
    const bool ok = write(fds[1], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  RamMigrationResult r;
  const bool got = pid > 0 && read(fds[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (error) *error = "the SimGrid child process failed (status " + std::to_string(status) + ")";
    return std::nullopt;
  }
  return r;
}

}  // namespace mdevsim::calibration::simgrid_reference
