// A real QEMU under the interposer, for the tests labelled `qemu`: started
// with a fake sysfs node, driven over QMP on a unix socket (bounded waits),
// killed if it outlives the test.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdevsim::testing {

// MDEVSIM_QEMU, else Debian's binary; "" when there is none.
inline std::string find_qemu() {
  if (const char* q = std::getenv("MDEVSIM_QEMU")) return q;
  const char* deb = "/usr/bin/qemu-system-x86_64";
  return access(deb, X_OK) == 0 ? deb : "";
}

inline std::string qemu_version(const std::string& qemu) {
  std::string out;
  if (FILE* p = popen((qemu + " --version").c_str(), "r")) {
    char line[256];
    if (fgets(line, sizeof line, p)) out = line;
    pclose(p);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// ROOT/devices/NAME with iommu_group -> ROOT/kernel/iommu_groups/GROUP and
// subsystem -> ROOT/bus/mdev: all QEMU reads of sysfs.
inline std::filesystem::path make_fake_sysfs(const std::filesystem::path& root,
                                             const std::string& name, int group) {
  namespace fs = std::filesystem;
  const auto dev = root / "devices" / name;
  fs::create_directories(dev);
  fs::create_directories(root / "kernel" / "iommu_groups" / std::to_string(group));
  fs::create_directories(root / "bus" / "mdev");
  fs::create_directory_symlink(root / "kernel" / "iommu_groups" / std::to_string(group),
                               dev / "iommu_group");
  fs::create_directory_symlink(root / "bus" / "mdev", dev / "subsystem");
  return dev;
}

class Qmp {
 public:
  // Connects within `timeout` (QEMU creates the socket early in startup).
  bool connect(const std::string& path, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      path.copy(a.sun_path, sizeof a.sun_path - 1);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        line();  // greeting
        return command("qmp_capabilities").contains("return");
      }
      ::close(fd_);
      fd_ = -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  ~Qmp() {
    if (fd_ >= 0) ::close(fd_);
  }
  nlohmann::json command(const std::string& name, nlohmann::json args = nullptr) {
    nlohmann::json c = {{"execute", name}};
    if (!args.is_null()) c["arguments"] = args;
    const std::string text = c.dump() + "\n";
    if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return {};
    for (;;) {
      const std::string l = line();
      if (l.empty()) return {};
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (j.is_discarded() || j.contains("event")) continue;
      return j;
    }
  }

 private:
  std::string line() {
    std::string out;
    char c;
    while (::read(fd_, &c, 1) == 1) {
      if (c == '\n') return out;
      out += c;
    }
    return out;
  }
  int fd_ = -1;
};

class QemuProcess {
 public:
  QemuProcess(const std::string& qemu, const std::vector<std::string>& args,
              const std::vector<std::string>& env, const std::filesystem::path& log) {
    pid_ = fork();
    if (pid_ == 0) {
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      FILE* out = freopen(log.c_str(), "w", stdout);
      if (out) dup2(fileno(out), 2);
      std::vector<char*> argv{const_cast<char*>(qemu.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(qemu.c_str(), argv.data());
      _exit(127);
    }
  }
  // Exit status within `timeout`, or -1 (then it is killed).
  int wait(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill_now();
    return -1;
  }
  ~QemuProcess() { kill_now(); }

 private:
  void kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid_ = -1;
};

// The machine line of ../shared/reference/qemu-as-a-client.md.
inline std::vector<std::string> machine_args(const std::string& qmp_socket,
                                             const std::filesystem::path& sysfsdev) {
  return {"-machine",    "q35",
          "-accel",      "tcg",
          "-nodefaults", "-nographic",
          "-m",          "256M",
          "-serial",     "none",
          "-monitor",    "none",
          "-qmp",        "unix:" + qmp_socket + ",server=on,wait=off",
          "-device",     "vfio-pci,addr=03.0,sysfsdev=" + sysfsdev.string()};
}

}  // namespace mdevsim::testing
