// Fixture for VmmIncludeRule.DetectsAModelInclude: the include-rule check
// must refuse this file (it is never compiled).
#include "mdevsim/models/gpu_device.h"
