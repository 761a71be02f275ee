#include "vmm/context.h"

#include "mdevsim/vfio/frontend.h"

namespace mdevsim::sim::vmm {

std::string MigrationContext::refused_stream(long err) {
  const std::string e = vfio::errno_name(static_cast<int>(-err));
  if (!device_corrupted) return "the destination device refused the stream (" + e + ")";
  fail_outcome = "failed";
  return "device data corrupted in transit: the destination's stream check rejected it (" + e +
         "); nothing of it was applied";
}

}  // namespace mdevsim::sim::vmm
