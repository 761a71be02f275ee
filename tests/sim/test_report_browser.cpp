// The HTML report in a real browser: headless Chromium renders a report of a
// synthetic run, and the test checks the pixels (PNG decoded with zlib), the
// DOM after scripts ran, and the console. Skipped when Chromium is missing.
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/sim/report.h"
#include "report_fixtures.h"
#include "scratch_dir.h"

namespace mdevsim::sim {
namespace {

namespace fs = std::filesystem;
using namespace report_fixtures;

std::string chromium_path() {
  const char* env = std::getenv("MDEVSIM_CHROMIUM");
  return env && *env ? env : "/usr/bin/chromium";
}

#define SKIP_WITHOUT_CHROMIUM()                                           \
  do {                                                                    \
    if (::access(chromium_path().c_str(), X_OK) != 0)                     \
      GTEST_SKIP() << "chromium not installed: run scripts/install-deps"; \
  } while (0)

using mdevsim::testing::slurp;

// A private directory per test process; MDEVSIM_KEEP_REPORT=1 keeps the
// rendered files to look at.
class Workdir : public mdevsim::testing::ScratchDir {
 public:
  Workdir() : ScratchDir("report", "MDEVSIM_KEEP_REPORT") {}
};

fs::path write_report(const fs::path& dir, const SyntheticRun& r, const std::string& name) {
  const fs::path p = dir / name;
  std::ofstream out(p);
  write_html_report(r.result, r.log, r.ctx, out);
  return p;
}

struct Browser {
  int status = -1;
  std::string out, err;
};

// Runs Chromium on a local file with its own profile directory; `mode` is
// "--dump-dom" or "--screenshot=FILE". Console messages go to stderr.
Browser chromium(const fs::path& dir, const fs::path& page, const std::string& mode) {
  const fs::path out = dir / "chromium.out", err = dir / "chromium.err";
  const std::string cmd =
      "timeout 120 " + chromium_path() +
      " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"
      " --no-first-run --no-default-browser-check --hide-scrollbars"
      " --user-data-dir='" +
      (dir / "profile").string() + "' --enable-logging=stderr --v=0 --window-size=1200,2400 " +
      mode + " 'file://" + page.string() + "' >'" + out.string() + "' 2>'" + err.string() + "'";
  Browser b;
  b.status = std::system(cmd.c_str());
  b.out = slurp(out);
  b.err = slurp(err);
  return b;
}

// Console output of the page: every "CONSOLE" log line and uncaught
// exceptions. The report logs nothing, so any line is a failure.
std::vector<std::string> console_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string l; std::getline(in, l);)
    if (l.find(":CONSOLE") != std::string::npos || l.find("Uncaught") != std::string::npos)
      lines.push_back(l);
  return lines;
}

// ---- a minimal PNG decoder: 8-bit RGB/RGBA, not interlaced (what Chromium writes) ----

struct Image {
  uint32_t w = 0, h = 0;
  std::vector<uint8_t> rgb;  // w * h * 3
};

uint32_t be32(const std::string& s, size_t i) {
  return uint32_t(uint8_t(s[i])) << 24 | uint32_t(uint8_t(s[i + 1])) << 16 |
         uint32_t(uint8_t(s[i + 2])) << 8 | uint32_t(uint8_t(s[i + 3]));
}

