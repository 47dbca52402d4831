// The preview server's request limits without sockets: the request-head
// scanner (sizes, header count, Content-Length, Transfer-Encoding, request
// line), the per-client connection counter and the per-token access budget.
#include "access_budget.hpp"
#include "connection_counter.hpp"
#include "preview_config.hpp"
#include "request_head.hpp"

#include <gtest/gtest.h>

#include <string>

namespace elicense::preview {
namespace {

using State = HeadScan::State;

TEST(RequestHead, CompleteHeadAndBody) {
	HeadLimits limits;
	HeadScan scan = ScanRequestHead("GET /p/abc HTTP/1.1\r\nHost: x\r\n\r\n", limits);
	ASSERT_EQ(scan.state, State::kComplete);
	EXPECT_EQ(scan.method, "GET");
	EXPECT_EQ(scan.target, "/p/abc");
	EXPECT_EQ(scan.head_bytes, 32u);
	EXPECT_EQ(scan.body_bytes, 0u);
	scan = ScanRequestHead("POST /x HTTP/1.1\r\ncontent-LENGTH:  12 \r\n\r\nabc", limits);
	ASSERT_EQ(scan.state, State::kComplete);
	EXPECT_EQ(scan.body_bytes, 12u);
	// Bytes pipelined behind the head do not change it.
	scan = ScanRequestHead("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", limits);
	ASSERT_EQ(scan.state, State::kComplete);
	EXPECT_EQ(scan.target, "/a");
	EXPECT_EQ(scan.head_bytes, 19u);
}

TEST(RequestHead, IncompleteUntilTheBlankLine) {
	HeadLimits limits;
	EXPECT_EQ(ScanRequestHead("", limits).state, State::kIncomplete);
	EXPECT_EQ(ScanRequestHead("GET / HTTP/1.1\r\nA: b\r\n", limits).state, State::kIncomplete);
	// A bare LF never ends the head (cpp-httplib would not see its end either).
	EXPECT_EQ(ScanRequestHead("GET / HTTP/1.1\nA: b\n\n", limits).state, State::kIncomplete);
}

TEST(RequestHead, HeaderCountCapRefusesAFloodEarly) {
	HeadLimits limits;
	limits.max_header_count = 5;
	std::string head = "GET / HTTP/1.1\r\n";
	for (int i = 0; i < 5; ++i)
		head += "X-A: b\r\n";
	EXPECT_EQ(ScanRequestHead(head + "\r\n", limits).state, State::kComplete);
	// The sixth line is refused before the head ends: a flood is cut off
	// after max_header_count lines, not after 100,000.
	HeadScan scan = ScanRequestHead(head + "X-A: b\r\n", limits);
	EXPECT_EQ(scan.state, State::kRefused);
	EXPECT_EQ(scan.refusal, 431);
	// Bare-LF lines count too.
	EXPECT_EQ(ScanRequestHead("GET / HTTP/1.1\n" + std::string(6, '\n'), limits).refusal, 431);
}

TEST(RequestHead, HeadSizeCap) {
	HeadLimits limits;
	limits.max_head_bytes = 1024;
	std::string line = "GET / HTTP/1.1\r\nX-Big: " + std::string(990, 'a') + "\r\n";
	EXPECT_EQ(ScanRequestHead(line + "\r\n", limits).state, State::kComplete);  // 1,017 bytes
	std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(1010, 'a');
	EXPECT_EQ(ScanRequestHead(big, limits).state, State::kRefused);
	EXPECT_EQ(ScanRequestHead(big, limits).refusal, 431);
	EXPECT_EQ(ScanRequestHead(big + "\r\n\r\n", limits).refusal, 431);  // complete, but over the cap
	// A request line alone over the cap: 414.
	EXPECT_EQ(ScanRequestHead("GET /" + std::string(2000, 'a'), limits).refusal, 414);
}

TEST(RequestHead, BodiesAndBadRequests) {
	HeadLimits limits;
	limits.max_body_bytes = 100;
	auto refusal = [&](const std::string &text) { return ScanRequestHead(text, limits).refusal; };
	EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 413);
	EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"), 0);
	EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
	EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
	EXPECT_EQ(refusal("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"), 400);
	EXPECT_EQ(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
	EXPECT_EQ(refusal("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), 400);
	EXPECT_EQ(refusal("GET\r\n\r\n"), 400);
	EXPECT_EQ(refusal(" / HTTP/1.1\r\n\r\n"), 400);
	EXPECT_EQ(refusal("\r\n\r\n"), 400);
}

TEST(ConnectionCounter, CapsPerClientAndInAll) {
	ConnectionCounter counter(5, 2);
	using A = ConnectionCounter::Admission;
	EXPECT_EQ(counter.Admit("10.0.0.1"), A::kAdmitted);
	EXPECT_EQ(counter.Admit("10.0.0.1"), A::kAdmitted);
	EXPECT_EQ(counter.Admit("10.0.0.1"), A::kClientFull);
	EXPECT_EQ(counter.of("10.0.0.1"), 2u);
	EXPECT_EQ(counter.Admit("10.0.0.2"), A::kAdmitted);
	EXPECT_EQ(counter.Admit("10.0.0.3"), A::kAdmitted);
	EXPECT_EQ(counter.Admit("10.0.0.4"), A::kAdmitted);
	EXPECT_EQ(counter.Admit("10.0.0.5"), A::kServerFull);
	EXPECT_EQ(counter.total(), 5u);
	counter.Release("10.0.0.1");
	EXPECT_EQ(counter.Admit("10.0.0.1"), A::kAdmitted);
	for (const char *c : {"10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"})
		counter.Release(c);
	EXPECT_EQ(counter.total(), 0u);
	EXPECT_EQ(counter.clients(), 0u);  // no entry kept for an address without a connection
	counter.Release("10.9.9.9");       // unknown: ignored, not a wrap-around
	EXPECT_EQ(counter.total(), 0u);
}

PreviewState Valid(std::int64_t expires) {
	PreviewState s;
	s.code = 200;
	s.status = "valid";
	s.identifier = "X";
	s.token_expires_at = expires;
	return s;
}

TEST(AccessBudget, BurstThenRateThenCachedState) {
	AccessBudget budget(60, 3);  // a row a second, three at once
	auto t0 = AccessBudget::Clock::now();
	PreviewState state;
	const std::int64_t now_s = 1000, later = 5000;
	// The first request has no state to fall back on: it asks the database.
	EXPECT_TRUE(budget.Take("tok", t0, now_s, state));
	budget.Remember("tok", Valid(later));
	EXPECT_TRUE(budget.Take("tok", t0, now_s, state));
	EXPECT_TRUE(budget.Take("tok", t0, now_s, state));
	int recorded = 3;
	// 1,500 more in the same second: answered from the cached state.
	for (int i = 0; i < 1500; ++i) {
		PreviewState s;
		if (budget.Take("tok", t0 + std::chrono::milliseconds(i * 999 / 1500), now_s, s))
			++recorded;
		else
			EXPECT_EQ(s.status, "valid");
	}
	EXPECT_EQ(recorded, 3);
	EXPECT_EQ(budget.dropped(), 1500);
	// A second later one more row may be written, then none until the next.
	EXPECT_TRUE(budget.Take("tok", t0 + std::chrono::milliseconds(1000), now_s, state));
	EXPECT_FALSE(budget.Take("tok", t0 + std::chrono::milliseconds(1500), now_s, state));
	// Another token has its own budget.
	EXPECT_TRUE(budget.Take("other", t0, now_s, state));
}

TEST(AccessBudget, ExpiredTokenAndForgottenStateAskAgain) {
	AccessBudget budget(1, 1);
	auto t0 = AccessBudget::Clock::now();
	PreviewState state;
	EXPECT_TRUE(budget.Take("tok", t0, 1000, state));
	budget.Remember("tok", Valid(1010));
	EXPECT_FALSE(budget.Take("tok", t0, 1009, state));
	// Past the token's expiry a cached 200 is not used: the database answers 410.
	EXPECT_TRUE(budget.Take("tok", t0, 1010, state));
	PreviewState gone;
	gone.code = 410;
	gone.status = "token_expired";
	budget.Remember("tok", gone);
	EXPECT_FALSE(budget.Take("tok", t0, 1011, state));
	EXPECT_EQ(state.code, 410);
	// A request whose database call failed left no state: the next asks again.
	EXPECT_TRUE(budget.Take("new", t0, 1000, state));
	EXPECT_TRUE(budget.Take("new", t0, 1000, state));
}

TEST(AccessBudget, TracksABoundedNumberOfTokens) {
	AccessBudget budget(1, 1, 100);
	auto t0 = AccessBudget::Clock::now();
	PreviewState state;
	for (int i = 0; i < 1000; ++i)
		budget.Take("tok" + std::to_string(i), t0, 1000, state);
	EXPECT_EQ(budget.tracked(), 100u);
}

TEST(PreviewConfig, RequestLimits) {
	Config c = ParseConfig(R"({"read_timeout_ms": 2500})", "test");
	EXPECT_EQ(c.request_timeout_ms, 2500);  // the old name still works
	EXPECT_THROW(ParseConfig(R"({"read_timeout_ms": 2500, "request_timeout_ms": 2500})", "test"), std::runtime_error);
	for (const char *text :
	     {R"({"max_header_count": 0})", R"({"max_header_bytes": 100})", R"({"max_connections_per_client": 0})",
	      R"({"access_rows_per_minute": 0})", R"({"access_rows_burst": 0})", R"({"request_timeout_ms": 10})"})
		EXPECT_THROW(ParseConfig(text, "test"), std::runtime_error) << text;
	c = ParseConfig(R"({"max_connections_per_client": 3, "access_rows_per_minute": 0.5, "max_header_count": 20})",
	                "test");
	EXPECT_EQ(c.max_connections_per_client, 3);
	EXPECT_EQ(c.access_rows_per_minute, 0.5);
	EXPECT_EQ(c.max_header_count, 20);
}

}  // namespace
}  // namespace elicense::preview
