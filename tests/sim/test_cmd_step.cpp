// Runs the step scripts in tests/step_scripts through the built binary and
// checks every JSON line against what the kernel ABI says must happen; then
// the command line's refusals, and `mdevsim fsm` on protocol files.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace {

using mdevsim::testing::run_cli;
using nlohmann::json;

// ------------------------------------------------------------ scripts, line by line

enum class Op { kEq, kGt, kGe, kHas };

// The nth line whose cmd is `cmd` has `key` (Op) `value`.
struct Expect {
  std::string cmd;
  int nth;
  std::string key;
  Op op;
  json value;
  std::string why;
};

struct ScriptCase {
  std::string name;
  std::string script;  // in tests/step_scripts
  std::string options;
  int exit_code;
  size_t lines;  // 0: not checked
  bool all_ok;   // every line answered without an errno
  std::vector<Expect> expects;
};

void PrintTo(const ScriptCase& c, std::ostream* os) { *os << c.name; }

std::vector<json> run_script(const ScriptCase& c) {
  const auto r = run_cli("step --json " + c.options + " < " + MDEVSIM_SOURCE_DIR +
                         "/tests/step_scripts/" + c.script);
  EXPECT_EQ(r.code, c.exit_code) << r.err;
  std::vector<json> lines;
  size_t start = 0, nl;
  while ((nl = r.out.find('\n', start)) != std::string::npos) {
    lines.push_back(json::parse(r.out.substr(start, nl - start)));  // every line is one object
    start = nl + 1;
  }
  return lines;
}

const json* find(const std::vector<json>& lines, const std::string& cmd, int nth) {
  for (const auto& l : lines)
    if (l["cmd"] == cmd && nth-- == 0) return &l;
  return nullptr;
}

class StepScript : public ::testing::TestWithParam<ScriptCase> {};

TEST_P(StepScript, AnswersAsTheAbiSays) {
  const auto& c = GetParam();
  const auto lines = run_script(c);
  ASSERT_FALSE(lines.empty());
  if (c.lines) {
    EXPECT_EQ(lines.size(), c.lines) << "one JSON object per command";
  }
  if (c.all_ok) {
    for (const auto& l : lines) EXPECT_TRUE(l["ok"].get<bool>()) << l.dump();
  }
  for (const auto& e : c.expects) {
    const json* l = e.cmd == "(last)" ? &lines.back() : find(lines, e.cmd, e.nth);
    if (l == nullptr) {
      ADD_FAILURE() << "no line " << e.nth << " for '" << e.cmd << "'";
      continue;
    }
    const std::string where = "'" + e.cmd + "' #" + std::to_string(e.nth) + " " + e.key + ": " +
                              e.why + "\n  line: " + l->dump();
    if (e.op == Op::kHas) {
      EXPECT_TRUE(l->contains(e.key)) << where;
      continue;
    }
    ASSERT_TRUE(l->contains(e.key)) << where;
    const json& v = (*l)[e.key];
    switch (e.op) {
      case Op::kEq:
        EXPECT_EQ(v, e.value) << where;
        break;
      case Op::kGt:
        EXPECT_GT(v, e.value) << where;
        break;
      case Op::kGe:
        EXPECT_GE(v, e.value) << where;
        break;
      case Op::kHas:
        break;
    }
  }
}

