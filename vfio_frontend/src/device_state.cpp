// Protocol v2: VFIO_DEVICE_FEATURE on the device fd and the migration
// state machine behind MIG_DEVICE_STATE (single arcs, combination paths).
#include <sstream>

#include "frontend_impl.h"

namespace mdevsim::vfio {

namespace {

const char* feature_name(uint32_t f) {
  switch (f) {
    case VFIO_DEVICE_FEATURE_PCI_VF_TOKEN:
      return "PCI_VF_TOKEN";
    case VFIO_DEVICE_FEATURE_MIGRATION:
      return "MIGRATION";
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
      return "MIG_DEVICE_STATE";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
      return "DMA_LOGGING_START";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      return "DMA_LOGGING_STOP";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
      return "DMA_LOGGING_REPORT";
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
      return "MIG_DATA_SIZE";
  }
  return "feature";
}

}  // namespace

int Frontend::Impl::do_arc(MigState from, MigState to, int& new_fd_out) {
  using S = MigState;
  if (opt.fail_arc && opt.fail_arc->first == static_cast<uint32_t>(from) &&
      opt.fail_arc->second == static_cast<uint32_t>(to)) {
    end_session();
    state = S::kError;
    return static_cast<int>(fail(EIO, std::string("injected fault: the device failed the arc ") +
                                          sname(from) + " -> " + sname(to) + " and is in ERROR"));
  }
  auto open_save = [&](bool stopped) {
    auto f = std::make_shared<DataFile>();
    f->save = true;
    f->saver = dev.open_save_stream();
    if (opt.corrupt_save_stream_at) f->saver->corrupt_at(*opt.corrupt_save_stream_at);
    if (stopped) f->saver->finalize();
    session = f;
    new_fd_out = new_fd(f);
    note("a new save data fd " + std::to_string(new_fd_out) + " streams the device state" +
         (stopped ? "" : " while the device keeps running (pre-copy)"));
  };
  // Arcs that only protocol proposals define, by their data-session effect.
  if (const auto* arc = proto().arc(*sidx(from), *sidx(to), flags())) {
    const DataRule from_data = proto().states[arc->from].data;
    const DataRule to_data = proto().states[arc->to].data;
    if (arc->session == ArcSession::kServe ||
        (arc->session == ArcSession::kOpenSave && to_data == DataRule::kServe)) {
      dev.set_running(false);
      dev.set_p2p_quiesced(false);
      if (arc->session == ArcSession::kOpenSave) open_save(true);
      session->saver->finalize_postcopy();
      note(
          "the device stopped; the save fd now carries the switch package (state and the list "
          "of missing pages), then only the pages asked for with VFIO_MIG_POSTCOPY_REQUEST");
      state = to;
      return 0;
    }
    if (arc->session == ArcSession::kCommitKeep) {
      const auto st = session->resumer->commit_partial();
      if (!st.ok()) {
        end_session();
        state = S::kError;
        return static_cast<int>(fail(EINVAL, "the switch package was rejected (" + st.message +
                                                 "); the device is in ERROR until reset"));
      }
      dev.set_running(true);
      note("the device runs with " + std::to_string(dev.missing_pages()) +
           " pages still at the source: touching one faults (VFIO_MIG_POSTCOPY_FAULTS)");
      state = to;
      return 0;
    }
    if (arc->session == ArcSession::kEndResume && from_data == DataRule::kResumeRunning) {
      if (dev.missing_pages() > 0)
        return static_cast<int>(fail(EINVAL, std::to_string(dev.missing_pages()) +
                                                 " pages have not arrived: the device stays in " +
                                                 sname(from)));
      session->resumer->commit();
      end_session();
      note("every page has arrived: the resume session ends");
      state = to;
      return 0;
    }
    if (arc->session == ArcSession::kEndSave && from_data == DataRule::kServe) {
      end_session();
      note("serving ends: the save fd now fails with ENODEV");
      state = to;
      return 0;
    }
  }
  if (from == S::kStop && to == S::kStopCopy) {
    open_save(true);
  } else if (from == S::kStopCopy && to == S::kStop) {
    end_session();
    note("leaving STOP_COPY ends the save session: its fd now fails with ENODEV");
  } else if (from == S::kStop && to == S::kResuming) {
    auto f = std::make_shared<DataFile>();
    f->save = false;
    f->resumer = dev.open_resume_stream();
    session = f;
    new_fd_out = new_fd(f);
    note("a new resume data fd " + std::to_string(new_fd_out) + " accepts the device state");
  } else if (from == S::kResuming && to == S::kStop) {
    auto& r = session->resumer;
    models::StreamStatus st;
    if (session->latched != 0)
      st = {models::StreamError::kCorrupt, "the resume stream already failed"};
    else
      st = r->commit();
    end_session();
    if (!st.ok()) {
      state = S::kError;
      return static_cast<int>(
          fail(stream_errno(st.error) == EFAULT ? EINVAL : stream_errno(st.error),
               "RESUMING -> STOP loads and validates the image, and it was rejected (" +
                   st.message + "); the device is in ERROR until reset"));
    }
    note("RESUMING -> STOP loaded and validated the whole image");
  } else if ((from == S::kRunning || from == S::kRunningP2P) && to == S::kStop) {
    dev.set_running(false);
    dev.set_p2p_quiesced(false);
    note("the device stopped: no DMA, no state change until it runs again");
  } else if (from == S::kStop && (to == S::kRunning || to == S::kRunningP2P)) {
    dev.set_p2p_quiesced(to == S::kRunningP2P);
    dev.set_running(true);
    note(to == S::kRunning ? "the device runs again"
                           : "the device runs again, still without starting peer-to-peer DMA");
  } else if (from == S::kRunning && to == S::kRunningP2P) {
    dev.set_p2p_quiesced(true);
    note("RUNNING_P2P: the device still runs but starts no new peer-to-peer DMA");
  } else if (from == S::kRunningP2P && to == S::kRunning) {
    dev.set_p2p_quiesced(false);
    note("RUNNING_P2P -> RUNNING: peer-to-peer DMA is allowed again");
  } else if ((from == S::kRunning && to == S::kPreCopy) ||
             (from == S::kRunningP2P && to == S::kPreCopyP2P)) {
    open_save(false);
  } else if ((from == S::kPreCopy && to == S::kRunning) ||
             (from == S::kPreCopyP2P && to == S::kRunningP2P)) {
    end_session();
    note("leaving the saving group ends the save session");
  } else if (from == S::kPreCopy && to == S::kPreCopyP2P) {
    dev.set_p2p_quiesced(true);
    note("PRE_COPY_P2P: still pre-copying on the same fd, no new peer-to-peer DMA");
  } else if (from == S::kPreCopyP2P && to == S::kPreCopy) {
    dev.set_p2p_quiesced(false);
    note("PRE_COPY_P2P -> PRE_COPY: peer-to-peer DMA is allowed again; same fd");
  } else if ((from == S::kPreCopy || from == S::kPreCopyP2P) && to == S::kStopCopy) {
    dev.set_running(false);
    dev.set_p2p_quiesced(false);
    session->saver->finalize();
    note("the device stopped; the same data fd now carries the final state and then ends");
  } else {
    return static_cast<int>(fail(EINVAL, "no such single arc"));
  }
  state = to;
  return 0;
}

long Frontend::Impl::set_state(vfio_device_feature_mig_state& ms) {
  ms.data_fd = -1;
  const auto& p = proto();
  const auto target_i = p.by_value(ms.device_state);
  if (!target_i)
    return fail(EINVAL, "device_state " + std::to_string(ms.device_state) + " is not a state");
  const auto target = static_cast<MigState>(ms.device_state);
  rec.args = "device_state=" + sname(target);
  rec.path.push_back(sname(state));
  if (state == MigState::kError)
    return fail(EINVAL, "the device is in ERROR: only VFIO_DEVICE_RESET leaves it");
  if (target == state) {
    note("already in " + sname(state) + ": nothing to do, no new fd");
    return 0;
  }
  if (!p.supported(*target_i, flags())) {
    if (p.states[*target_i].attrs & kAttrError) return fail(EINVAL, "ERROR cannot be requested");
    return fail(EINVAL, sname(target) + " is not advertised by this device (" +
                            p.features_name(flags()) + ")");
  }
  int fd = -1;
  while (state != target) {
    size_t next_i = 0;
    if (p.next_step(*sidx(state), *target_i, flags(), next_i) != 0)
      return fail(EINVAL,
                  sname(state) + " -> " + sname(target) + " is a blocked arc: no path leads there");
    if (fd >= 0) return fail(EINVAL, "a data fd was produced by an interior arc");
    const auto next = static_cast<MigState>(p.states[next_i].value);
    const int err = do_arc(state, next, fd);
    rec.path.push_back(sname(state));
    if (err != 0) return err;
  }
  ms.data_fd = fd;
  return 0;
}

long Frontend::Impl::device_feature(void* arg) {
  if (arg == nullptr) return fail(EFAULT, "no argument buffer");
  auto* f = static_cast<vfio_device_feature*>(arg);
  const uint32_t feature = f->flags & VFIO_DEVICE_FEATURE_MASK;
  std::ostringstream req;
  req << "VFIO_DEVICE_FEATURE(";
  if (f->flags & VFIO_DEVICE_FEATURE_PROBE) req << "PROBE ";
  if (f->flags & VFIO_DEVICE_FEATURE_GET) req << "GET ";
  if (f->flags & VFIO_DEVICE_FEATURE_SET) req << "SET ";
  req << feature_name(feature) << ")";
  rec.request = req.str();
  if (f->argsz < sizeof(vfio_device_feature))
    return fail(EINVAL, "argsz is smaller than the 8-byte header");
  if (f->flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
                   VFIO_DEVICE_FEATURE_PROBE))
    return fail(EINVAL, "unknown bits in flags");
  const bool probe = f->flags & VFIO_DEVICE_FEATURE_PROBE;
  const bool get = f->flags & VFIO_DEVICE_FEATURE_GET, set = f->flags & VFIO_DEVICE_FEATURE_SET;
  if (get && set && !probe) return fail(EINVAL, "GET and SET together are only allowed with PROBE");

