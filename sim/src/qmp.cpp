#include "mdevsim/sim/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace mdevsim::sim {

using Clock = std::chrono::steady_clock;

QmpClient::~QmpClient() { close(); }

void QmpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

void QmpClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    throw std::runtime_error("QMP socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const auto deadline = Clock::now() + timeout;
  // QEMU creates the socket while it starts: retry until it accepts.
  for (;;) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      fd_ = fd;
      break;
    }
    const int err = errno;
    ::close(fd);
    if (Clock::now() >= deadline)
      throw std::runtime_error("cannot connect to QMP socket " + socket_path + ": " +
                               std::strerror(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto greeting = read_message(deadline + std::chrono::seconds(5));
  if (!greeting.contains("QMP"))
    throw std::runtime_error("QMP socket " + socket_path + " sent no greeting");
  const auto& v = greeting["QMP"]["version"]["qemu"];
  version_ = std::to_string(v.value("major", 0)) + "." + std::to_string(v.value("minor", 0)) + "." +
             std::to_string(v.value("micro", 0));
  execute("qmp_capabilities");
}

nlohmann::json QmpClient::read_message(Clock::time_point deadline) {
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      const std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      return nlohmann::json::parse(line);
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error("QMP: no answer in time");
    pollfd p{fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) throw std::runtime_error("QMP: poll failed");
    if (n <= 0) continue;
    char chunk[65536];
    const ssize_t got = ::read(fd_, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      close();
      throw std::runtime_error("QMP: QEMU closed the connection");
    }
    buffer_.append(chunk, static_cast<size_t>(got));
  }
}

nlohmann::json QmpClient::execute(const std::string& command, const nlohmann::json& arguments,
                                  std::chrono::milliseconds timeout) {
  if (fd_ < 0) throw std::runtime_error("QMP: not connected (QEMU gone?)");
  nlohmann::json msg = {{"execute", command}};
  if (!arguments.is_null()) msg["arguments"] = arguments;
  const std::string text = msg.dump() + "\n";
  for (size_t off = 0; off < text.size();) {
    const ssize_t n = ::send(fd_, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close();
      throw std::runtime_error("QMP: QEMU closed the connection");
    }
    off += static_cast<size_t>(n);
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto reply = read_message(deadline);
    if (reply.contains("event")) {
      events_.push_back(std::move(reply));
      continue;
    }
    if (reply.contains("error"))
      throw QmpError(command, reply["error"].value("desc", reply["error"].dump()));
    return reply.value("return", nlohmann::json::object());
  }
}

}  // namespace mdevsim::sim
