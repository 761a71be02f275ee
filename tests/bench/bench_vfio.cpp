// Frontend throughput (issue 4 goals). Run:
//   cmake --build build --target bench_vfio && ./build/tests/bench/bench_vfio
// bytes_per_second of the stream benchmarks is compared with the memcpy
// baseline measured in the same run (goal: ratio >= 0.5).
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/uapi.h"

namespace {

using namespace mdevsim;

constexpr uint64_t kVram = uint64_t{1} << 30;
constexpr size_t kChunk = 1 << 20;

models::DeviceConfig config() {
  models::DeviceConfig c;
  c.vram_bytes = kVram;
  c.page_size = 64 * 1024;
  c.stop_latency_s = 0;
  return c;
}

// Devices are SystemC modules: build them once per process, before any run.
struct Rig {
  Rig(vfio::Protocol p)
      : src(p == vfio::Protocol::kV1 ? "v1src" : "v2src", config()),
        dst(p == vfio::Protocol::kV1 ? "v1dst" : "v2dst", config()),
        fs(src, options(p)),
        fd(dst, options(p)) {
    for (uint64_t page = 0; page < src.vram.store().page_count(); ++page)
      src.vram.write_page(page, page);
  }
  static vfio::FrontendOptions options(vfio::Protocol p) {
    vfio::FrontendOptions o;
    o.protocol = p;
    o.v1_data_section_size = kChunk;
    return o;
  }
  models::GpuDevice src, dst;
  vfio::Frontend fs, fd;
};

Rig& v2() {
  static Rig r(vfio::Protocol::kV2);
  return r;
}
Rig& v1() {
  static Rig r(vfio::Protocol::kV1);
  return r;
}

long set_state(vfio::Frontend& fe, vfio::MigState s, int* fd = nullptr) {
  alignas(8) uint8_t raw[16] = {};
  auto* h = reinterpret_cast<vfio_device_feature*>(raw);
  auto* m = reinterpret_cast<vfio_device_feature_mig_state*>(raw + 8);
  h->argsz = 16;
  h->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
  m->device_state = static_cast<uint32_t>(s);
  const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw);
  if (fd) *fd = m->data_fd;
  return r;
}

void BM_Baseline_Memcpy1GiB(benchmark::State& state) {
  std::vector<uint8_t> a(kVram + kVram / 16, 1), b(kChunk);
  for (auto _ : state) {
    for (uint64_t off = 0; off + kChunk <= a.size(); off += kChunk) {
      std::memcpy(b.data(), a.data() + off, kChunk);
      benchmark::ClobberMemory();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * a.size()));
}
BENCHMARK(BM_Baseline_Memcpy1GiB)->Unit(benchmark::kMillisecond);

// Full state of a 1 GiB device (every page touched): save fd -> resume fd
// with 1 MiB read()s and write()s, then the destination validates it.
void stream_v2(benchmark::State& state, bool splice) {
  Rig& r = v2();
  std::vector<uint8_t> buf(kChunk);
  uint64_t bytes = 0;
  for (auto _ : state) {
    int save = -1, resume = -1;
    set_state(r.fs, vfio::MigState::kStopCopy, &save);
    set_state(r.fd, vfio::MigState::kResuming, &resume);
    long n;
    if (splice) {
      while ((n = r.fs.splice_to(save, r.fd, resume, kChunk)) > 0) bytes += n;
    } else {
      while ((n = r.fs.read(save, buf.data(), kChunk)) > 0) {
        r.fd.write(resume, buf.data(), static_cast<size_t>(n));
        bytes += n;
      }
    }
    if (set_state(r.fd, vfio::MigState::kStop) != 0)
      state.SkipWithError("destination rejected the stream");
    set_state(r.fs, vfio::MigState::kStop);
    r.fs.close(save);
    r.fd.close(resume);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
void BM_V2StreamReadWrite1MiB(benchmark::State& s) { stream_v2(s, false); }
void BM_V2StreamSplice(benchmark::State& s) { stream_v2(s, true); }
BENCHMARK(BM_V2StreamReadWrite1MiB)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_V2StreamSplice)->Unit(benchmark::kMillisecond);

// v1: one iteration = pending_bytes, data_offset, data_size, pread of the
// buffer, and on the destination data_offset, pwrite, data_size.
void BM_V1Iterations(benchmark::State& state) {
  Rig& r = v1();
  constexpr uint64_t region = uint64_t{VFIO_PCI_NUM_REGIONS} << 40;
  std::vector<uint8_t> buf(kChunk);
  uint64_t iterations = 0;
  for (auto _ : state) {
    uint32_t s = 2, d = 4;
    r.fs.pwrite(r.fs.device_fd(), &s, 4, region);
    r.fd.pwrite(r.fd.device_fd(), &d, 4, region);
    for (;;) {
      uint64_t pending = 0, off = 0, size = 0;
      r.fs.pread(r.fs.device_fd(), &pending, 8, region + 8);
      if (pending == 0) break;
      r.fs.pread(r.fs.device_fd(), &off, 8, region + 16);
      r.fs.pread(r.fs.device_fd(), &size, 8, region + 24);
      r.fs.pread(r.fs.device_fd(), buf.data(), size, region + off);
      uint64_t doff = 0;
      r.fd.pread(r.fd.device_fd(), &doff, 8, region + 16);
      r.fd.pwrite(r.fd.device_fd(), buf.data(), size, region + doff);
      r.fd.pwrite(r.fd.device_fd(), &size, 8, region + 24);
      ++iterations;
    }
    s = 1;
    d = 1;
    r.fs.pwrite(r.fs.device_fd(), &s, 4, region);
    if (r.fd.pwrite(r.fd.device_fd(), &d, 4, region) != 4)
      state.SkipWithError("destination rejected the stream");
  }
  state.counters["v1_iterations_per_s"] =
      benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_V1Iterations)->Unit(benchmark::kMillisecond);

}  // namespace
