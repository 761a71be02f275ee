# The VMM speaks only the ABI: no file under DIR (sim/vmm) may include a
# device-model header, nor the headers that bring the models in (the hosts,
# the oracle), nor read the scenario's device configuration.
# Run as: cmake -DDIR=<dir> -P check_vmm_includes.cmake
file(GLOB_RECURSE _files ${DIR}/*.h ${DIR}/*.cpp)
list(LENGTH _files _count)
if(_count EQUAL 0)
  message(FATAL_ERROR "no sources under ${DIR}: nothing was checked")
endif()
set(_bad "")
foreach(f ${_files})
  file(STRINGS ${f} _hits REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](mdevsim/models/|models/|mdevsim/sim/host\\.h|verify/)")
  foreach(h ${_hits})
    string(APPEND _bad "\n  ${f}: ${h}")
  endforeach()
endforeach()
# Nor may it learn the device from the scenario's device model configuration
# (its page size gave the stream's record size) or through a named way
# around the ABI (the post-copy peek it once had).
set(_peeks "")
foreach(f ${_files})
  file(STRINGS ${f} _hits REGEX "device\\.config|PostcopyDevicePeek|TODO\\(abi\\)")
  foreach(h ${_hits})
    string(STRIP "${h}" h)
    string(APPEND _peeks "\n  ${f}: ${h}")
  endforeach()
endforeach()
if(NOT _bad STREQUAL "")
  message(FATAL_ERROR "sim/vmm must reach devices only through the VFIO ABI; these includes break the rule:${_bad}")
endif()
if(NOT _peeks STREQUAL "")
  message(FATAL_ERROR "sim/vmm must learn the device only through the VFIO ABI; these lines read it another way:${_peeks}")
endif()
message(STATUS "${_count} files under ${DIR}: no model includes")
