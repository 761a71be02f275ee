// mdevsim qemu [--scenario FILE] [--trace FILE] -- QEMU_COMMAND...: runs one
// QEMU of the user's own with the simulated device interposed (docs/qemu.md).
#include <signal.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "mdevsim/sim/cli_options.h"
#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/qemu_support.h"

namespace mdevsim::sim {

namespace {

constexpr const char* kHelp =
    R"(Usage: mdevsim qemu [--scenario FILE] [--set PATH=VALUE]... [--trace FILE]
                   [--report FILE] [--keep] -- QEMU_COMMAND...

Runs QEMU_COMMAND (your own qemu-system-x86_64 and its options) with the
simulated device of the scenario's device and workload sections served to
it by the interposer libmdevsim-vfio-host.so (LD_PRELOAD). A fake sysfs node
for the device is created in a temporary folder; its path is given to the
command as the environment variable MDEVSIM_SYSFSDEV and substituted for
every @SYSFSDEV@ in the arguments, e.g.

  mdevsim qemu --scenario scenarios/quickstart.json -- \
    qemu-system-x86_64 -machine q35 -accel tcg -nographic -m 256M \
    -device vfio-pci,addr=03.0,sysfsdev=@SYSFSDEV@

Options:
  --scenario FILE   the device (default: a v2 device with mdevsim's defaults)
  --set PATH=VALUE  override a scenario value
  --trace FILE      every VFIO call QEMU made (docs/abi-trace.md format)
  --report FILE     the interposer's JSON report (mdevsim.vfio_host/1)
  --keep            keep the temporary folder (sysfs node, scenario copy)
  --help            this text

Exit code: QEMU's own (128+N when a signal N ended it); 2 for bad input or
when the interposer is not built.
)";

pid_t g_child = -1;
void forward_signal(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

int qemu(int argc, char** argv) {
  std::string scenario_path, trace_out, report_out;
  std::vector<std::string> sets, command;
  bool keep = false;
  cli::ArgReader args(argc, argv, " (see mdevsim qemu --help)");
  while (args.next()) {
    if (args.is("--")) {
      command = args.rest();
    } else if (args.help()) {
      std::cout << kHelp;
      return 0;
    } else if (args.is("--scenario")) {
      scenario_path = args.value();
    } else if (args.is("--set")) {
      sets.push_back(args.value());
    } else if (args.is("--trace")) {
      trace_out = args.value();
    } else if (args.is("--report")) {
      report_out = args.value();
    } else if (args.is("--keep")) {
      keep = true;
    } else {
      args.unknown(" (the QEMU command goes after --; see mdevsim qemu --help)");
    }
  }
  if (command.empty())
    throw cli::UsageError{"missing the QEMU command after -- (see mdevsim qemu --help)"};
  if (!sets.empty() && scenario_path.empty()) throw cli::UsageError{"--set needs --scenario"};
  const std::string interposer = find_interposer();
  if (interposer.empty()) {
    std::cerr << "mdevsim qemu: the interposer libmdevsim-vfio-host.so is not built (cmake "
                 "--build build --target mdevsim_vfio_host), or set MDEVSIM_VFIO_HOST_LIB\n";
    return 2;
  }
  for (const std::string* out : {&trace_out, &report_out}) {
    if (out->empty()) continue;
    std::ofstream probe(*out, std::ios::binary | std::ios::trunc);
    if (!probe) {
      std::cerr << "mdevsim qemu: cannot write " << *out << "\n";
      return 2;
    }
  }
  const std::string tmp = make_temp_dir("mdevsim-qemu");
  std::vector<std::pair<std::string, std::string>> env = {
      {"LD_PRELOAD", interposer}, {"SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1"}};
  if (!scenario_path.empty()) {
    try {
      const QemuScenario qs = load_qemu_scenario(scenario_path, sets);
      std::ofstream(tmp + "/scenario.json") << qs.applied.dump(2) << "\n";
      env.push_back({"MDEVSIM_VFIO_SCENARIO", tmp + "/scenario.json"});
    } catch (const InputError& e) {
      std::cerr << "mdevsim qemu: " << e.what() << "\n";
      remove_tree(tmp);
      return 2;
    }
  }
  const std::string sysfsdev = make_fake_sysfs(tmp + "/sysfs", "mdevsim0");
  env.push_back({"MDEVSIM_SYSFSDEV", sysfsdev});
  env.push_back({"MDEVSIM_VFIO_DEVICE", "mdevsim0"});
  if (!trace_out.empty()) env.push_back({"MDEVSIM_VFIO_TRACE", trace_out});
  if (!report_out.empty()) env.push_back({"MDEVSIM_VFIO_REPORT", report_out});
  for (auto& arg : command)
    for (size_t at; (at = arg.find("@SYSFSDEV@")) != std::string::npos;)
      arg.replace(at, 10, sysfsdev);
  ChildProcess child;
  try {
    child.start(command, env, "");
  } catch (const std::exception& e) {
    std::cerr << "mdevsim qemu: " << e.what() << "\n";
    remove_tree(tmp);
    return 2;
  }
  // Ctrl-C and kill reach QEMU, which then shuts down cleanly.
  g_child = child.pid();
  ::signal(SIGINT, forward_signal);
  ::signal(SIGTERM, forward_signal);
  const int code = child.wait(std::chrono::milliseconds(-1)).value_or(1);
  g_child = -1;
  if (keep)
    std::cerr << "mdevsim qemu: temporary folder kept: " << tmp << "\n";
  else
    remove_tree(tmp);
  return code;
}

}  // namespace

int cmd_qemu(int argc, char** argv) {
  return cli::run_command("qemu", [&] { return qemu(argc, argv); });
}

}  // namespace mdevsim::sim
