// SM4 (GB/T 32907-2016) in ECB mode with PKCS#7 padding, as the provincial
// relay envelope uses it (PLATFORM.md "Provincial relay"): the key is 16
// bytes (16 ASCII characters from configuration).
//
// OpenSSL 3 ships SM4 in its default provider. The cipher is fetched in a
// private OSSL_LIB_CTX that this file owns, so the default context of the
// process (PostgreSQL's own SSL, if this ever runs in the server) is never
// changed and no provider is loaded into it. Thread-safe. Errors are
// core::Error; messages never contain the key or the data.
#pragma once

#include "elicense/cpp_only.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace elicense::core {

inline constexpr std::size_t kSm4KeyLength = 16;
inline constexpr std::size_t kSm4BlockLength = 16;

// SM4-ECB-PKCS#7(plain, key): always a whole number of blocks, at least one
// (a whole block of padding when plain is a multiple of 16 bytes).
// \throws Error 22023 if key is not kSm4KeyLength bytes; 0A000 if OpenSSL has no SM4.
std::string Sm4EcbEncrypt(std::string_view plain, std::string_view key);

// Inverse of Sm4EcbEncrypt.
// \throws Error 22023 for a wrong key length, a ciphertext that is not a
// whole, non-zero number of blocks, or padding that does not check.
std::string Sm4EcbDecrypt(std::string_view cipher, std::string_view key);

}  // namespace elicense::core
