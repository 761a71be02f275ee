// Proposals' additions to the VFIO uAPI. NOT IN ANY KERNEL: these are the
// definitions mdevsim's protocol proposals need (scenarios/protocols/*.json
// other than v1.json and v2.json), numbered after the kernel's last ioctl so
// they collide with nothing include/uapi/linux/vfio.h (6.12) defines. A real
// VMM talking to a real kernel never sees them.
#pragma once

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
  __u32 flags;
  __aligned_u64 capacity;  // in: room at pages
  __aligned_u64 count;     // out: faults returned
  __aligned_u64 pages;     // user pointer to capacity __u64 page indices
  __aligned_u64 missing;   // out: pages still missing
};
#define VFIO_MIG_POSTCOPY_FAULTS _IO(VFIO_TYPE, VFIO_BASE + 23)
static_assert(sizeof(struct vfio_mig_postcopy_request) == 32);
static_assert(sizeof(struct vfio_mig_postcopy_faults) == 40);
