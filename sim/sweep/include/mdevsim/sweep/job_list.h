// Points as self-contained shell commands, for engines that run a job list
// (GNU parallel, HTCondor, a Kubernetes indexed Job) and for the Slurm
// executor's array tasks. Each command runs one `mdevsim run --set ...
// --json point-N.json` and leaves the point files of store.h in a directory
// that `mdevsim sweep ... --collect DIR` (or the Slurm executor) reads back.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mdevsim/sweep/plan.h"

namespace mdevsim::sweep {

std::string shell_quote(const std::string& s);

// Copies the scenario, and the files it and the --set/--vary values refer
// to by relative paths (device.protocol files, trace_file), into
// dir/staged, keeping their relative layout. Returns the staged scenario's
// path. Absolute references stay as they are (they must be shared too).
std::string stage_scenario(const Plan& plan, const std::filesystem::path& dir);

// The shell command of one point: runs binary on scenario with the point's
// --set list, writes point-N.json and point-N.err in points_dir, then
// point-N.exit with its exit status (last, by rename: finished when present).
std::string point_command(const Plan& plan, const std::string& binary, const std::string& scenario,
                          const std::filesystem::path& points_dir, size_t point);

// Writes one command per line for the given points (atomically).
void write_job_list(const std::filesystem::path& file, const std::vector<std::string>& commands);

}  // namespace mdevsim::sweep
