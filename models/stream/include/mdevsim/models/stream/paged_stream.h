// The device stream of any device whose migrating state is a paged memory
// plus one internal-state blob: record framing and checksum
// (record_format.h), pre-copy passes (pass_tracker.h), the post-copy switch
// package and page service (postcopy_queue.h), and the resume side's
// validation (nothing is applied before the whole image checked out). A
// device type supplies only what is its own, as a StreamedDevice: its
// header, its state blob and its memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mdevsim/models/device_api/migration_port.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::models {

class StreamedDevice {
 public:
  virtual ~StreamedDevice() = default;
  // The memory sent page by page; its dirty tracking drives the passes.
  virtual PageStore& memory() = 0;
  // HEADER payload: an 8-byte magic naming the format, then what a
  // destination must match. The same length for every device of the type.
  virtual std::vector<uint8_t> header() const = 0;
  // STATE payload: everything that migrates except memory content.
  virtual std::vector<uint8_t> state() const = 0;
  // Checks a STATE payload (throws StateFormatError naming what is wrong)
  // and returns what applies it.
  virtual std::function<void()> parse_state(std::span<const uint8_t> blob) const = 0;
  // Post-copy destination: `pages` fault until placed; placing one that is
  // not missing does nothing.
  virtual void set_missing(const std::vector<uint64_t>& pages) = 0;
  virtual uint64_t missing_pages() const = 0;
  virtual void place_page(uint64_t page, uint64_t token) = 0;
  // For messages: the format ("mdevsim GPU stream"), the memory ("VRAM") and
  // this device's configuration (MigratableDevice::compatibility_string).
  virtual std::string format_name() const = 0;
  virtual std::string memory_name() const = 0;
  virtual std::string compatibility_string() const = 0;
};

std::unique_ptr<SaveStream> open_paged_save_stream(std::unique_ptr<StreamedDevice> device);
std::unique_ptr<ResumeStream> open_paged_resume_stream(std::unique_ptr<StreamedDevice> device);

}  // namespace mdevsim::models
