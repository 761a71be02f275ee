// Runs every ```console block of README.md and docs/*.md and compares the
// output with the transcript, so the docs cannot drift from the binary.
//
// The transcript rules are in transcript.h; output is stdout and stderr merged.
// MDEVSIM_UPDATE_DOCS=1 rewrites the expected output from the actual.
// (```console qemu blocks need QEMU: test_doc_qemu_lesson.cpp runs them.)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "transcript.h"

namespace {

using namespace mdevsim::doctest;

std::string source_dir() {
  const char* env = std::getenv("MDEVSIM_SOURCE_DIR");
  return env && *env ? env : MDEVSIM_SOURCE_DIR;
}

// A command in the repo root. One script per process: ctest -j runs the doc
// files in parallel.
std::string run(const std::string& command) {
  return run_command(source_dir(), MDEVSIM_BINARY_DIR,
                     testing::TempDir() + "mdevsim_doc_cmd_" + std::to_string(getpid()) + ".sh",
                     command);
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
  Rewrites rewrites;
  const auto blocks = parse_blocks(lines, "console");
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
    apply_rewrites(lines, rewrites, path);
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
