// The worker's profiles in its config (worker/src/config.hpp,
// profile_presets.hpp): the presets, the 0.2.0 keys still working as the
// direct profile's "*" credentials and paths, credentials and paths per
// licence type, the relay's city code and SM4 key, the unknown-outcome
// setting, and every refusal naming the key at fault (never a secret).
#include "config.hpp"
#include "step_names.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

namespace elicense::worker {
namespace {

const std::string kW032 = "11100000000013338W032";
const std::string kW050 = "11100000000013338W050";

class WorkerProfiles : public ::testing::Test {
protected:
	void SetUp() override {
		unsetenv("ELICENSE_CLIENT_SECRET");
		unsetenv("ELICENSE_SM4_KEY");
		dir_ = "/tmp/elicense_profiles_test_" + std::to_string(getpid());
		mkdir(dir_.c_str(), 0700);
		Secret("secret", "s3cr3t\n");
		Secret("w032_secret", "w032-s3cr3t");
		Secret("sm4.key", "0123456789abcdef\n");
	}
	void TearDown() override {
		unsetenv("ELICENSE_CLIENT_SECRET");
		unsetenv("ELICENSE_SM4_KEY");
		std::system(("rm -rf " + dir_).c_str());
	}
	std::string Secret(const std::string &name, const std::string &text, mode_t mode = 0600) {
		std::string path = dir_ + "/" + name;
		std::ofstream(path) << text;
		chmod(path.c_str(), mode);
		return path;
	}
	// Loads `text` with $DIR replaced by the test's directory.
	Config Load(std::string text) {
		for (std::size_t p = text.find("$DIR"); p != std::string::npos; p = text.find("$DIR"))
			text.replace(p, 4, dir_);
		std::string path = dir_ + "/worker.json";
		std::ofstream(path) << text;
		return LoadConfig(path);
	}
	// The message of the error loading `text` throws ("" if it loads).
	std::string Refusal(const std::string &text) {
		try {
			Load(text);
		} catch (const std::runtime_error &e) {
			return e.what();
		}
		return "";
	}
	std::string dir_;
};

TEST_F(WorkerProfiles, TheKeysOf020AreTheDirectProfile) {
	// The shape tests/sync/lib.sh writes.
	Config c = Load(R"({"in_flight": 8, "lease_seconds": 5,
	  "platform": {"base_url": "http://127.0.0.1:9", "client_id": "elicense-test",
	               "client_secret_file": "$DIR/secret", "request_timeout_ms": 1500, "connect_timeout_ms": 3000},
	  "backoff": {"base_ms": 50, "cap_ms": 1000, "max_attempts": 60}})");
	EXPECT_EQ(c.profile, "direct");
	EXPECT_EQ(c.token_url, "http://127.0.0.1:9/epoint-soa-web/rest/oauth2/token");
	ASSERT_NE(CredentialFor(c, kW050), nullptr);
	EXPECT_EQ(CredentialFor(c, kW050)->client_id, "elicense-test");
	EXPECT_EQ(CredentialFor(c, kW050)->client_secret, "s3cr3t");
	EXPECT_EQ(c.unknown_outcome, UnknownOutcome::kQuery);
	EXPECT_EQ(c.max_answer_bytes, 1048576);
	// The direct preset: observed W032 paths, the W050 TEST check path, nothing else.
	EXPECT_EQ(PathFor(c, kW032, kStepValidate), "/epoint-gateway/tzrycheck/rest/tzryzsrest/tzry_check");
	EXPECT_EQ(PathFor(c, kW032, kStepAssign), "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_fm");
	EXPECT_EQ(PathFor(c, kW032, kStepCollect), "/epoint-gateway/tzryhj/rest/tzryzsrest/tzry_gj");
	EXPECT_EQ(PathFor(c, kW032, kStepStatus), "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_update");
	EXPECT_EQ(PathFor(c, kW032, kStepKeyChange), "/epoint-gateway/tzryfm/rest/tzryrest/Tzry_Change");
	EXPECT_EQ(PathFor(c, kW050, kStepValidate), "/epoint-gateway/axzchecktest/rest/axzcheckrest/Axz_Check");
	EXPECT_FALSE(PathFor(c, kW050, kStepAssign));
	EXPECT_FALSE(PathFor(c, kW050, kStepCollect));
	EXPECT_FALSE(PathFor(c, kW032, kStepQuery)) << "no query path unless configured";
	std::string warnings;
	for (const std::string &w : ConfigWarnings(c))
		warnings += w + "\n";
	EXPECT_NE(warnings.find("TEST check path"), std::string::npos) << warnings;
	EXPECT_NE(warnings.find("held"), std::string::npos) << "query without a query path holds: " << warnings;
	EXPECT_EQ(warnings.find("s3cr3t"), std::string::npos);
}

TEST_F(WorkerProfiles, PathsPerTypeAndStepOverrideThePreset) {
	Config c = Load(R"({"platform": {"base_url": "http://gw", "token_url": "https://sso/token",
	                                 "paths": {"11100000000013338W050/assign_code": "/old/assign",
	                                           "11100000000013338W050/confirm": "/old/query"}},
	  "paths": {"11100000000013338W050": {"validate": "/prod/check", "collect": "/w050/gj"},
	            "*": {"query": "/any/query"}}})");
	EXPECT_EQ(c.token_url, "https://sso/token") << "an absolute token_url wins";
	EXPECT_EQ(PathFor(c, kW050, kStepValidate), "/prod/check");
	EXPECT_EQ(PathFor(c, kW050, kStepAssign), "/old/assign") << "0.2.0's platform.paths still count";
	EXPECT_EQ(PathFor(c, kW050, kStepCollect), "/w050/gj");
	EXPECT_EQ(PathFor(c, kW050, kStepQuery), "/old/query") << "a type's own query path before \"*\"";
	EXPECT_EQ(PathFor(c, kW032, kStepQuery), "/any/query");
	EXPECT_EQ(PathFor(c, kW032, kStepAssign), "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_fm");
	for (const std::string &w : ConfigWarnings(c))
		EXPECT_EQ(w.find("TEST"), std::string::npos) << w;
}

