// Runs the step scripts in tests/step_scripts through the built binary and
// checks every JSON line against what the kernel ABI says must happen.
#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

std::vector<json> run_script(const std::string& script, const std::string& opts = "",
                             int expected_exit = 0) {
  const std::string cmd = std::string(MDEVSIM_BINARY_DIR) + "/mdevsim step --json " + opts + " < " +
                          MDEVSIM_SOURCE_DIR + "/tests/step_scripts/" + script;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(WEXITSTATUS(pclose(p)), expected_exit);
  std::vector<json> lines;
  size_t start = 0, nl;
  while ((nl = out.find('\n', start)) != std::string::npos) {
    lines.push_back(json::parse(out.substr(start, nl - start)));  // every line is one JSON object
    start = nl + 1;
  }
  return lines;
}

const json& find(const std::vector<json>& lines, const std::string& cmd, int nth = 0) {
  for (const auto& l : lines)
    if (l["cmd"] == cmd && nth-- == 0) return l;
  static const json none;
  ADD_FAILURE() << "no line for '" << cmd << "'";
  return none;
}

TEST(CmdStep, V2MigrationByHandEndsEqual) {
  const auto lines = run_script("v2_migration.txt");
  ASSERT_EQ(lines.size(), 16u) << "one JSON object per command";
  const auto& pre = find(lines, "state set PRE_COPY");
  EXPECT_EQ(pre["path"], json({"RUNNING", "PRE_COPY"}));
  EXPECT_GE(pre["data_fd"].get<int>(), 0);
  EXPECT_GT(find(lines, "precopy-info 5")["initial_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(find(lines, "read 5 67108864", 1)["errno"], "ENOMSG");
  const auto& sc = find(lines, "state set STOP_COPY");
  EXPECT_EQ(sc["path"], json({"PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"}));
  EXPECT_EQ(sc["data_fd"], -1) << "the saving group keeps its fd";
  EXPECT_EQ(find(lines, "read 5 67108864", 3)["ret"], 0) << "EOF";
  EXPECT_EQ(find(lines, "state set RESUMING")["path"],
            json({"RUNNING", "RUNNING_P2P", "STOP", "RESUMING"}));
  EXPECT_EQ(find(lines, "state set RUNNING")["path"],
            json({"RESUMING", "STOP", "RUNNING_P2P", "RUNNING"}));
  EXPECT_EQ(lines.back()["cmd"], "compare");
  EXPECT_EQ(lines.back()["equal"], true);
}

TEST(CmdStep, V1MigrationByHandEndsEqual) {
  const auto lines = run_script("v1_migration.txt", "--protocol v1");
  EXPECT_EQ(find(lines, "state set 011b")["state"], 3);
  EXPECT_EQ(find(lines, "rd64 16")["ret"], 4096) << "data_offset";
  EXPECT_EQ(find(lines, "state set 010b")["state"], 2);
  EXPECT_EQ(find(lines, "rd64 8", 3)["ret"], 0) << "pending_bytes 0 ends stop-and-copy";
  EXPECT_EQ(find(lines, "state set 000b")["state"], 0);
  EXPECT_EQ(find(lines, "state set 001b")["state"], 1);
  for (const auto& l : lines) EXPECT_TRUE(l["ok"].get<bool>()) << l.dump();
  EXPECT_EQ(lines.back()["equal"], true);
}

TEST(CmdStep, ErrnosAndBadLinesDoNotEndTheSession) {
  // The bad line makes the script exit 2 at its end; errnos are answers.
  const auto lines = run_script("v2_errors.txt", "", 2);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0]["errno"], "EINVAL");
  EXPECT_EQ(lines[2]["errno"], "EINVAL") << "blocked arc";
  EXPECT_EQ(lines[2]["state"], "STOP_COPY");
  EXPECT_EQ(lines[3]["errno"], "EBADF");
  EXPECT_EQ(lines[4]["errno"], "EINVAL");
  EXPECT_EQ(lines[5]["errno"], "EBADF");
  EXPECT_EQ(lines[7]["errno"], "ENODEV");
  EXPECT_EQ(lines[8]["ok"], false);
  EXPECT_TRUE(lines[8].contains("message"));
  EXPECT_EQ(lines[9]["ok"], true) << "the session went on";
}

