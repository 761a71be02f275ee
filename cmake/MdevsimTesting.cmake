# mdevsim_add_gtest(NAME SOURCES a.cpp b.cpp LIBS mdevsim::models ...)
#
# Every test binary links tests/support/gtest_sc_main.cpp, which provides the
# sc_main that runs GoogleTest (libsystemc owns main()). gtest_discover_tests
# runs each test case in its own process: the SystemC kernel cannot be
# restarted inside one process.
find_package(GTest REQUIRED)

# An INTERFACE library that adds the source to each test: sc_main must be in
# the executable itself, libsystemc.so only references it.
add_library(mdevsim_test_main INTERFACE)
target_sources(mdevsim_test_main INTERFACE ${PROJECT_SOURCE_DIR}/tests/support/gtest_sc_main.cpp)
target_link_libraries(mdevsim_test_main INTERFACE GTest::gtest GTest::gmock mdevsim::systemc)
target_include_directories(mdevsim_test_main INTERFACE ${PROJECT_SOURCE_DIR}/tests/support ${PROJECT_SOURCE_DIR}/sim/include
                                                    ${PROJECT_SOURCE_DIR}/models/common/include)

include(GoogleTest)
function(mdevsim_add_gtest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE mdevsim_test_main mdevsim_warnings ${ARG_LIBS})
  target_compile_definitions(${name} PRIVATE
    MDEVSIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}" MDEVSIM_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "MDEVSIM_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
