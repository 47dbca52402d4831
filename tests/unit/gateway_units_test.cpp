// The gateway's pieces that need no database: secret hashes, Base64, the
// envelope codes of database refusals (and that no message leaks), the
// per-application rate limit.
#include "envelope_codes.hpp"
#include "rate_limiter.hpp"
#include "secret_hash.hpp"

#include <gtest/gtest.h>

namespace elicense::gateway {
namespace {

TEST(SecretHash, MatchesOnlyItsSecret) {
	std::string stored = HashSecret("correct horse battery staple", 10000);
	EXPECT_EQ(stored.rfind("pbkdf2-sha256$10000$", 0), 0u);
	EXPECT_TRUE(SecretMatches("correct horse battery staple", stored));
	EXPECT_FALSE(SecretMatches("correct horse battery stapl", stored));
	EXPECT_NE(HashSecret("same", 10000), HashSecret("same", 10000));  // salted
	EXPECT_FALSE(SecretMatches("x", "pbkdf2-sha256$10$AAAA$AAAA"));   // too few iterations, short hash
	EXPECT_FALSE(SecretMatches("x", "plain:x"));
}

TEST(Base64, StrictDecoding) {
	std::string out;
	EXPECT_TRUE(FromBase64(Base64(std::string("ab\0c", 4)), out));
	EXPECT_EQ(out, std::string("ab\0c", 4));
	EXPECT_TRUE(FromBase64("YQ==", out));
	EXPECT_EQ(out, "a");
	EXPECT_FALSE(FromBase64("YQ=", out));
	EXPECT_FALSE(FromBase64("Y Q==", out));
	EXPECT_FALSE(FromBase64("YQ==YQ==", out));
	EXPECT_EQ(RandomKey(32).size(), 43u);
}

TEST(EnvelopeCodes, RefusalsMapWithoutTheDatabaseMessage) {
	struct Case {
		const char *state;
		const char *message;
		Code code;
		int http;
	} cases[] = {
	    {"28000", "usage code 7 expired at 2026-01-01", Code::kUsageCode, 403},
	    {"42501", "role \"dept_a\" has no usage grant for scenario \"bidding\"", Code::kNoPermission, 403},
	    {"42501", "licence \"X\" belongs to another holder than usage code 3", Code::kNoPermission, 403},
	    {"42501", "licence type W050 of \"X\" is not among the types of usage code 3 (W032)", Code::kNoPermission, 403},
	    {"42501", "role \"dept_a\" may not search scenario \"bidding\" by resident ID number", Code::kNoPermission,
	     403},
	    {"53400", "role \"dept_a\" made 20 searches by resident ID number in the last minute", Code::kRateLimited, 429},
	    {"P0002", "no licence with identifier \"X\"", Code::kNotFound, 404},
	    {"22P02", "holder_id is neither a valid USCC nor a valid resident ID number", Code::kBadHolderType, 400},
	    {"22023", "page_size 500 is outside 1-200", Code::kBadRequest, 400},
	    {"55000", "the usage audit row could not be made durable", Code::kOther, 503},
	    {"42883", "function elicense.secret_internal(text) does not exist", Code::kOther, 500},
	};
	for (const Case &c : cases) {
		Outcome o = FromDatabase(c.state, c.message);
		EXPECT_EQ(o.code, c.code) << c.message;
		EXPECT_EQ(o.http, c.http) << c.message;
		EXPECT_EQ(o.message.find("dept_a"), std::string::npos);
		EXPECT_EQ(o.message.find("elicense."), std::string::npos);
		EXPECT_EQ(o.message.find("\""), std::string::npos) << o.message;
	}
}

TEST(RateLimiter, BurstThenRate) {
	RateLimiter limiter;
	auto t = RateLimiter::Clock::now();
	int retry = 0;
	for (int i = 0; i < 3; ++i)
		EXPECT_TRUE(limiter.Take("a", 2, 3, t, retry));
	EXPECT_FALSE(limiter.Take("a", 2, 3, t, retry));
	EXPECT_EQ(retry, 1);
	EXPECT_TRUE(limiter.Take("b", 2, 3, t, retry));  // another application's bucket
	EXPECT_TRUE(limiter.Take("a", 2, 3, t + std::chrono::milliseconds(500), retry));
	EXPECT_FALSE(limiter.Take("a", 2, 3, t + std::chrono::milliseconds(500), retry));
}

}  // namespace
}  // namespace elicense::gateway