// The post-copy proposal by hand: the destination runs while pages are
// missing, refuses to leave that state until every page arrived, and ends
// equal to the source.
TEST(CmdStep, V2PostcopyProposalByHandEndsEqual) {
  const auto lines = run_script("v2_postcopy.txt", "--protocol v2-postcopy");
  const auto& serve = find(lines, "state set POSTCOPY_SERVE");
  EXPECT_EQ(serve["path"], json({"PRE_COPY", "PRE_COPY_P2P", "POSTCOPY_SERVE"}));
  EXPECT_EQ(serve["data_fd"], -1) << "serving keeps the pre-copy fd";
  EXPECT_EQ(find(lines, "state set RESUMING_RUNNING")["ok"], true);
  const auto& early = find(lines, "state set RUNNING", 0);
  EXPECT_EQ(early["errno"], "EINVAL") << "pages are still missing";
  EXPECT_EQ(early["state"], "RESUMING_RUNNING");
  EXPECT_EQ(find(lines, "postcopy faults 5")["ret"], 0) << "no work ran on the destination";
  EXPECT_GT(find(lines, "postcopy background 5 100000")["ret"].get<long>(), 0);
  EXPECT_EQ(find(lines, "state set RUNNING", 1)["ok"], true);
  EXPECT_EQ(find(lines, "state set STOP")["path"], json({"POSTCOPY_SERVE", "STOP"}));
  EXPECT_EQ(lines.back()["equal"], true);
}

TEST(CmdStep, ProtocolOptionRefusesV1StyleFilesAndUnknownNames) {
  const std::string bin = std::string(MDEVSIM_BINARY_DIR) + "/mdevsim step ";
  EXPECT_EQ(
      WEXITSTATUS(system((bin + "--protocol v1-postcopy-101b </dev/null 2>/dev/null").c_str())), 2);
  EXPECT_EQ(WEXITSTATUS(system((bin + "--protocol nosuch </dev/null 2>/dev/null").c_str())), 2);
}

TEST(CmdFsm, ProtocolFilesPrintValidateAndDerivePaths) {
  auto out = [](const std::string& args, int* code = nullptr) {
    FILE* p =
        popen((std::string(MDEVSIM_BINARY_DIR) + "/mdevsim fsm " + args + " 2>&1").c_str(), "r");
    std::string s;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) s.append(buf.data(), n);
    const int c = WEXITSTATUS(pclose(p));
    if (code) *code = c;
    return s;
  };
  auto j = json::parse(out("v2-postcopy --path PRE_COPY POSTCOPY_SERVE --json"));
  EXPECT_EQ(j["path"], json({"PRE_COPY", "PRE_COPY_P2P", "POSTCOPY_SERVE"}));
  j = json::parse(out("v2-postcopy --path POSTCOPY_SERVE PRE_COPY --json"));
  EXPECT_EQ(j["errno"], "EINVAL");
  j = json::parse(
      out(std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/protocols/v2.json --table --json"));
  EXPECT_EQ(j["RUNNING"]["STOP_COPY"], "RUNNING_P2P") << "the file gives the kernel's table";
  j = json::parse(out("v1-postcopy-101b --path 100b 101b --json"));
  EXPECT_EQ(j["path"], json({"100b", "101b"}));
  j = json::parse(out("v2-postcopy --features stop_copy,post_copy --json"));
  for (const auto& st : j["states"]) EXPECT_NE(st["name"], "PRE_COPY") << "unadvertised";
  EXPECT_NE(out("v2-postcopy --dot").find("\"POSTCOPY_SERVE\""), std::string::npos);
  const std::string bad = ::testing::TempDir() + "/bad-protocol.json";
  std::ofstream(bad) << R"({"name": "bad", "encoding": {"kind": "enum"},
    "states": [{"name": "RUNNING", "value": 2, "attributes": ["running", "default"]},
               {"name": "LOST", "value": 3}], "arcs": []})";
  int code = 0;
  const std::string err = out(bad, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("state \"LOST\": not reachable from the default state RUNNING"),
            std::string::npos)
      << err;
}

