// A small client for QEMU's machine protocol (QMP) over a unix socket: the
// greeting, qmp_capabilities, commands with bounded waits, events kept aside.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdevsim::sim {

// A command QEMU answered with {"error": ...}: desc is QEMU's own message.
class QmpError : public std::runtime_error {
 public:
  QmpError(std::string command, std::string desc)
      : std::runtime_error(command + ": " + desc),
        command_(std::move(command)),
        desc_(std::move(desc)) {}
  const std::string& desc() const { return desc_; }
  const std::string& command() const { return command_; }

 private:
  std::string command_, desc_;
};

class QmpClient {
 public:
  QmpClient() = default;
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Connects to `socket_path`, retrying while QEMU starts (until `timeout`),
  // reads the greeting and negotiates capabilities. Throws std::runtime_error.
  void connect(const std::string& socket_path, std::chrono::milliseconds timeout);
  bool connected() const { return fd_ >= 0; }
  void close();

  // Runs `command` and returns its "return" value; QmpError when QEMU refused
  // it, std::runtime_error when QEMU did not answer within `timeout` or the
  // connection ended (QEMU died).
  nlohmann::json execute(const std::string& command, const nlohmann::json& arguments = nullptr,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The QEMU version from the greeting ("10.0.2").
  const std::string& version() const { return version_; }
  // Asynchronous events received so far (e.g. MIGRATION, STOP, RESUME).
  const std::vector<nlohmann::json>& events() const { return events_; }

 private:
  nlohmann::json read_message(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  std::string version_;
  std::vector<nlohmann::json> events_;
};

}  // namespace mdevsim::sim
