// The worker's decisions without network or database: backoff, rate limit,
// token refresh and the pacing of refused token fetches, failover,
// classification of exchanges.
#include "backoff.hpp"
#include "circuit_breaker.hpp"
#include "endpoint_selector.hpp"
#include "outcome.hpp"
#include "token_cache.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace elicense::worker {
namespace {

TEST(Backoff, GrowsWithJitterAndCap) {
	BackoffPolicy p;
	p.base = Millis(100);
	p.cap = Millis(1000);
	std::mt19937_64 rng(1);
	for (int attempt = 1; attempt <= 12; ++attempt) {
		double nominal = std::min(1000.0, 100.0 * (1 << (attempt - 1)));
		for (int i = 0; i < 50; ++i) {
			auto d = BackoffDelay(p, attempt, rng).count();
			EXPECT_GE(d, nominal / 2 - 1) << attempt;
			EXPECT_LE(d, nominal) << attempt;
		}
	}
	// Jitter: not all the same.
	std::set<long> seen;
	for (int i = 0; i < 20; ++i)
		seen.insert(static_cast<long>(BackoffDelay(p, 5, rng).count()));
	EXPECT_GT(seen.size(), 5u);
}

TEST(TokenBucket, LimitsRate) {
	TokenBucket b(10.0, 2.0);  // 10/s, burst 2
	auto t0 = Clock::now();
	EXPECT_TRUE(b.TryTake(t0));
	EXPECT_TRUE(b.TryTake(t0));
	EXPECT_FALSE(b.TryTake(t0));
	EXPECT_GT(b.WaitTime(t0).count(), 0);
	EXPECT_TRUE(b.TryTake(t0 + Millis(100)));
	EXPECT_FALSE(b.TryTake(t0 + Millis(100)));
	TokenBucket unlimited(0, 1);
	for (int i = 0; i < 1000; ++i)
		EXPECT_TRUE(unlimited.TryTake(t0));
}

TEST(TokenCache, RefreshesBeforeExpiry) {
	TokenCache c;
	auto t0 = Clock::now();
	EXPECT_TRUE(c.NeedsRefresh(t0));
	c.Store("tok", 1800, t0);
	EXPECT_FALSE(c.NeedsRefresh(t0 + std::chrono::seconds(1600)));
	EXPECT_TRUE(c.NeedsRefresh(t0 + std::chrono::seconds(1681)));  // 120 s margin
	c.Store("tok", 30, t0);
	EXPECT_FALSE(c.NeedsRefresh(t0 + std::chrono::seconds(24)));
	EXPECT_TRUE(c.NeedsRefresh(t0 + std::chrono::seconds(25)));  // 5 s margin
	c.Invalidate();
	EXPECT_TRUE(c.NeedsRefresh(t0));
	EXPECT_FALSE(c.Usable(t0));
}

TEST(TokenCache, ShortLivedTokensAreUsedBeforeTheyAreRenewed) {
	TokenCache c;
	auto t0 = Clock::now();
	c.Store("tok", 3, t0);  // 3 s: the 5 s minimum margin would renew it before its first use
	EXPECT_FALSE(c.NeedsRefresh(t0));
	EXPECT_TRUE(c.Usable(t0));
	EXPECT_TRUE(c.NeedsRefresh(t0 + std::chrono::seconds(2)));
	EXPECT_TRUE(c.Usable(t0 + std::chrono::seconds(2))) << "in use while the renewal runs";
	EXPECT_FALSE(c.Usable(t0 + std::chrono::seconds(3)));
	c.Store("tok", 0, t0);
	EXPECT_FALSE(c.Usable(t0));
}

// A refusing token endpoint is asked again after 1 s, 2 s, 4 s … at most
// every 60 s: never in a loop. (An endpoint that refuses forever costs at
// most one request a minute once the cap is reached.)
TEST(TokenRetry, BacksOffToTheCapAndResetsOnSuccess) {
	TokenRetry r(Millis(1000), Millis(60000));
	auto t = Clock::now();
	EXPECT_TRUE(r.MayFetch(t));
	long expected[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
	for (long ms : expected) {
		Millis wait = r.Failed(t);
		EXPECT_EQ(wait.count(), ms);
		EXPECT_FALSE(r.MayFetch(t));
		EXPECT_FALSE(r.MayFetch(t + wait - Millis(1)));
		EXPECT_TRUE(r.MayFetch(t + wait));
		EXPECT_EQ(r.next_fetch(), t + wait);
		t += wait;
	}
	for (int i = 0; i < 1000; ++i)
		r.Failed(t);
	EXPECT_EQ(r.Failed(t).count(), 60000) << "no overflow after many refusals";
	// A day of refusals, looked at every 100 ms: about one fetch a minute.
	TokenRetry day(Millis(1000), Millis(60000));
	int fetches = 0;
	auto start = Clock::now();
	for (auto now = start; now < start + std::chrono::hours(24); now += Millis(100))
		if (day.MayFetch(now)) {
			++fetches;
			day.Started(now);
			day.Failed(now);
		}
	EXPECT_LE(fetches, 24 * 60 + 10);
	r.Succeeded();
	EXPECT_EQ(r.failures(), 0);
	EXPECT_TRUE(r.MayFetch(t));
}

TEST(TokenRetry, AtMostOneFetchPerFloorEvenWhenTheyAllSucceed) {
	TokenRetry r(Millis(1000), Millis(60000), Millis(1000));
	auto t = Clock::now();
	ASSERT_TRUE(r.MayFetch(t));
	r.Started(t);
	r.Succeeded();
	EXPECT_FALSE(r.MayFetch(t + Millis(999)));
	EXPECT_TRUE(r.MayFetch(t + Millis(1000)));
	EXPECT_EQ(r.next_fetch(), t + Millis(1000));
}

TEST(EndpointSelector, SwitchesToBackupAndProbesPrimary) {
	EndpointSelector s("http://primary", "http://backup", 3, Millis(1000));
	auto t0 = Clock::now();
	EXPECT_EQ(s.Choose(t0), "http://primary");
	s.ReportFailure("http://primary", t0);
	s.ReportFailure("http://primary", t0);
	EXPECT_EQ(s.Choose(t0), "http://primary");
	s.ReportFailure("http://primary", t0);
	EXPECT_TRUE(s.OnBackup());
	EXPECT_EQ(s.Choose(t0 + Millis(10)), "http://backup");
	EXPECT_EQ(s.Choose(t0 + Millis(1001)), "http://primary");  // one probe
	EXPECT_EQ(s.Choose(t0 + Millis(1002)), "http://backup");
	s.ReportSuccess("http://primary");
	EXPECT_FALSE(s.OnBackup());
	EXPECT_EQ(s.Choose(t0 + Millis(1003)), "http://primary");
}

TEST(EndpointSelector, NoBackupMeansStay) {
	EndpointSelector s("http://primary", "", 1, Millis(1000));
	s.ReportFailure("http://primary", Clock::now());
	EXPECT_FALSE(s.OnBackup());
}

Exchange Ex(bool sent, int curl, long http, std::string body = {}) {
	Exchange e;
	e.sent = sent;
	e.curl_code = curl;
	e.http_status = http;
	e.body = std::move(body);
	return e;
}

TEST(Classify, EveryCase) {
	Verdict refused = Classify(Ex(false, CURLE_COULDNT_CONNECT, 0));
	EXPECT_EQ(refused.outcome, StepOutcome::kRetry);
	EXPECT_TRUE(refused.not_sent);
	EXPECT_TRUE(refused.outage);
	EXPECT_FALSE(Classify(Ex(true, CURLE_OPERATION_TIMEDOUT, 0)).not_sent);
	EXPECT_TRUE(Classify(Ex(true, CURLE_OPERATION_TIMEDOUT, 0)).outage);
	EXPECT_TRUE(Classify(Ex(true, CURLE_OK, 503)).outage);
	EXPECT_FALSE(Classify(Ex(true, CURLE_OK, 429)).outage);  // the platform answered
	EXPECT_FALSE(Classify(Ex(true, CURLE_OK, 404)).outage);
	EXPECT_EQ(Classify(Ex(true, CURLE_OPERATION_TIMEDOUT, 0)).outcome, StepOutcome::kUnknown);
	EXPECT_EQ(Classify(Ex(true, CURLE_PARTIAL_FILE, 200)).outcome, StepOutcome::kUnknown);
	EXPECT_EQ(Classify(Ex(true, CURLE_GOT_NOTHING, 0)).outcome, StepOutcome::kUnknown);
	Verdict auth = Classify(Ex(true, CURLE_OK, 401));
	EXPECT_EQ(auth.outcome, StepOutcome::kRetry);
	EXPECT_TRUE(auth.auth_failure);
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 429)).outcome, StepOutcome::kRetry);
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 404)).outcome, StepOutcome::kRetry);
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 503)).outcome, StepOutcome::kUnknown);
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 200, "<html>")).outcome, StepOutcome::kUnknown);
	Exchange big = Ex(true, CURLE_WRITE_ERROR, 200);
	big.too_large = true;
	big.body_limit = 1024;
	Verdict too_large = Classify(big);
	EXPECT_EQ(too_large.outcome, StepOutcome::kUnknown);
	EXPECT_EQ(too_large.error, "answer too large (more than 1024 bytes)");
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 200, R"({"ReturnCode":"1"})")).outcome, StepOutcome::kDone);
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 200, R"({"ReturnCode":2})")).outcome, StepOutcome::kDone);
	Verdict business =
	    Classify(Ex(true, CURLE_OK, 200,
	                R"({"ReturnCode":"0","ReturnMsg":"失败","ReturnData":{"ErrorData":[{"ErrorMsg":"重复"}]}})"));
	EXPECT_EQ(business.outcome, StepOutcome::kBusinessError);
	EXPECT_EQ(business.error, "0 失败: 重复");
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndProbesOneAtATime) {
	CircuitBreaker b({3, Millis(1000), Millis(4000)});
	auto t = Clock::now();
	EXPECT_FALSE(b.Failed(t, false));
	EXPECT_FALSE(b.Failed(t, false));
	b.Answered();  // an answer in between: the count starts again
	EXPECT_FALSE(b.Failed(t, false));
	EXPECT_FALSE(b.Failed(t, false));
	EXPECT_TRUE(b.Failed(t, false));  // third in a row: open
	EXPECT_TRUE(b.open());
	EXPECT_FALSE(b.MaySend(t));
	EXPECT_FALSE(b.MaySend(t + Millis(999)));
	EXPECT_TRUE(b.MaySend(t + Millis(1000)));
	EXPECT_TRUE(b.Sending());                         // the probe
	EXPECT_FALSE(b.MaySend(t + Millis(1000)));        // one at a time
	EXPECT_FALSE(b.Failed(t + Millis(1000), false));  // a request from before: changes nothing
	EXPECT_FALSE(b.MaySend(t + Millis(5000)));
	b.Failed(t + Millis(1000), true);  // the probe failed: next after 2 s
	EXPECT_FALSE(b.MaySend(t + Millis(2999)));
	EXPECT_TRUE(b.MaySend(t + Millis(3000)));
	b.Sending();
	b.Failed(t + Millis(3000), true);  // 4 s
	b.Sending();
	b.Failed(t + Millis(7000), true);  // 8 s, capped at 4 s
	EXPECT_FALSE(b.MaySend(t + Millis(10999)));
	EXPECT_TRUE(b.MaySend(t + Millis(11000)));
	b.Sending();
	b.ProbeLost(t + Millis(11000));  // released without an answer: another may go
	EXPECT_TRUE(b.MaySend(t + Millis(11000)));
	EXPECT_TRUE(b.Answered());
	EXPECT_FALSE(b.open());
	EXPECT_TRUE(b.MaySend(t));
	EXPECT_FALSE(b.Sending());  // closed: not a probe
}

TEST(CircuitBreaker, ZeroThresholdNeverOpens) {
	CircuitBreaker b({0, Millis(1000), Millis(4000)});
	for (int i = 0; i < 100; ++i)
		EXPECT_FALSE(b.Failed(Clock::now(), false));
	EXPECT_FALSE(b.open());
}

}  // namespace
}  // namespace elicense::worker
