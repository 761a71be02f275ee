// libFuzzer target: an `mdevsim step` script into the command parser and
// the devices behind it. The script's first line may choose the protocol,
// "# --protocol v1" (or v2-postcopy; default v2), so the bundled scripts
// are seeds as they are. A line may be refused (counted, reported); nothing
// may crash, and simulated time is bounded per script.
#include <cstdint>
#include <ostream>
#include <streambuf>
#include <string>

#include <systemc>

#include "mdevsim/sim/step_script.h"

namespace {

struct NullBuf : std::streambuf {
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mdevsim::sim::StepScriptRunner;
  // Every module exists before the first sc_start: all three at once.
  static StepScriptRunner* v1 = new StepScriptRunner("v1", false, 0.05);
  static StepScriptRunner* v2 = new StepScriptRunner("v2", true, 0.05);
  static StepScriptRunner* pc = new StepScriptRunner("v2-postcopy", false, 0.05);
  static NullBuf null_buf;
  static std::ostream null_out(&null_buf);
  const std::string script(reinterpret_cast<const char*>(data), size);
  const std::string first = script.substr(0, script.find('\n'));
  StepScriptRunner* r = first.find("--protocol v1") != std::string::npos            ? v1
                        : first.find("--protocol v2-postcopy") != std::string::npos ? pc
                                                                                    : v2;
  r->run(script, null_out);
  return 0;
}

extern "C" int sc_main(int, char**) { return 0; }
