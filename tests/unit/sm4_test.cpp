// SM4-ECB-PKCS#7 (core/include/elicense/sm4.hpp): the GB/T 32907-2016
// standard vector, the padding at every length around the block size, the
// errors, and agreement with `openssl enc -sm4-ecb` run as a separate
// process in both directions.
#include "elicense/error.hpp"
#include "elicense/sm4.hpp"

#include "openssl_cli.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace elicense::core {
namespace {

std::string FromHex(const std::string &hex) {
	std::string out;
	for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
		out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
	return out;
}

std::string ToHex(const std::string &bytes) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (unsigned char c : bytes) {
		out.push_back(digits[c >> 4]);
		out.push_back(digits[c & 15]);
	}
	return out;
}

const std::string kKeyText = "0123456789abcdef";  // 16 ASCII bytes, as the relay configures it
const std::string kKeyHex = ToHex(kKeyText);

TEST(Sm4, StandardVectorOfGbt32907) {
	// Key and plaintext 0123456789abcdeffedcba9876543210 → 681edf34d206965e86b3e94f536e4246.
	std::string key = FromHex("0123456789abcdeffedcba9876543210");
	std::string cipher = Sm4EcbEncrypt(key, key);
	ASSERT_EQ(cipher.size(), 32u) << "a whole block of padding follows a 16-byte plaintext";
	EXPECT_EQ(ToHex(cipher.substr(0, 16)), "681edf34d206965e86b3e94f536e4246");
	EXPECT_EQ(Sm4EcbDecrypt(cipher, key), key);
}

TEST(Sm4, PaddingAtEveryLengthAroundTheBlock) {
	for (std::size_t n : {0u, 1u, 2u, 15u, 16u, 17u, 31u, 32u, 33u, 100u}) {
		std::string plain(n, 'x');
		std::string cipher = Sm4EcbEncrypt(plain, kKeyText);
		EXPECT_EQ(cipher.size(), (n / 16 + 1) * 16) << n;
		EXPECT_EQ(Sm4EcbDecrypt(cipher, kKeyText), plain) << n;
	}
	// The last block of an empty plaintext is sixteen 0x10 bytes.
	EXPECT_EQ(Sm4EcbDecrypt(Sm4EcbEncrypt("", kKeyText), kKeyText), "");
}

TEST(Sm4, BadPaddingIsRefused) {
	// Blocks whose last byte is not valid PKCS#7, made with openssl -nopad.
	for (const std::string &block : {std::string(15, 'a') + '\x00', std::string(15, 'a') + '\x11',
	                                 std::string(14, 'a') + "\x01\x02", std::string(13, 'a') + "\x03\x02\x03"}) {
		std::string cipher = test::RunOpensslCli("enc -sm4-ecb -nopad -K " + kKeyHex, block);
		ASSERT_EQ(cipher.size(), 16u);
		EXPECT_THROW(Sm4EcbDecrypt(cipher, kKeyText), Error) << ToHex(block);
	}
}

TEST(Sm4, ErrorsNameTheProblemNotTheKey) {
	try {
		Sm4EcbEncrypt("data", "short-secret");
		FAIL() << "a 12-byte key was accepted";
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22023");
		EXPECT_NE(std::string(e.what()).find("16 bytes"), std::string::npos);
		EXPECT_EQ((std::string(e.what()) + e.detail() + e.hint()).find("short-secret"), std::string::npos);
	}
	EXPECT_THROW(Sm4EcbDecrypt("", kKeyText), Error);
	EXPECT_THROW(Sm4EcbDecrypt(std::string(17, 'a'), kKeyText), Error);
	// The wrong key almost never yields valid padding; a whole run of them must fail somewhere.
	std::string cipher = Sm4EcbEncrypt(std::string(40, 'p'), kKeyText);
	int refused = 0;
	for (char c = 'A'; c <= 'Z'; ++c) {
		try {
			Sm4EcbDecrypt(cipher, std::string(16, c));
		} catch (const Error &) {
			++refused;
		}
	}
	EXPECT_GT(refused, 20);
}

TEST(Sm4, AgreesWithTheOpensslCommandLine) {
	std::mt19937 rng(15);
	for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 64u, 1000u}) {
		std::string plain;
		for (std::size_t i = 0; i < n; ++i)
			plain.push_back(static_cast<char>(rng() & 0xff));
		std::string ours = Sm4EcbEncrypt(plain, kKeyText);
		EXPECT_EQ(ToHex(ours), ToHex(test::RunOpensslCli("enc -sm4-ecb -K " + kKeyHex, plain))) << n;
		EXPECT_EQ(test::RunOpensslCli("enc -d -sm4-ecb -K " + kKeyHex, ours), plain) << n;
	}
	std::string json = R"({"AcceptData":[{"eCertID":"e7c1","certNum":"（闽）JZ安许证字[2023]000001"}]})";
	EXPECT_EQ(Sm4EcbDecrypt(test::RunOpensslCli("enc -sm4-ecb -K " + kKeyHex, json), kKeyText), json);
}

}  // namespace
}  // namespace elicense::core
