#include "net/link.h"

#include "mdevsim/sim/run_outputs.h"
#include "mdevsim/sim/units.h"

namespace mdevsim::sim::net {

Link::Link(sc_core::sc_module_name name, const LinkSection& l, const std::vector<Fault>& faults,
           double link_timeout, std::vector<FaultResult>& records, size_t channels)
    : sc_core::sc_module(name), cfg_(l), link_timeout_(link_timeout), records_(records) {
  lost_to_.assign(faults.size(), -std::numeric_limits<double>::infinity());
  SC_METHOD(report_progress);
  sensitive << progress_due_;
  dont_initialize();
  for (size_t i = 0; i < std::max<size_t>(1, channels); ++i) channels_.push_back(Channel(*this));
  for (size_t i = 0; i < faults.size(); ++i) {
    const auto& f = faults[i];
    if (f.kind == FaultKind::kLinkDown || f.kind == FaultKind::kDegrade) faults_.push_back({f, i});
    if ((f.kind == FaultKind::kDestCrash || f.kind == FaultKind::kSourceCrash) &&
        f.at_s < crash_at_) {
      crash_at_ = f.at_s;
      crash_index_ = i;
      crash_kind_ = f.kind;
    }
  }
}

// Bytes in flight over every channel, for the recorder. With several
// channels one process reports them (the waveform's signal has one
// writer), a delta cycle later.
void Link::progress(double t) {
  if (!recorder) return;
  if (channels_.size() > 1) {
    progress_due_.notify(sc_core::SC_ZERO_TIME);
    return;
  }
  recorder->link_progress(t, channels_[0].in_flight_);
}

void Link::report_progress() {
  double left = 0;
  for (const auto& c : channels_) left += c.in_flight_;
  recorder->link_progress(now(), left);
}

bool Link::Channel::transfer(uint64_t bytes, bool limited, double cap) {
  Link& l = *link_;
  double remaining = static_cast<double>(bytes);
  cap = std::min(cap, l.cfg_.stream_cap);  // one stream never goes faster
  pace_ = cap;
  busy_ = true;
  ++l.busy_;
  l.share_changed();
  struct Done {  // leaves the link's busy count on every return
    Link& l;
    Channel& c;
    ~Done() {
      --l.busy_;
      c.busy_ = false;
      c.in_flight_ = 0;
      l.share_changed();
    }
  } done{l, *this};
  while (remaining > 0) {
    const double t = now();
    if (t >= l.crash_at_ || (limited && l.deadline_ > 0 && t >= l.deadline_)) {
      timed_out_ = t < l.crash_at_;
      moved_ = bytes - static_cast<uint64_t>(remaining);
      in_flight_ = 0;
      l.progress(t);
      return false;
    }
    in_flight_ = remaining;
    l.progress(t);
    if (const Timed* down = l.active(t, FaultKind::kLinkDown)) {
      const Fault& f = down->fault;
      if (t >= f.at_s + l.link_timeout_) return false;
      const double until = std::min({f.at_s + f.duration_s, f.at_s + l.link_timeout_, l.crash_at_});
      // The time lost once, however many channels waited through it.
      double& counted = l.lost_to_[down->index];
      if (until > std::max(t, counted))
        l.records_[down->index].lost_s += until - std::max(t, counted);
      counted = std::max(counted, until);
      wait_s(until - t);
      continue;
    }
    const double bw = l.rate(t, limited, cap);
    double dt = std::min(remaining / bw, kSlice);
    for (const auto& [f, i] : l.faults_)  // stop at the next fault boundary
      for (double edge : {f.at_s, f.at_s + f.duration_s})
        if (edge > t && edge < t + dt) dt = edge - t;
    if (l.crash_at_ > t && l.crash_at_ < t + dt) dt = l.crash_at_ - t;
    if (limited && l.deadline_ > t && l.deadline_ < t + dt) dt = l.deadline_ - t;
    if (l.channels_.size() == 1) {
      wait_s(dt);
      remaining -= dt * bw;
    } else {
      // Another channel starting or ending changes this one's share: the
      // slice ends there and what moved so far is counted.
      sc_core::wait(std::max(sc_core::sc_time::from_seconds(dt), sc_core::sc_get_time_resolution()),
                    l.share_changed_);
      remaining -= std::min(dt, now() - t) * bw;
    }
    if (remaining < 1e-6) remaining = 0;
  }
  in_flight_ = 0;
  l.progress(now());
  moved_ = bytes;
  return true;
}

std::string Link::failure() const {
  if (crashed())
    return std::string(crash_kind_ == FaultKind::kDestCrash ? "the destination" : "the source") +
           " host crashed at " + format_duration(crash_at_);
  return "the link was down longer than the link timeout";
}

double Link::rate(double t, bool limited, double pace) const {
  const double bw = bandwidth(t, limited);
  if (busy_ <= 1) return std::min(bw, pace);
  // Water-filling: the channels slower than the level take their pace, the
  // rest split what is left equally.
  std::vector<double> paces;
  paces.reserve(busy_);
  for (const auto& c : channels_)
    if (c.busy_) paces.push_back(c.pace_);
  std::sort(paces.begin(), paces.end());
  double left = bw;
  for (size_t i = 0; i < paces.size(); ++i) {
    const double level = left / static_cast<double>(paces.size() - i);
    if (paces[i] >= level) return std::min(pace, level);
    left -= paces[i];
  }
  return pace;  // every channel below its equal share: each at its own pace
}

double Link::bandwidth(double t, bool limited) const {
  double bw = cfg_.bandwidth;
  if (const Timed* d = active(t, FaultKind::kDegrade)) bw = std::min(bw, d->fault.bandwidth);
  bw *= cfg_.efficiency;
  if (limited && cfg_.rate_limit) bw = std::min(bw, *cfg_.rate_limit);
  return bw;
}

const Link::Timed* Link::active(double t, FaultKind k) const {
  for (const auto& f : faults_)
    if (f.fault.kind == k && t >= f.fault.at_s && t < f.fault.at_s + f.fault.duration_s) return &f;
  return nullptr;
}

}  // namespace mdevsim::sim::net
