// Runs every ```console block of README.md and docs/*.md and compares the
// output with the transcript, so the docs cannot drift from the binary.
//
// A block is a transcript: a line "$ CMD" is a command (continued by a trailing
// '\', may carry heredoc lines up to the delimiter); the lines up to the next
// "$ " are its expected output, stdout and stderr merged. A line "..." matches
// any number of lines. Trailing whitespace and trailing blank lines are
// ignored. MDEVSIM_UPDATE_DOCS=1 rewrites the expected output from the actual.
// (```console qemu blocks need QEMU: test_doc_qemu_lesson.cpp runs them.)
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

struct Command {
  size_t line = 0;                    // 1-based line of the "$ " in the file
  std::string text;                   // what bash runs (without "$ ")
  size_t out_begin = 0, out_end = 0;  // expected output: file lines [begin, end), 0-based
};

struct Block {
  size_t line = 0;  // 1-based line of the opening fence
  std::vector<Command> commands;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string l;
  while (std::getline(in, l)) lines.push_back(l);
  return lines;
}

std::string rstrip(std::string s) {
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

// Normalised lines: trailing whitespace and trailing blank lines dropped.
std::vector<std::string> normalise(std::vector<std::string> v) {
  for (auto& l : v) l = rstrip(l);
  while (!v.empty() && v.back().empty()) v.pop_back();
  return v;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) v.push_back(l);
  return v;
}

bool is_fence(const std::string& l) { return l.rfind("```", 0) == 0; }

std::vector<Block> parse_blocks(const std::vector<std::string>& lines) {
  static const std::regex heredoc(R"(<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1)");
  std::vector<Block> blocks;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_fence(lines[i])) continue;
    const std::string info = rstrip(lines[i].substr(3));
    size_t end = i + 1;
    while (end < lines.size() && !is_fence(lines[end])) ++end;
    // Only `console` blocks are transcripts; sh, json and bare blocks are prose.
    if (info == "console") {
      Block b;
      b.line = i + 1;
      Command* cur = nullptr;
      for (size_t j = i + 1; j < end; ++j) {
        if (lines[j].rfind("$ ", 0) != 0) {
          if (cur) cur->out_end = j + 1;
          continue;
        }
        b.commands.push_back(Command{j + 1, lines[j].substr(2), 0, 0});
        cur = &b.commands.back();
        // Continuation lines and heredoc bodies belong to the command.
        while (rstrip(cur->text).ends_with("\\") && j + 1 < end) cur->text += "\n" + lines[++j];
        std::smatch m;
        std::string rest = cur->text;
        std::vector<std::string> delims;
        while (std::regex_search(rest, m, heredoc)) {
          delims.push_back(m[2]);
          rest = m.suffix();
        }
        for (const auto& d : delims) {
          while (j + 1 < end) {
            cur->text += "\n" + lines[++j];
            const std::string t = rstrip(lines[j]);
            const size_t tabs = t.find_first_not_of('\t');  // <<- allows leading tabs
            if (tabs != std::string::npos && t.substr(tabs) == d) break;
          }
        }
        cur->out_begin = cur->out_end = j + 1;
      }
      blocks.push_back(std::move(b));
    }
    i = end;
  }
  return blocks;
}

// Does `actual` match `expected`, where an expected line "..." matches any
// run of lines (including none)?
bool matches(const std::vector<std::string>& exp, const std::vector<std::string>& act) {
  // dp[i][j]: exp[i..] matches act[j..]
  std::vector<std::vector<char>> dp(exp.size() + 1, std::vector<char>(act.size() + 1, 0));
  dp[exp.size()][act.size()] = 1;
  for (size_t i = exp.size(); i-- > 0;)
    for (size_t j = act.size() + 1; j-- > 0;) {
      if (exp[i] == "...")
        dp[i][j] = dp[i + 1][j] || (j < act.size() && dp[i][j + 1]);
      else
        dp[i][j] = j < act.size() && exp[i] == act[j] && dp[i + 1][j + 1];
    }
  return dp[0][0];
}

