// The VFIO uAPI as mdevsim speaks it: the kernel's definitions
// (uapi_kernel.h, include/uapi/linux/vfio.h of Linux 6.12) and the protocol
// proposals' additions that no kernel has (uapi_proposals.h). New code
// includes the one it needs; this header keeps the old include path.
#pragma once

#include "mdevsim/vfio/uapi_kernel.h"
#include "mdevsim/vfio/uapi_proposals.h"
