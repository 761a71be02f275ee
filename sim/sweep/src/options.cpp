#include "mdevsim/sweep/options.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

namespace mdevsim::sweep {

const char* const kHelp =
    R"(Usage: mdevsim sweep SCENARIO --vary PATH=V1,V2,... [--vary ...] [options]

Runs SCENARIO once for every combination of the --vary values. Each point is
its own `mdevsim run` process, run here (--jobs at once), as a Slurm array
job (--executor slurm), or by any engine that runs a job list (--emit-jobs,
then --collect). Every point's overrides are validated before anything runs.
Results go to a CSV table, a JSON-lines file with each point's full result,
and a self-contained HTML report with charts (docs/sweep.md describes every
column and recipe).

Options:
  --vary PATH=V1,V2,...  a scenario value to vary, with the dotted PATH of
                         --set; repeat it for a cross product (the first
                         --vary varies slowest). Values are split at commas
                         outside [] {} and "", so JSON lists work too.
  --set PATH=VALUE       override a value for every point (as in mdevsim run)
  --out DIR              output directory (default: sweep-<scenario name>)
  --fresh                discard what DIR holds and start the sweep over
  --executor local|slurm where the points run (default: local)
  --jobs N               local: points run at once (default: the online CPUs)
  --help                 this text

Slurm (--executor slurm): one array job through sbatch; DIR must be on a
filesystem the compute nodes share, and this mdevsim binary must be at the
same path on them. The scenario and the files it refers to are staged in
DIR/staged; task logs go to DIR/slurm/JOB_TASK.log. Ctrl-C cancels the job.
  --points-per-task N    points one array task runs one after another
                         (default: 20; short points then do not pay the
                         scheduler's per-job cost each)
  --max-running N        at most N array tasks at once (sbatch --array=...%N)
  --slurm-opt "OPTS"     sbatch options, split at spaces, e.g.
                         --slurm-opt "--partition=short --time=1:00:00 --account=lab"

Job lists, for GNU parallel, HTCondor, a Kubernetes indexed Job, ...:
  --emit-jobs FILE       write one self-contained shell command per point
                         without a result (one per line) instead of running
                         them; each writes its point files to DIR/points
  --collect DIR          record the point files (point-N.json/.err/.exit) in
                         DIR, then write the outputs as after a run

Files in DIR:
  results.csv    one row per point: its parameters, outcome, converged,
                 switchover, iterations, downtime_s, total_time_s, bytes,
                 verification, post-copy figures, reason
  results.jsonl  one line per point: {"point", "params", "exit_code",
                 "result" (the mdevsim run result JSON), "error"}
  report.html    charts of downtime, total time and bytes sent against each
                 varied parameter, and the table of all points
  sweep.json     the sweep's definition, checked when resuming

Resuming: run the same command again after Ctrl-C, a kill, a crash or a
cancelled Slurm task; the points already in results.jsonl are kept and only
the others run. A different sweep (scenario, --set or --vary) in the same
DIR is refused unless --fresh is given.

Examples:
  mdevsim sweep scenarios/quickstart.json --vary link.bandwidth=10Gbit/s,25Gbit/s,100Gbit/s
  mdevsim sweep scenarios/quickstart.json --vary link.bandwidth=10Gbit/s,25Gbit/s \
      --vary migration.downtime_limit=100ms,300ms,1s --out bw-vs-limit
  mdevsim sweep scenarios/write-heavy-noconverge.json --set migration.auto_converge=true \
      --vary migration.on_no_convergence=cancel,force --vary seed=1,2,3 --jobs 2
  mdevsim sweep scenarios/quickstart.json --vary seed=1,2,3,4 --out /shared/s \
      --executor slurm --points-per-task 2 --slurm-opt "--partition=short"
  mdevsim sweep scenarios/quickstart.json --vary seed=1,2,3,4 --out s --emit-jobs s/jobs.txt
  parallel --joblog s/joblog --resume < s/jobs.txt
  mdevsim sweep scenarios/quickstart.json --vary seed=1,2,3,4 --out s --collect s/points

Exit codes: 0 every point ran (a cancelled or failed migration is a result);
1 some point crashed, exited 2 or has no result (its "error" in
results.jsonl, or the Slurm task's state and log, says why); 2 bad input;
130 interrupted (what finished is kept; rerun to resume).
)";

namespace {

unsigned parse_count(const std::string& option, const std::string& text, unsigned max) {
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > max)
    throw UsageError{option + " " + text + ": expected a whole number from 1 to " +
                     std::to_string(max)};
  return n;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string override_path(const std::string& set) { return set.substr(0, set.find('=')); }

// Combinations that cannot mean anything: each refused with what to do.
void check_combinations(const Options& o, const std::set<std::string>& given) {
  if (o.executor != "local" && o.executor != "slurm")
    throw UsageError{"--executor " + o.executor + ": expected local or slurm"};
  const bool slurm = o.executor == "slurm";
  for (const char* opt : {"--points-per-task", "--max-running", "--slurm-opt"})
    if (given.count(opt) && !slurm) throw UsageError{std::string(opt) + " needs --executor slurm"};
  if (slurm && given.count("--jobs"))
    throw UsageError{"--jobs is for the local executor; with Slurm use --max-running"};
  if (!o.emit_jobs.empty() && !o.collect.empty())
    throw UsageError{"--emit-jobs and --collect are two steps: give one of them"};
  if ((!o.emit_jobs.empty() || !o.collect.empty()) && given.count("--executor"))
    throw UsageError{std::string(o.emit_jobs.empty() ? "--collect" : "--emit-jobs") +
                     " runs nothing: it does not take --executor"};
}

void check_plan(const Plan& plan) {
  if (plan.scenario_path.empty()) throw UsageError{"missing SCENARIO (see mdevsim sweep --help)"};
  if (plan.axes.empty())
    throw UsageError{
        "nothing to vary: give at least one --vary PATH=V1,V2,... "
        "(see mdevsim sweep --help)"};
  std::set<std::string> seen;
  for (const auto& axis : plan.axes)
    if (!seen.insert(axis.path).second)
      throw UsageError{"--vary " + axis.path +
                       " is given twice; list all its values in one --vary"};
  for (const auto& set : plan.overrides)
    if (seen.count(override_path(set)))
      throw UsageError{override_path(set) + " is both --set and --vary; keep one of them"};
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  std::set<std::string> given;
  sim::cli::ArgReader args(argc, argv, " (see mdevsim sweep --help)");
  while (args.next()) {
    const std::string& a = args.word();
    given.insert(a == "-j" ? "--jobs" : a);
    if (args.help()) {
      o.help = true;
      return o;
    } else if (a == "--vary") {
      o.plan.axes.push_back(parse_vary(args.value()));
    } else if (a == "--set") {
      o.plan.overrides.push_back(args.value());
    } else if (a == "--jobs" || a == "-j") {
      o.jobs = parse_count("--jobs", args.value(), 1024);
    } else if (a == "--out" || a == "--emit-jobs" || a == "--collect") {
      std::string& target = a == "--out" ? o.out_dir : a == "--emit-jobs" ? o.emit_jobs : o.collect;
      target = args.value();
      if (target.empty()) throw UsageError{a + " needs a file or directory name"};
    } else if (a == "--fresh") {
      o.fresh = true;
    } else if (a == "--executor") {
      o.executor = args.value();
    } else if (a == "--points-per-task") {
      o.slurm.points_per_task = parse_count(a, args.value(), 1'000'000);
    } else if (a == "--max-running") {
      o.slurm.max_running = parse_count(a, args.value(), 1'000'000);
    } else if (a == "--slurm-opt") {
      const auto words = split_words(args.value());
      o.slurm.sbatch_args.insert(o.slurm.sbatch_args.end(), words.begin(), words.end());
    } else if (args.looks_like_option()) {
      args.unknown();
    } else {
      args.positional(o.plan.scenario_path);
    }
  }
  check_plan(o.plan);
  check_combinations(o, given);
  if (o.jobs == 0) o.jobs = static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  return o;
}

}  // namespace mdevsim::sweep