std::string source_dir() {
  const char* env = std::getenv("MDEVSIM_SOURCE_DIR");
  return env && *env ? env : MDEVSIM_SOURCE_DIR;
}

// Runs one command as a user would: bash in the repo root, `mdevsim` on PATH,
// stdin empty unless the command feeds it, stderr merged into stdout.
std::string run(const std::string& command) {
  // One script per process: ctest -j runs the doc files in parallel.
  const std::string script =
      testing::TempDir() + "mdevsim_doc_cmd_" + std::to_string(getpid()) + ".sh";
  {
    std::ofstream f(script);
    f << "export PATH='" << MDEVSIM_BINARY_DIR << "':\"$PATH\"\n" << command << "\n";
  }
  const std::string cmd =
      "cd '" + source_dir() + "' && timeout 120 bash '" + script + "' </dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);  // the exit status is not part of a transcript; show it with `; echo $?`
  std::remove(script.c_str());
  return out;
}

std::string indent(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += "    | " + l + "\n";
  return s.empty() ? "    (nothing)\n" : s;
}

class DocExamples : public testing::TestWithParam<std::string> {};

TEST_P(DocExamples, ConsoleBlocksMatch) {
  const std::string rel = GetParam();
  const std::string path = source_dir() + "/" + rel;
  auto lines = read_lines(path);
  ASSERT_FALSE(lines.empty()) << "cannot read " << path;
  const char* upd = std::getenv("MDEVSIM_UPDATE_DOCS");
  const bool update = upd && std::string(upd) == "1";
  // Replacement output per command, applied bottom-up so line numbers hold.
  std::vector<std::pair<const Command*, std::vector<std::string>>> rewrites;
  const auto blocks = parse_blocks(lines);
  for (const auto& b : blocks)
    for (const auto& c : b.commands) {
      const std::vector<std::string> expected_raw(lines.begin() + c.out_begin,
                                                  lines.begin() + c.out_end);
      const auto expected = normalise(expected_raw);
      const auto actual = normalise(split_lines(run(c.text)));
      if (matches(expected, actual)) continue;
      if (update) {
        rewrites.emplace_back(&c, actual);
        continue;
      }
      size_t first = 0;
      while (first < expected.size() && first < actual.size() && expected[first] == actual[first])
        ++first;
      ADD_FAILURE() << rel << ":" << b.line << ": console block, command at line " << c.line
                    << ":\n  $ " << c.text << "\nfirst difference at output line " << first + 1
                    << "\nexpected:\n"
                    << indent(expected) << "actual:\n"
                    << indent(actual)
                    << "(if the new output is right: MDEVSIM_UPDATE_DOCS=1 ctest -R DocExamples)";
    }
  if (!rewrites.empty()) {
    for (auto it = rewrites.rbegin(); it != rewrites.rend(); ++it) {
      const Command& c = *it->first;
      // Keep the blank line that separates this output from the next command.
      std::vector<std::string> repl = it->second;
      const bool gap = c.out_end > c.out_begin && rstrip(lines[c.out_end - 1]).empty() &&
                       c.out_end < lines.size() && lines[c.out_end].rfind("$ ", 0) == 0;
      if (gap) repl.push_back("");
      lines.erase(lines.begin() + c.out_begin, lines.begin() + c.out_end);
      lines.insert(lines.begin() + c.out_begin, repl.begin(), repl.end());
    }
    std::ofstream out(path);
    for (const auto& l : lines) out << l << "\n";
    std::printf("updated %zu command output(s) in %s\n", rewrites.size(), rel.c_str());
  }
}

std::vector<std::string> doc_files() {
  std::vector<std::string> v;
  std::istringstream in(MDEVSIM_DOC_FILES);
  std::string f;
  while (std::getline(in, f, '|'))
    if (!f.empty()) v.push_back(f);
  return v;
}

// "docs/tutorial.md" -> "docs_tutorial_md": test names must be identifiers.
std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Docs, DocExamples, testing::ValuesIn(doc_files()), test_name);

}  // namespace
