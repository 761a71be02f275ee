// A VFIO_DEVICE_FEATURE argument: the 8-byte header and the feature's payload
// in one aligned block. The header's data[] is a flexible array, so the
// payload cannot be a struct member after it; pass `raw` to ioctl().
#pragma once

#include <cstdint>

#include "mdevsim/vfio/uapi.h"

namespace mdevsim::vfio {

template <typename Payload>
struct FeatureBuf {
  alignas(8) uint8_t raw[sizeof(vfio_device_feature) + sizeof(Payload)] = {};
  vfio_device_feature& hdr = *reinterpret_cast<vfio_device_feature*>(raw);
  Payload& payload = *reinterpret_cast<Payload*>(raw + sizeof(vfio_device_feature));

  explicit FeatureBuf(uint32_t flags,
                      uint32_t argsz = sizeof(vfio_device_feature) + sizeof(Payload)) {
    hdr.argsz = argsz;
    hdr.flags = flags;
  }
  FeatureBuf(const FeatureBuf&) = delete;
  FeatureBuf& operator=(const FeatureBuf&) = delete;
};

}  // namespace mdevsim::vfio
