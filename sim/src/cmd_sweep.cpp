// mdevsim sweep SCENARIO --vary PATH=V1,V2,... [--vary ...] [--jobs N] [--out DIR]
//     [--executor local|slurm] [--emit-jobs FILE] [--collect DIR]
//
// The glue of the sweep room (sim/sweep/): parse, plan and validate, open
// the result store, run the missing points through an executor (or write
// them as a job list, or collect their files), write the outputs, summarize.
#include <cctype>
#include <iostream>
#include <memory>

#include "mdevsim/sim/cli_options.h"
#include "mdevsim/sim/commands.h"
#include "mdevsim/sweep/job_list.h"
#include "mdevsim/sweep/local_executor.h"
#include "mdevsim/sweep/options.h"
#include "mdevsim/sweep/slurm_executor.h"
#include "mdevsim/sweep/store.h"
#include "mdevsim/sweep/summary.h"

namespace mdevsim::sim {

namespace {

using namespace mdevsim::sweep;

std::string default_out_dir(const std::string& name) {
  std::string safe = name;
  for (char& ch : safe)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
      ch = '-';
  return "sweep-" + safe;
}

// This command again, without --fresh, --emit-jobs or --collect: what resumes it.
std::string rerun_command(int argc, char** argv) {
  std::string command = "mdevsim";
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--emit-jobs" || a == "--collect")
      ++i;
    else if (a != "--fresh")
      command.append(" ").append(shell_quote(a));
  }
  return command;
}

// --emit-jobs: the job list of the points without a result; runs nothing.
int emit_jobs(const Options& o, Store& store) {
  const std::string scenario = stage_scenario(o.plan, store.dir());
  std::vector<std::string> commands;
  for (size_t p : store.missing())
    commands.push_back(point_command(o.plan, self_binary(), scenario, store.points_dir(), p));
  std::error_code ec;
  fs::create_directories(store.points_dir(), ec);
  write_job_list(o.emit_jobs, commands);
  std::cout << "jobs       " << commands.size() << " commands in " << o.emit_jobs << " ("
            << store.size() << " points already recorded)\n"
            << "run them   e.g. parallel --joblog " << (store.dir() / "joblog").string()
            << " --resume < " << o.emit_jobs << "\n"
            << "then       add --collect " << store.points_dir().string() << " to this command\n";
  return 0;
}

std::unique_ptr<Executor> make_executor(const Options& o, Store& store) {
  if (o.executor == "local")
    return std::make_unique<LocalExecutor>(o.plan, o.jobs, store.dir() / ".points");
  // Points a earlier submission finished after its sweep was stopped.
  store.collect_point_files(store.points_dir());
  return std::make_unique<SlurmExecutor>(o.plan, o.slurm, store.dir(),
                                         stage_scenario(o.plan, store.dir()), self_binary());
}

int sweep(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (o.help) {
    std::cout << kHelp;
    return 0;
  }
  if (o.plan.points() > 1'000'000)
    throw UsageError{std::to_string(o.plan.points()) +
                     " points is too many for one sweep (at most 1000000)"};
  const Validated scenario = validate_points(o.plan);
  Store store(o.out_dir.empty() ? default_out_dir(scenario.name) : o.out_dir, o.plan);
  if (const size_t dropped = store.open(o.fresh))
    std::cerr << "mdevsim sweep: ignoring " << dropped
              << " unreadable line(s) of results.jsonl (those points run again)\n";
  if (!o.emit_jobs.empty()) return emit_jobs(o, store);

  SummaryInput summary;
  summary.name = scenario.name;
  summary.dir = store.dir().string();
  summary.already_recorded = store.size();
  Progress progress(o.plan.points(), store.size());
  if (!o.collect.empty()) {
    if (!fs::is_directory(o.collect))
      throw UsageError{"--collect " + o.collect + ": not a directory"};
    store.collect_point_files(o.collect);
    summary.executor = "collected from " + o.collect;
  } else {
    const auto executor = make_executor(o, store);
    summary.stop_signal =
        executor->run(store.missing(), progress, [&](const ojson& record) { store.add(record); });
    summary.executor = executor->describe();
    summary.troubles = executor->troubles();
  }
  progress.clear();
  store.write_outputs(scenario);
  summary.wall_s = progress.elapsed_s();
  summary.rerun_command = rerun_command(argc, argv);
  return summarize(o.plan, store.lines(), summary);
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  return cli::run_command("sweep", [&] { return sweep(argc, argv); });
}

}  // namespace mdevsim::sim
