// The commands of `mdevsim step` as a table: name, argument spec, help line,
// handler. The dispatcher and the help text both read the table, so a new
// command is one row and one handler.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <systemc>

#include "cmd_step_session.h"
#include "mdevsim/sim/units.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "vmm/abi_calls.h"

namespace mdevsim::sim::step {

namespace {

using nlohmann::ordered_json;

// One line being run: its words (after `last` and `all` were replaced) and
// argument access with the messages the user sees.
struct Call {
  Session& s;
  vfio::Frontend& fe;
  const std::vector<std::string>& w;
  const std::string& typed;  // the command as typed, for failure messages

  uint64_t num(size_t i) const {
    uint64_t v;
    if (!parse_u64(w[i], v))
      throw std::invalid_argument("'" + w[i] + "' is not a number (decimal or 0x hex)");
    return v;
  }
  int fd(size_t i) const { return static_cast<int>(num(i)); }
  // An ABI call's answer: `what` on success, else the errno in words.
  Reply from_ret(long r, const std::string& what) const {
    Reply rep;
    rep.ret = r;
    rep.ok = r >= 0;
    rep.message = r >= 0 ? what
                         : "'" + typed + "' failed: " + vfio::errno_name(static_cast<int>(-r)) +
                               " (" + std::strerror(static_cast<int>(-r)) + ")";
    return rep;
  }
  void check_io_size(uint64_t n) const {
    if (n > s.max_io_bytes)
      throw std::invalid_argument("at most " + format_bytes(s.max_io_bytes) + " per command");
  }
  void check_buffered(uint64_t n) const {
    if (n > s.buffer.size())
      throw std::invalid_argument("the transfer buffer holds only " +
                                  std::to_string(s.buffer.size()) + " bytes");
  }
  // Takes the first n buffered bytes out after a write that moved r of them.
  std::vector<uint8_t> buffered(uint64_t n) const {
    return std::vector<uint8_t>(s.buffer.begin(), s.buffer.begin() + static_cast<long>(n));
  }
  void consume(long r) const {
    if (r > 0) s.buffer.erase(s.buffer.begin(), s.buffer.begin() + r);
  }
  void append(const std::vector<uint8_t>& b, long r) const {
    if (r > 0) s.buffer.insert(s.buffer.end(), b.begin(), b.begin() + r);
  }

