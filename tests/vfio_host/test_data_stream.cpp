// The interposer's data-fd buffers (vfio_host/src/data_stream.h): a STOP_COPY
// stream read through the read-ahead, in QEMU's sizes and others, resumes
// on the device byte for byte (its own checksum and the state digests
// decide), the trace lists every read and write with the result the caller
// got, and a corrupted page fails a write no later than the stream's end.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim/vfio_host/report.h"
#include "scratch_dir.h"
#include "vfio_host_fixture.h"

namespace mdevsim::testing {
namespace {

constexpr uint32_t kRunning = VFIO_DEVICE_STATE_RUNNING, kStop = VFIO_DEVICE_STATE_STOP,
                   kStopCopy = VFIO_DEVICE_STATE_STOP_COPY, kResuming = VFIO_DEVICE_STATE_RESUMING;

class DataStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto scenario = dir_.path() / "stream.json";
    // 16 MiB of VRAM in 64 KiB pages, dirtied for a moment: a stream of a
    // few hundred page records (65560 bytes each: never a multiple of 32 KiB).
    std::ofstream(scenario) << R"({"seed": 5,
      "device": {"vram": "16MiB", "page_size": "64KiB", "features": ["stop_copy", "p2p"]},
      "workload": {"kind": "uniform", "dirty_rate": "256MiB/s"},
      "vm": {"ram": "64MiB"}})";
    trace_ = dir_.path() / "abi.trace";
    report_ = dir_.path() / "report.json";
    setenv("MDEVSIM_VFIO_SCENARIO", scenario.c_str(), 1);
    setenv("MDEVSIM_VFIO_TRACE", trace_.c_str(), 1);
    setenv("MDEVSIM_VFIO_REPORT", report_.c_str(), 1);
    fds_ = open_device();
  }

  // SET MIG_DEVICE_STATE; the new data fd (or -1), or -errno.
  long set_state(uint32_t state) {
    alignas(8) uint8_t buf[sizeof(vfio_device_feature) + sizeof(vfio_device_feature_mig_state)]{};
    auto* feat = reinterpret_cast<vfio_device_feature*>(buf);
    auto* ms = reinterpret_cast<vfio_device_feature_mig_state*>(feat->data);
    feat->argsz = sizeof buf;
    feat->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
    ms->device_state = state;
    const long r = rc(::ioctl(fds_.device, VFIO_DEVICE_FEATURE, buf));
    return r < 0 ? r : ms->data_fd;
  }

  // The device's stream after it ran for a moment: read in QEMU's 1 MiB
  // and in a size that splits the read-ahead's segments.
  std::vector<uint8_t> save(std::vector<long>& results) {
    EXPECT_EQ(set_state(kRunning), -1);  // the VM starts: the workload runs
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const long fd = set_state(kStopCopy);
    EXPECT_GE(fd, 0);
    std::vector<uint8_t> stream, buf(1 << 20);
    const size_t sizes[] = {1 << 20, 1 << 20, 200000, 1 << 20, 4096};
    for (size_t i = 0;; ++i) {
      const long n = rc(::read(static_cast<int>(fd), buf.data(), sizes[i % 5]));
      results.push_back(n);
      if (n <= 0) break;
      stream.insert(stream.end(), buf.begin(), buf.begin() + n);
    }
    EXPECT_EQ(results.back(), 0);
    EXPECT_EQ(::close(static_cast<int>(fd)), 0);
    EXPECT_EQ(set_state(kStop), -1);
    return stream;
  }

  // Writes the stream to a new resume fd in QEMU 10's 32 KiB pieces.
  std::vector<long> resume(const std::vector<uint8_t>& stream, long& fd) {
    fd = set_state(kResuming);
    EXPECT_GE(fd, 0);
    std::vector<long> results;
    for (size_t off = 0; off < stream.size(); off += 32768) {
      const size_t n = std::min<size_t>(32768, stream.size() - off);
      results.push_back(rc(::write(static_cast<int>(fd), stream.data() + off, n)));
    }
    return results;
  }

  // The result of every read(data:) / write(data:) line of the trace, in order.
  std::vector<long> traced(const char* call) {
    std::ifstream in(trace_);
    const std::regex line(std::string(" ") + call + R"(\(data:\d+\) = (-?\d+))");
    std::vector<long> out;
    std::smatch m;
    for (std::string l; std::getline(in, l);)
      if (std::regex_search(l, m, line)) out.push_back(std::stol(m[1]));
    return out;
  }

  vfio_host::DeviceReport report() {
    std::ifstream in(report_);
    return nlohmann::json::parse(in).get<vfio_host::Report>().devices.at(0);
  }

  ScratchDir dir_{"vfio-host-stream", "MDEVSIM_KEEP_TEST_FILES"};
  std::filesystem::path trace_, report_;
  VfioFds fds_;
};

