// SystemC prints a copyright banner from inside main() unless this variable is
// set; a static initialiser runs before main(), so including this in exactly
// one translation unit of an executable keeps stdout/stderr clean.
#pragma once
#include <cstdlib>

namespace mdevsim::detail {
inline const bool kSystemcBannerDisabled = [] {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return true;
}();
}  // namespace mdevsim::detail
