// The kernel's VFIO uAPI, include/uapi/linux/vfio.h as of Linux 6.12, and
// nothing else: <linux/vfio.h> from the build machine (Debian 12: Linux 6.1)
// plus, in this one place, the definitions mdevsim uses that arrived later
// (all 6.2: PRE_COPY, PRE_COPY_P2P, VFIO_MIG_GET_PRECOPY_INFO, struct
// vfio_precopy_info, VFIO_DEVICE_FEATURE_MIG_DATA_SIZE). Values and layouts
// are 6.12's (unchanged since 6.2); every layout is checked by static_assert
// below. Additions that no kernel has (the post-copy proposal) are in
// uapi_proposals.h.
//
// v1 names: the 6.1 header already spells the v1 state bits
// VFIO_DEVICE_STATE_V1_* (the unprefixed names now belong to the v2 enum,
// with different values), so v1 code uses only the _V1_ spellings.
#pragma once

#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

// ---- 6.2+: pre-copy and data size -----------------------------------------
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#endif

inline constexpr uint32_t kVfioDeviceStatePreCopy = 6;     // VFIO_DEVICE_STATE_PRE_COPY
inline constexpr uint32_t kVfioDeviceStatePreCopyP2P = 7;  // VFIO_DEVICE_STATE_PRE_COPY_P2P
inline constexpr uint32_t kVfioDeviceStateCount = 8;       // VFIO_DEVICE_STATE_NR

#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info {
  __u32 argsz;
  __u32 flags;
  __aligned_u64 initial_bytes;
  __aligned_u64 dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
struct vfio_device_feature_mig_data_size {
  __aligned_u64 stop_copy_length;
};
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif

