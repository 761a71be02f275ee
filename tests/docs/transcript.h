// Console transcripts in Markdown, shared by the doc tests: parsing ```console
// blocks into commands and their expected output, matching with "...", and
// rewriting outputs in place (MDEVSIM_UPDATE_DOCS=1).
//
// A block is a transcript: a line "$ CMD" is a command (continued by a trailing
// '\', may carry heredoc lines up to the delimiter); the lines up to the next
// "$ " are its expected output. A line "..." matches any number of lines.
// Trailing whitespace and trailing blank lines are ignored.
#pragma once

#include <array>
#include <cstdio>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace mdevsim::doctest {

struct Command {
  size_t line = 0;                    // 1-based line of the "$ " in the file
  std::string text;                   // what bash runs (without "$ ")
  size_t out_begin = 0, out_end = 0;  // expected output: file lines [begin, end), 0-based
};

struct Block {
  size_t line = 0;  // 1-based line of the opening fence
  std::vector<Command> commands;
};

inline std::string rstrip(std::string s) {
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) v.push_back(l);
  return v;
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string l;
  while (std::getline(in, l)) lines.push_back(l);
  return lines;
}

// Normalised lines: trailing whitespace and trailing blank lines dropped.
inline std::vector<std::string> normalise(std::vector<std::string> v) {
  for (auto& l : v) l = rstrip(l);
  while (!v.empty() && v.back().empty()) v.pop_back();
  return v;
}

inline bool is_fence(const std::string& l) { return l.rfind("```", 0) == 0; }

// The blocks whose fence info string is exactly `info` ("console", "console qemu").
inline std::vector<Block> parse_blocks(const std::vector<std::string>& lines,
                                       const std::string& info) {
  static const std::regex heredoc(R"(<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1)");
  std::vector<Block> blocks;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_fence(lines[i])) continue;
    const std::string fence_info = rstrip(lines[i].substr(3));
    size_t end = i + 1;
    while (end < lines.size() && !is_fence(lines[end])) ++end;
    if (fence_info == info) {
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

using LineEqual = std::function<bool(const std::string& expected, const std::string& actual)>;

// Does `actual` match `expected`, where an expected line "..." matches any
// run of lines (including none)? Lines compare with `equal` (default: ==).
inline bool matches(const std::vector<std::string>& exp, const std::vector<std::string>& act,
                    const LineEqual& equal = {}) {
  const auto same = [&](const std::string& e, const std::string& a) {
    return equal ? equal(e, a) : e == a;
  };
  // dp[i][j]: exp[i..] matches act[j..]
  std::vector<std::vector<char>> dp(exp.size() + 1, std::vector<char>(act.size() + 1, 0));
  dp[exp.size()][act.size()] = 1;
  for (size_t i = exp.size(); i-- > 0;)
    for (size_t j = act.size() + 1; j-- > 0;) {
      if (exp[i] == "...")
        dp[i][j] = dp[i + 1][j] || (j < act.size() && dp[i][j + 1]);
      else
        dp[i][j] = j < act.size() && same(exp[i], act[j]) && dp[i + 1][j + 1];
    }
  return dp[0][0];
}

inline std::string indent(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& l : v) s += "    | " + l + "\n";
  return s.empty() ? "    (nothing)\n" : s;
}

using Rewrites = std::vector<std::pair<const Command*, std::vector<std::string>>>;

// Replaces each command's expected output with the actual one, bottom-up so
// line numbers hold, and writes the file back.
inline void apply_rewrites(std::vector<std::string>& lines, const Rewrites& rewrites,
                           const std::string& path) {
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
}

// Runs one command as a user would: bash in `dir` with `bin_dir` first on
// PATH, stdin empty unless the command feeds it, stderr merged into stdout.
// The command goes through the script file `script` (removed afterwards). The
// exit status is not part of a transcript; a block shows it with `; echo $?`.
inline std::string run_command(const std::string& dir, const std::string& bin_dir,
                               const std::string& script, const std::string& command) {
  {
    std::ofstream f(script);
    f << "export PATH='" << bin_dir << "':\"$PATH\"\n" << command << "\n";
  }
  const std::string cmd = "cd '" + dir + "' && timeout 120 bash '" + script + "' </dev/null 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    pclose(p);
  }
  std::remove(script.c_str());
  return out;
}

}  // namespace mdevsim::doctest
