// Blind index of a holder ID number (issue 19): a keyed hash that lets the
// store find the licences of a holder by equality without keeping the number
// in clear. HMAC-SHA256 under an index key of its own (32 random bytes,
// stored encrypted under the master key: elicense.holder_index_key), with a
// domain label, truncated to 16 bytes. Without the key, the index of a
// candidate number cannot be computed, so the 18-digit space cannot be
// searched offline from a dump.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <string_view>

namespace elicense::core {

inline constexpr std::size_t kHolderIndexKeyBytes = 32;
inline constexpr std::size_t kHolderIndexBytes = 16;

// Throws Error (22023) if the key is not 32 bytes.
Bytes HolderBlindIndex(const Bytes &index_key, std::string_view holder_id);

}  // namespace elicense::core
