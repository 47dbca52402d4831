// Secrets at rest (seal private keys, token PINs, seal-service client
// secrets) encrypted under a master key that is not in the database: a file
// the server reads (GUC elicense.master_key_file). AES-256-GCM, a random
// nonce per box, the purpose as associated data. A box names its master key
// by an 8-byte ID (a hash of the key), so rotation can tell which rows are
// still under the old key. Messages never quote a secret or a key.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace elicense::core {

inline constexpr std::size_t kMasterKeyBytes = 32;

// 32 raw bytes, or 64 hex digits with an optional trailing newline. Throws
// Error (22023) naming the path (and why), never its content.
Bytes ReadMasterKeyFile(const std::string &path);

// 8-byte ID of a master key (SHA-256 of a label and the key, truncated).
Bytes MasterKeyId(const Bytes &master_key);

// "ESB1" | key ID (8) | nonce (12) | ciphertext | tag (16).
Bytes SealSecret(const Bytes &master_key, std::string_view purpose, std::string_view secret);

// The secret of a box made under one of `master_keys` with the same purpose.
// Throws Error (22023) if the box is no box, its key is not among them, or it
// does not authenticate.
std::string OpenSecret(const std::vector<Bytes> &master_keys, std::string_view purpose, const Bytes &box);

// The key ID a box names (empty if `box` is no box).
Bytes SecretBoxKeyId(const Bytes &box);

}  // namespace elicense::core
