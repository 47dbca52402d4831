// Preview URL tokens (see preview_token.hpp). The MAC input starts with a
// domain label so a MAC made with this key for anything else never
// validates as a token.
#include "elicense/preview_token.hpp"

#include "elicense/error.hpp"

#include "base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace elicense::core {
namespace {

constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kHeaderBytes = 6;  // format, key id, expiry
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kMaxIdentifierBytes = 128;
constexpr char kDomain[] = "elicense-preview-token";

bool IdentifierChar(unsigned char c) {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' || c == '_' ||
	       c == '-';
}

bool ValidIdentifier(std::string_view identifier) {
	if (identifier.empty() || identifier.size() > kMaxIdentifierBytes)
		return false;
	for (unsigned char c : identifier)
		if (!IdentifierChar(c))
			return false;
	return true;
}

// HMAC-SHA256(key, domain || 0 || signed), truncated; false if OpenSSL fails.
bool Mac(const Bytes &key, const std::uint8_t *data, std::size_t size, std::array<std::uint8_t, 32> &out) {
	Bytes input(kDomain, kDomain + sizeof kDomain);  // with its NUL as separator
	input.insert(input.end(), data, data + size);
	unsigned int len = 0;
	return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), input.data(), input.size(), out.data(), &len) !=
	           nullptr &&
	       len == out.size();
}

// A token's bytes and claims, decoded once.
struct DecodedToken {
	Bytes raw;
	PreviewTokenClaims claims;
};

// nullopt unless the token is well formed: format, key id, expiry, identifier.
std::optional<DecodedToken> DecodeToken(std::string_view token) {
	if (token.size() > kPreviewTokenMaxChars)
		return std::nullopt;
	std::optional<Bytes> raw = Base64UrlDecode(token);
	if (!raw || raw->size() < kHeaderBytes + 1 + kMacBytes || (*raw)[0] != kFormat || (*raw)[1] == 0)
		return std::nullopt;
	PreviewTokenClaims claims;
	claims.key_id = (*raw)[1];
	for (std::size_t i = 2; i < kHeaderBytes; ++i)
		claims.expires_at = (claims.expires_at << 8) | (*raw)[i];
	claims.identifier.assign(raw->begin() + kHeaderBytes, raw->end() - kMacBytes);
	if (!ValidIdentifier(claims.identifier) || claims.expires_at == 0)
		return std::nullopt;
	return DecodedToken {std::move(*raw), std::move(claims)};
}

}  // namespace

std::string Base64UrlEncode(const Bytes &data) {
	return EncodeBase64(data.data(), data.size(), Base64Alphabet::kUrl);
}

std::optional<Bytes> Base64UrlDecode(std::string_view text) {
	if (text.size() % 4 == 1)
		return std::nullopt;
	Bytes out;
	out.reserve(text.size() * 3 / 4);
	std::uint32_t acc = 0;
	int bits = 0;
	for (char c : text) {
		int v = Base64SymbolValue(c, Base64Alphabet::kUrl);
		if (v < 0)
			return std::nullopt;
		acc = (acc << 6) | static_cast<std::uint32_t>(v);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
		}
	}
	// Leftover bits must be zero, so every token has exactly one spelling.
	if (bits && (acc & ((1u << bits) - 1)))
		return std::nullopt;
	return out;
}

std::string MakePreviewToken(const Bytes &key, int key_id, std::string_view identifier, std::int64_t expires_at) {
	if (key.size() < kPreviewKeyMinBytes)
		throw Error(sqlstate::kInvalidParameterValue,
		            "preview key has " + std::to_string(key.size()) + " bytes, needs at least " +
		                std::to_string(kPreviewKeyMinBytes),
		            "", "elicense.rotate_preview_key() makes a random 32-byte key");
	if (key_id < 1 || key_id > 255)
		throw Error(sqlstate::kInvalidParameterValue, "preview key id " + std::to_string(key_id) + " is not in 1..255");
	if (expires_at < 1 || expires_at > 0xFFFFFFFFLL)
		throw Error(sqlstate::kInvalidParameterValue,
		            "preview token expiry " + std::to_string(expires_at) + " is not a Unix time in 1..2^32-1");
	if (!ValidIdentifier(identifier))
		throw Error(sqlstate::kInvalidParameterValue,
		            "licence identifier \"" + std::string(identifier) + "\" cannot go in a preview token",
		            "1 to 128 characters out of [0-9A-Za-z._-]");
	Bytes raw;
	raw.reserve(kHeaderBytes + identifier.size() + kMacBytes);
	raw.push_back(kFormat);
	raw.push_back(static_cast<std::uint8_t>(key_id));
	for (int shift : {24, 16, 8, 0})
		raw.push_back(static_cast<std::uint8_t>((static_cast<std::uint64_t>(expires_at) >> shift) & 0xFF));
	raw.insert(raw.end(), identifier.begin(), identifier.end());
	std::array<std::uint8_t, 32> mac {};
	if (!Mac(key, raw.data(), raw.size(), mac))
		throw Error(sqlstate::kInternalError, "HMAC-SHA256 failed");
	raw.insert(raw.end(), mac.begin(), mac.begin() + kMacBytes);
	return Base64UrlEncode(raw);
}

std::optional<PreviewTokenClaims> ReadPreviewToken(std::string_view token) noexcept {
	try {
		if (auto decoded = DecodeToken(token))
			return std::move(decoded->claims);
		return std::nullopt;
	} catch (...) {
		return std::nullopt;  // out of memory only
	}
}

std::optional<PreviewTokenClaims> VerifyPreviewToken(std::string_view token, const Bytes &key) noexcept {
	try {
		if (key.size() < kPreviewKeyMinBytes)
			return std::nullopt;
		std::optional<DecodedToken> decoded = DecodeToken(token);
		if (!decoded)
			return std::nullopt;
		const Bytes &raw = decoded->raw;
		std::size_t signed_size = raw.size() - kMacBytes;
		std::array<std::uint8_t, 32> mac {};
		if (!Mac(key, raw.data(), signed_size, mac) ||
		    CRYPTO_memcmp(mac.data(), raw.data() + signed_size, kMacBytes) != 0)
			return std::nullopt;
		return std::move(decoded->claims);
	} catch (...) {
		return std::nullopt;
	}
}

}  // namespace elicense::core
