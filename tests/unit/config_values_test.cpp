// Config files of the worker and the preview server take each value only in
// its key's own JSON type (elicense/common/json_config.hpp).
#include "config.hpp"
#include "elicense/common/json_config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>

using elicense::common::TakeConfigValue;
using nlohmann::json;

TEST(TakeConfigValue, EachTypeOnlyFromItsOwn) {
	int n = 7;
	TakeConfigValue(json::parse(R"({})"), "n", n);
	TakeConfigValue(json::parse(R"({"n": null})"), "n", n);
	EXPECT_EQ(n, 7) << "absent and null keep the default";
	TakeConfigValue(json::parse(R"({"n": -3})"), "n", n);
	EXPECT_EQ(n, -3);
	for (const char *bad :
	     {R"({"n": true})", R"({"n": 4.5})", R"({"n": "4"})", R"({"n": 4294967297})", R"({"n": 1e300})"})
		EXPECT_THROW(TakeConfigValue(json::parse(bad), "n", n), std::runtime_error) << bad;
	unsigned u = 1;
	EXPECT_THROW(TakeConfigValue(json::parse(R"({"u": -1})"), "u", u), std::runtime_error);
	double d = 0;
	TakeConfigValue(json::parse(R"({"d": 2})"), "d", d);
	EXPECT_EQ(d, 2.0) << "a whole number is a number";
	EXPECT_THROW(TakeConfigValue(json::parse(R"({"d": "2"})"), "d", d), std::runtime_error);
	bool b = false;
	EXPECT_THROW(TakeConfigValue(json::parse(R"({"b": 1})"), "b", b), std::runtime_error);
	std::string s;
	EXPECT_THROW(TakeConfigValue(json::parse(R"({"s": 1})"), "s", s), std::runtime_error);
	std::map<std::string, std::string> m;
	EXPECT_THROW(TakeConfigValue(json::parse(R"({"m": {"a": 1}})"), "m", m), std::runtime_error);
	TakeConfigValue(json::parse(R"({"m": {"a": "/x"}})"), "m", m);
	EXPECT_EQ(m.at("a"), "/x");
}

TEST(WorkerConfig, RefusesValuesOfAnotherType) {
	std::string path = "/tmp/elicense_config_values_test_" + std::to_string(getpid()) + ".json";
	auto load = [&](const char *text) {
		FILE *f = std::fopen(path.c_str(), "w");
		std::fputs(text, f);
		std::fclose(f);
		return elicense::worker::LoadConfig(path);
	};
	EXPECT_EQ(load(R"({"in_flight": 12, "platform": {"request_timeout_ms": 900}})").in_flight, 12);
	EXPECT_EQ(load("{}").in_flight, 32);
	for (const char *bad :
	     {R"({"in_flight": true})", R"({"in_flight": 4.5})", R"({"lease_seconds": 4294967326})",
	      R"({"platform": {"paths": {"11100000000013338W050/collect": 3}}})", R"({"backoff": {"base_ms": "100"}})",
	      R"({"breaker": {"failures": -1}})", R"({"breaker": {"probe_base_ms": 5000, "probe_cap_ms": 1000}})",
	      R"({"result_batch_ms": -1})", R"({"result_batch_ms": 5000})", R"({"result_batch_max": 0})"})
		EXPECT_THROW(load(bad), std::runtime_error) << bad;
	auto c = load(R"({"breaker": {"failures": 3, "probe_cap_ms": 20000}, "result_batch_ms": 5})");
	EXPECT_EQ(c.breaker.threshold, 3);
	EXPECT_EQ(c.breaker.probe_base.count(), 1000);
	EXPECT_EQ(c.breaker.probe_cap.count(), 20000);
	EXPECT_EQ(c.result_batch_ms, 5);
	EXPECT_EQ(load("{}").result_batch_ms, 5);  // on unless turned off
	EXPECT_EQ(load(R"({"result_batch_ms": 0})").result_batch_ms, 0);
	EXPECT_EQ(c.result_batch_max, 64);
	std::remove(path.c_str());
}

// stock_share (lane_share.hpp): a fraction of the rate limit, 0.2 unless set.
TEST(WorkerConfig, StockShareIsAFraction) {
	std::string path = "/tmp/elicense_config_stock_share_test_" + std::to_string(getpid()) + ".json";
	auto load = [&](const char *text) {
		FILE *f = std::fopen(path.c_str(), "w");
		std::fputs(text, f);
		std::fclose(f);
		return elicense::worker::LoadConfig(path);
	};
	EXPECT_DOUBLE_EQ(load("{}").stock_share, 0.2);
	EXPECT_DOUBLE_EQ(load(R"({"stock_share": 0.5})").stock_share, 0.5);
	EXPECT_DOUBLE_EQ(load(R"({"stock_share": 0})").stock_share, 0.0);
	for (const char *bad : {R"({"stock_share": 1.5})", R"({"stock_share": -0.1})", R"({"stock_share": "0.2"})"})
		EXPECT_THROW(load(bad), std::runtime_error) << bad;
	std::remove(path.c_str());
}