  uint32_t ops = 0;
  size_t minsz = 0;
  switch (feature) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
      ops = VFIO_DEVICE_FEATURE_GET, minsz = sizeof(vfio_device_feature_migration);
      break;
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
      ops = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
      minsz = sizeof(vfio_device_feature_mig_state);
      break;
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
      ops = VFIO_DEVICE_FEATURE_GET, minsz = sizeof(vfio_device_feature_mig_data_size);
      break;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
      ops = VFIO_DEVICE_FEATURE_SET, minsz = sizeof(vfio_device_feature_dma_logging_control);
      break;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      ops = VFIO_DEVICE_FEATURE_SET, minsz = 0;
      break;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
      ops = VFIO_DEVICE_FEATURE_GET, minsz = sizeof(vfio_device_feature_dma_logging_report);
      break;
    default:
      // vfio_ioctl_device_feature(): a driver without a device_feature op
      // (an mdev) gets ENOTTY since 16df67f2189a (2025), EINVAL before.
      return fail(opt.kernel == KernelGeneration::kCurrent ? ENOTTY : EINVAL,
                  "feature " + std::to_string(feature) + " is not handled by this device");
  }
  const bool is_mig = feature == VFIO_DEVICE_FEATURE_MIGRATION ||
                      feature == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE ||
                      feature == VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
  if (is_mig && v1())
    return fail(ENOTTY, "this device has no v2 migration ops (it speaks protocol v1)");
  if (!is_mig && !dev.dma_logging_supported())
    return fail(ENOTTY, "this device has no DMA logging ops");
  // vfio_check_feature()
  if (probe) {
    if ((get && !(ops & VFIO_DEVICE_FEATURE_GET)) || (set && !(ops & VFIO_DEVICE_FEATURE_SET)))
      return fail(EINVAL, "the feature does not support the probed direction");
    note("PROBE: supported, nothing else done");
    return 0;
  }
  if (!get && !set) return fail(EINVAL, "neither GET nor SET requested");
  if ((get && !(ops & VFIO_DEVICE_FEATURE_GET)) || (set && !(ops & VFIO_DEVICE_FEATURE_SET)))
    return fail(EINVAL, std::string("the feature does not support ") + (get ? "GET" : "SET"));
  if (f->argsz - sizeof(vfio_device_feature) < minsz)
    return fail(EINVAL, "argsz leaves " + std::to_string(f->argsz - sizeof(vfio_device_feature)) +
                            " payload bytes; the feature needs " + std::to_string(minsz));
  void* payload = f->data;
  switch (feature) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
      static_cast<vfio_device_feature_migration*>(payload)->flags = flags();
      rec.args = "flags=" + proto().features_name(flags());
      return 0;
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: {
      auto* ms = static_cast<vfio_device_feature_mig_state*>(payload);
      if (get) {
        ms->device_state = static_cast<uint32_t>(state);
        ms->data_fd = -1;
        rec.args = "device_state=" + sname(state);
        return 0;
      }
      return set_state(*ms);
    }
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: {
      const uint64_t n = session && session->save && session->saver
                             ? session->saver->stop_copy_bytes()
                             : dev.full_image_bytes();
      static_cast<vfio_device_feature_mig_data_size*>(payload)->stop_copy_length = n;
      rec.args = "stop_copy_length=" + std::to_string(n);
      note("MIG_DATA_SIZE estimates what STOP_COPY would still send if entered now");
      return 0;
    }
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
      return logging_start(*static_cast<vfio_device_feature_dma_logging_control*>(payload));
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      logging = false;
      dev.dma_logging_stop();
      return 0;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
      return logging_report(*static_cast<vfio_device_feature_dma_logging_report*>(payload));
  }
  return fail(EINVAL, "unreachable");
}

}  // namespace mdevsim::vfio