std::optional<Image> decode_png(const std::string& f, std::string& why) {
  if (f.size() < 8 || f.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    why = "not a PNG";
    return std::nullopt;
  }
  Image img;
  int channels = 0;
  std::string idat;
  for (size_t i = 8; i + 12 <= f.size();) {
    const uint32_t len = be32(f, i);
    const std::string type = f.substr(i + 4, 4);
    if (i + 12 + len > f.size()) break;
    const size_t d = i + 8;
    if (type == "IHDR") {
      img.w = be32(f, d);
      img.h = be32(f, d + 4);
      const int depth = uint8_t(f[d + 8]), color = uint8_t(f[d + 9]),
                interlace = uint8_t(f[d + 12]);
      channels = color == 2 ? 3 : color == 6 ? 4 : 0;
      if (depth != 8 || channels == 0 || interlace != 0) {
        why = "unsupported PNG format (depth " + std::to_string(depth) + ", colour type " +
              std::to_string(color) + ", interlace " + std::to_string(interlace) + ")";
        return std::nullopt;
      }
    } else if (type == "IDAT") {
      idat.append(f, d, len);
    } else if (type == "IEND") {
      break;
    }
    i += 12 + len;
  }
  if (img.w == 0 || img.h == 0 || idat.empty()) {
    why = "no IHDR or IDAT";
    return std::nullopt;
  }
  const size_t stride = size_t(img.w) * channels;
  std::vector<uint8_t> raw((stride + 1) * img.h);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
          Z_OK ||
      raw_len != raw.size()) {
    why = "zlib could not inflate the image data";
    return std::nullopt;
  }
  // Undo the per-row filters (PNG spec, section 9).
  std::vector<uint8_t> cur(stride), prev(stride, 0);
  img.rgb.resize(size_t(img.w) * img.h * 3);
  for (uint32_t y = 0; y < img.h; ++y) {
    const uint8_t* row = &raw[y * (stride + 1)];
    const int filter = row[0];
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(channels) ? cur[x - channels] : 0, b = prev[x],
                c = x >= size_t(channels) ? prev[x - channels] : 0;
      int p = row[1 + x];
      switch (filter) {
        case 1:
          p += a;
          break;
        case 2:
          p += b;
          break;
        case 3:
          p += (a + b) / 2;
          break;
        case 4: {
          const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
          p += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          break;
      }
      cur[x] = uint8_t(p);
    }
    for (uint32_t x = 0; x < img.w; ++x)
      for (int k = 0; k < 3; ++k) img.rgb[(size_t(y) * img.w + x) * 3 + k] = cur[x * channels + k];
    std::swap(cur, prev);
  }
  return img;
}

size_t count_pixels(const Image& img, auto pred) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    if (pred(img.rgb[i], img.rgb[i + 1], img.rgb[i + 2])) ++n;
  return n;
}

// Near a CSS colour; the tolerance absorbs anti-aliasing and colour management.
auto near(int r, int g, int b) {
  return [=](int R, int G, int B) {
    return std::abs(R - r) <= 8 && std::abs(G - g) <= 8 && std::abs(B - b) <= 8;
  };
}

TEST(ReportBrowser, ScreenshotShowsTheChartsInColour) {
  SKIP_WITHOUT_CHROMIUM();
  Workdir dir;
  const fs::path page = write_report(dir.path(), precopy_v2(), "report.html");
  const fs::path png = dir.path() / "report.png";
  const Browser b = chromium(dir.path(), page, "--screenshot=" + png.string());
  ASSERT_EQ(b.status, 0) << b.err;
  ASSERT_TRUE(fs::exists(png)) << b.err;
  std::string why;
  const auto img = decode_png(slurp(png), why);
  ASSERT_TRUE(img) << why;
  EXPECT_EQ(img->w, 1200u);
  EXPECT_EQ(img->h, 2400u);
  const size_t total = size_t(img->w) * img->h;
  const size_t ink =
      count_pixels(*img, [](int r, int g, int b) { return r < 240 || g < 240 || b < 240; });
  EXPECT_GT(ink, total / 50) << "the page is (nearly) blank: " << ink << " of " << total;
  // The iteration bars (RAM #218bff, device #fb8f44) and the outcome badge
  // (#1a7f37) were painted, not just the text around them.
  EXPECT_GT(count_pixels(*img, near(0x21, 0x8b, 0xff)), 2000u);
  EXPECT_GT(count_pixels(*img, near(0xfb, 0x8f, 0x44)), 1000u);
  EXPECT_GT(count_pixels(*img, near(0x1a, 0x7f, 0x37)), 300u);
}

