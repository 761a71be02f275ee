// Proposals' additions to the VFIO uAPI. NOT IN ANY KERNEL: these are the
// definitions mdevsim's protocol proposals need (scenarios/protocols/*.json
// other than v1.json and v2.json), numbered after the kernel's last ioctl so
// they collide with nothing include/uapi/linux/vfio.h (6.12) defines. A real
// VMM talking to a real kernel never sees them.
#pragma once

#include <cstddef>

#include "mdevsim/vfio/uapi_kernel.h"

// ---- Post-copy proposal (scenarios/protocols/v2-postcopy.json) [sim] ------
// Not in any kernel: the ioctls a post-copy state pair would need. On the
// source's save fd in its serving state, REQUEST queues pages to be read
// next; on the destination's resume fd while it runs, FAULTS returns the
// pages its device touched while they were missing.
#define VFIO_MIGRATION_POST_COPY (1 << 3)
struct vfio_mig_postcopy_request {
  __u32 argsz;
  __u32 flags;  // 0: pages [first_page, first_page+count); BACKGROUND: up to count in device order
  __aligned_u64 first_page;
  __aligned_u64 count;
  __aligned_u64 queued;  // out: pages queued (still unsent, not queued before)
};
#define VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND (1 << 0)
#define VFIO_MIG_POSTCOPY_REQUEST_HOT_FIRST (1 << 1)
#define VFIO_MIG_POSTCOPY_REQUEST _IO(VFIO_TYPE, VFIO_BASE + 22)
struct vfio_mig_postcopy_faults {
  __u32 argsz;
  __u32 flags;             // in: 0, or FAULTS_EVENTFD
  __aligned_u64 capacity;  // in: room at pages
  __aligned_u64 count;     // out: faults returned
  __aligned_u64 pages;     // user pointer to capacity __u64 page indices
  __aligned_u64 missing;   // out: pages still missing
  // The extension: written only when argsz reaches it (the kernel's minsz
  // rule: a 40-byte caller still gets the fields above).
  __aligned_u64 record_bytes;  // out: resume-stream bytes each missing page takes when it arrives
  __s32 eventfd;               // out: with FAULTS_EVENTFD, the fault eventfd; else -1
  __u32 reserved;              // out: 0
};
// FAULTS_EVENTFD (argsz must reach `eventfd`): also hand out the resume
// session's fault eventfd, created on the first such call (later calls
// return the same fd). The device adds 1 to it for every fault it raises;
// it is non-blocking: read() of 8 bytes returns the count and zeroes it
// (EAGAIN at 0), poll() reports POLLIN while it is not 0. It stays open
// until closed, but is no longer signalled once the resume session ends.
// Only protocols whose "postcopy" block says "fault_delivery": "eventfd"
// offer it (EINVAL otherwise: such a device cannot signal, the VMM polls).
#define VFIO_MIG_POSTCOPY_FAULTS_EVENTFD (1 << 0)
#define VFIO_MIG_POSTCOPY_FAULTS _IO(VFIO_TYPE, VFIO_BASE + 23)
static_assert(sizeof(struct vfio_mig_postcopy_request) == 32);
static_assert(sizeof(struct vfio_mig_postcopy_faults) == 56);
static_assert(offsetof(struct vfio_mig_postcopy_faults, missing) == 32);
static_assert(offsetof(struct vfio_mig_postcopy_faults, record_bytes) == 40);
static_assert(offsetof(struct vfio_mig_postcopy_faults, eventfd) == 48);
// The size a caller without the extension passes (through `missing`).
#define VFIO_MIG_POSTCOPY_FAULTS_MINSZ 40
