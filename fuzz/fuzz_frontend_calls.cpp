// libFuzzer target: arbitrary sequences of VFIO calls on a source and a
// destination device. Invariant: nothing crashes or trips a sanitizer, and
// every call returns a byte count or a known -errno.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/protocol.h"
#include "mdevsim/vfio/uapi.h"
#include "vmm/abi_calls.h"

namespace {

using namespace mdevsim;

models::DeviceConfig config() {
  models::DeviceConfig c;
  c.vram_bytes = 8 << 20;
  c.page_size = 64 * 1024;
  c.contexts = 2;
  c.dma_buffer_bytes = 64 * 1024;
  c.stop_latency_s = 0;
  return c;
}

struct Pair {
  // postcopy: the v2-postcopy proposal (its states 8, 9 and ioctls).
  Pair(vfio::Protocol p, const char* tag, bool postcopy = false)
      : a(device(std::string("fa") + tag)),
        b(device(std::string("fb") + tag)),
        fa(*a, options(p, postcopy)),
        fb(*b, options(p, postcopy)) {
    for (uint64_t i = 0; i < 32; ++i) a->memory().write(i * 3, i);
  }
  // The calls are the ABI's, whatever the device: built by the factory.
  static std::unique_ptr<models::Device> device(const std::string& name) {
    return models::make_device(models::kDefaultDeviceType, name, config());
  }
  static vfio::FrontendOptions options(vfio::Protocol p, bool postcopy) {
    vfio::FrontendOptions o;
    o.protocol = p;
    o.v1_data_section_size = 64 * 1024;
    o.guest_ram_bytes = 1 << 20;
    if (postcopy) {
      o.protocol_def =
          std::make_shared<const vfio::ProtocolSpec>(vfio::resolve_protocol("v2-postcopy"));
      o.migration_flags = o.protocol_def->all_flags();
    }
    return o;
  }
  std::unique_ptr<models::Device> a, b;
  vfio::Frontend fa, fb;
};

void check(long r) {
  if (r >= 0) return;
  switch (-r) {
    case EINVAL:
    case EBADF:
    case ENODEV:
    case ENOTTY:
    case ESPIPE:
    case ENOMSG:
    case EFAULT:
    case ENOMEM:
    case EIO:
    case E2BIG:
    case EOVERFLOW:
    case EACCES:
    case EEXIST:
      return;
  }
  abort();  // an errno the kernel would not give
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Pair v2(vfio::Protocol::kV2, "2");
  static Pair v1(vfio::Protocol::kV1, "1");
  static Pair pc(vfio::Protocol::kV2, "pc", true);
  if (size == 0) return 0;
  Pair& p = data[0] % 3 == 0 ? v2 : data[0] % 3 == 1 ? v1 : pc;
  // The header's fields, where a write of the wrong width must be refused too.
  constexpr uint64_t kFields[] = {vmm::kV1DeviceState, vmm::kV1PendingBytes, vmm::kV1DataOffset,
                                  vmm::kV1DataSize};
  std::vector<uint8_t> buf(70000);
  size_t i = 1;
  auto byte = [&]() -> uint8_t { return i < size ? data[i++] : 0; };
  auto u64 = [&]() {
    uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v = v << 8 | byte();
    return v;
  };
  while (i < size) {
    vfio::Frontend& fe = byte() & 1 ? p.fb : p.fa;
    const uint8_t op = byte() % 12;
    const int fd = 3 + byte() % 6;
    switch (op) {
      case 0:
        check(vmm::set_device_state(fe, byte() % 11));
        break;
      case 1:
        check(fe.read(fd, buf.data(), u64() % buf.size()));
        break;
      case 2:
        check(fe.write(fd, buf.data(), u64() % buf.size()));
        break;
      case 3: {  // any offset and width: only the header's native widths are valid
        const size_t len = byte() % 16;
        check(vmm::v1_pread(fe, u64() % 70000, buf.data(), len));
        break;
      }
      case 4:
        check(vmm::v1_write_state(fe, byte()));
        break;
      case 5: {
        const uint64_t v = u64() % 100000;
        check(vmm::v1_write_u64(fe, kFields[byte() % 4], v));
        break;
      }
      case 6:
        check(vmm::device_reset(fe));
        break;
      case 7: {  // raw: any flags and argsz (the typed calls always pass valid ones)
        vfio::FeatureBuf<uint64_t> f(static_cast<uint32_t>(u64()), byte());
        check(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, f.raw));
        break;
      }
      case 8:
        check(fe.close(fd));
        break;
      case 9:
        check(p.fa.splice_to(fd, p.fb, 3 + byte() % 6, u64() % (1 << 20)));
        break;
      case 10: {  // post-copy proposal: queue pages on a save fd (raw: any argsz)
        vfio_mig_postcopy_request r{};
        r.argsz = byte() % 2 ? sizeof(r) : byte();
        r.flags = byte() % 4;
        r.first_page = u64() % 256;
        r.count = u64() % 512;
        check(fe.ioctl(fd, VFIO_MIG_POSTCOPY_REQUEST, &r));
        break;
      }
      case 11: {  // post-copy proposal: read faults from a resume fd
        std::vector<uint64_t> pages(64);
        vfio_mig_postcopy_faults q{};
        q.argsz = byte() % 2 ? sizeof(q) : byte();
        q.capacity = byte() % 65;
        q.pages = reinterpret_cast<uint64_t>(pages.data());
        check(fe.ioctl(fd, VFIO_MIG_POSTCOPY_FAULTS, &q));
        break;
      }
    }
  }
  return 0;
}

// libsystemc.so references sc_main; libFuzzer's main() runs instead.
extern "C" int sc_main(int, char**) { return 0; }
