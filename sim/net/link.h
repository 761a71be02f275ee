// The migration network: an sc_module carrying N channels (the driver's main
// stream, and with multifd its channels, vmm/multifd.h) that share the
// link's bandwidth max-min fairly, each at most link.stream_cap, with its
// latency, an optional migration rate limit lifted at switchover (as QEMU
// does), and the faults that act on the wire: link down, degraded, a host
// crashing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include <systemc>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"

namespace mdevsim::sim {
class RunRecorder;
}

namespace mdevsim::sim::net {

inline double now() { return sc_core::sc_time_stamp().to_seconds(); }
// At least one time-resolution step: a positive wait shorter than that would
// round to a delta cycle, and a loop waiting for a time a few ulps ahead of
// now() (a fault's end) would spin without simulated time advancing.
inline void wait_s(double s) {
  if (s > 0)
    sc_core::wait(std::max(sc_core::sc_time::from_seconds(s), sc_core::sc_get_time_resolution()));
}

class Link : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Link);
  static constexpr double kSlice = 0.01;  // transfers advance in slices of at most 10 ms

  // One stream over the link. Channels transferring at once share the
  // link's bandwidth max-min fairly: each gets an equal share, except that a
  // channel whose own pace (its cap, at most link.stream_cap) is below it
  // leaves the rest to the others (water-filling).
  class Channel {
   public:
    // Moves `bytes` (waits their transfer time). False: the link stayed down
    // longer than the link timeout, a host crashed (crashed()), or a pre-copy
    // (`limited`) transfer reached the migration's deadline (timed_out(); the
    // bytes were not all moved). `cap` (bytes/s) is the sender's own pace:
    // the bytes move at the slower of it and the channel's share.
    bool transfer(uint64_t bytes, bool limited,
                  double cap = std::numeric_limits<double>::infinity());
    bool timed_out() const { return timed_out_; }
    uint64_t moved() const { return moved_; }  // bytes of the last transfer that arrived

   private:
    friend class Link;
    explicit Channel(Link& link) : link_(&link) {}
    Link* link_;
    bool timed_out_ = false;
    uint64_t moved_ = 0;
    double in_flight_ = 0;  // bytes of the transfer under way
    double pace_ = 0;       // the transfer's own cap (sender and stream)
    bool busy_ = false;     // in a transfer
  };

  // `records` (one per scenario fault, same order) collects the time each
  // link_down cost.
  Link(sc_core::sc_module_name name, const LinkSection& l, const std::vector<Fault>& faults,
       double link_timeout, std::vector<FaultResult>& records, size_t channels = 1);

  Channel& channel(size_t i) { return channels_.at(i); }
  // One more channel (before the simulation uses the link); its index.
  size_t add_channel() {
    channels_.push_back(Channel(*this));
    return channels_.size() - 1;
  }
  size_t channel_count() const { return channels_.size(); }

  // The first channel (the driver's only stream today).
  bool transfer(uint64_t bytes, bool limited,
                double cap = std::numeric_limits<double>::infinity()) {
    return channels_[0].transfer(bytes, limited, cap);
  }
  // Any channel's last transfer reached the deadline.
  bool timed_out() const {
    for (const auto& c : channels_)
      if (c.timed_out_) return true;
    return false;
  }
  uint64_t moved() const { return channels_[0].moved(); }

  void latency() { wait_s(cfg_.latency_s); }
  double latency_s() const { return cfg_.latency_s; }
  double stream_cap() const { return cfg_.stream_cap; }

  // Pre-copy's time limit (migration.timeout): no pre-copy transfer runs past
  // it, so a link too slow for even one pass still ends on time. 0: none.
  void set_deadline(double t) {
    deadline_ = t;
    for (auto& c : channels_) c.timed_out_ = false;
  }
  RunRecorder* recorder = nullptr;  // link spans and bytes in flight (null: none)

  // A host has crashed by now (the first crash fault ends the migration).
  bool crashed() const { return now() >= crash_at_; }
  bool dest_crashed() const { return crashed() && crash_kind_ == FaultKind::kDestCrash; }
  bool source_crashed() const { return crashed() && crash_kind_ == FaultKind::kSourceCrash; }
  size_t crash_index() const { return crash_index_; }
  // Why the last transfer failed, for the result's reason.
  std::string failure() const;

  // The whole link's usable bandwidth at `t`: the line rate (or a degraded
  // one) times link.efficiency, and for pre-copy the rate limit (QEMU's
  // max-bandwidth counts the bytes it writes, so it is not scaled).
  double bandwidth(double t, bool limited) const;

 private:
  struct Timed {
    Fault fault;
    size_t index;  // in the scenario's list
  };
  const Timed* active(double t, FaultKind k) const;
  // The rate of a busy channel whose own pace is `pace`.
  double rate(double t, bool limited, double pace) const;
  void progress(double t);
  void report_progress();  // the one writer of the recorder's bytes in flight
  // Wakes the channels in a slice (a single channel never waits on this).
  void share_changed() {
    if (channels_.size() > 1) share_changed_.notify();
  }

  LinkSection cfg_;
  double link_timeout_;
  std::vector<FaultResult>& records_;
  std::vector<Timed> faults_;
  std::vector<double> lost_to_;   // per scenario fault: the link-down time counted up to
  std::deque<Channel> channels_;  // stable addresses: channel() references outlive add_channel
  size_t busy_ = 0;               // channels in a transfer
  sc_core::sc_event share_changed_;
  sc_core::sc_event progress_due_;
  double crash_at_ = std::numeric_limits<double>::infinity();
  size_t crash_index_ = 0;
  FaultKind crash_kind_ = FaultKind::kDestCrash;
  double deadline_ = 0;
};

}  // namespace mdevsim::sim::net