TEST(ReportBrowser, BlankPageBaselineIsBlank) {
  // Guards the decoder and the thresholds above: a blank page must fail them.
  SKIP_WITHOUT_CHROMIUM();
  Workdir dir;
  const fs::path page = dir.path() / "blank.html", png = dir.path() / "blank.png";
  std::ofstream(page) << "<html></html>";
  const Browser b = chromium(dir.path(), page, "--screenshot=" + png.string());
  ASSERT_EQ(b.status, 0) << b.err;
  std::string why;
  const auto img = decode_png(slurp(png), why);
  ASSERT_TRUE(img) << why;
  EXPECT_EQ(count_pixels(*img, [](int r, int g, int b) { return r < 240 || g < 240 || b < 240; }),
            0u);
}

// The SVG element with this id, from the rendered DOM.
std::string svg_with_id(const std::string& dom, const std::string& id) {
  const size_t at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return {};
  const size_t open = dom.rfind("<svg", at), close = dom.find("</svg>", at);
  if (open == std::string::npos || close == std::string::npos) return {};
  return dom.substr(open, close - open);
}

TEST(ReportBrowser, RenderedDomHasEveryChartWithShapesAndNoConsoleErrors) {
  SKIP_WITHOUT_CHROMIUM();
  Workdir dir;
  for (const auto& [name, run] :
       {std::pair{"precopy.html", precopy_v2()}, std::pair{"postcopy.html", postcopy()},
        std::pair{"empty.html", empty_run()}}) {
    SCOPED_TRACE(name);
    const fs::path page = write_report(dir.path(), run, name);
    const Browser b = chromium(dir.path(), page, "--dump-dom");
    ASSERT_EQ(b.status, 0) << b.err;
    const std::string& dom = b.out;
    ASSERT_NE(dom.find("id=\"summary\""), std::string::npos) << dom.substr(0, 500);
    // The tooltip script ran to its end.
    EXPECT_NE(dom.find("data-ready=\"1\""), std::string::npos);
    EXPECT_TRUE(console_lines(b.err).empty()) << console_lines(b.err).front();
    std::vector<std::string> ids = {"chart-iterations", "chart-remaining", "chart-dirty",
                                    "diagram-states"};
    if (run.result.postcopy) ids.push_back("chart-faults");
    for (const auto& id : ids) {
      const std::string svg = svg_with_id(dom, id);
      ASSERT_FALSE(svg.empty()) << id << " missing from the rendered DOM";
      const bool shapes = svg.find("<rect") != std::string::npos ||
                          svg.find("<path") != std::string::npos ||
                          svg.find("<circle") != std::string::npos;
      EXPECT_TRUE(shapes) << id;
      if (run.result.iterations.empty()) {  // the empty run: every chart says so
        EXPECT_NE(svg.find("no data"), std::string::npos) << id;
      } else {
        EXPECT_EQ(svg.find("no data"), std::string::npos) << id;
      }
    }
  }
}

TEST(ReportBrowser, ConsoleCheckCatchesAThrowingPage) {
  // Without this, "no console errors" above could pass because the log
  // format changed and nothing is ever matched.
  SKIP_WITHOUT_CHROMIUM();
  Workdir dir;
  const fs::path page = dir.path() / "throws.html";
  std::ofstream(page) << "<html><body><script>null.oops();</script></body></html>";
  const Browser b = chromium(dir.path(), page, "--dump-dom");
  ASSERT_EQ(b.status, 0) << b.err;
  const auto lines = console_lines(b.err);
  ASSERT_FALSE(lines.empty()) << "chromium stderr:\n" << b.err;
  EXPECT_NE(lines.front().find("Uncaught TypeError"), std::string::npos) << lines.front();
}

}  // namespace
}  // namespace mdevsim::sim
