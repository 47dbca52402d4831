// Without OpenSSL's legacy provider, DES fails with a clear error and a
// hint instead of crashing, and keeps failing the same way (the private
// context is retried, not left half-made). A separate executable, because
// the private context is created once per process: OPENSSL_MODULES points
// at an empty directory before the first crypto call.
#include "elicense/error.hpp"
#include "elicense/legacy_crypto.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace elicense::core {
namespace {

TEST(LegacyProvider, MissingGivesAClearError) {
	ASSERT_EQ(setenv("OPENSSL_MODULES", "/nonexistent/ossl-modules", 1), 0);
	for (int attempt = 0; attempt < 2; ++attempt) {
		try {
			DesEncryptHex("202232000001000001", "12345678");
			ADD_FAILURE() << "DES worked without the legacy provider";
		} catch (const Error &e) {
			EXPECT_STREQ(e.sqlstate(), "0A000");
			EXPECT_EQ(std::string(e.what()), "the OpenSSL legacy provider (needed for DES) cannot be loaded");
			EXPECT_EQ(e.detail(), "OpenSSL looked for legacy.so in /nonexistent/ossl-modules.");
			EXPECT_NE(e.hint().find("libssl3"), std::string::npos) << e.hint();
			EXPECT_NE(e.hint().find("OPENSSL_MODULES"), std::string::npos) << e.hint();
		}
	}
}

}  // namespace
}  // namespace elicense::core