TEST_F(WorkerProfiles, CredentialsPerLicenceType) {
	Config c = Load(R"({"platform": {"base_url": "http://gw"},
	  "credentials": {"11100000000013338W032": {"client_id": "w032", "client_secret_file": "$DIR/w032_secret"},
	                  "*": {"client_id": "all", "client_secret_file": "$DIR/secret"}}})");
	EXPECT_EQ(CredentialFor(c, kW032)->client_id, "w032");
	EXPECT_EQ(CredentialFor(c, kW032)->client_secret, "w032-s3cr3t");
	EXPECT_EQ(CredentialFor(c, kW050)->client_id, "all");
	EXPECT_EQ(CredentialFor(c, kW050)->client_secret, "s3cr3t");
	// ELICENSE_CLIENT_SECRET is the "*" secret, as in 0.2.0.
	setenv("ELICENSE_CLIENT_SECRET", "from-env", 1);
	c = Load(R"({"platform": {"base_url": "http://gw", "client_id": "legacy", "client_secret_file": "$DIR/secret"}})");
	EXPECT_EQ(CredentialFor(c, kW050)->client_secret, "from-env");
	// Only W032 configured: W050 has none (its steps are held, see step_plan).
	unsetenv("ELICENSE_CLIENT_SECRET");
	c = Load(
	    R"({"credentials": {"11100000000013338W032": {"client_id": "w032", "client_secret_file": "$DIR/secret"}}})");
	EXPECT_EQ(CredentialFor(c, kW050), nullptr);
}

TEST_F(WorkerProfiles, RelaySm4) {
	const char *relay = R"({"profile": "relay-sm4",
	  "platform": {"base_url": "https://relay.example", "token_path": "/relay/token"},
	  "credentials": {"*": {"client_id": "fj", "client_secret_file": "$DIR/secret"}},
	  "paths": {"11100000000013338W050": {"validate": "/r/check", "assign_code": "/r/push"}},
	  "unknown_outcome": "resend", "already_done_patterns": ["已存在"],
	  "relay": {"citynum": "350100", "sm4_key_file": "$DIR/sm4.key"}})";
	Config c = Load(relay);
	EXPECT_EQ(c.profile, "relay-sm4");
	EXPECT_EQ(c.token_url, "https://relay.example/relay/token");
	EXPECT_EQ(c.sm4_key, "0123456789abcdef") << "the key file's trailing newline is not part of the key";
	EXPECT_EQ(c.relay_citynum, "350100");
	EXPECT_EQ(c.unknown_outcome, UnknownOutcome::kResend);
	EXPECT_EQ(c.already_done_patterns, std::vector<std::string> {"已存在"});
	EXPECT_EQ(PathFor(c, kW050, kStepAssign), "/r/push");
	EXPECT_FALSE(PathFor(c, kW032, kStepValidate)) << "relay-sm4 has no preset paths";
	setenv("ELICENSE_SM4_KEY", "fedcba9876543210", 1);
	EXPECT_EQ(Load(relay).sm4_key, "fedcba9876543210") << "the environment before the file";
	setenv("ELICENSE_SM4_KEY", "too-short-secret", 1);
	EXPECT_EQ(Load(relay).sm4_key, "too-short-secret");  // 16 bytes exactly: accepted
	setenv("ELICENSE_SM4_KEY", "much-too-long-sm4-secret", 1);
	std::string refusal = Refusal(relay);
	EXPECT_NE(refusal.find("16 bytes"), std::string::npos) << refusal;
	EXPECT_EQ(refusal.find("much-too-long"), std::string::npos) << "never the key";
	unsetenv("ELICENSE_SM4_KEY");
	Secret("sm4.key", "0123456789abcdef", 0640);
	EXPECT_NE(Refusal(relay).find("chmod 600"), std::string::npos);
}

