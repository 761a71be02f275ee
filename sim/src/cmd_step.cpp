// mdevsim step: drive a source and a destination device by hand through the
// VFIO ABI, one command per line, each effect explained. The commands are a
// table (cmd_step_commands.cpp); this file reads lines and prints answers.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <systemc>

#include "cmd_step_session.h"
#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/feature_list.h"
#include "mdevsim/sim/step_script.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/protocol.h"

namespace mdevsim::sim {

namespace {

using nlohmann::ordered_json;
using step::Reply;
using step::Session;

// Captures the frontend's own account of each call.
class Recorder : public vfio::CallObserver {
 public:
  void on_call(const vfio::CallRecord& r) override { calls.push_back(r); }
  std::vector<vfio::CallRecord> calls;
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> w;
  std::istringstream in(line.substr(0, line.find('#')));
  std::string x;
  while (in >> x) w.push_back(x);
  return w;
}

// What one line did, for printing: the reply or the refusal, and the
// frontend's own record of the calls it made.
struct Answer {
  const std::string& line;
  const std::vector<std::string>& words;
  const Reply& reply;
  const std::string& error;  // why the line could not be run; empty: it ran
  const std::vector<vfio::CallRecord>& calls;
};

void print_json(Session& s, const Answer& a) {
  const auto& r = a.reply;
  std::string errno_str;
  for (const auto& c : a.calls)
    if (c.ret < 0) errno_str = vfio::errno_name(static_cast<int>(-c.ret));
  if (!r.ok && a.error.empty() && r.ret < 0) errno_str = vfio::errno_name(static_cast<int>(-r.ret));
  std::vector<std::string> path;
  for (const auto& c : a.calls)
    if (!c.path.empty()) path = c.path;
  const std::string cmd = a.line.substr(0, a.line.find('#'));
  const auto& fe = s.fe();
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
  if (a.words[0] == "state" && a.words.size() > 1 && a.words[1] == "set") {
    if (!s.v1) j["path"] = path;
    if (!r.extra.contains("data_fd")) j["data_fd"] = -1;
  }
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it) j[it.key()] = it.value();
  if (!a.error.empty()) j["message"] = a.error;
  // A script may hold any bytes: invalid UTF-8 is replaced, not a crash
  // (found by fuzz_step).
  *s.out << j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) << std::endl;
}

void print_text(Session& s, const Answer& a) {
  std::ostream& out = *s.out;
  out << s.name() << ": " << (a.error.empty() ? a.reply.message : "error: " + a.error) << "\n";
  for (const auto& c : a.calls) {
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
      r = step::execute(s, words);
      s.last_ret = r.ret;
    } catch (const std::invalid_argument& e) {
      r.ok = false;
      r.ret = 0;
      error = e.what();
      if (s.bad_lines++ == 0) s.first_bad = "line " + std::to_string(line_no) + ": " + error;
    }
    const Answer answer{line, words, r, error, rec.calls};
    if (s.json)
      print_json(s, answer);
    else
      print_text(s, answer);
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

constexpr const char* kV2Features = "stop_copy,p2p,pre_copy";  // v2's, all on

// The data section and guest RAM of every step session.
void with_step_memory(vfio::FrontendOptions& opt) {
  opt.v1_data_section_size = 4 << 20;
  opt.guest_ram_bytes = 64 << 20;
}

vfio::FrontendOptions step_options(const std::string& protocol, std::string& features) {
  vfio::FrontendOptions opt;
  if (protocol == "v1") {
    opt.protocol = vfio::Protocol::kV1;
  } else if (protocol != "v2") {
    opt.protocol_def = std::make_shared<const vfio::ProtocolSpec>(vfio::resolve_protocol(protocol));
    if (features.empty()) features = opt.protocol_def->features_name(opt.protocol_def->all_flags());
  }
  if (features.empty()) features = kV2Features;
  with_step_memory(opt);
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
  std::string features = kV2Features;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << step::help_text();
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
  with_step_memory(opt);
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
