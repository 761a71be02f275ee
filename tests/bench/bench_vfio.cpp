// Frontend throughput (issue 4 goals). Run:
//   cmake --build build --target bench_vfio && ./build/tests/bench/bench_vfio
// bytes_per_second of the stream benchmarks is compared with the memcpy
// baseline measured in the same run (goal: ratio >= 0.5).
#include <cstring>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/uapi.h"
#include "vmm/abi_calls.h"

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
      : src(device(p == vfio::Protocol::kV1 ? "v1src" : "v2src")),
        dst(device(p == vfio::Protocol::kV1 ? "v1dst" : "v2dst")),
        fs(*src, options(p)),
        fd(*dst, options(p)) {
    for (uint64_t page = 0; page < src->memory().page_count(); ++page)
      src->memory().write(page, page);
  }
  // The frontend's stream paths, whatever the device: built by the factory.
  static std::unique_ptr<models::Device> device(const char* name) {
    return models::make_device(models::kDefaultDeviceType, name, config());
  }
  static vfio::FrontendOptions options(vfio::Protocol p) {
    vfio::FrontendOptions o;
    o.protocol = p;
    o.v1_data_section_size = kChunk;
    return o;
  }
  std::unique_ptr<models::Device> src, dst;
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
  return vmm::set_device_state(fe, static_cast<uint32_t>(s), fd);
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
    if (splice) {
      long n;
      while ((n = r.fs.splice_to(save, r.fd, resume, kChunk)) > 0) bytes += n;
    } else {
      bytes += vmm::copy_data(r.fs, save, r.fd, resume, UINT64_MAX, kChunk, buf).bytes;
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
  std::vector<uint8_t> buf(kChunk);
  uint64_t iterations = 0;
  for (auto _ : state) {
    vmm::v1_write_state(r.fs, VFIO_DEVICE_STATE_V1_SAVING);
    vmm::v1_write_state(r.fd, VFIO_DEVICE_STATE_V1_RESUMING);
    for (long n; (n = vmm::v1_save_segment(r.fs, buf)) > 0; ++iterations)
      vmm::v1_resume_segment(r.fd, buf.data(), static_cast<uint64_t>(n));
    vmm::v1_write_state(r.fs, VFIO_DEVICE_STATE_V1_RUNNING);
    if (vmm::v1_write_state(r.fd, VFIO_DEVICE_STATE_V1_RUNNING) != 0)
      state.SkipWithError("destination rejected the stream");
  }
  state.counters["v1_iterations_per_s"] =
      benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_V1Iterations)->Unit(benchmark::kMillisecond);

}  // namespace