TEST(CmdFsm, PathsAndJson) {
  auto out = [](const std::string& args) {
    FILE* p = popen((std::string(MDEVSIM_BINARY_DIR) + "/mdevsim fsm " + args).c_str(), "r");
    std::string s;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) s.append(buf.data(), n);
    pclose(p);
    return s;
  };
  auto j = json::parse(out("v2 --path PRE_COPY STOP --json"));
  EXPECT_EQ(j["path"], json({"PRE_COPY", "RUNNING", "RUNNING_P2P", "STOP"}));
  j = json::parse(out("v2 --features stop_copy,pre_copy --path PRE_COPY STOP --json"));
  EXPECT_EQ(j["path"], json({"PRE_COPY", "RUNNING", "STOP"}));
  j = json::parse(out("v2 --path STOP_COPY PRE_COPY_P2P --json"));
  EXPECT_EQ(j["errno"], "EINVAL");
  j = json::parse(out("v2 --table --json"));
  EXPECT_EQ(j["RUNNING"]["STOP_COPY"], "RUNNING_P2P");
  EXPECT_EQ(j["STOP_COPY"]["PRE_COPY"], "EINVAL");
  j = json::parse(out("v2 --features stop_copy --json"));
  EXPECT_EQ(j["arcs"].size(), 6u);
  EXPECT_NE(out("v2 --dot").find("digraph"), std::string::npos);
  EXPECT_EQ(json::parse(out("v1 --json")).size(), 8u);
  EXPECT_EQ(WEXITSTATUS(
                system((std::string(MDEVSIM_BINARY_DIR) + "/mdevsim fsm v3 2>/dev/null").c_str())),
            2);
  EXPECT_EQ(WEXITSTATUS(system(
                (std::string(MDEVSIM_BINARY_DIR) + "/mdevsim fsm v2 --features p2p 2>/dev/null")
                    .c_str())),
            2);
}

TEST(CmdStep, AnUnknownFeatureIsNamed) {
  const std::string cmd =
      std::string(MDEVSIM_BINARY_DIR) + "/mdevsim step --features stop_copy,foo </dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(WEXITSTATUS(pclose(p)), 2);
  EXPECT_NE(out.find("--features stop_copy,foo: 'foo' is not a feature (the features of v2: "
                     "stop_copy,p2p,pre_copy)"),
            std::string::npos)
      << out;
}

// Found by fuzz_step: 'pread OFF N' allocated N bytes unchecked, so a huge N
// ended the process (std::bad_alloc) instead of refusing the line.
TEST(CmdStep, AHugePreadIsRefusedNotACrash) {
  const std::string cmd = "printf 'pread 4096 99999999999\nrd32 0\n' | " +
                          std::string(MDEVSIM_BINARY_DIR) + "/mdevsim step --protocol v1 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(WEXITSTATUS(pclose(p)), 2);
  EXPECT_NE(out.find("src: error: at most 64.00 MiB per command"), std::string::npos) << out;
  EXPECT_NE(out.find("device_state reads"), std::string::npos) << "the session goes on: " << out;
}

// Found by fuzz_step: with --json, a line holding bytes that are not UTF-8
// made the JSON dump throw inside the SystemC thread, ending the process.
TEST(CmdStep, BytesThatAreNotUtf8AreAnUnknownCommandNotACrash) {
  const std::string cmd = "printf 'st\\337ate get\\nstate get\\n' | " +
                          std::string(MDEVSIM_BINARY_DIR) + "/mdevsim step --json 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(WEXITSTATUS(pclose(p)), 2) << out;
  EXPECT_NE(out.find("unknown command"), std::string::npos) << out;
  EXPECT_NE(out.find("\"state\":\"RUNNING\""), std::string::npos) << "the session goes on: " << out;
}

}  // namespace