  static bool parse_u64(const std::string& x, uint64_t& v) {
    try {
      size_t used = 0;
      v = std::stoull(x, &used, 0);
      return used == x.size() && x[0] != '-';
    } catch (const std::exception&) {
      return false;
    }
  }
};

// How many words a command takes, its name included.
struct Arity {
  size_t min = 1, max = SIZE_MAX;
  std::string_view message;  // when outside; empty: "'NAME' takes N argument(s); try 'help'"
  bool selects = false;      // a line outside it is not this command but an unknown one
};
constexpr Arity exactly(size_t n) { return {n, n, {}, false}; }

struct Command {
  std::vector<std::string_view> names;  // first words that select it
  std::string_view sub;                 // a second word it needs ("get" of "state get"); "" any
  std::string_view usage;               // as the help lists it
  std::string_view help;  // the help line (further lines indent under it); "" unlisted
  Arity arity;
  bool v1_only = false;
  bool all_is_buffer = false;  // a byte count written 'all' means the whole transfer buffer
  Reply (*run)(const Call&) = nullptr;
};

Reply message(std::string text) {
  Reply r;
  r.message = std::move(text);
  return r;
}

// ------------------------------------------------------------ both protocols

Reply cmd_help(const Call&) { return message(help_text()); }

Reply cmd_device(const Call& c) {
  if (c.w[1] != "src" && c.w[1] != "dst") throw std::invalid_argument("device is src or dst");
  c.s.on_src = c.w[1] == "src";
  return message(std::string("now acting on ") + c.s.name());
}

Reply cmd_state_get(const Call& c) {
  if (c.s.v1) {
    uint32_t v = 0;
    const long r = vmm::v1_read_state(c.fe, v);
    auto rep =
        c.from_ret(r, "device_state reads " + vfio::v1::bits(v) + ": " + vfio::v1::meaning(v));
    rep.ret = r < 0 ? r : v;
    return rep;
  }
  uint32_t v = 0;
  const long r = vmm::get_device_state(c.fe, v);
  const auto at = c.s.proto->by_value(v);
  return c.from_ret(r, "the device is in " + (at ? c.s.proto->states[*at].name : std::string("?")));
}

Reply cmd_state_set(const Call& c) {
  auto& s = c.s;
  if (s.v1) {
    const auto v = vfio::v1::parse(c.w[2]);
    if (!v)
      throw std::invalid_argument("'" + c.w[2] + "' is not a v1 state (011b, 3, RUNNING|SAVING)");
    const uint32_t val = *v;
    const uint32_t before = c.fe.state_value() & 7;
    // The raw write: its byte count is the command's value (`last`).
    const long r = vmm::v1_pwrite(c.fe, vmm::kV1DeviceState, &val, sizeof(val));
    auto rep = c.from_ret(r, "device_state written: " + vfio::v1::bits(val));
    // v1 has no combination paths: one write, one transition (or none).
    rep.extra["path"] = r >= 0 ? ordered_json::array({before, c.fe.state_value() & 7})
                               : ordered_json::array({before});
    return rep;
  }
  const auto st = s.proto->find(c.w[2]);
  if (!st) {
    std::string names;
    for (const auto& x : s.proto->states) names += " " + x.name;
    throw std::invalid_argument("'" + c.w[2] + "' is not a state of " + s.proto->name +
                                " (states:" + names + ")");
  }
  int data_fd = vmm::kDataFdUnwritten;
  const long r = vmm::set_device_state(c.fe, s.proto->states[*st].value, &data_fd);
  auto rep = c.from_ret(r, "SET " + s.proto->states[*st].name);
  rep.extra["data_fd"] = data_fd;
  if (data_fd >= 0) rep.message += "; new data fd " + std::to_string(data_fd);
  return rep;
}

// One read() / write() on a data fd: stream semantics are what is shown.
Reply cmd_read(const Call& c) {
  const int fd = c.fd(1);
  const uint64_t n = c.num(2);
  c.check_io_size(n);
  std::vector<uint8_t> b(n);
  const long r = c.fe.read(fd, b.data(), n);
  c.append(b, r);
  auto rep = c.from_ret(r, "read " + std::to_string(r) + " bytes (transfer buffer now " +
                               std::to_string(c.s.buffer.size()) + ")");
  if (r == 0) rep.message = "read 0 bytes: end of stream";
  return rep;
}

Reply cmd_write(const Call& c) {
  const int fd = c.fd(1);
  const uint64_t n = c.num(2);
  c.check_io_size(n);
  c.check_buffered(n);
  const auto b = c.buffered(n);
  const long r = c.fe.write(fd, b.data(), n);
  c.consume(r);
  return c.from_ret(r, "wrote " + std::to_string(r) + " bytes");
}

Reply cmd_close(const Call& c) { return c.from_ret(c.fe.close(c.fd(1)), "closed"); }

Reply cmd_precopy_info(const Call& c) {
  uint64_t initial = 0, dirty = 0;
  const long r = vmm::get_precopy_info(c.fe, c.fd(1), initial, dirty);
  auto rep = c.from_ret(
      r, "initial_bytes " + std::to_string(initial) + ", dirty_bytes " + std::to_string(dirty));
  if (r == 0) rep.extra["initial_bytes"] = initial, rep.extra["dirty_bytes"] = dirty;
  return rep;
}

Reply cmd_data_size(const Call& c) {
  uint64_t n = 0;
  const long r = vmm::get_data_size(c.fe, n);
  auto rep = c.from_ret(r, "stop_copy_length " + std::to_string(n) + " bytes");
  if (r == 0) rep.extra["stop_copy_length"] = n;
  return rep;
}

Reply cmd_feature(const Call& c) {
  if (c.w[1] != "get" || c.w[2] != "migration")
    throw std::invalid_argument("only 'feature get migration' is supported");
  uint64_t flags = 0;
  const long r = vmm::get_migration_flags(c.fe, flags);
  auto rep = c.from_ret(r, "migration flags: " + vfio::features_name(flags));
  if (r == 0) rep.extra["flags"] = vfio::features_name(flags);
  return rep;
}

Reply cmd_reset(const Call& c) { return c.from_ret(vmm::device_reset(c.fe), "device reset"); }

Reply cmd_run(const Call& c) {
  auto& s = c.s;
  double t;
  try {
    t = parse_duration(c.w[1]);
  } catch (const UnitError& e) {
    throw std::invalid_argument(e.what());
  }
  if (s.run_s + t > s.max_run_s)
    throw std::invalid_argument("this session may simulate at most " +
                                format_duration(s.max_run_s) + " in all");
  s.run_s += t;
  sc_core::wait(sc_core::sc_time::from_seconds(t));
  return message("simulated " + format_duration(t) +
                 "; now t=" + format_duration(sc_core::sc_time_stamp().to_seconds()));
}

Reply cmd_dirty(const Call& c) {
  const auto& store = c.s.dev().memory();
  const uint64_t pages = store.dirty().count();
  Reply r;
  r.extra["dirty_pages"] = pages;
  r.extra["dirty_bytes"] = pages * store.page_size();
  r.extra["tracking"] = store.tracking();
  r.message =
      std::to_string(pages) + " dirty VRAM pages (" +
      format_bytes(static_cast<double>(pages * store.page_size())) + ")" +
      (store.tracking() ? "" : "; dirty tracking is off (it runs while a save session is open)");
  return r;
}

Reply cmd_compare(const Call& c) {
  const auto d = c.s.src_dev.compare(c.s.dst_dev);
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

// ------------------------------------------------------------ v1 region

size_t width(const Call& c) { return c.w[0] == "rd32" || c.w[0] == "wr32" ? 4 : 8; }

Reply cmd_rd(const Call& c) {
  uint64_t v = 0;
  const long r = vmm::v1_pread(c.fe, c.num(1), &v, width(c));
  auto rep = c.from_ret(r, vmm::v1_field_name(c.num(1)) + " reads " + std::to_string(v));
  rep.ret = r < 0 ? r : static_cast<long>(v);
  return rep;
}

Reply cmd_wr(const Call& c) {
  const uint64_t v = c.num(2);
  const long r = vmm::v1_pwrite(c.fe, c.num(1), &v, width(c));
  return c.from_ret(r, vmm::v1_field_name(c.num(1)) + " written: " + std::to_string(v));
}

Reply cmd_pread(const Call& c) {
  c.check_io_size(c.num(2));
  std::vector<uint8_t> b(c.num(2));
  const long r = vmm::v1_pread(c.fe, c.num(1), b.data(), b.size());
  c.append(b, r);
  return c.from_ret(r, "read " + std::to_string(r) +
                           " region bytes into the transfer buffer (now " +
                           std::to_string(c.s.buffer.size()) + ")");
}

Reply cmd_pwrite(const Call& c) {
  const uint64_t n = c.num(2);
  c.check_buffered(n);
  const auto b = c.buffered(n);
  const long r = vmm::v1_pwrite(c.fe, c.num(1), b.data(), n);
  c.consume(r);
  return c.from_ret(r, "wrote " + std::to_string(r) + " bytes into the region");
}

Reply cmd_region_info(const Call& c) {
  vmm::V1RegionInfo info;
  const long r = vmm::v1_region_info(c.fe, info);
  const auto data =
      info.sparse_areas.empty() ? vfio_region_sparse_mmap_area{} : info.sparse_areas[0];
  std::ostringstream hex;
  hex << std::hex << info.offset;
  auto rep = c.from_ret(
      r, "migration region index " + std::to_string(info.index) + ", size " +
             std::to_string(info.size) + ", offset 0x" + hex.str() +
             "; header (struct vfio_device_migration_info) at 0, data section mmap-able at " +
             std::to_string(data.offset) + " (" + std::to_string(data.size) + " bytes)");
  rep.extra["size"] = info.size;
  rep.extra["data_section"] = {{"offset", data.offset}, {"size", data.size}};
  return rep;
}

// ------------------------------------------------------------ post-copy proposals

Reply postcopy_queue(const Call& c, uint64_t first, uint64_t count, uint32_t flags) {
  uint64_t queued = 0;
  const long r = vmm::postcopy_request(c.fe, c.fd(2), first, count, flags, queued);
  auto rep = c.from_ret(r, std::to_string(queued) + " pages queued: the next reads return them");
  if (r == 0) rep.ret = static_cast<long>(queued);
  return rep;
}

void need_page_or_count(const Call& c) {
  if (c.w.size() < 4)
    throw std::invalid_argument("postcopy " + c.w[1] + " FD needs a page or a count");
}

Reply cmd_postcopy_request(const Call& c) {
  c.fd(2);
  need_page_or_count(c);
  const uint64_t first = c.num(3);
  const uint64_t count = c.w.size() > 4 ? c.num(4) : 1;
  return postcopy_queue(c, first, count, 0);
}

Reply cmd_postcopy_background(const Call& c) {
  c.fd(2);
  need_page_or_count(c);
  return postcopy_queue(c, 0, c.num(3),
                        VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND | VFIO_MIG_POSTCOPY_REQUEST_HOT_FIRST);
}

Reply cmd_postcopy_faults(const Call& c) {
  std::vector<uint64_t> pages(256);
  uint64_t missing = 0;
  const long r = vmm::postcopy_faults(c.fe, c.fd(2), pages, missing);
  std::string what = std::to_string(pages.size()) + " faults";
  for (size_t k = 0; k < pages.size(); ++k) what += (k ? " " : ": ") + std::to_string(pages[k]);
  what += "; " + std::to_string(missing) + " pages still missing";
  auto rep = c.from_ret(r, what);
  if (r == 0) rep.ret = static_cast<long>(pages.size());
  return rep;
}

Reply cmd_postcopy_other(const Call& c) {
  c.fd(2);
  throw std::invalid_argument("postcopy request|background|faults FD ...");
}

constexpr Arity kPostcopyArity{3, 5, "postcopy request FD PAGE [N] | background FD N | faults FD",
                               false};

// The table; its order is the help's. Designated initializers leave the
// other fields at their defaults (GCC 12 warns about that all the same).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {.names = {"device"},
       .usage = "device src|dst",
       .help = "choose the device the next commands act on",
       .arity = exactly(2),
       .run = cmd_device},
      {.names = {"state"},
       .sub = "get",
       .usage = "state get",
       .help = "read the migration state",
       .arity = exactly(2),
       .run = cmd_state_get},
      {.names = {"state"},
       .sub = "set",
       .usage = "state set NAME",
       .help = "v2: STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P\n"
               "v1: 011b, 3, or RUNNING|SAVING (writes device_state)",
       .arity = exactly(3),
       .run = cmd_state_set},
      {.names = {"read"},
       .usage = "read FD N",
       .help = "read up to N bytes from a data fd into the transfer buffer",
       .arity = exactly(3),
       .run = cmd_read},
      {.names = {"write"},
       .usage = "write FD N|all",
       .help = "write the next N (or all) buffered bytes to a data fd",
       .arity = exactly(3),
       .all_is_buffer = true,
       .run = cmd_write},
      {.names = {"close"},
       .usage = "close FD",
       .help = "close a data fd",
       .arity = exactly(2),
       .run = cmd_close},
      {.names = {"precopy-info"},
       .usage = "precopy-info FD",
       .help = "VFIO_MIG_GET_PRECOPY_INFO on a save fd",
       .arity = exactly(2),
       .run = cmd_precopy_info},
      {.names = {"data-size"},
       .usage = "data-size",
       .help = "VFIO_DEVICE_FEATURE_MIG_DATA_SIZE",
       .arity = exactly(1),
       .run = cmd_data_size},
      {.names = {"feature"},
       .usage = "feature get migration",
       .help = "the MIGRATION feature flags",
       .arity = exactly(3),
       .run = cmd_feature},
      {.names = {"reset"},
       .usage = "reset",
       .help = "VFIO_DEVICE_RESET",
       .arity = exactly(1),
       .run = cmd_reset},
      {.names = {"run"},
       .usage = "run DURATION",
       .help = "let simulated time pass (e.g. 10ms); src's workload runs",
       .arity = exactly(2),
       .run = cmd_run},
      {.names = {"dirty"},
       .usage = "dirty",
       .help = "dirty VRAM pages and bytes of the current device",
       .arity = exactly(1),
       .run = cmd_dirty},
      {.names = {"compare"},
       .usage = "compare",
       .help = "are src and dst state-equal? which pages/fields differ?",
       .arity = exactly(1),
       .run = cmd_compare},
      {.names = {"rd32", "rd64"},
       .usage = "rd32 OFF | rd64 OFF",
       .help = "v1: read a migration-region field (decimal or 0x hex)",
       .arity = exactly(2),
       .v1_only = true,
       .run = cmd_rd},
      {.names = {"wr32", "wr64"},
       .usage = "wr32 OFF V | wr64 OFF V",
       .help = "v1: write a migration-region field",
       .arity = exactly(3),
       .v1_only = true,
       .run = cmd_wr},
      {.names = {"pread"},
       .usage = "pread OFF N",
       .help = "v1: read N region bytes into the transfer buffer",
       .arity = exactly(3),
       .v1_only = true,
       .run = cmd_pread},
      {.names = {"pwrite"},
       .usage = "pwrite OFF N|all",
       .help = "v1: write the next N (or all) buffered bytes at a region offset",
       .arity = exactly(3),
       .v1_only = true,
       .all_is_buffer = true,
       .run = cmd_pwrite},
      {.names = {"region"},
       .sub = "info",
       .usage = "region info",
       .help = "v1: VFIO_DEVICE_GET_REGION_INFO of the migration region",
       .arity = {2, 2, {}, true},
       .v1_only = true,
       .run = cmd_region_info},
      {.names = {"postcopy"},
       .sub = "request",
       .usage = "postcopy request FD P [N]",
       .help = "post-copy proposals: queue pages P..P+N-1 on a serving save fd",
       .arity = kPostcopyArity,
       .run = cmd_postcopy_request},
      {.names = {"postcopy"},
       .sub = "background",
       .usage = "postcopy background FD N",
       .help = "queue up to N pages in the device's push order",
       .arity = kPostcopyArity,
       .run = cmd_postcopy_background},
      {.names = {"postcopy"},
       .sub = "faults",
       .usage = "postcopy faults FD",
       .help = "the pages a running destination faulted on (resume fd)",
       .arity = kPostcopyArity,
       .run = cmd_postcopy_faults},
      {.names = {"postcopy"}, .arity = kPostcopyArity, .run = cmd_postcopy_other},
      {.names = {"help"}, .usage = "help", .help = "this list", .run = cmd_help},
  };
  return table;
}
#pragma GCC diagnostic pop

