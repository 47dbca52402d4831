// Preview URL tokens: round trip, every single-character change and every
// truncation is refused, another key is refused, the format is compact and
// URL-safe, and the base64url codec has exactly one spelling per value.
#include "elicense/error.hpp"
#include "elicense/preview_token.hpp"

#include <gtest/gtest.h>

namespace elicense::core {
namespace {

constexpr char kIdentifier[] = "1110000000001333800W05011350000003591037R00000100001";

Bytes Key(std::uint8_t fill) {
	return Bytes(32, fill);
}

TEST(PreviewToken, RoundTrip) {
	std::string token = MakePreviewToken(Key(7), 3, kIdentifier, 1893456000);
	auto claims = ReadPreviewToken(token);
	ASSERT_TRUE(claims);
	EXPECT_EQ(claims->key_id, 3);
	EXPECT_EQ(claims->identifier, kIdentifier);
	EXPECT_EQ(claims->expires_at, 1893456000);
	EXPECT_TRUE(VerifyPreviewToken(token, Key(7)));
	EXPECT_FALSE(VerifyPreviewToken(token, Key(8)));
	// URL-safe and compact: header + identifier + 16-byte MAC.
	EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	          std::string::npos);
	EXPECT_EQ(token.size(), (6 + sizeof kIdentifier - 1 + 16) * 4 / 3 + 1);
}

TEST(PreviewToken, EveryChangedCharacterIsRefused) {
	std::string token = MakePreviewToken(Key(1), 1, kIdentifier, 2000000000);
	for (std::size_t i = 0; i < token.size(); ++i) {
		for (char c : {'A', 'z', '0', '-', '_'}) {
			if (token[i] == c)
				continue;
			std::string bad = token;
			bad[i] = c;
			EXPECT_FALSE(VerifyPreviewToken(bad, Key(1))) << "position " << i << " -> " << c;
		}
	}
	for (std::size_t n = 0; n < token.size(); ++n)
		EXPECT_FALSE(VerifyPreviewToken(token.substr(0, n), Key(1))) << n;
	EXPECT_FALSE(VerifyPreviewToken(token + "A", Key(1)));
	EXPECT_FALSE(VerifyPreviewToken(token + "AA", Key(1)));
}

TEST(PreviewToken, ExpiryAndKeyIdAreSigned) {
	// A token re-made with a later expiry or another key id by someone
	// without the key: the MAC no longer matches.
	std::string token = MakePreviewToken(Key(1), 1, kIdentifier, 1000);
	Bytes raw = *Base64UrlDecode(token);
	raw[5] = 0xFF;  // expiry
	EXPECT_FALSE(VerifyPreviewToken(Base64UrlEncode(raw), Key(1)));
	ASSERT_TRUE(ReadPreviewToken(Base64UrlEncode(raw)));
	raw = *Base64UrlDecode(token);
	raw[1] = 2;  // key id
	EXPECT_FALSE(VerifyPreviewToken(Base64UrlEncode(raw), Key(1)));
}

TEST(PreviewToken, GarbageIsNotAToken) {
	for (const char *garbage : {"", "x", "....", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "../../etc/passwd",
	                            "%2e%2e", "AAAA=", "licence.ofd"}) {
		EXPECT_FALSE(ReadPreviewToken(garbage)) << garbage;
		EXPECT_FALSE(VerifyPreviewToken(garbage, Key(1))) << garbage;
	}
	EXPECT_FALSE(ReadPreviewToken(std::string(kPreviewTokenMaxChars + 1, 'A')));
}

TEST(PreviewToken, BadInputsAreRejected) {
	EXPECT_THROW(MakePreviewToken(Bytes(31, 1), 1, kIdentifier, 1000), Error);
	EXPECT_THROW(MakePreviewToken(Key(1), 0, kIdentifier, 1000), Error);
	EXPECT_THROW(MakePreviewToken(Key(1), 256, kIdentifier, 1000), Error);
	EXPECT_THROW(MakePreviewToken(Key(1), 1, kIdentifier, 0), Error);
	EXPECT_THROW(MakePreviewToken(Key(1), 1, kIdentifier, 0x100000000LL), Error);
	EXPECT_THROW(MakePreviewToken(Key(1), 1, "", 1000), Error);
	EXPECT_THROW(MakePreviewToken(Key(1), 1, "a/b", 1000), Error);
	EXPECT_THROW(MakePreviewToken(Key(1), 1, std::string(129, 'A'), 1000), Error);
	EXPECT_FALSE(VerifyPreviewToken(MakePreviewToken(Key(1), 1, kIdentifier, 1000), Bytes(16, 1)));
}

TEST(Base64Url, RoundTripAndCanonical) {
	for (std::size_t n = 0; n < 40; ++n) {
		Bytes data(n);
		for (std::size_t i = 0; i < n; ++i)
			data[i] = static_cast<std::uint8_t>(i * 37 + n);
		std::string text = Base64UrlEncode(data);
		EXPECT_EQ(Base64UrlDecode(text), data);
	}
	EXPECT_EQ(Base64UrlEncode(ToBytes("\xfb\xff")), "-_8");
	EXPECT_FALSE(Base64UrlDecode("-_9"));  // non-zero leftover bits
	EXPECT_FALSE(Base64UrlDecode("A"));
	EXPECT_FALSE(Base64UrlDecode("AB+/"));
}

}  // namespace
}  // namespace elicense::core
