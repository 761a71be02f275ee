// mdevsim step: drive a source and a destination device by hand through the
// VFIO ABI, one command per line, each effect explained.
#include <cerrno>
#include <cstring>
#include <deque>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <systemc>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"
#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/feature_list.h"
#include "mdevsim/sim/step_script.h"
#include "mdevsim/sim/units.h"
#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/protocol.h"
#include "mdevsim/vfio/uapi.h"

namespace mdevsim::sim {

namespace {

using nlohmann::ordered_json;
using vfio::MigState;

constexpr const char* kStepHelp =
    R"(Usage: mdevsim step [--protocol v1|v2|NAME|FILE] [--features LIST] [--json] [--echo]

Drives two identical devices, src and dst, through the VFIO migration ABI.
Commands come from stdin, one per line ('#' starts a comment). The src
device runs a small workload (64 MiB VRAM, 64 KiB pages) so 'run' dirties it.

  device src|dst            choose the device the next commands act on
  state get                 read the migration state
  state set NAME            v2: STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P
                            v1: 011b, 3, or RUNNING|SAVING (writes device_state)
  read FD N                 read up to N bytes from a data fd into the transfer buffer
  write FD N|all            write the next N (or all) buffered bytes to a data fd
  close FD                  close a data fd
  precopy-info FD           VFIO_MIG_GET_PRECOPY_INFO on a save fd
  data-size                 VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
  feature get migration     the MIGRATION feature flags
  reset                     VFIO_DEVICE_RESET
  run DURATION              let simulated time pass (e.g. 10ms); src's workload runs
  dirty                     dirty VRAM pages and bytes of the current device
  compare                   are src and dst state-equal? which pages/fields differ?
  rd32 OFF | rd64 OFF       v1: read a migration-region field (decimal or 0x hex)
  wr32 OFF V | wr64 OFF V   v1: write a migration-region field
  pread OFF N               v1: read N region bytes into the transfer buffer
  pwrite OFF N|all          v1: write the next N (or all) buffered bytes at a region offset
  region info               v1: VFIO_DEVICE_GET_REGION_INFO of the migration region
  postcopy request FD P [N] post-copy proposals: queue pages P..P+N-1 on a serving save fd
  postcopy background FD N  queue up to N pages in the device's push order
  postcopy faults FD        the pages a running destination faulted on (resume fd)
  help                      this list
A number may be written 'last': the previous command's return value, e.g.
'rd64 24' (data_size) then 'pread 4096 last'.

Options:
  --protocol P       v1, v2 (default), a shipped proposal such as v2-postcopy,
                     or a v2-style protocol file (scenarios/protocols/*.json)
  --features LIST    features of the protocol, comma separated (default: all it defines)
  --json             one JSON object per command on stdout: cmd, ok, errno, ret,
                     state (and path, data_fd for 'state set')
  --echo             print each command after its prompt ('src> state get'), so
                     output from a script reads like a terminal session

Exit status: 0; 2 for a bad option, or when a line of a script (stdin not a
terminal) could not be run (unknown command, bad argument) - the session goes
on to the end either way. An errno from the ABI is an answer, not a failure.
)";

struct Session {
  Session(vfio::FrontendOptions opt, bool json_out, uint64_t vram_bytes = 64 << 20)
      : cfg(config(vram_bytes)),
        src_dev("src", cfg),
        dst_dev("dst", cfg),
        driver("driver", src_dev, workload(), 1),
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
  models::GpuDevice src_dev, dst_dev;
  models::WorkloadDriver driver;
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
  models::GpuDevice& dev() { return on_src ? src_dev : dst_dev; }
  const char* name() const { return on_src ? "src" : "dst"; }
};

// Captures the frontend's own account of each call.
class Recorder : public vfio::CallObserver {
 public:
  void on_call(const vfio::CallRecord& r) override { calls.push_back(r); }
  std::vector<vfio::CallRecord> calls;
};

struct Reply {
  bool ok = true;
  long ret = 0;
  std::string message;  // plain words
  ordered_json extra = ordered_json::object();
};

constexpr uint64_t kRegion = uint64_t{VFIO_PCI_NUM_REGIONS} << 40;

bool parse_u64(const std::string& s, uint64_t& v) {
  try {
    size_t used = 0;
    v = std::stoull(s, &used, 0);
    return used == s.size() && s[0] != '-';
  } catch (const std::exception&) {
    return false;
  }
}

std::string g_command;  // the command being executed, for failure messages

Reply from_ret(long r, const std::string& what) {
  Reply rep;
  rep.ret = r;
  rep.ok = r >= 0;
  rep.message = r >= 0 ? what
                       : "'" + g_command + "' failed: " + vfio::errno_name(static_cast<int>(-r)) +
                             " (" + std::strerror(static_cast<int>(-r)) + ")";
  return rep;
}

template <typename Payload>
using Feature = vfio::FeatureBuf<Payload>;

// The v1 header field at a region offset, for messages.
std::string v1_field(uint64_t off) {
  switch (off) {
    case 0:
      return "device_state";
    case 4:
      return "reserved";
    case 8:
      return "pending_bytes";
    case 16:
      return "data_offset";
    case 24:
      return "data_size";
  }
  return "region offset " + std::to_string(off);
}

Reply execute(Session& s, std::vector<std::string> w) {
  auto& fe = s.fe();
  // Failure messages quote the whole command as typed.
  g_command = w[0];
  for (size_t i = 1; i < w.size(); ++i) g_command += " " + w[i];
  // `last` stands for the previous command's return value (e.g. data_size);
  // `all` as a byte count means the whole transfer buffer.
  for (size_t i = 1; i < w.size(); ++i) {
    if (w[i] == "last") w[i] = std::to_string(s.last_ret);
    if (w[i] == "all" && (w[0] == "write" || w[0] == "pwrite"))
      w[i] = std::to_string(s.buffer.size());
  }
  auto need = [&](size_t n) {
    if (w.size() != n)
      throw std::invalid_argument("'" + w[0] + "' takes " + std::to_string(n - 1) +
                                  " argument(s); try 'help'");
  };
  auto num = [&](size_t i) {
    uint64_t v;
    if (!parse_u64(w[i], v))
      throw std::invalid_argument("'" + w[i] + "' is not a number (decimal or 0x hex)");
    return v;
  };
  auto v1_only = [&] {
    if (!s.v1)
      throw std::invalid_argument("'" + w[0] +
                                  "' is a protocol v1 command (start with --protocol v1)");
  };
  const std::string& c = w[0];
  if (c == "help") {
    Reply r;
    r.message = kStepHelp;
    return r;
  }
  if (c == "device") {
    need(2);
    if (w[1] != "src" && w[1] != "dst") throw std::invalid_argument("device is src or dst");
    s.on_src = w[1] == "src";
    Reply r;
    r.message = std::string("now acting on ") + s.name();
    return r;
  }
  if (c == "state" && w.size() >= 2 && w[1] == "get") {
    need(2);
    if (s.v1) {
      uint32_t v = 0;
      const long r = fe.pread(fe.device_fd(), &v, 4, kRegion);
      auto rep =
          from_ret(r, "device_state reads " + vfio::v1::bits(v) + ": " + vfio::v1::meaning(v));
      rep.ret = r < 0 ? r : v;
      return rep;
    }
    Feature<vfio_device_feature_mig_state> f(VFIO_DEVICE_FEATURE_GET |
                                             VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
    const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, f.raw);
    const auto at = s.proto->by_value(f.payload.device_state);
    auto rep =
        from_ret(r, "the device is in " + (at ? s.proto->states[*at].name : std::string("?")));
    return rep;
  }
  if (c == "state" && w.size() >= 2 && w[1] == "set") {
    need(3);
    if (s.v1) {
      const auto v = vfio::v1::parse(w[2]);
      if (!v)
        throw std::invalid_argument("'" + w[2] + "' is not a v1 state (011b, 3, RUNNING|SAVING)");
      const uint32_t val = *v;
      const uint32_t before = fe.state_value() & 7;
      const long r = fe.pwrite(fe.device_fd(), &val, 4, kRegion);
      auto rep = from_ret(r, "device_state written: " + vfio::v1::bits(val));
      // v1 has no combination paths: one write, one transition (or none).
      rep.extra["path"] = r >= 0 ? ordered_json::array({before, fe.state_value() & 7})
                                 : ordered_json::array({before});
      return rep;
    }
    const auto st = s.proto->find(w[2]);
    if (!st) {
      std::string names;
      for (const auto& x : s.proto->states) names += " " + x.name;
      throw std::invalid_argument("'" + w[2] + "' is not a state of " + s.proto->name +
                                  " (states:" + names + ")");
    }
    Feature<vfio_device_feature_mig_state> f(VFIO_DEVICE_FEATURE_SET |
                                             VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
    f.payload.device_state = s.proto->states[*st].value;
    const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, f.raw);
    auto rep = from_ret(r, "SET " + s.proto->states[*st].name);
    rep.extra["data_fd"] = f.payload.data_fd;
    if (f.payload.data_fd >= 0) rep.message += "; new data fd " + std::to_string(f.payload.data_fd);
    return rep;
  }
  if (c == "read" || c == "write") {
    need(3);
    const int fd = static_cast<int>(num(1));
    const uint64_t n = num(2);
    if (n > s.max_io_bytes)
      throw std::invalid_argument("at most " + format_bytes(s.max_io_bytes) + " per command");
    if (c == "read") {
      std::vector<uint8_t> b(n);
      const long r = fe.read(fd, b.data(), n);
      if (r > 0) s.buffer.insert(s.buffer.end(), b.begin(), b.begin() + r);
      auto rep = from_ret(r, "read " + std::to_string(r) + " bytes (transfer buffer now " +
                                 std::to_string(s.buffer.size()) + ")");
      if (r == 0) rep.message = "read 0 bytes: end of stream";
      return rep;
    }
    if (n > s.buffer.size())
      throw std::invalid_argument("the transfer buffer holds only " +
                                  std::to_string(s.buffer.size()) + " bytes");
    std::vector<uint8_t> b(s.buffer.begin(), s.buffer.begin() + static_cast<long>(n));
    const long r = fe.write(fd, b.data(), n);
    if (r > 0) s.buffer.erase(s.buffer.begin(), s.buffer.begin() + r);
    return from_ret(r, "wrote " + std::to_string(r) + " bytes");
  }
  if (c == "postcopy") {
    if (w.size() < 3 || w.size() > 5)
      throw std::invalid_argument("postcopy request FD PAGE [N] | background FD N | faults FD");
    const int fd = static_cast<int>(num(2));
    if (w[1] == "request" || w[1] == "background") {
      vfio_mig_postcopy_request q{};
      q.argsz = sizeof(q);
      if (w.size() < 4)
        throw std::invalid_argument("postcopy " + w[1] + " FD needs a page or a count");
      if (w[1] == "request") {
        q.first_page = num(3);
        q.count = w.size() > 4 ? num(4) : 1;
      } else {
        q.count = num(3);
        q.flags = VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND | VFIO_MIG_POSTCOPY_REQUEST_HOT_FIRST;
      }
      const long r = fe.ioctl(fd, VFIO_MIG_POSTCOPY_REQUEST, &q);
      auto rep =
          from_ret(r, std::to_string(q.queued) + " pages queued: the next reads return them");
      if (r == 0) rep.ret = static_cast<long>(q.queued);
      return rep;
    }
    if (w[1] == "faults") {
      std::vector<uint64_t> pages(256);
      vfio_mig_postcopy_faults q{};
      q.argsz = sizeof(q);
      q.capacity = pages.size();
      q.pages = reinterpret_cast<uint64_t>(pages.data());
      const long r = fe.ioctl(fd, VFIO_MIG_POSTCOPY_FAULTS, &q);
      std::string list;
      for (uint64_t k = 0; k < q.count; ++k) list += " " + std::to_string(pages[k]);
      auto rep =
          from_ret(r, std::to_string(q.count) + " faults" + (list.empty() ? "" : ":" + list) +
                          "; " + std::to_string(q.missing) + " pages still missing");
      if (r == 0) rep.ret = static_cast<long>(q.count);
      return rep;
    }
    throw std::invalid_argument("postcopy request|background|faults FD ...");
  }
  if (c == "close") {
    need(2);
    return from_ret(fe.close(static_cast<int>(num(1))), "closed");
  }
  if (c == "precopy-info") {
    need(2);
    vfio_precopy_info info{};
    info.argsz = sizeof(info);
    const long r = fe.ioctl(static_cast<int>(num(1)), VFIO_MIG_GET_PRECOPY_INFO, &info);
    auto rep = from_ret(r, "initial_bytes " + std::to_string(info.initial_bytes) +
                               ", dirty_bytes " + std::to_string(info.dirty_bytes));
    if (r == 0)
      rep.extra["initial_bytes"] = info.initial_bytes, rep.extra["dirty_bytes"] = info.dirty_bytes;
    return rep;
  }
  if (c == "data-size") {
    need(1);
    Feature<vfio_device_feature_mig_data_size> f(VFIO_DEVICE_FEATURE_GET |
                                                 VFIO_DEVICE_FEATURE_MIG_DATA_SIZE);
    const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, f.raw);
    auto rep =
        from_ret(r, "stop_copy_length " + std::to_string(f.payload.stop_copy_length) + " bytes");
    if (r == 0) rep.extra["stop_copy_length"] = f.payload.stop_copy_length;
    return rep;
  }
  if (c == "feature") {
    need(3);
    if (w[1] != "get" || w[2] != "migration")
      throw std::invalid_argument("only 'feature get migration' is supported");
    Feature<vfio_device_feature_migration> f(VFIO_DEVICE_FEATURE_GET |
                                             VFIO_DEVICE_FEATURE_MIGRATION);
    const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, f.raw);
    auto rep = from_ret(r, "migration flags: " + vfio::features_name(f.payload.flags));
    if (r == 0) rep.extra["flags"] = vfio::features_name(f.payload.flags);
    return rep;
  }
  if (c == "reset") {
    need(1);
    return from_ret(fe.ioctl(fe.device_fd(), VFIO_DEVICE_RESET, nullptr), "device reset");
  }
  if (c == "run") {
    need(2);
    double t;
    try {
      t = parse_duration(w[1]);
    } catch (const UnitError& e) {
      throw std::invalid_argument(e.what());
    }
    if (s.run_s + t > s.max_run_s)
      throw std::invalid_argument("this session may simulate at most " +
                                  format_duration(s.max_run_s) + " in all");
    s.run_s += t;
    sc_core::wait(sc_core::sc_time::from_seconds(t));
    Reply r;
    r.message = "simulated " + format_duration(t) +
                "; now t=" + format_duration(sc_core::sc_time_stamp().to_seconds());
    return r;
  }
  if (c == "dirty") {
    need(1);
    const auto& store = s.dev().vram.store();
    Reply r;
    r.extra["dirty_pages"] = store.dirty().count();
    r.extra["dirty_bytes"] = store.dirty().count() * store.page_size();
    r.extra["tracking"] = store.tracking();
    r.message =
        std::to_string(store.dirty().count()) + " dirty VRAM pages (" +
        format_bytes(static_cast<double>(store.dirty().count() * store.page_size())) + ")" +
        (store.tracking() ? "" : "; dirty tracking is off (it runs while a save session is open)");
    return r;
  }
  if (c == "compare") {
    need(1);
    const auto d = models::compare_devices(s.src_dev, s.dst_dev);
    Reply r;
    r.extra["equal"] = d.equal();
    r.extra["vram_pages_differing"] = d.vram_pages;
    r.extra["fields_differing"] = d.fields;
    r.extra["differences"] = d.differences;
    r.message = d.equal() ? "src and dst are equal: every VRAM page and every state field"
                          : std::to_string(d.vram_pages) + " VRAM pages and " +
                                std::to_string(d.fields) + " fields differ";
    for (const auto& x : d.differences) r.message += "\n    " + x;
    return r;
  }
  if (c == "rd32" || c == "rd64") {
    v1_only();
    need(2);
    uint64_t v = 0;
    const long r = fe.pread(fe.device_fd(), &v, c == "rd32" ? 4 : 8, kRegion + num(1));
    auto rep = from_ret(r, v1_field(num(1)) + " reads " + std::to_string(v));
    rep.ret = r < 0 ? r : static_cast<long>(v);
    return rep;
  }
  if (c == "wr32" || c == "wr64") {
    v1_only();
    need(3);
    const uint64_t v = num(2);
    const long r = fe.pwrite(fe.device_fd(), &v, c == "wr32" ? 4 : 8, kRegion + num(1));
    return from_ret(r, v1_field(num(1)) + " written: " + std::to_string(v));
  }
  if (c == "pread") {
    v1_only();
    need(3);
    if (num(2) > s.max_io_bytes)
      throw std::invalid_argument("at most " + format_bytes(s.max_io_bytes) + " per command");
    std::vector<uint8_t> b(num(2));
    const long r = fe.pread(fe.device_fd(), b.data(), b.size(), kRegion + num(1));
    if (r > 0) s.buffer.insert(s.buffer.end(), b.begin(), b.begin() + r);
    return from_ret(r, "read " + std::to_string(r) +
                           " region bytes into the transfer buffer (now " +
                           std::to_string(s.buffer.size()) + ")");
  }
  if (c == "pwrite") {
    v1_only();
    need(3);
    const uint64_t n = num(2);
    if (n > s.buffer.size())
      throw std::invalid_argument("the transfer buffer holds only " +
                                  std::to_string(s.buffer.size()) + " bytes");
    std::vector<uint8_t> b(s.buffer.begin(), s.buffer.begin() + static_cast<long>(n));
    const long r = fe.pwrite(fe.device_fd(), b.data(), n, kRegion + num(1));
    if (r > 0) s.buffer.erase(s.buffer.begin(), s.buffer.begin() + r);
    return from_ret(r, "wrote " + std::to_string(r) + " bytes into the region");
  }
  if (c == "region" && w.size() == 2 && w[1] == "info") {
    v1_only();
    alignas(8) uint8_t buf[80] = {};
    auto* info = reinterpret_cast<vfio_region_info*>(buf);
    info->argsz = sizeof(buf);
    info->index = VFIO_PCI_NUM_REGIONS;
    const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_GET_REGION_INFO, buf);
    auto* sparse = reinterpret_cast<vfio_region_info_cap_sparse_mmap*>(buf + 48);
    auto rep = from_ret(
        r, "migration region index " + std::to_string(info->index) + ", size " +
               std::to_string(info->size) + ", offset 0x" +
               [&] {
                 std::ostringstream o;
                 o << std::hex << info->offset;
                 return o.str();
               }() +
               "; header (struct vfio_device_migration_info) at 0, data section mmap-able at " +
               std::to_string(sparse->areas[0].offset) + " (" +
               std::to_string(sparse->areas[0].size) + " bytes)");
    rep.extra["size"] = info->size;
    rep.extra["data_section"] = {{"offset", sparse->areas[0].offset},
                                 {"size", sparse->areas[0].size}};
    return rep;
  }
  throw std::invalid_argument("unknown command '" + c + "' (try 'help')");
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> w;
  std::istringstream in(line.substr(0, line.find('#')));
  std::string x;
  while (in >> x) w.push_back(x);
  return w;
}

// Runs the commands of `in` on the session, one per line; `tty`: prompt
// before each (a terminal already echoes what was typed).
void run_lines(Session& s, std::istream& in, bool tty) {
  Recorder rec;
  s.src->set_observer(&rec);
  s.dst->set_observer(&rec);
  tty = tty && !s.json;
  std::ostream& out = *s.out;
  std::string line;
  for (int line_no = 1;; ++line_no) {
    if (tty) out << s.name() << "> " << std::flush;
    if (!std::getline(in, line)) break;
    const auto words = split(line);
    if (words.empty()) continue;
    if (s.echo && !s.json && !tty)  // a terminal already shows what was typed
      out << s.name() << "> " << line.substr(0, line.find_last_not_of(" \t") + 1) << "\n";
    rec.calls.clear();
    Reply r;
    std::string error;
    try {
      r = execute(s, words);
      s.last_ret = r.ret;
    } catch (const std::invalid_argument& e) {
      r.ok = false;
      r.ret = 0;
      error = e.what();
      if (s.bad_lines++ == 0) s.first_bad = "line " + std::to_string(line_no) + ": " + error;
    }
    const auto& fe = s.fe();
    std::string errno_str;
    for (const auto& c : rec.calls)
      if (c.ret < 0) errno_str = vfio::errno_name(static_cast<int>(-c.ret));
    if (!r.ok && error.empty() && r.ret < 0) errno_str = vfio::errno_name(static_cast<int>(-r.ret));
    std::vector<std::string> path;
    for (const auto& c : rec.calls)
      if (!c.path.empty()) path = c.path;
    const std::string cmd = line.substr(0, line.find('#'));
    if (s.json) {
      ordered_json j;
      j["cmd"] = cmd.substr(0, cmd.find_last_not_of(" \t") + 1);
      j["device"] = s.name();
      j["ok"] = r.ok;
      j["errno"] = errno_str.empty() ? ordered_json(nullptr) : ordered_json(errno_str);
      j["ret"] = r.ret;
      if (s.v1)
        j["state"] = fe.state_value() & 7;
      else
        j["state"] = fe.state_name();
      if (words[0] == "state" && words.size() > 1 && words[1] == "set") {
        if (!s.v1) j["path"] = path;
        if (!j.contains("data_fd") && !r.extra.contains("data_fd")) j["data_fd"] = -1;
      }
      for (auto it = r.extra.begin(); it != r.extra.end(); ++it) j[it.key()] = it.value();
      if (!error.empty()) j["message"] = error;
      // A script may hold any bytes: invalid UTF-8 is replaced, not a crash
      // (found by fuzz_step).
      out << j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) << std::endl;
    } else {
      out << s.name() << ": " << (error.empty() ? r.message : "error: " + error) << "\n";
      for (const auto& c : rec.calls) {
        if (!c.path.empty() && c.path.size() > 1) {
          out << "    path:";
          for (size_t i = 0; i < c.path.size(); ++i) out << (i ? " -> " : " ") << c.path[i];
          out << "\n";
        } else if (c.state_before != c.state_after) {
          out << "    state: " << c.state_before << " -> " << c.state_after << "\n";
        }
        for (const auto& n : c.notes) out << "    " << n << "\n";
      }
      out << std::flush;
    }
  }
  s.src->set_observer(nullptr);
  s.dst->set_observer(nullptr);
}

class StepModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(StepModule);
  StepModule(sc_core::sc_module_name n, Session& s) : sc_core::sc_module(n), s_(s) {
    SC_THREAD(thread);
  }

 private:
  void thread() {
    run_lines(s_, std::cin, isatty(0));
    sc_core::sc_stop();
  }
  Session& s_;
};

// One session and a thread that runs each script it is handed, pausing the
// simulation when the script ends (sc_start returns), for the next one.
class ScriptModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ScriptModule);
  ScriptModule(sc_core::sc_module_name n, Session& s) : sc_core::sc_module(n), s_(s) {
    SC_THREAD(thread);
  }
  const std::string* script = nullptr;
  bool done = false;
  sc_core::sc_event start;

 private:
  void thread() {
    for (;;) {
      while (script == nullptr) sc_core::wait(start);
      std::istringstream in(*script);
      run_lines(s_, in, false);
      script = nullptr;
      done = true;
      sc_core::sc_pause();
    }
  }
  Session& s_;
};

vfio::FrontendOptions step_options(const std::string& protocol, std::string& features) {
  vfio::FrontendOptions opt;
  if (protocol == "v1") {
    opt.protocol = vfio::Protocol::kV1;
  } else if (protocol != "v2") {
    opt.protocol_def = std::make_shared<const vfio::ProtocolSpec>(vfio::resolve_protocol(protocol));
    if (features.empty()) features = opt.protocol_def->features_name(opt.protocol_def->all_flags());
  }
  if (features.empty()) features = "stop_copy,p2p,pre_copy";
  opt.v1_data_section_size = 4 << 20;
  opt.guest_ram_bytes = 64 << 20;
  return opt;
}

}  // namespace

struct StepScriptRunner::Impl {
  Impl(vfio::FrontendOptions opt, bool json, const std::string& name)
      : session(opt, json, 4 << 20), module(name.c_str(), session) {}
  Session session;
  ScriptModule module;
};

StepScriptRunner::StepScriptRunner(const std::string& protocol, bool json, double max_run_s) {
  std::string features;
  auto opt = step_options(protocol, features);
  std::string why;
  const auto& proto = opt.protocol_def ? *opt.protocol_def : vfio::builtin_protocol_v2();
  opt.migration_flags = *check_feature_list(proto, features, why);
  static int count = 0;
  impl_ = std::make_unique<Impl>(opt, json, "step_script_" + std::to_string(count++));
  impl_->session.max_run_s = max_run_s;
  impl_->session.max_io_bytes = 1 << 20;
}

StepScriptRunner::~StepScriptRunner() = default;

int StepScriptRunner::run(const std::string& script, std::ostream& out) {
  auto& s = impl_->session;
  s.restart();
  s.out = &out;
  impl_->module.done = false;
  impl_->module.script = &script;
  impl_->module.start.notify(sc_core::SC_ZERO_TIME);
  while (!impl_->module.done) sc_core::sc_start();
  return s.bad_lines;
}

int cmd_step(int argc, char** argv) {
  vfio::FrontendOptions opt;
  bool json = false, echo = false, features_given = false;
  std::string features = "stop_copy,p2p,pre_copy";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kStepHelp;
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--echo") {
      echo = true;
    } else if (a == "--protocol" && i + 1 < argc) {
      const std::string p = argv[++i];
      if (p == "v1") {
        opt.protocol = vfio::Protocol::kV1;
      } else if (p != "v2") {
        try {
          opt.protocol_def = std::make_shared<const vfio::ProtocolSpec>(vfio::resolve_protocol(p));
        } catch (const vfio::ProtocolError& e) {
          std::cerr << "mdevsim step: --protocol: " << e.what() << "\n";
          return 2;
        }
        if (opt.protocol_def->encoding != vfio::ProtocolSpec::Encoding::kEnum) {
          std::cerr << "mdevsim step: --protocol " << p
                    << " is v1-style (register bits): step drives v2-style protocol files; "
                       "print it with mdevsim fsm "
                    << p << "\n";
          return 2;
        }
        if (!features_given)
          features = opt.protocol_def->features_name(opt.protocol_def->all_flags());
      }
    } else if (a == "--features" && i + 1 < argc) {
      features = argv[++i];
      features_given = true;
    } else {
      std::cerr << "mdevsim step: unexpected argument '" << a << "' (see mdevsim step --help)\n";
      return 2;
    }
  }
  const auto& proto = opt.protocol_def ? *opt.protocol_def : vfio::builtin_protocol_v2();
  std::string why;
  const auto flags = check_feature_list(proto, features, why);
  if (!flags) {
    std::cerr << "mdevsim step: --features " << features << ": " << why << "\n";
    return 2;
  }
  opt.migration_flags = *flags;
  opt.v1_data_section_size = 4 << 20;
  opt.guest_ram_bytes = 64 << 20;
  Session session(opt, json);
  session.echo = echo;
  StepModule step("step", session);
  sc_core::sc_start();
  if (session.bad_lines > 0 && !isatty(0)) {
    std::cerr << "mdevsim step: " << session.bad_lines
              << (session.bad_lines == 1 ? " line" : " lines")
              << " of the script could not be run (" << session.first_bad << ")\n";
    return 2;
  }
  return 0;
}

}  // namespace mdevsim::sim
