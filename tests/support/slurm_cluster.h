// A real single-node Slurm cluster for one test or benchmark: munged,
// slurmctld and slurmd with their key, configuration, state and logs in a
// temporary folder, listening on 127.0.0.1 only, on free ports. The daemons
// run in the foreground (-D) as children of this process and are stopped by
// stop() or the destructor, so a failing test still stops them (and they get
// SIGTERM if this process dies outright). SLURM_CONF
// is set in this process's environment, so the Slurm commands it (and
// mdevsim, its child) runs talk to this cluster. No gtest dependency: the
// benchmark uses it too.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace mdevsim::testing {

class SlurmCluster {
 public:
  SlurmCluster() = default;
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;
  ~SlurmCluster() { stop(); }

  // Why a cluster cannot be started here ("" when it can): the tools are
  // missing (install them with scripts/install-deps) or we are not root.
  static std::string unavailable() {
    for (const char* tool : {"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel"})
      if (!on_path(tool))
        return std::string(tool) +
               " is not installed (scripts/install-deps installs slurm-wlm and munge)";
    if (geteuid() != 0) return "starting slurmd needs root (CI runs as root)";
    return "";
  }

  // Starts the daemons and waits until the node is idle. Returns "" or what failed.
  std::string start(unsigned cpus) {
    dir_ = std::filesystem::temp_directory_path() /
           ("mdevsim-slurm." + std::to_string(getpid()) + "." + std::to_string(std::rand()));
    std::filesystem::remove_all(dir_);
    for (const char* sub : {"", "state", "spool", "log"})
      std::filesystem::create_directories(dir_ / sub);
    chmod(dir_.c_str(), 0711);  // munged refuses a socket in a group/world-writable folder
    if (!write_key()) return "cannot write the munge key in " + dir_.string();
    spawn({"munged", "-F", "-f", "--socket=" + path("munge.sock"),
           "--key-file=" + path("munge.key"), "--pid-file=" + path("munged.pid"),
           "--seed-file=" + path("munged.seed"), "--log-file=" + path("log/munged.log")},
          "log/munged.out");
    if (!wait_for([&] { return std::filesystem::exists(dir_ / "munge.sock"); }, 10))
      return "munged did not start; see " + path("log/munged.out");
    write_config(cpus);
    setenv("SLURM_CONF", path("slurm.conf").c_str(), 1);
    spawn({"slurmctld", "-D", "-i", "-f", path("slurm.conf")}, "log/slurmctld.out");
    spawn({"slurmd", "-D", "-N", host_, "-f", path("slurm.conf")}, "log/slurmd.out");
    if (!wait_for([&] { return shell("sinfo -h -o %T 2>/dev/null").find("idle") == 0; }, 30))
      return "the Slurm node did not become idle; see " + path("log/");
    return "";
  }

  // SIGTERM to every daemon, SIGKILL after 5 s, then the folder goes. A
  // job's slurmstepd detaches from slurmd and would outlive it: every process
  // left with this cluster's SLURM_CONF in its environment is killed too.
  void stop() {
    if (!dir_.empty()) shell("scancel --full --quiet --user=root 2>/dev/null");
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) kill(*it, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (pid_t pid : pids_) {
      while (waitpid(pid, nullptr, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) kill(pid, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    pids_.clear();
    if (!dir_.empty()) kill_stragglers("SLURM_CONF=" + path("slurm.conf"));
    if (!dir_.empty() && !std::getenv("MDEVSIM_KEEP_SLURM")) std::filesystem::remove_all(dir_);
    dir_.clear();
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Output of a shell command (stderr not captured).
  static std::string shell(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    std::array<char, 4096> buf{};
    for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
    pclose(p);
    return out;
  }

 private:
  // SIGKILL to the processes (not this one) whose environment holds `entry`.
  static void kill_stragglers(const std::string& entry) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = static_cast<pid_t>(std::stol(name));
      if (pid == getpid()) continue;
      std::ifstream env(e.path() / "environ", std::ios::binary);
      for (std::string var; std::getline(env, var, '\0');)
        if (var == entry) {
          kill(pid, SIGKILL);
          break;
        }
    }
  }

  // The daemons live in sbin, which a user's PATH may lack.
  static std::string find_tool(const std::string& tool) {
    for (const char* dir :
         {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
      if (access((std::string(dir) + "/" + tool).c_str(), X_OK) == 0)
        return std::string(dir) + "/" + tool;
    return "";
  }
  static bool on_path(const std::string& tool) { return !find_tool(tool).empty(); }

  template <class F>
  static bool wait_for(F ready, int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  bool write_key() {
    std::random_device rd;
    std::ofstream key(dir_ / "munge.key", std::ios::binary);
    for (int i = 0; i < 1024; ++i) key.put(static_cast<char>(rd()));
    key.close();
    return chmod(path("munge.key").c_str(), 0400) == 0;
  }

  // A port nobody listens on now (the kernel's pick for port 0).
  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    close(fd);
    return port;
  }

  void write_config(unsigned cpus) {
    std::array<char, 256> name{};
    gethostname(name.data(), name.size() - 1);
    host_ = std::string(name.data()).substr(0, std::string(name.data()).find('.'));
    std::ofstream c(dir_ / "slurm.conf");
    c << "ClusterName=mdevsimtest\nSlurmctldHost=" << host_ << "(127.0.0.1)\n"
      << "SlurmctldPort=" << free_port() << "\nSlurmdPort=" << free_port() << "\n"
      << "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" << path("munge.sock")
      << "\nSlurmUser=root\nSlurmdUser=root\n"
      << "StateSaveLocation=" << path("state") << "\nSlurmdSpoolDir=" << path("spool") << "\n"
      << "SlurmctldPidFile=" << path("slurmctld.pid") << "\nSlurmdPidFile=" << path("slurmd.pid")
      << "\nSlurmctldLogFile=" << path("log/slurmctld.log")
      << "\nSlurmdLogFile=" << path("log/slurmd.log")
      << "\n"
      // No cgroups: processes tracked through /proc, no task binding.
      << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
      << "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
      // Schedule every second, not every few: freed CPUs get the next array task at once.
      << "SchedulerType=sched/backfill\nSchedulerParameters=sched_interval=1,batch_sched_delay=0\n"
      << "JobAcctGatherType=jobacct_gather/none\n"
      << "AccountingStorageType=accounting_storage/none\nMpiDefault=none\n"
      << "ReturnToService=2\nMinJobAge=600\nMaxArraySize=100001\nMaxJobCount=100000\n"
      << "NodeName=" << host_ << " NodeAddr=127.0.0.1 CPUs=" << cpus << " State=UNKNOWN\n"
      << "PartitionName=test Nodes=" << host_ << " Default=YES MaxTime=INFINITE State=UP\n";
  }

  void spawn(const std::vector<std::string>& args, const std::string& log) {
    const pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // a test killed outright leaves no daemon behind
      FILE* out = std::freopen(path(log).c_str(), "w", stdout);
      if (out) dup2(fileno(out), 2);
      std::vector<char*> argv;
      const std::string binary = find_tool(args[0]);
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    if (pid > 0) pids_.push_back(pid);
  }

  std::filesystem::path dir_;
  std::string host_;
  std::vector<pid_t> pids_;
};

}  // namespace mdevsim::testing
