// The VFIO client finds the states it drives by their attributes and data
// rule (sim/vmm/vfio_client.cpp, ProtocolRoles), so a protocol file that
// renames and renumbers every state gives the same roles at the new values.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim/vfio/protocol.h"
#include "vmm/vfio_client.h"

namespace {

using namespace mdevsim;
using sim::vmm::ProtocolRoles;

// The kernel's v2 values (include/uapi/linux/vfio.h, enum vfio_device_mig_state).
TEST(VfioClientRoles, BuiltinV2HasTheKernelValues) {
  const auto r = ProtocolRoles::find(vfio::builtin_protocol_v2());
  EXPECT_EQ(r.error, 0u);
  EXPECT_EQ(r.stop, 1u);
  EXPECT_EQ(r.running, 2u);
  EXPECT_EQ(r.stop_copy, 3u);
  EXPECT_EQ(r.resuming, 4u);
  EXPECT_EQ(r.running_p2p, 5u);
  EXPECT_EQ(r.precopy, 6u);
  EXPECT_EQ(r.precopy_p2p, 7u);
  EXPECT_FALSE(r.serve);
  EXPECT_FALSE(r.resume_running);
  EXPECT_EQ(r.name_of(6), "PRE_COPY");
}

// v1's device_state bits: _RUNNING 1, _SAVING 2, _RESUMING 4.
TEST(VfioClientRoles, BuiltinV1HasTheRegionBits) {
  const auto r = ProtocolRoles::find(vfio::builtin_protocol_v1());
  EXPECT_EQ(r.stop, 0u);
  EXPECT_EQ(r.running, 1u);
  EXPECT_EQ(r.stop_copy, 2u);
  EXPECT_EQ(r.precopy, 3u);
  EXPECT_EQ(r.resuming, 4u);
  EXPECT_EQ(r.error, 6u);
}

TEST(VfioClientRoles, PostcopyProposalAddsServingAndResumeRunning) {
  const auto spec = vfio::resolve_protocol("v2-postcopy");
  const auto r = ProtocolRoles::find(spec);
  EXPECT_EQ(r.serve, 8u);
  EXPECT_EQ(r.resume_running, 9u);
  EXPECT_EQ(r.running, 2u) << "RESUMING_RUNNING also runs, but it is not the running state";
  EXPECT_EQ(r.resuming, 4u);
}

TEST(VfioClientRoles, RenamedAndRenumberedV2GivesTheSameRolesAtNewValues) {
  const std::string text = R"({
    "$schema": "mdevsim.protocol/1", "name": "renamed",
    "encoding": {"kind": "enum", "via": "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE"},
    "combination": "shortest_path",
    "features": [{"name": "stop_copy", "flag": 1, "mandatory": true},
                 {"name": "p2p", "flag": 2}, {"name": "pre_copy", "flag": 4}],
    "states": [
      {"name": "Broken", "value": 17, "attributes": ["error"]},
      {"name": "Halted", "value": 3},
      {"name": "Live", "value": 9, "attributes": ["running", "default"]},
      {"name": "Draining", "value": 12, "attributes": ["saving"], "data": "save"},
      {"name": "Loading", "value": 5, "attributes": ["resuming"], "data": "resume"},
      {"name": "Quiet", "value": 30, "attributes": ["running", "p2p_quiesced"], "requires": ["p2p"]},
      {"name": "Streaming", "value": 21, "attributes": ["running", "saving"], "data": "precopy", "requires": ["pre_copy"]},
      {"name": "Hushed", "value": 8, "attributes": ["running", "saving", "p2p_quiesced"], "data": "precopy", "requires": ["pre_copy", "p2p"]}
    ],
    "arcs": [
      {"from": "Halted", "to": "Draining", "session": "open_save"},
      {"from": "Draining", "to": "Halted", "session": "end_save"},
      {"from": "Halted", "to": "Loading", "session": "open_resume"},
      {"from": "Loading", "to": "Halted", "session": "end_resume"},
      {"from": "Live", "to": "Halted", "unless": ["p2p"]},
      {"from": "Halted", "to": "Live", "unless": ["p2p"]},
      {"from": "Live", "to": "Quiet"}, {"from": "Quiet", "to": "Live"},
      {"from": "Quiet", "to": "Halted"}, {"from": "Halted", "to": "Quiet"},
      {"from": "Live", "to": "Streaming", "session": "open_save"},
      {"from": "Streaming", "to": "Live", "session": "end_save"},
      {"from": "Streaming", "to": "Draining", "session": "keep", "unless": ["p2p"]},
      {"from": "Streaming", "to": "Hushed", "session": "keep"},
      {"from": "Hushed", "to": "Streaming", "session": "keep"},
      {"from": "Hushed", "to": "Quiet", "session": "end_save"},
      {"from": "Hushed", "to": "Draining", "session": "keep"},
      {"from": "Quiet", "to": "Hushed", "session": "open_save"}
    ]})";
  const auto spec = vfio::parse_protocol(text, "renamed.json");
  const auto r = ProtocolRoles::find(spec);
  EXPECT_EQ(r.error, 17u);
  EXPECT_EQ(r.stop, 3u);
  EXPECT_EQ(r.running, 9u);
  EXPECT_EQ(r.stop_copy, 12u);
  EXPECT_EQ(r.resuming, 5u);
  EXPECT_EQ(r.running_p2p, 30u);
  EXPECT_EQ(r.precopy, 21u);
  EXPECT_EQ(r.precopy_p2p, 8u);
  EXPECT_EQ(r.name_of(21), "Streaming");
}

}  // namespace
