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

// Every arc's effect follows from the protocol file alone: its data-session
// effect ("session") and the attributes and data rules of the two states
// (running, p2p_quiesced, save/precopy/serve/resume/resume_running). No
// state is known by name or value here, so a proposal that renames or
// renumbers the kernel's states behaves exactly like them.
int Frontend::Impl::do_arc(size_t from, size_t to, int& new_fd_out) {
  const ProtocolSpec& p = proto();
  const ProtocolState& a = p.states[from];
  const ProtocolState& b = p.states[to];
  if (opt.fail_arc && opt.fail_arc->first == a.value && opt.fail_arc->second == b.value)
    return enter_error(EIO, "injected fault: the device failed the arc " + a.name + " -> " +
                                b.name + " and is in " + error_state_name());
  const ProtocolArc* arc = p.arc(from, to, flags());
  if (arc == nullptr) return static_cast<int>(fail(EINVAL, "no such single arc"));
  const ArcSession session = arc->session;
  // Refusals first: they leave the device as it was.
  if (session == ArcSession::kEndResume && a.data == DataRule::kResumeRunning &&
      dev.missing_pages() > 0)
    return static_cast<int>(fail(EINVAL, std::to_string(dev.missing_pages()) +
                                             " pages have not arrived: the device stays in " +
                                             a.name));
  const bool run_a = a.attrs & kAttrRunning, run_b = b.attrs & kAttrRunning;
  const bool p2p_a = a.attrs & kAttrP2PQuiesced, p2p_b = b.attrs & kAttrP2PQuiesced;
  const bool same_fd = session == ArcSession::kKeep || session == ArcSession::kServe ||
                       session == ArcSession::kCommitKeep;
  // A device that stops does so before its session changes: the final
  // state in the stream is the stopped device's.
  if (run_a && !run_b) {
    dev.set_running(false);
    dev.set_p2p_quiesced(false);
    if (!same_fd) note("the device stopped: no DMA, no state change until it runs again");
  } else if (run_a && run_b && p2p_a != p2p_b) {
    dev.set_p2p_quiesced(p2p_b);
    const bool precopying = session == ArcSession::kKeep && b.data == DataRule::kPreCopy;
    if (p2p_b)
      note(b.name + (precopying ? ": still pre-copying on the same fd, no new peer-to-peer DMA"
                                : ": the device still runs but starts no new peer-to-peer DMA"));
    else
      note(a.name + " -> " + b.name + ": peer-to-peer DMA is allowed again" +
           (session == ArcSession::kKeep ? "; same fd" : ""));
  }
  if (const int err = arc_session(*arc, a, b, new_fd_out)) return err;
  // A device that starts does so once its session is in place (a post-copy
  // destination runs on the switch package it has just applied).
  if (!run_a && run_b) {
    dev.set_p2p_quiesced(p2p_b);
    dev.set_running(true);
    if (b.data == DataRule::kResumeRunning)
      note("the device runs with " + std::to_string(dev.missing_pages()) +
           " pages still at the source: touching one faults (VFIO_MIG_POSTCOPY_FAULTS)");
    else
      note(p2p_b ? "the device runs again, still without starting peer-to-peer DMA"
                 : "the device runs again");
  }
  state = to;
  return 0;
}

int Frontend::Impl::arc_session(const ProtocolArc& arc, const ProtocolState& a,
                                const ProtocolState& b, int& new_fd_out) {
  switch (arc.session) {
    case ArcSession::kNone:
      return 0;
    case ArcSession::kOpenSave:
      open_save(b.data, new_fd_out);
      return 0;
    case ArcSession::kOpenResume:
      open_resume(new_fd_out);
      return 0;
    case ArcSession::kKeep:
      if (a.data == DataRule::kPreCopy && b.data == DataRule::kSave) {
        session->saver->finalize();
        note("the device stopped; the same data fd now carries the final state and then ends");
      }
      return 0;
    case ArcSession::kServe:
      start_serving();
      return 0;
    case ArcSession::kEndSave:
      end_session();
      note(a.data == DataRule::kServe
               ? std::string("serving ends: the save fd now fails with ENODEV")
           : a.data == DataRule::kPreCopy
               ? std::string("leaving the saving group ends the save session")
               : "leaving " + a.name + " ends the save session: its fd now fails with ENODEV");
      return 0;
    case ArcSession::kEndResume:
      return end_resume(a, b);
    case ArcSession::kCommitKeep: {
      const auto st = session->resumer->commit_partial();
      if (!st.ok())
        return enter_error(EINVAL, "the switch package was rejected (" + st.message +
                                       "); the device is in " + error_state_name() +
                                       " until reset");
      return 0;
    }
    case ArcSession::kRestart:
      // One session ends and one of the other kind begins (v1's 010b -> 100b).
      end_session();
      if (b.attrs & kAttrSaving)
        open_save(b.data, new_fd_out);
      else
        open_resume(new_fd_out);
      return 0;
  }
  return static_cast<int>(fail(EINVAL, "no such single arc"));
}

