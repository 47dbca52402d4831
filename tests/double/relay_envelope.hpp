// The provincial relay's envelope as PLATFORM.md describes it: the body
// {"citynum": "<6 digits>", "data": Base64(SM4-ECB-PKCS#7(UTF-8 JSON, key))}
// with a 16-byte key. Written for the double with OpenSSL EVP directly, not
// with the worker's SM4 code, so that the two check each other.
#pragma once

#include <string>
#include <string_view>

namespace elicense::testdouble {

// SM4-ECB with PKCS#7 padding. `key` must be 16 bytes. Decrypt throws
// std::runtime_error (bad length, bad padding) without key material.
std::string Sm4EcbEncrypt(std::string_view plain, std::string_view key);
std::string Sm4EcbDecrypt(std::string_view cipher, std::string_view key);
// The raw block cipher on one 16-byte block, no padding (for the GB/T 32907 vector).
std::string Sm4EncryptBlock(std::string_view block16, std::string_view key);

// The relay's `data` field: Base64 of the SM4 ciphertext, and back.
std::string SealRelayData(std::string_view json_text, std::string_view key);
// \throws std::runtime_error saying what is wrong (Base64, length, padding, UTF-8).
std::string OpenRelayData(std::string_view data, std::string_view key);

}  // namespace elicense::testdouble
