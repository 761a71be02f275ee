// Runs the ```console qemu blocks of docs/tutorial.md (Lesson 5: a real
// QEMU 10.0 migrates the simulated GPU) and compares their output with the
// transcript; ctest label qemu, skipped (saying why) without QEMU 10.0 or the
// interposer. test_doc_examples runs only ```console blocks, so these are
// left to this test.
//
// QEMU runs are not deterministic (timings, byte and page counts vary), so
// every number — a run of digits, with an optional fraction, not part of a
// name like P2P — is masked on both sides before comparing; words, states,
// arcs and the number of lines must match exactly. "..." matches any lines,
// as in test_doc_examples. MDEVSIM_UPDATE_DOCS=1 rewrites the outputs.
// Commands run in a scratch directory (they write files) with mdevsim on PATH.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "transcript.h"

namespace {

using namespace mdevsim::doctest;

const char* const kInfo = "console qemu";  // the fence info string of these blocks

std::string source_dir() {
  const char* env = std::getenv("MDEVSIM_SOURCE_DIR");
  return env && *env ? env : MDEVSIM_SOURCE_DIR;
}

// "0.318728519 src ... data_fd=5 ... 110.0 ms" -> "N src ... data_fd=N ... N ms".
std::string mask_numbers(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const bool starts = std::isdigit(static_cast<unsigned char>(s[i])) &&
                        (i == 0 || !(std::isalnum(static_cast<unsigned char>(s[i - 1])) ||
                                     s[i - 1] == '_' || s[i - 1] == '.'));
    if (!starts) {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j < s.size() && (std::isalpha(static_cast<unsigned char>(s[j])) || s[j] == '_')) {
      out.append(s, i, j - i);  // part of a name ("2MiB/s" stays: a unit, not a count)
    } else {
      out += 'N';
    }
    i = j;
  }
  return out;
}

bool same_but_numbers(const std::string& expected, const std::string& actual) {
  return mask_numbers(expected) == mask_numbers(actual);
}

std::string run_in(const std::string& dir, const std::string& command) {
  return run_command(dir, MDEVSIM_BINARY_DIR, dir + "/.command.sh", command);
}

// Why Lesson 5 cannot run here, or "".
std::string missing() {
  const std::string interposer =
      std::string(MDEVSIM_BINARY_DIR) + "/vfio_host/libmdevsim-vfio-host.so";
  if (::access(interposer.c_str(), R_OK) != 0)
    return "the interposer is not built (" + interposer + ")";
  FILE* p = popen("/usr/bin/qemu-system-x86_64 --version 2>/dev/null", "r");
  char buf[256] = {};
  if (p) {
    (void)!fgets(buf, sizeof buf, p);
    pclose(p);
  }
  if (std::string(buf).find("version 10.0") == std::string::npos)
    return "QEMU 10.0 is not installed as /usr/bin/qemu-system-x86_64 (scripts/install-deps)";
  return "";
}

TEST(DocQemuLesson, TutorialLesson5Matches) {
  const std::string rel = "docs/tutorial.md";
  const std::string path = source_dir() + "/" + rel;
  std::vector<std::string> lines = read_lines(path);
  ASSERT_FALSE(lines.empty()) << "cannot read " << path;
  std::vector<Command> commands;
  const auto blocks = parse_blocks(lines, kInfo);
  for (const auto& b : blocks) commands.insert(commands.end(), b.commands.begin(), b.commands.end());
  // The lesson exists and is marked: a lesson silently turned back into
  // `sh` blocks would otherwise pass by running nothing.
  ASSERT_GE(commands.size(), 3u) << rel << " has no `" << kInfo << "` blocks (Lesson 5)";
  const std::string why = missing();
  if (!why.empty()) GTEST_SKIP() << why;

  char tmpl[] = "/tmp/mdevsim-lesson5-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const char* upd = std::getenv("MDEVSIM_UPDATE_DOCS");
  const bool update = upd && std::string(upd) == "1";
  Rewrites rewrites;
  for (const Command& c : commands) {
    const auto expected = normalise({lines.begin() + c.out_begin, lines.begin() + c.out_end});
    const auto actual = normalise(split_lines(run_in(dir, c.text)));
    if (matches(expected, actual, same_but_numbers)) continue;
    if (update) {
      rewrites.emplace_back(&c, actual);
      continue;
    }
    ADD_FAILURE() << rel << ":" << c.line << ":\n  $ " << c.text << "\nexpected (numbers masked):\n"
                  << indent(expected) << "actual:\n"
                  << indent(actual)
                  << "(if the new output is right: MDEVSIM_UPDATE_DOCS=1 ctest -R DocQemuLesson)";
  }
  std::filesystem::remove_all(dir);
  if (rewrites.empty()) return;
  apply_rewrites(lines, rewrites, path);
  std::printf("updated %zu command output(s) in %s\n", rewrites.size(), rel.c_str());
}

TEST(DocQemuLesson, NumbersAreMaskedButNotNames) {
  EXPECT_EQ(mask_numbers("   0.318728519 src ioctl(...) = 0 [RUNNING_P2P -> STOP] data_fd=5"),
            "   N src ioctl(...) = N [RUNNING_P2P -> STOP] data_fd=N");
  EXPECT_EQ(mask_numbers("total      110.0 ms, 4.35 MiB RAM + 2.56 MiB device sent"),
            "total      N ms, N MiB RAM + N MiB device sent");
  EXPECT_EQ(mask_numbers("\"vram\": \"16MiB\", QEMU 10.0.2"), "\"vram\": \"16MiB\", QEMU N");
  EXPECT_NE(mask_numbers("verify     passed"), mask_numbers("verify     failed"));
}

}  // namespace