void Frontend::Impl::open_save(DataRule rule, int& new_fd_out) {
  auto f = std::make_shared<DataFile>();
  f->save = true;
  f->saver = dev.open_save_stream();
  if (opt.corrupt_save_stream_at) f->saver->corrupt_at(*opt.corrupt_save_stream_at);
  const bool running = rule == DataRule::kPreCopy;
  if (!running) f->saver->finalize();
  session = f;
  new_fd_out = new_fd(f);
  note("a new save data fd " + std::to_string(new_fd_out) + " streams the device state" +
       (running ? " while the device keeps running (pre-copy)" : ""));
  if (rule == DataRule::kServe) start_serving();
}

void Frontend::Impl::open_resume(int& new_fd_out) {
  auto f = std::make_shared<DataFile>();
  f->save = false;
  f->resumer = dev.open_resume_stream();
  session = f;
  new_fd_out = new_fd(f);
  note("a new resume data fd " + std::to_string(new_fd_out) + " accepts the device state");
}

void Frontend::Impl::start_serving() {
  session->saver->finalize_postcopy();
  note(
      "the device stopped; the save fd now carries the switch package (state and the list "
      "of missing pages), then only the pages asked for with VFIO_MIG_POSTCOPY_REQUEST");
}

int Frontend::Impl::end_resume(const ProtocolState& a, const ProtocolState& b) {
  if (a.data == DataRule::kResumeRunning) {  // post-copy: every page is in (checked above)
    session->resumer->commit();
    end_session();
    note("every page has arrived: the resume session ends");
    return 0;
  }
  models::StreamStatus st;
  if (session->latched != 0)
    st = {models::StreamError::kCorrupt, "the resume stream already failed"};
  else
    st = session->resumer->commit();
  if (!st.ok()) {
    const int err = stream_errno(st.error);
    return enter_error(err == EFAULT ? EINVAL : err,
                       a.name + " -> " + b.name +
                           " loads and validates the image, and it was rejected (" + st.message +
                           "); the device is in " + error_state_name() + " until reset");
  }
  end_session();
  note(a.name + " -> " + b.name + " loaded and validated the whole image");
  return 0;
}

int Frontend::Impl::enter_error(int err, std::string why) {
  end_session();
  if (proto().error_state) state = *proto().error_state;
  return static_cast<int>(fail(err, std::move(why)));
}

std::string Frontend::Impl::error_state_name() const {
  const auto& p = proto();
  return p.error_state ? p.states[*p.error_state].name : p.states[state].name;
}

long Frontend::Impl::set_state(vfio_device_feature_mig_state& ms) {
  ms.data_fd = -1;
  const auto& p = proto();
  const auto target_i = p.by_value(ms.device_state);
  if (!target_i)
    return fail(EINVAL, "device_state " + std::to_string(ms.device_state) + " is not a state");
  const size_t target = *target_i;
  rec.args = "device_state=" + sname(target);
  rec.path.push_back(sname(state));
  if (p.states[state].attrs & kAttrError)
    return fail(EINVAL, "the device is in " + sname(state) + ": only VFIO_DEVICE_RESET leaves it");
  if (target == state) {
    note("already in " + sname(state) + ": nothing to do, no new fd");
    return 0;
  }
  if (!p.supported(target, flags())) {
    if (p.states[target].attrs & kAttrError)
      return fail(EINVAL, sname(target) + " cannot be requested");
    return fail(EINVAL, sname(target) + " is not advertised by this device (" +
                            p.features_name(flags()) + ")");
  }
  int fd = -1;
  while (state != target) {
    size_t next = 0;
    if (p.next_step(state, target, flags(), next) != 0)
      return fail(EINVAL,
                  sname(state) + " -> " + sname(target) + " is a blocked arc: no path leads there");
    if (fd >= 0) return fail(EINVAL, "a data fd was produced by an interior arc");
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
        ms->device_state = proto().states[state].value;
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