// ---- layout checks --------------------------------------------------------
// Sizes and offsets from the reference fact sheet, checked against the
// system header's own definitions.
#define MDEVSIM_CHECK_FIELD(type, field, off) \
  static_assert(offsetof(struct type, field) == (off), #type "." #field " offset")

static_assert(VFIO_TYPE == ';' && VFIO_BASE == 100);
static_assert(VFIO_DEVICE_GET_REGION_INFO == 0x3B6C);
static_assert(VFIO_DEVICE_RESET == 0x3B6F);
static_assert(VFIO_DEVICE_FEATURE == 0x3B75 && VFIO_IOMMU_DIRTY_PAGES == 0x3B75);
static_assert(VFIO_MIG_GET_PRECOPY_INFO == 0x3B79);

static_assert(sizeof(struct vfio_region_info) == 32);
MDEVSIM_CHECK_FIELD(vfio_region_info, argsz, 0);
MDEVSIM_CHECK_FIELD(vfio_region_info, flags, 4);
MDEVSIM_CHECK_FIELD(vfio_region_info, index, 8);
MDEVSIM_CHECK_FIELD(vfio_region_info, cap_offset, 12);
MDEVSIM_CHECK_FIELD(vfio_region_info, size, 16);
MDEVSIM_CHECK_FIELD(vfio_region_info, offset, 24);
static_assert(sizeof(struct vfio_info_cap_header) == 8);
MDEVSIM_CHECK_FIELD(vfio_info_cap_header, id, 0);
MDEVSIM_CHECK_FIELD(vfio_info_cap_header, version, 2);
MDEVSIM_CHECK_FIELD(vfio_info_cap_header, next, 4);
static_assert(sizeof(struct vfio_region_info_cap_type) == 16);
MDEVSIM_CHECK_FIELD(vfio_region_info_cap_type, type, 8);
MDEVSIM_CHECK_FIELD(vfio_region_info_cap_type, subtype, 12);
static_assert(sizeof(struct vfio_region_info_cap_sparse_mmap) == 16);
MDEVSIM_CHECK_FIELD(vfio_region_info_cap_sparse_mmap, nr_areas, 8);
MDEVSIM_CHECK_FIELD(vfio_region_info_cap_sparse_mmap, areas, 16);
static_assert(sizeof(struct vfio_region_sparse_mmap_area) == 16);
static_assert(sizeof(struct vfio_device_info) == 20 || sizeof(struct vfio_device_info) == 24);

static_assert(sizeof(struct vfio_device_migration_info) == 32);
MDEVSIM_CHECK_FIELD(vfio_device_migration_info, device_state, 0);
MDEVSIM_CHECK_FIELD(vfio_device_migration_info, reserved, 4);
MDEVSIM_CHECK_FIELD(vfio_device_migration_info, pending_bytes, 8);
MDEVSIM_CHECK_FIELD(vfio_device_migration_info, data_offset, 16);
MDEVSIM_CHECK_FIELD(vfio_device_migration_info, data_size, 24);
static_assert(VFIO_DEVICE_STATE_V1_STOP == 0 && VFIO_DEVICE_STATE_V1_RUNNING == 1 &&
              VFIO_DEVICE_STATE_V1_SAVING == 2 && VFIO_DEVICE_STATE_V1_RESUMING == 4 &&
              VFIO_DEVICE_STATE_MASK == 7);
static_assert(VFIO_REGION_TYPE_MIGRATION_DEPRECATED == 3 &&
              VFIO_REGION_SUBTYPE_MIGRATION_DEPRECATED == 1);

static_assert(sizeof(struct vfio_device_feature) == 8);
MDEVSIM_CHECK_FIELD(vfio_device_feature, argsz, 0);
MDEVSIM_CHECK_FIELD(vfio_device_feature, flags, 4);
MDEVSIM_CHECK_FIELD(vfio_device_feature, data, 8);
static_assert(VFIO_DEVICE_FEATURE_GET == 0x10000 && VFIO_DEVICE_FEATURE_SET == 0x20000 &&
              VFIO_DEVICE_FEATURE_PROBE == 0x40000 && VFIO_DEVICE_FEATURE_MASK == 0xffff);
static_assert(sizeof(struct vfio_device_feature_migration) == 8);
static_assert(VFIO_MIGRATION_STOP_COPY == 1 && VFIO_MIGRATION_P2P == 2 &&
              VFIO_MIGRATION_PRE_COPY == 4);
static_assert(sizeof(struct vfio_device_feature_mig_state) == 8);
MDEVSIM_CHECK_FIELD(vfio_device_feature_mig_state, device_state, 0);
MDEVSIM_CHECK_FIELD(vfio_device_feature_mig_state, data_fd, 4);
static_assert(VFIO_DEVICE_STATE_ERROR == 0 && VFIO_DEVICE_STATE_STOP == 1 &&
              VFIO_DEVICE_STATE_RUNNING == 2 && VFIO_DEVICE_STATE_STOP_COPY == 3 &&
              VFIO_DEVICE_STATE_RESUMING == 4 && VFIO_DEVICE_STATE_RUNNING_P2P == 5);
static_assert(sizeof(struct vfio_precopy_info) == 24);
MDEVSIM_CHECK_FIELD(vfio_precopy_info, initial_bytes, 8);
MDEVSIM_CHECK_FIELD(vfio_precopy_info, dirty_bytes, 16);
static_assert(sizeof(struct vfio_device_feature_mig_data_size) == 8);

static_assert(sizeof(struct vfio_device_feature_dma_logging_control) == 24);
MDEVSIM_CHECK_FIELD(vfio_device_feature_dma_logging_control, page_size, 0);
MDEVSIM_CHECK_FIELD(vfio_device_feature_dma_logging_control, num_ranges, 8);
MDEVSIM_CHECK_FIELD(vfio_device_feature_dma_logging_control, ranges, 16);
static_assert(sizeof(struct vfio_device_feature_dma_logging_range) == 16);
static_assert(sizeof(struct vfio_device_feature_dma_logging_report) == 32);
MDEVSIM_CHECK_FIELD(vfio_device_feature_dma_logging_report, page_size, 16);
MDEVSIM_CHECK_FIELD(vfio_device_feature_dma_logging_report, bitmap, 24);

static_assert(sizeof(struct vfio_iommu_type1_dirty_bitmap) == 8);
static_assert(sizeof(struct vfio_iommu_type1_dirty_bitmap_get) == 40);
MDEVSIM_CHECK_FIELD(vfio_iommu_type1_dirty_bitmap_get, bitmap, 16);
static_assert(sizeof(struct vfio_bitmap) == 24);
MDEVSIM_CHECK_FIELD(vfio_bitmap, data, 16);
static_assert(VFIO_IOMMU_DIRTY_PAGES_FLAG_START == 1 && VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP == 2 &&
              VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP == 4);
static_assert(sizeof(struct vfio_iommu_type1_dma_map) == 32);

#undef MDEVSIM_CHECK_FIELD
