// Parsing the platform's token and business answers in every shape that
// PLATFORM.md and seed 000 show.
#include "elicense/error.hpp"
#include "elicense/platform_answer.hpp"

#include <gtest/gtest.h>

namespace elicense::core {
namespace {

TEST(TokenAnswer, SeedShape) {
	TokenAnswer t = ParseTokenAnswer(
	    R"({"controls":[],"custom":{"access_token":"3317ed6873e414156ca83fd6f33a9c3e","refresh_token":"471a",)"
	    R"("jsessionid":"","expires_in":"1800"},"status":{"code":"1"}})");
	EXPECT_EQ(t.access_token, "3317ed6873e414156ca83fd6f33a9c3e");
	EXPECT_EQ(t.expires_in_s, 1800);
}

TEST(TokenAnswer, NumbersAccepted) {
	TokenAnswer t = ParseTokenAnswer(R"({"custom":{"access_token":"a","expires_in":60},"status":{"code":1}})");
	EXPECT_EQ(t.expires_in_s, 60);
}

TEST(TokenAnswer, FailuresNeverEchoTheBody) {
	for (const char *body : {R"({"custom":{"access_token":"secret-token","expires_in":"60"},"status":{"code":"0"}})",
	                         R"({"custom":{"access_token":"","expires_in":"60"},"status":{"code":"1"}})",
	                         R"({"custom":{"access_token":"secret-token","expires_in":"soon"},"status":{"code":"1"}})",
	                         "not json", "[]"}) {
		try {
			ParseTokenAnswer(body);
			FAIL() << body;
		} catch (const Error &e) {
			EXPECT_STREQ(e.sqlstate(), "22P02");
			EXPECT_EQ(std::string(e.what()).find("secret-token"), std::string::npos);
			EXPECT_EQ(e.detail().find("secret-token"), std::string::npos);
		}
	}
}

TEST(BusinessAnswer, SeedShape) {
	BusinessAnswer a = ParseBusinessAnswer(R"({"ReturnCode":"1","ReturnMsg":"生成成功","ID":"202232000001000001"})");
	EXPECT_EQ(a.outcome, AnswerOutcome::kSuccess);
	EXPECT_EQ(a.id, "202232000001000001");
	EXPECT_EQ(SummariseAnswer(a), "1 生成成功");
	EXPECT_EQ(a.success_data_json, "[]");
}

TEST(BusinessAnswer, AssignmentInSuccessData) {
	BusinessAnswer a = ParseBusinessAnswer(
	    R"({"ReturnCode":1,"ReturnMsg":"ok","ReturnData":{"SuccessData":[{"encryCertid":"5353694DE19F0844",)"
	    R"("encryKey":"XX8U+FFI3yRWEZ0U==","eCertID":"1.2.156.3005.2.x"}],"WarnData":[],"ErrorData":[]},"TotalCount":1})");
	EXPECT_EQ(a.outcome, AnswerOutcome::kSuccess);
	EXPECT_EQ(a.return_code, "1");
	ASSERT_EQ(a.assignments.size(), 1u);
	EXPECT_EQ(a.assignments[0].encry_certid, "5353694DE19F0844");
	EXPECT_EQ(a.assignments[0].encry_key, "XX8U+FFI3yRWEZ0U==");
	EXPECT_EQ(a.assignments[0].ecert_id, "1.2.156.3005.2.x");
}

TEST(BusinessAnswer, WarningsAndErrors) {
	BusinessAnswer w = ParseBusinessAnswer(
	    R"({"ReturnCode":"2","ReturnMsg":"部分成功","ReturnData":{"WarnData":[{"WarnMsg":"地址过长"}, "plain"]}})");
	EXPECT_EQ(w.outcome, AnswerOutcome::kSuccessWithWarning);
	EXPECT_EQ(SummariseAnswer(w), "2 部分成功: 地址过长; plain");
	BusinessAnswer e = ParseBusinessAnswer(
	    R"({"ReturnCode":"0","ReturnMsg":"失败","ReturnData":{"ErrorData":[{"ErrorGuid":"g1","ErrorMsg":"证书编号重复"},)"
	    R"({"ErrorGuid":"g2","ErrorMsg":"字段缺失"}]}})");
	EXPECT_EQ(e.outcome, AnswerOutcome::kFailure);
	EXPECT_EQ(e.errors.size(), 2u);
	EXPECT_EQ(e.error_guids, (std::vector<std::string> {"g1", "g2"}));
	EXPECT_EQ(SummariseAnswer(e), "0 失败: 证书编号重复; 字段缺失");
}

TEST(BusinessAnswer, UnknownCodesAreFailures) {
	EXPECT_EQ(ParseBusinessAnswer(R"({"ReturnCode":"9"})").outcome, AnswerOutcome::kFailure);
	EXPECT_EQ(ParseBusinessAnswer(R"({"ReturnCode":-1})").return_code, "-1");
}

TEST(BusinessAnswer, MalformedBodies) {
	for (const char *body : {"", "<html>502 Bad Gateway</html>", "[]", R"({"ReturnMsg":"x"})", R"({"ReturnCode":null})",
	                         R"({"ReturnCode":1.5})"}) {
		EXPECT_THROW(ParseBusinessAnswer(body), Error) << body;
	}
}

TEST(BusinessAnswer, RawNulIsMalformed) {
	// nlohmann's parser would stop at the NUL and accept the answer before it.
	EXPECT_THROW(ParseBusinessAnswer(std::string("{\"ReturnCode\":\"1\"}\0{", 20)), Error);
	EXPECT_THROW(ParseTokenAnswer(std::string("{\0}", 3)), Error);
	EXPECT_EQ(ParseBusinessAnswer(R"({"ReturnCode":"1","ReturnMsg":"a\u0000b"})").message, std::string("a\0b", 3))
	    << "an escaped NUL is valid JSON; the worker removes it (step_answer.hpp)";
}

TEST(BusinessAnswer, NestingIsBounded) {
	auto nested = [](int depth) {
		std::string inner = std::string(depth - 1, '[') + std::string(depth - 1, ']');
		return R"({"ReturnCode":"1","ReturnData":)" + inner + "}";
	};
	EXPECT_NO_THROW(ParseBusinessAnswer(nested(kMaxAnswerDepth)));
	EXPECT_THROW(ParseBusinessAnswer(nested(kMaxAnswerDepth + 1)), Error);
	EXPECT_THROW(ParseBusinessAnswer(nested(200000)), Error) << "a deep body is refused before it is parsed";
	// Brackets inside strings do not count.
	EXPECT_NO_THROW(ParseBusinessAnswer(R"({"ReturnCode":"1","ReturnMsg":")" + std::string(1000, '[') + "\\\\\"}"));
}

}  // namespace
}  // namespace elicense::core
