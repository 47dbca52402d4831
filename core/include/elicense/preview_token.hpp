// The token in a preview URL: an unguessable, per-version
// capability with an expiry. Compact binary, base64url without padding:
//
//   [1] format (1)  [1] key id  [4] expiry, Unix seconds, big-endian
//   [n] licence identifier (ASCII)  [16] HMAC-SHA256 over everything before it
//
// The MAC (HMAC-SHA256 truncated to 128 bits, RFC 2104 §5) is keyed with a
// secret only the database knows (elicense.preview_key); the key id lets an
// admin add a new key while URLs made with the old one stay valid until
// that key is deleted. Nothing in the token is secret: the identifier is on
// the licence's face anyway; the MAC is what makes the URL unguessable.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace elicense::core {

inline constexpr std::size_t kPreviewKeyMinBytes = 32;
inline constexpr std::size_t kPreviewTokenMaxChars = 256;

struct PreviewTokenClaims {
	int key_id = 0;               // 1..255
	std::string identifier;       // licence identifier of the version
	std::int64_t expires_at = 0;  // Unix seconds
};

// Makes a token. Throws Error (22023) for a key shorter than
// kPreviewKeyMinBytes, a key id outside 1..255, an expiry outside
// 1..2^32-1 or an identifier that is empty, longer than 128 bytes or has
// characters other than [0-9A-Za-z._-].
std::string MakePreviewToken(const Bytes &key, int key_id, std::string_view identifier, std::int64_t expires_at);

// The claims of a well-formed token, without checking its MAC (the caller
// needs the key id to find the key); nullopt for anything else. Never throws.
std::optional<PreviewTokenClaims> ReadPreviewToken(std::string_view token) noexcept;

// The claims of a well-formed token whose MAC is right for `key`
// (constant-time comparison); nullopt for anything else. Never throws.
std::optional<PreviewTokenClaims> VerifyPreviewToken(std::string_view token, const Bytes &key) noexcept;

// base64url without padding (RFC 4648 §5), and back; nullopt for characters
// outside the alphabet or an impossible length.
std::string Base64UrlEncode(const Bytes &data);
std::optional<Bytes> Base64UrlDecode(std::string_view text);

}  // namespace elicense::core