// Columns: name, script, options, exit code, lines (0: any), every line ok,
// then what given lines say. clang-format would spread the rows over pages.
// clang-format off
const ScriptCase kScripts[] = {
    {"V2MigrationByHandEndsEqual", "v2_migration.txt", "", 0, 16, false, {
        {"state set PRE_COPY", 0, "path", Op::kEq, {"RUNNING", "PRE_COPY"}, "a single arc"},
        {"state set PRE_COPY", 0, "data_fd", Op::kGe, 0, "the save fd"},
        {"precopy-info 5", 0, "initial_bytes", Op::kGt, 0, "initial data starts non-zero"},
        {"read 5 67108864", 1, "errno", Op::kEq, "ENOMSG", "nothing more now in PRE_COPY"},
        {"state set STOP_COPY", 0, "path", Op::kEq, {"PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"}, ""},
        {"state set STOP_COPY", 0, "data_fd", Op::kEq, -1, "the saving group keeps its fd"},
        {"read 5 67108864", 3, "ret", Op::kEq, 0, "EOF"},
        {"state set RESUMING", 0, "path", Op::kEq, {"RUNNING", "RUNNING_P2P", "STOP", "RESUMING"},
         "the kernel's combination path"},
        {"state set RUNNING", 0, "path", Op::kEq, {"RESUMING", "STOP", "RUNNING_P2P", "RUNNING"},
         "the kernel's combination path"},
        {"(last)", 0, "cmd", Op::kEq, "compare", "the script ends comparing"},
        {"(last)", 0, "equal", Op::kEq, true, "nothing lost"},
    }},
    {"V1MigrationByHandEndsEqual", "v1_migration.txt", "--protocol v1", 0, 0, true, {
        {"state set 011b", 0, "state", Op::kEq, 3, "RUNNING|SAVING"},
        {"rd64 16", 0, "ret", Op::kEq, 4096, "data_offset: the data section follows the header"},
        {"state set 010b", 0, "state", Op::kEq, 2, "SAVING: stop-and-copy"},
        {"rd64 8", 3, "ret", Op::kEq, 0, "pending_bytes 0 ends stop-and-copy"},
        {"state set 000b", 0, "state", Op::kEq, 0, "STOP"},
        {"state set 001b", 0, "state", Op::kEq, 1, "RUNNING"},
        {"(last)", 0, "equal", Op::kEq, true, "nothing lost"},
    }},
    // The bad line makes the script exit 2 at its end; errnos are answers.
    {"ErrnosAndBadLinesDoNotEndTheSession", "v2_errors.txt", "", 2, 10, false, {
        {"state set ERROR", 0, "errno", Op::kEq, "EINVAL", "ERROR cannot be requested"},
        {"state set PRE_COPY", 0, "errno", Op::kEq, "EINVAL", "blocked arc"},
        {"state set PRE_COPY", 0, "state", Op::kEq, "STOP_COPY", "a refused SET changes nothing"},
        {"write 5 0", 0, "errno", Op::kEq, "EBADF", "a save fd is read-only"},
        {"precopy-info 5", 0, "errno", Op::kEq, "EINVAL", "only in PRE_COPY"},
        {"read 9 10", 0, "errno", Op::kEq, "EBADF", "no such fd"},
        {"read 5 10", 0, "errno", Op::kEq, "ENODEV", "the session ended"},
        {"frobnicate", 0, "ok", Op::kEq, false, "an unknown command"},
        {"frobnicate", 0, "message", Op::kHas, nullptr, "says why"},
        {"state get", 0, "ok", Op::kEq, true, "the session went on"},
    }},
    // The post-copy proposal by hand: the destination runs while pages are
    // missing, refuses to leave that state until every page arrived, and ends
    // equal to the source.
    {"V2PostcopyProposalByHandEndsEqual", "v2_postcopy.txt", "--protocol v2-postcopy", 0, 0, false, {
        {"state set POSTCOPY_SERVE", 0, "path", Op::kEq,
         {"PRE_COPY", "PRE_COPY_P2P", "POSTCOPY_SERVE"}, ""},
        {"state set POSTCOPY_SERVE", 0, "data_fd", Op::kEq, -1, "serving keeps the pre-copy fd"},
        {"state set RESUMING_RUNNING", 0, "ok", Op::kEq, true, ""},
        {"state set RUNNING", 0, "errno", Op::kEq, "EINVAL", "pages are still missing"},
        {"state set RUNNING", 0, "state", Op::kEq, "RESUMING_RUNNING", "refused: it stays"},
        {"postcopy faults 5", 0, "ret", Op::kEq, 0, "no work ran on the destination"},
        {"postcopy background 5 100000", 0, "ret", Op::kGt, 0, "pages were queued"},
        {"state set RUNNING", 1, "ok", Op::kEq, true, "every page arrived"},
        {"state set STOP", 0, "path", Op::kEq, {"POSTCOPY_SERVE", "STOP"}, ""},
        {"(last)", 0, "equal", Op::kEq, true, "nothing lost"},
    }},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(CmdStep, StepScript, ::testing::ValuesIn(kScripts),
                         [](const auto& info) { return info.param.name; });

// ------------------------------------------------------------ refusals

// `mdevsim step OPTIONS < SCRIPT`: the exit code and what stdout+stderr say.
struct RefusalCase {
  std::string name;
  std::string options;
  std::string script;
  int exit_code;
  std::vector<std::string> says;
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

class StepRefusal : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(StepRefusal, ExitsAndSays) {
  const auto& c = GetParam();
  const std::string input = ::testing::TempDir() + "/step-input." + c.name + ".txt";
  std::ofstream(input, std::ios::binary) << c.script;
  const auto r = run_cli("step " + c.options + " < " + input);
  EXPECT_EQ(r.code, c.exit_code) << r.out << r.err;
  for (const auto& s : c.says)
    EXPECT_NE((r.out + r.err).find(s), std::string::npos) << "missing: " << s << "\n"
                                                          << r.out << r.err;
  std::remove(input.c_str());
}

const RefusalCase kRefusals[] = {
    {"ProtocolOptionRefusesV1StyleFiles", "--protocol v1-postcopy-101b", "", 2, {"is v1-style"}},
    {"ProtocolOptionRefusesUnknownNames", "--protocol nosuch", "", 2, {"--protocol: "}},
    {"AnUnknownFeatureIsNamed",
     "--features stop_copy,foo",
     "",
     2,
     {"--features stop_copy,foo: 'foo' is not a feature (the features of v2: "
      "stop_copy,p2p,pre_copy)"}},
    // Found by fuzz_step: 'pread OFF N' allocated N bytes unchecked, so a huge N
    // ended the process (std::bad_alloc) instead of refusing the line.
    {"AHugePreadIsRefusedNotACrash",
     "--protocol v1",
     "pread 4096 99999999999\nrd32 0\n",
     2,
     {"src: error: at most 64.00 MiB per command", "device_state reads"}},
    // Found by fuzz_step: with --json, a line holding bytes that are not UTF-8
    // made the JSON dump throw inside the SystemC thread, ending the process.
    {"BytesThatAreNotUtf8AreAnUnknownCommandNotACrash",
     "--json",
     "st\337ate get\nstate get\n",
     2,
     {"unknown command", "\"state\":\"RUNNING\""}},
};

INSTANTIATE_TEST_SUITE_P(CmdStep, StepRefusal, ::testing::ValuesIn(kRefusals),
                         [](const auto& info) { return info.param.name; });

// ------------------------------------------------------------ mdevsim fsm

// `mdevsim fsm ARGS --json`: the value at a JSON pointer.
struct FsmCase {
  std::string name;
  std::string args;
  std::string pointer;
  json value;
};

void PrintTo(const FsmCase& c, std::ostream* os) { *os << c.name; }

class FsmJson : public ::testing::TestWithParam<FsmCase> {};

TEST_P(FsmJson, Answers) {
  const auto& c = GetParam();
  const auto r = run_cli("fsm " + c.args + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at(json::json_pointer(c.pointer)), c.value) << c.args;
}

const std::string kV2File = std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/protocols/v2.json";

const FsmCase kFsm[] = {
    {"ProposalPathToServe",
     "v2-postcopy --path PRE_COPY POSTCOPY_SERVE",
     "/path",
     {"PRE_COPY", "PRE_COPY_P2P", "POSTCOPY_SERVE"}},
    {"ProposalBlockedArc", "v2-postcopy --path POSTCOPY_SERVE PRE_COPY", "/errno", "EINVAL"},
    {"FileGivesTheKernelsTable", kV2File + " --table", "/RUNNING/STOP_COPY", "RUNNING_P2P"},
    {"V1StylePath", "v1-postcopy-101b --path 100b 101b", "/path", {"100b", "101b"}},
    {"V2Path", "v2 --path PRE_COPY STOP", "/path", {"PRE_COPY", "RUNNING", "RUNNING_P2P", "STOP"}},
    {"V2PathWithoutP2P",
     "v2 --features stop_copy,pre_copy --path PRE_COPY STOP",
     "/path",
     {"PRE_COPY", "RUNNING", "STOP"}},
    {"V2BlockedArc", "v2 --path STOP_COPY PRE_COPY_P2P", "/errno", "EINVAL"},
    {"V2TableCombination", "v2 --table", "/RUNNING/STOP_COPY", "RUNNING_P2P"},
    {"V2TableBlocked", "v2 --table", "/STOP_COPY/PRE_COPY", "EINVAL"},
};

INSTANTIATE_TEST_SUITE_P(CmdFsm, FsmJson, ::testing::ValuesIn(kFsm),
                         [](const auto& info) { return info.param.name; });

TEST(CmdFsm, FeaturesDecideStatesAndArcs) {
  auto j = json::parse(run_cli("fsm v2-postcopy --features stop_copy,post_copy --json").out);
  for (const auto& st : j["states"]) EXPECT_NE(st["name"], "PRE_COPY") << "unadvertised";
  EXPECT_EQ(json::parse(run_cli("fsm v2 --features stop_copy --json").out)["arcs"].size(), 6u);
  EXPECT_EQ(json::parse(run_cli("fsm v1 --json").out).size(), 8u);
}

TEST(CmdFsm, DrawsAndRefuses) {
  EXPECT_NE(run_cli("fsm v2-postcopy --dot").out.find("\"POSTCOPY_SERVE\""), std::string::npos);
  EXPECT_NE(run_cli("fsm v2 --dot").out.find("digraph"), std::string::npos);
  EXPECT_EQ(run_cli("fsm v3").code, 2);
  EXPECT_EQ(run_cli("fsm v2 --features p2p").code, 2);
  const std::string bad = ::testing::TempDir() + "/bad-protocol.json";
  std::ofstream(bad) << R"({"name": "bad", "encoding": {"kind": "enum"},
    "states": [{"name": "RUNNING", "value": 2, "attributes": ["running", "default"]},
               {"name": "LOST", "value": 3}], "arcs": []})";
  const auto r = run_cli("fsm " + bad);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("state \"LOST\": not reachable from the default state RUNNING"),
            std::string::npos)
      << r.err;
}

}  // namespace
