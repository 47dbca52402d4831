// The worker's decisions without network or database: backoff, rate limit,
// token refresh, failover, classification of exchanges, secret masking,
// request bodies.
#include "backoff.hpp"
#include "endpoint_selector.hpp"
#include "log.hpp"
#include "outcome.hpp"
#include "platform_mapping.hpp"
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
	EXPECT_EQ(Classify(Ex(false, CURLE_COULDNT_CONNECT, 0)).outcome, StepOutcome::kRetry);
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
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 200, R"({"ReturnCode":"1"})")).outcome, StepOutcome::kDone);
	EXPECT_EQ(Classify(Ex(true, CURLE_OK, 200, R"({"ReturnCode":2})")).outcome, StepOutcome::kDone);
	Verdict business = Classify(Ex(true, CURLE_OK, 200,
	                                R"({"ReturnCode":"0","ReturnMsg":"失败","ReturnData":{"ErrorData":[{"ErrorMsg":"重复"}]}})"));
	EXPECT_EQ(business.outcome, StepOutcome::kBusinessError);
	EXPECT_EQ(business.error, "0 失败: 重复");
}

TEST(MaskSecrets, TokensAndSecrets) {
	EXPECT_EQ(MaskSecrets("http://h/api/w050/assign?access_token=abc123&x=1"), "http://h/api/w050/assign?access_token=***&x=1");
	EXPECT_EQ(MaskSecrets("client_id=a&client_secret=s3cr3t&grant_type=client_credentials"),
	          "client_id=a&client_secret=***&grant_type=client_credentials");
	EXPECT_EQ(MaskSecrets("?access_token=a&access_token=b"), "?access_token=***&access_token=***");
	EXPECT_EQ(MaskSecrets("nothing here"), "nothing here");
}

TEST(PlatformMapping, BodiesAndPaths) {
	nlohmann::json licence = {{"identifier", "1.2.156.3005.2.X"}, {"type_code", "11100000000013338W050"},
	                          {"assigned_code", "202232000001000001"}, {"preview_url", "https://p/x"},
	                          {"cert_state", "03"}, {"operate_type", "05"}, {"items", {{"k", "v"}}}};
	EXPECT_EQ(DefaultPath("11100000000013338W050", kStepAssign), "/api/w050/assign");
	EXPECT_EQ(DefaultPath("11100000000013338W032", kStepConfirm), "/api/w032/query");
	auto collect = RequestBody(kStepCollect, licence);
	EXPECT_EQ(collect["AcceptData"][0]["ID"], "202232000001000001");
	EXPECT_EQ(collect["AcceptData"][0]["zzeCertID"], "1.2.156.3005.2.X");
	EXPECT_EQ(collect["AcceptData"][0]["url"], "https://p/x");
	auto assign = RequestBody(kStepAssign, licence);
	EXPECT_EQ(assign["AcceptData"][0]["eCertID"], "1.2.156.3005.2.X");
	EXPECT_EQ(assign["AcceptData"][0]["data"]["k"], "v");
	EXPECT_EQ(RequestBody(kStepStatus, licence)["AcceptData"][0]["certState"], "03");
	EXPECT_EQ(ItemIdentifier(collect["AcceptData"][0]), "1.2.156.3005.2.X");
}

}  // namespace
}  // namespace elicense::worker