bool matches(const Command& cmd, const std::vector<std::string>& w) {
  if (std::find(cmd.names.begin(), cmd.names.end(), w[0]) == cmd.names.end()) return false;
  if (!cmd.sub.empty() && (w.size() < 2 || w[1] != cmd.sub)) return false;
  return !cmd.arity.selects || (w.size() >= cmd.arity.min && w.size() <= cmd.arity.max);
}

constexpr const char* kUsage =
    "Usage: mdevsim step [--protocol v1|v2|NAME|FILE] [--features LIST] [--json] [--echo]\n"
    "\n"
    "Drives two identical devices, src and dst, through the VFIO migration ABI.\n"
    "Commands come from stdin, one per line ('#' starts a comment). The src\n"
    "device runs a small workload (64 MiB VRAM, 64 KiB pages) so 'run' dirties it.\n"
    "\n";

constexpr const char* kFooter =
    R"(A number may be written 'last': the previous command's return value, e.g.
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

}  // namespace

const std::string& help_text() {
  static const std::string text = [] {
    constexpr size_t kColumn = 26;  // where the help lines start, after "  " and the usage
    std::string t = kUsage;
    for (const auto& cmd : commands()) {
      if (cmd.help.empty()) continue;
      std::string usage(cmd.usage);
      usage.resize(std::max(kColumn, usage.size() + 1), ' ');
      std::string_view help = cmd.help;
      for (bool first = true;; first = false) {
        const size_t nl = help.find('\n');
        t += "  ";
        t += first ? usage : std::string(kColumn, ' ');
        t += help.substr(0, nl);
        t += '\n';
        if (nl == std::string_view::npos) break;
        help.remove_prefix(nl + 1);
      }
    }
    return t + kFooter;
  }();
  return text;
}

