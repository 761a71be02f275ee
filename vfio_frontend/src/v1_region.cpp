// Protocol v1: the migration region (struct vfio_device_migration_info
// header page, then the data section) and its device_state transitions.
#include "frontend_impl.h"

namespace mdevsim::vfio {

std::string v1_field_name(uint64_t off) {
  switch (off) {
    case kOffState:
      return "device_state";
    case kOffReserved:
      return "reserved";
    case kOffPending:
      return "pending_bytes";
    case kOffDataOffset:
      return "data_offset";
    case kOffDataSize:
      return "data_size";
  }
  return off >= kV1DataOffset ? "data[+" + std::to_string(off - kV1DataOffset) + "]"
                              : "offset " + std::to_string(off);
}

uint64_t Frontend::Impl::v1_region_size() const { return kV1DataOffset + data_section.size(); }

long Frontend::Impl::v1_write_state(uint32_t value) {
  const uint32_t cur = v1_state & VFIO_DEVICE_STATE_MASK;
  const uint32_t target = value & VFIO_DEVICE_STATE_MASK;
  rec.args = "device_state=" + v1::bits(target);
  if (v1::is_error(cur))
    return fail(EINVAL, "the device is in the error state 110b: only VFIO_DEVICE_RESET leaves it");
  if (v1::check_transition(cur, target, opt.v1_strict) != 0) {
    if (!v1::valid(target) || v1::is_error(target))
      return fail(EINVAL,
                  v1::bits(target) + " is " + v1::meaning(target) + " and cannot be entered");
    return fail(EINVAL,
                v1::bits(cur) + " -> " + v1::bits(target) + " is not allowed in strict mode");
  }
  if (target == cur) {
    note("same state: no side effects");
    return 0;
  }
  if (opt.fail_arc && opt.fail_arc->first == cur && opt.fail_arc->second == target) {
    v1_state = v1::set_error(v1_state);
    v1_saver.reset();
    v1_resumer.reset();
    return fail(
        EIO, "injected fault: the transition failed and the device entered the error state 110b");
  }
  const bool run0 = cur & VFIO_DEVICE_STATE_V1_RUNNING,
             run1 = target & VFIO_DEVICE_STATE_V1_RUNNING;
  const bool sav0 = cur & VFIO_DEVICE_STATE_V1_SAVING, sav1 = target & VFIO_DEVICE_STATE_V1_SAVING;
  const bool res0 = cur & VFIO_DEVICE_STATE_V1_RESUMING,
             res1 = target & VFIO_DEVICE_STATE_V1_RESUMING;
  if (run0 && !run1) {
    dev.set_running(false);
    note("_RUNNING cleared: the device stopped before this write returned");
  }
  if (res0 && !res1) {
    models::StreamStatus st = v1_resumer ? v1_resumer->commit() : models::StreamStatus{};
    v1_resumer.reset();
    if (!st.ok()) {
      v1_state = v1::set_error(v1_state);
      return fail(
          EINVAL,
          "_RESUMING cleared: the device loads and validates the image, and it was rejected (" +
              st.message + "); the device is in the error state 110b");
    }
    note("_RESUMING cleared: the written image was applied");
  }
  if (sav0 && !sav1) {
    v1_saver.reset();
    v1_phase = V1Phase::kIdle;
    note("_SAVING cleared: the save session ended; unread data is dropped");
  }
  if (!sav0 && sav1) {
    v1_saver = dev.open_save_stream();
    if (opt.corrupt_save_stream_at) v1_saver->corrupt_at(*opt.corrupt_save_stream_at);
    v1_phase = V1Phase::kIdle;
    note("_SAVING set: the device gathers its state; read pending_bytes to start an iteration");
  }
  if (sav1 && !run1 && v1_saver && !v1_saver->finalized()) {
    v1_saver->finalize();
    note(
        "stop-and-copy: the stream now carries the final device state; iterate until "
        "pending_bytes reads 0");
  }
  if (!res0 && res1) {
    v1_resumer = dev.open_resume_stream();
    v1_phase = V1Phase::kIdle;
    note("_RESUMING set: write each segment at data_offset, then its size to data_size");
  }
  if (!run0 && run1) dev.set_running(true);
  v1_state = target;  // reserved bits 3-31 are stored as 0 [sim]
  return 0;
}

bool Frontend::Impl::v1_saving() const {
  return !v1::is_error(v1_state) && (v1_state & VFIO_DEVICE_STATE_V1_SAVING) && v1_saver;
}

bool Frontend::Impl::v1_resuming() const {
  return (v1_state & VFIO_DEVICE_STATE_MASK) == VFIO_DEVICE_STATE_V1_RESUMING && v1_resumer;
}

uint64_t Frontend::Impl::v1_pending() const {
  if (!v1_saver) return 0;
  return v1_saver->finalized() ? v1_saver->stop_copy_bytes()
                               : v1_saver->initial_bytes() + v1_saver->dirty_bytes();
}

long Frontend::Impl::v1_read_field(uint64_t off, void* buf) {
  if (off != kOffState && off != kOffReserved && v1::is_error(v1_state))
    return fail(EINVAL, "the device is in the error state 110b: no data session");
  switch (off) {
    case kOffState: {
      const uint32_t v = v1_state;
      std::memcpy(buf, &v, 4);
      return 4;
    }
    case kOffReserved: {
      const uint32_t z = 0;
      std::memcpy(buf, &z, 4);
      return 4;
    }
    case kOffPending: {
      uint64_t v = 0;
      if (v1_saving()) {
        if (v1_phase == V1Phase::kStaged)
          note("reading pending_bytes acknowledges the previous buffer");
        v = v1_saver->at_end() ? 0 : v1_pending();
        v1_phase = v > 0 ? V1Phase::kStarted : V1Phase::kIdle;
        note(v == 0 ? (v1_saver->finalized()
                           ? "pending_bytes is 0 in stop-and-copy: the stream is complete"
                           : "pending_bytes is 0: nothing to send now")
                    : "reading pending_bytes starts an iteration");
      }
      std::memcpy(buf, &v, 8);
      return 8;
    }
    case kOffDataOffset: {
      if (v1_saving()) {
        if (v1_phase != V1Phase::kStaged) {
          v1_data_size =
              v1_saver->read(std::span<uint8_t>(data_section.data(), data_section.size()));
          v1_phase = V1Phase::kStaged;
          note("reading data_offset stages the next buffer (" + std::to_string(v1_data_size) +
               " bytes)");
        } else {
          note("data_offset read again: the same buffer stays staged");
        }
      } else if (v1_resuming()) {
        note("in _RESUMING, data_offset is where the next segment must be written");
      } else {
        return fail(EINVAL, "data_offset is only meaningful while _SAVING or _RESUMING");
      }
      const uint64_t v = kV1DataOffset;
      std::memcpy(buf, &v, 8);
      return 8;
    }
    case kOffDataSize: {
      if (v1_saving()) {
        if (v1_phase != V1Phase::kStaged)
          return fail(EINVAL, "read data_offset first: no buffer is staged");
        note("data_size is the size of the staged buffer: copy that many bytes from data_offset");
      } else if (!v1_resuming()) {
        return fail(EINVAL, "data_size is only meaningful while _SAVING or _RESUMING");
      }
      std::memcpy(buf, &v1_data_size, 8);
      return 8;
    }
  }
  return fail(EINVAL, "unreachable");
}

long Frontend::Impl::v1_write_field(uint64_t off, const void* buf) {
  switch (off) {
    case kOffState: {
      uint32_t v;
      std::memcpy(&v, buf, 4);
      const long r = v1_write_state(v);
      return r < 0 ? r : 4;
    }
    case kOffReserved:
      note("writes to reserved are ignored");
      return 4;
    case kOffPending:
    case kOffDataOffset:
      return fail(EINVAL, v1_field_name(off) + " is read-only");
    case kOffDataSize: {
      if (!v1_resuming()) return fail(EINVAL, "data_size is written only while _RESUMING");
      uint64_t n;
      std::memcpy(&n, buf, 8);
      rec.args = "data_size=" + std::to_string(n);
      if (n > data_section.size()) return fail(EINVAL, "data_size exceeds the data section");
      const auto s = v1_resumer->write(std::span<const uint8_t>(data_section.data(), n));
      if (!s.ok())
        return fail(stream_errno(s.error), "the device rejected the segment: " + s.message);
      v1_data_size = n;
      note("writing data_size makes the device consume the " + std::to_string(n) +
           " bytes at data_offset");
      return 8;
    }
  }
  return fail(EINVAL, "unreachable");
}

}  // namespace mdevsim::vfio
