// Blind index of a holder ID number (core/include/elicense/blind_index.hpp):
// HMAC-SHA256 of the domain label, a NUL and the number, under the index key,
// truncated to 16 bytes; checked against `openssl mac ... HMAC` run as a
// separate process, and for what a lookup relies on (same number, same
// index; another number or key, another index).
#include "elicense/blind_index.hpp"
#include "elicense/error.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace elicense::core {
namespace {

std::string ToHex(const Bytes &bytes) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (std::uint8_t c : bytes) {
		out.push_back(digits[c >> 4]);
		out.push_back(digits[c & 15]);
	}
	return out;
}

// `openssl mac` run as a separate process (its options go before the MAC's
// name, so not through tests/support/openssl_cli.hpp, which appends them).
std::string OpensslHmacSha256(const std::string &key_hex, const std::string &input) {
	std::string base = "/tmp/elicense_blind_index_" + std::to_string(getpid());
	{
		std::ofstream f(base + ".in", std::ios::binary);
		f << input;
	}
	std::string command = "openssl mac -digest SHA256 -binary -macopt hexkey:" + key_hex + " -in " + base +
	                      ".in -out " + base + ".out HMAC 2>/dev/null";
	int rc = std::system(command.c_str());
	std::stringstream out;
	out << std::ifstream(base + ".out", std::ios::binary).rdbuf();
	std::remove((base + ".in").c_str());
	std::remove((base + ".out").c_str());
	EXPECT_EQ(rc, 0) << command;
	return out.str();
}

Bytes Key(std::uint8_t first) {
	Bytes key(kHolderIndexKeyBytes);
	for (std::size_t i = 0; i < key.size(); ++i)
		key[i] = static_cast<std::uint8_t>(first + i);
	return key;
}

TEST(BlindIndex, IsTheTruncatedHmacOfLabelAndNumber) {
	Bytes key = Key(1);
	std::string input = std::string("elicense holder index v1") + '\0' + "350102199001011238";
	std::string mac = OpensslHmacSha256(ToHex(key), input);
	ASSERT_EQ(mac.size(), 32u);
	EXPECT_EQ(ToHex(HolderBlindIndex(key, "350102199001011238")), ToHex(Bytes(mac.begin(), mac.begin() + 16)));
}

TEST(BlindIndex, SameNumberSameIndexOtherNumberOrKeyOther) {
	Bytes key = Key(1);
	Bytes a = HolderBlindIndex(key, "350102199001011238");
	EXPECT_EQ(a.size(), kHolderIndexBytes);
	EXPECT_EQ(a, HolderBlindIndex(key, "350102199001011238"));
	EXPECT_NE(a, HolderBlindIndex(key, "440304198506121230"));
	EXPECT_NE(a, HolderBlindIndex(Key(2), "350102199001011238"));
}

TEST(BlindIndex, RefusesAKeyOfAnotherLength) {
	EXPECT_THROW(HolderBlindIndex(Bytes(31), "350102199001011238"), Error);
	EXPECT_THROW(HolderBlindIndex(Bytes(), "350102199001011238"), Error);
}

}  // namespace
}  // namespace elicense::core