Reply execute(Session& s, std::vector<std::string> w) {
  // Failure messages quote the whole command as typed.
  std::string typed = w[0];
  for (size_t i = 1; i < w.size(); ++i) typed += " " + w[i];
  // `last` stands for the previous command's return value (e.g. data_size).
  for (size_t i = 1; i < w.size(); ++i)
    if (w[i] == "last") w[i] = std::to_string(s.last_ret);
  const auto& table = commands();
  const auto cmd =
      std::find_if(table.begin(), table.end(), [&](const Command& c) { return matches(c, w); });
  if (cmd == table.end())
    throw std::invalid_argument("unknown command '" + w[0] + "' (try 'help')");
  if (cmd->all_is_buffer)  // `all` as a byte count: the whole transfer buffer
    for (size_t i = 1; i < w.size(); ++i)
      if (w[i] == "all") w[i] = std::to_string(s.buffer.size());
  if (cmd->v1_only && !s.v1)
    throw std::invalid_argument("'" + w[0] +
                                "' is a protocol v1 command (start with --protocol v1)");
  if (w.size() < cmd->arity.min || w.size() > cmd->arity.max)
    throw std::invalid_argument(cmd->arity.message.empty()
                                    ? "'" + w[0] + "' takes " + std::to_string(cmd->arity.min - 1) +
                                          " argument(s); try 'help'"
                                    : std::string(cmd->arity.message));
  return cmd->run(Call{s, s.fe(), w, typed});
}

}  // namespace mdevsim::sim::step