TEST_F(DataStreamTest, ReadAheadStreamResumesByteForByteAndEveryCallIsTraced) {
  std::vector<long> reads;
  const auto stream = save(reads);
  ASSERT_GT(stream.size(), size_t{4} << 20) << "the workload touched too little VRAM";
  long fd;
  const auto writes = resume(stream, fd);
  for (size_t i = 0; i < writes.size(); ++i)
    ASSERT_EQ(writes[i], static_cast<long>(std::min<size_t>(32768, stream.size() - i * 32768)))
        << "write " << i;
  // Leaving RESUMING commits: the device checked every byte (page payloads,
  // the checksum in the end record).
  ASSERT_EQ(set_state(kStop), -1);
  EXPECT_EQ(::close(static_cast<int>(fd)), 0);

  EXPECT_EQ(traced("read"), reads);
  EXPECT_EQ(traced("write"), writes);
  const auto d = report();
  ASSERT_TRUE(d.digest_at_save_end && d.digest_after_resume);
  EXPECT_EQ(*d.digest_after_resume, *d.digest_at_save_end);
  // The stop-copy times, in order.
  ASSERT_TRUE(d.wall_ns.device_stop && d.wall_ns.stop_copy && d.wall_ns.first_stop_copy_read &&
              d.wall_ns.save_end);
  EXPECT_LE(*d.wall_ns.device_stop, *d.wall_ns.stop_copy);
  EXPECT_LE(*d.wall_ns.stop_copy, *d.wall_ns.first_stop_copy_read);
  EXPECT_LT(*d.wall_ns.first_stop_copy_read, *d.wall_ns.save_end);
}

TEST_F(DataStreamTest, CorruptedPageFailsAWriteBeforeTheEndIsAccepted) {
  std::vector<long> reads;
  auto stream = save(reads);
  ASSERT_GT(stream.size(), size_t{4} << 20);
  stream[stream.size() / 2] ^= 0x01;  // inside a page record
  long fd;
  const auto writes = resume(stream, fd);
  const auto first_error = std::find_if(writes.begin(), writes.end(), [](long r) { return r < 0; });
  ASSERT_NE(first_error, writes.end()) << "every write was accepted, the end record included";
  EXPECT_EQ(*first_error, -EINVAL);
  // From there on every write fails (the device latched the error).
  EXPECT_TRUE(std::all_of(first_error, writes.end(), [](long r) { return r == -EINVAL; }));
  EXPECT_LT(set_state(kStop), 0) << "an image the device rejected must not commit";
  EXPECT_EQ(traced("write").size(), writes.size());
}

TEST_F(DataStreamTest, CorruptedEndRecordFailsTheLastWriteItself) {
  std::vector<long> reads;
  auto stream = save(reads);
  ASSERT_GT(stream.size(), size_t{64});
  stream[stream.size() - 1] ^= 0x01;  // the end record's checksum
  long fd;
  const auto writes = resume(stream, fd);
  // Nothing follows the last write: it must carry the device's answer.
  EXPECT_EQ(writes.back(), -EINVAL);
  EXPECT_TRUE(std::all_of(writes.begin(), writes.end() - 1, [](long r) { return r > 0; }));
  EXPECT_LT(set_state(kStop), 0);
}

}  // namespace
}  // namespace mdevsim::testing
