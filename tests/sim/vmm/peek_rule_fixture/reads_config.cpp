// Fixture for VmmIncludeRule.DetectsADeviceConfigRead: the rule check must
// refuse this file (it is never compiled): the VMM computing the device
// stream's record size from the scenario's device configuration.
const uint64_t record = 16 + 8 + s_.device.config.page_size;
