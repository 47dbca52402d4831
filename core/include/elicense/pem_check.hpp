// Whether a key or certificate column holds what it claims: an unencrypted
// PEM private key, a PEM public key or a PEM X.509 certificate. Used by the
// triggers on seal (and load_seal), platform_key and province_secret, so that a bad value
// is refused when it is stored, not when a licence is sealed. The reasons
// never quote the value (it may be key material).
#pragma once

#include "elicense/cpp_only.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace elicense::core {

// kind: "private_key", "public_key" or "certificate". Why `pem` is not one,
// or nullopt when it parses. An unknown kind is a reason too.
std::optional<std::string> PemProblem(std::string_view kind, std::string_view pem);

}  // namespace elicense::core