TEST_F(WorkerProfiles, RefusalsNameTheKey) {
	struct Case {
		const char *config, *expected;
	};
	for (const Case &k : std::initializer_list<Case> {
	         {R"({"profile": "relay"})", "profile"},
	         {R"({"profile": "relay-sm4", "platform": {"base_url": "http://r"}, "relay": {"citynum": "350100"}})",
	          "token_path"},
	         {R"({"profile": "relay-sm4", "platform": {"base_url": "http://r", "token_path": "/t"}})", "citynum"},
	         {R"({"profile": "relay-sm4", "platform": {"token_url": "http://r/t"}, "relay": {"citynum": "3501"}})",
	          "citynum"},
	         {R"({"profile": "relay-sm4", "platform": {"token_url": "http://r/t"}, "relay": {"citynum": "350100"}})",
	          "SM4 key"},
	         {R"({"relay": {"sm4_key": "0123456789abcdef"}})", "relay.sm4_key"},
	         {R"({"platform": {"client_secret": "x"}})", "platform.client_secret"},
	         {R"({"credentials": {"*": {"client_id": "a", "client_secret": "x"}}})", "credentials.*.client_secret"},
	         {R"({"credentials": {"*": {"client_secret_file": "$DIR/secret"}}})", "client_id"},
	         {R"({"credentials": {"W050": {"client_id": "a"}}})", "credentials"},
	         {R"({"platform": {"client_id": "a"}, "credentials": {"*": {"client_id": "b"}}})", "twice"},
	         {R"({"paths": {"11100000000013338W050": {"assign": "/x"}}})", "assign"},
	         {R"({"paths": {"11100000000013338W050": {"validate": "x"}}})", "start with"},
	         {R"({"paths": {"11100000000013338W050": {"validate": 1}}})", "string"},
	         {R"({"paths": {"11100000000013338W050": "/x"}})", "object"},
	         {R"({"platform": {"paths": {"11100000000013338W050-assign_code": "/x"}}})", "<type code>/<step>"},
	         {R"({"unknown_outcome": "retry"})", "unknown_outcome"},
	         {R"({"already_done_patterns": "已存在"})", "already_done_patterns"},
	         {R"({"already_done_patterns": [""]})", "already_done_patterns"},
	         {R"({"platform": {"max_answer_bytes": 10}})", "max_answer_bytes"},
	         {R"({"platform": {"token_path": "oauth"}})", "token_path"},
	         {R"({"credentials": {"*": {"client_id": "a", "client_secret_file": "$DIR/nope"}}})", "cannot stat"},
	     }) {
		std::string refusal = Refusal(k.config);
		EXPECT_NE(refusal, "") << k.config;
		EXPECT_NE(refusal.find(k.expected), std::string::npos) << k.config << " → " << refusal;
		EXPECT_EQ(refusal.find("0123456789abcdef"), std::string::npos) << refusal;
	}
}

TEST_F(WorkerProfiles, ExpiryScheduleIsTheWorkersUnlessZero) {
	const std::string base = R"({"platform": {"base_url": "http://127.0.0.1:9", "client_id": "x",
	  "client_secret_file": "$DIR/secret"})";
	EXPECT_EQ(Load(base + "}").expire_interval_ms, 300000) << "expire_due every 5 minutes by default";
	EXPECT_EQ(Load(base + R"(, "expire_interval_ms": 0})").expire_interval_ms, 0) << "0: pg_cron does it";
	EXPECT_EQ(Load(base + R"(, "expire_interval_ms": 1000})").expire_interval_ms, 1000);
	EXPECT_NE(Refusal(base + R"(, "expire_interval_ms": -1})").find("expire_interval_ms"), std::string::npos);
	EXPECT_EQ(Load(base + "}").expire_batch, 1000);
	EXPECT_NE(Refusal(base + R"(, "expire_batch": 0})").find("expire_batch"), std::string::npos);
}

}  // namespace
}  // namespace elicense::worker
