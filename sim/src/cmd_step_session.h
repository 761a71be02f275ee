// What `mdevsim step` shares between its command table (cmd_step_commands.cpp)
// and its line loop (cmd_step.cpp): the session of two devices behind
// frontends, and what a command answers.
#pragma once

#include <cstdint>
#include <deque>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/protocol.h"

namespace mdevsim::sim::step {

struct Session {
  Session(vfio::FrontendOptions opt, bool json_out, uint64_t vram_bytes = 64 << 20)
      : cfg(config(vram_bytes)),
        src_model(models::make_device(models::kDefaultDeviceType, "src", cfg)),
        dst_model(models::make_device(models::kDefaultDeviceType, "dst", cfg)),
        driver(models::make_guest_driver("driver", *src_model, workload(), 1)),
        src_dev(*src_model),
        dst_dev(*dst_model),
        options(opt),
        src(std::make_unique<vfio::Frontend>(src_dev, opt)),
        dst(std::make_unique<vfio::Frontend>(dst_dev, opt)),
        json(json_out),
        v1(opt.protocol == vfio::Protocol::kV1),
        proto(opt.protocol_def
                  ? opt.protocol_def
                  : std::make_shared<const vfio::ProtocolSpec>(vfio::builtin_protocol_v2())) {
    dst_dev.set_running(true);
  }

  static models::DeviceConfig config(uint64_t vram_bytes) {
    models::DeviceConfig c;
    c.vram_bytes = vram_bytes;
    c.page_size = 64 * 1024;
    c.contexts = 4;
    c.dma_buffer_bytes = 1 << 20;
    c.stop_latency_s = 0;
    return c;
  }
  static models::WorkloadSpec workload() {
    models::WorkloadSpec w;
    w.vram.kind = models::PatternKind::kHotset;
    w.vram.rate_bytes_per_s = 256.0 * (1 << 20);
    w.vram.hot_fraction = 0.25;
    return w;
  }

  models::DeviceConfig cfg;
  std::unique_ptr<models::Device> src_model, dst_model;
  std::unique_ptr<models::GuestDriver> driver;
  models::Device& src_dev;
  models::Device& dst_dev;
  vfio::FrontendOptions options;
  std::unique_ptr<vfio::Frontend> src, dst;
  bool json;
  std::ostream* out = &std::cout;
  // `run` may not pass more simulated time than this per script (the fuzzer
  // bounds it; a user's session has no limit).
  double max_run_s = std::numeric_limits<double>::infinity();
  double run_s = 0;
  uint64_t max_io_bytes = 64 << 20;  // per read/write/pread command
  bool echo = false;                 // print "src> CMD" before each answer, as a terminal shows it
  bool v1;
  std::shared_ptr<const vfio::ProtocolSpec> proto;  // v2-style states and names
  bool on_src = true;
  std::deque<uint8_t> buffer;  // the transfer buffer between reads and writes
  long last_ret = 0;           // what the previous command returned: the word `last`
  // Lines that could not be run (unknown command, bad argument): a script
  // with any of them exits 2 at its end; an errno from the ABI is an answer.
  int bad_lines = 0;
  std::string first_bad;

  vfio::Frontend& fe() { return on_src ? *src : *dst; }
  // A fresh start for the next script: new frontends (no open fds), an empty
  // buffer, src selected. Device memory keeps what earlier scripts left.
  void restart() {
    src = std::make_unique<vfio::Frontend>(src_dev, options);
    dst = std::make_unique<vfio::Frontend>(dst_dev, options);
    dst_dev.set_running(true);
    on_src = true;
    buffer.clear();
    last_ret = 0;
    bad_lines = 0;
    first_bad.clear();
    run_s = 0;
  }
  models::Device& dev() { return on_src ? src_dev : dst_dev; }
  const char* name() const { return on_src ? "src" : "dst"; }
};

struct Reply {
  bool ok = true;
  long ret = 0;
  std::string message;  // plain words
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// Runs one command line (its words, at least one) on the session. A line
// that cannot be run (unknown command, bad argument) throws
// std::invalid_argument with the message the user sees.
Reply execute(Session& s, std::vector<std::string> words);

// `mdevsim step --help` and the in-step `help`, generated from the command table.
const std::string& help_text();

}  // namespace mdevsim::sim::step
