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

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

const char* const kInfo = "console qemu";  // the fence info string of these blocks

std::string source_dir() {
  const char* env = std::getenv("MDEVSIM_SOURCE_DIR");
  return env && *env ? env : MDEVSIM_SOURCE_DIR;
}

std::string rstrip(std::string s) {
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

std::vector<std::string> lines_of(std::istream& in) {
  std::vector<std::string> v;
  std::string l;
  while (std::getline(in, l)) v.push_back(l);
  return v;
}

std::vector<std::string> normalise(std::vector<std::string> v) {
  for (auto& l : v) l = rstrip(l);
  while (!v.empty() && v.back().empty()) v.pop_back();
  return v;
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

struct Command {
  size_t line = 0;  // 1-based line of the "$ "
  std::string text;
  size_t out_begin = 0, out_end = 0;  // expected output lines [begin, end), 0-based
};

// The "$ " commands of every `console qemu` block, with their heredocs and
// continuation lines (the same transcript rules as test_doc_examples).
std::vector<Command> parse(const std::vector<std::string>& lines) {
  static const std::regex heredoc(R"(<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1)");
  std::vector<Command> commands;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("```", 0) != 0) continue;
    const bool ours = rstrip(lines[i].substr(3)) == kInfo;
    size_t end = i + 1;
    while (end < lines.size() && lines[end].rfind("```", 0) != 0) ++end;
    for (size_t j = i + 1; ours && j < end; ++j) {
      if (lines[j].rfind("$ ", 0) != 0) {
        if (!commands.empty()) commands.back().out_end = j + 1;
        continue;
      }
      Command c{j + 1, lines[j].substr(2)};
      while (rstrip(c.text).ends_with("\\") && j + 1 < end) c.text += "\n" + lines[++j];
      std::smatch m;
      if (std::regex_search(c.text, m, heredoc)) {
        const std::string delim = m[2];
        while (j + 1 < end) {
          c.text += "\n" + lines[++j];
          if (rstrip(lines[j]) == delim) break;
        }
      }
      c.out_begin = c.out_end = j + 1;
      commands.push_back(c);
    }
    i = end;
  }
  return commands;
}

bool matches(const std::vector<std::string>& exp, const std::vector<std::string>& act) {
  std::vector<std::vector<char>> dp(exp.size() + 1, std::vector<char>(act.size() + 1, 0));
  dp[exp.size()][act.size()] = 1;
  for (size_t i = exp.size(); i-- > 0;)
    for (size_t j = act.size() + 1; j-- > 0;) {
      if (exp[i] == "...")
        dp[i][j] = dp[i + 1][j] || (j < act.size() && dp[i][j + 1]);
      else
        dp[i][j] =
            j < act.size() && mask_numbers(exp[i]) == mask_numbers(act[j]) && dp[i + 1][j + 1];
    }
  return dp[0][0];
}

std::string run_in(const std::string& dir, const std::string& command) {
  const std::string script = dir + "/.command.sh";
  {
    std::ofstream f(script);
    f << "export PATH='" << MDEVSIM_BINARY_DIR << "':\"$PATH\"\n" << command << "\n";
  }
  const std::string cmd = "cd '" + dir + "' && timeout 120 bash .command.sh </dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);
  return out;
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

std::string indent(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += "    | " + l + "\n";
  return s.empty() ? "    (nothing)\n" : s;
}

TEST(DocQemuLesson, TutorialLesson5Matches) {
  const std::string rel = "docs/tutorial.md";
  const std::string path = source_dir() + "/" + rel;
  std::ifstream in(path);
  std::vector<std::string> lines = lines_of(in);
  ASSERT_FALSE(lines.empty()) << "cannot read " << path;
  const std::vector<Command> commands = parse(lines);
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
  std::vector<std::pair<const Command*, std::vector<std::string>>> rewrites;
  for (const Command& c : commands) {
    const auto expected = normalise({lines.begin() + c.out_begin, lines.begin() + c.out_end});
    std::istringstream out(run_in(dir, c.text));
    const auto actual = normalise(lines_of(out));
    if (matches(expected, actual)) continue;
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
  for (auto it = rewrites.rbegin(); it != rewrites.rend(); ++it) {
    const Command& c = *it->first;
    std::vector<std::string> repl = it->second;
    const bool gap = c.out_end > c.out_begin && rstrip(lines[c.out_end - 1]).empty() &&
                     c.out_end < lines.size() && lines[c.out_end].rfind("$ ", 0) == 0;
    if (gap) repl.push_back("");
    lines.erase(lines.begin() + c.out_begin, lines.begin() + c.out_end);
    lines.insert(lines.begin() + c.out_begin, repl.begin(), repl.end());
  }
  std::ofstream outf(path);
  for (const auto& l : lines) outf << l << "\n";
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
