// Secrets, tokens and links of the gateway. An application's secret is kept
// only as a PBKDF2-HMAC-SHA256 hash ("pbkdf2-sha256$iterations$salt$hash",
// Base64; elicense.gateway_secret); tokens and download-link keys are random
// (256 bits, Base64url) and kept only as their SHA-256.
#pragma once

#include <string>
#include <string_view>

namespace elicense::gateway {

constexpr int kPbkdf2Iterations = 100000;

// `bytes` random bytes (OpenSSL RAND_bytes) as Base64url without padding.
std::string RandomKey(std::size_t bytes = 32);

// The raw 32-byte SHA-256 of `text`, and the same as lowercase hex.
std::string Sha256(std::string_view text);
std::string Hex(std::string_view bytes);

std::string Base64(std::string_view bytes);
// Strict standard Base64 (padding required, no whitespace); false if malformed.
bool FromBase64(std::string_view text, std::string &out);

// A new salted hash of `secret` in the stored format.
std::string HashSecret(std::string_view secret, int iterations = kPbkdf2Iterations);
// Whether `secret` matches `stored` (constant-time comparison); false for a
// malformed `stored`.
bool SecretMatches(std::string_view secret, std::string_view stored);

}  // namespace elicense::gateway
