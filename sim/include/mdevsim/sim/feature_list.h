// Checking a --features list against a protocol, with a message that names
// the word at fault (shared by mdevsim step and mdevsim fsm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mdevsim/vfio/protocol.h"

namespace mdevsim::sim {

// The flags of `list` (comma separated), or nullopt with `why` saying which
// word is not a feature of `p`, or which mandatory feature is missing.
inline std::optional<uint64_t> check_feature_list(const vfio::ProtocolSpec& p,
                                                  const std::string& list, std::string& why) {
  const std::string known = "the features of " + p.name + ": " + p.features_name(p.all_flags());
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string word = list.substr(start, comma - start);
    if (word.empty() || !p.parse_features(word)) {
      why = (word.empty() ? std::string("an empty name") : "'" + word + "'") +
            " is not a feature (" + known + ")";
      return std::nullopt;
    }
    start = comma + 1;
  }
  const auto flags = p.parse_features(list);
  if (!flags) {
    why = "not a feature list (" + known + ")";
    return std::nullopt;
  }
  if ((*flags & p.mandatory_flags()) != p.mandatory_flags()) {
    why = p.features_name(p.mandatory_flags()) + " is mandatory (" + known + ")";
    return std::nullopt;
  }
  return flags;
}

}  // namespace mdevsim::sim
