// What the worker does with each step, without network or database:
// the plan at lease time (step_plan.hpp: the unknown-outcome rule, missing
// paths and credentials) and every answer oddity of PLATFORM.md turned into
// one clear decision with a NUL-free canonical answer (step_answer.hpp).
#include "direct_envelope.hpp"
#include "relay_sm4_envelope.hpp"
#include "step_answer.hpp"
#include "step_names.hpp"
#include "step_plan.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <string>

namespace elicense::worker {
namespace {

using nlohmann::json;

const std::string kW032 = "11100000000013338W032";
const std::string kW050 = "11100000000013338W050";
const std::vector<std::string> kPatterns = {"已存在", "重复"};

Exchange Ok(std::string body, long status = 200) {
	Exchange e;
	e.sent = true;
	e.curl_code = CURLE_OK;
	e.http_status = status;
	e.body = std::move(body);
	return e;
}

StepDecision Decide(const std::string &body, std::string_view step = kStepCollect, bool query = false,
                    bool resend = false) {
	DirectEnvelope direct;
	return DecideStep({step, query, resend, false}, Ok(body), direct, kPatterns);
}

// The canonical answer as the database gets it: no NUL byte, no \u0000, valid JSON.
void ExpectStorable(const StepDecision &d) {
	std::string text = d.answer.dump(-1, ' ', false, json::error_handler_t::strict);
	EXPECT_EQ(text.find('\0'), std::string::npos);
	EXPECT_EQ(text.find("\\u0000"), std::string::npos) << text;
	EXPECT_FALSE(json::parse(text, nullptr, false).is_discarded());
	EXPECT_EQ(d.reason.find('\0'), std::string::npos);
	EXPECT_EQ(d.return_message.find('\0'), std::string::npos);
}

TEST(StepAnswer, CanonicalAnswerHasTheContractShape) {
	StepDecision d = Decide(
	    R"({"ReturnCode":"2","ReturnMsg":"部分成功","ReturnData":{"SuccessData":[{"encryCertid":"AB","encryKey":"k==","eCertID":"e1"},7,"x",{"url":"u"}],)"
	    R"("WarnData":[{"WarnGuid":"w","WarnMsg":"地址过长"}],"ErrorData":[{"ErrorGuid":"g1","ErrorMsg":"m1"},"bare"]}})",
	    kStepAssign);
	ASSERT_EQ(d.action, StepAction::kSucceed);
	EXPECT_EQ(d.attempt_outcome, "done");
	EXPECT_EQ(d.return_code, "2");
	EXPECT_EQ(d.answer, json::parse(R"({"return_code":"2","message":"部分成功","warnings":["地址过长"],
	    "errors":[{"guid":"g1","message":"m1"},{"guid":"","message":"bare"}],
	    "assignments":[{"encry_certid":"AB","encry_key":"k==","ecert_id":"e1"}],
	    "success_data":[{"encryCertid":"AB","encryKey":"k==","eCertID":"e1"},{"url":"u"}]})"));
	ExpectStorable(d);
}

TEST(StepAnswer, UnreadableAnswersAreUnknownOutcomes) {
	using namespace std::string_literals;
	for (const std::string &body :
	     std::vector<std::string> {"", " ", "null", "<html><body>502 Bad Gateway</body></html>", "[]", "\"1\"", "1",
	                               R"({"ReturnMsg":"no code"})", R"({"ReturnCode":null})", R"({"ReturnCode":[1]})",
	                               R"({"ReturnCode":{"v":1}})", R"({"ReturnCode":true})", R"({"ReturnCode":1.0})",
	                               std::string("{\"ReturnCode\":\"1\",\"ReturnMsg\":\"\xff\xfe\"}"),  // not UTF-8
	                               R"({"ReturnCode":"1")",                                            // cut off
	                               "{\"ReturnCode\":\"1\"}\0garbage"s}) {
		for (bool query : {false, true}) {
			StepDecision d = Decide(body, kStepCollect, query);
			EXPECT_EQ(d.action, StepAction::kFail) << body;
			EXPECT_EQ(d.fail_kind, "unknown") << body;
			EXPECT_EQ(d.attempt_outcome, "unknown") << body;
			EXPECT_TRUE(d.answer.is_null());
			EXPECT_FALSE(d.reason.empty());
			EXPECT_TRUE(d.platform_failure);
			ExpectStorable(d);
		}
	}
	std::string deep = R"({"ReturnCode":"1","ReturnData":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
	EXPECT_EQ(Decide(deep).fail_kind, "unknown") << "nested too deep";
}

TEST(StepAnswer, AnyJsonTypeInAnyFieldStillGivesStrings) {
	for (const char *value : {"null", "17", "-1.5e300", "true", "[1,{\"a\":null}]", "{\"x\":[]}", "\"\""}) {
		std::string v(value);
		std::string body = R"({"ReturnCode":"1","ReturnMsg":)" + v + R"(,"ID":)" + v +
		                   R"(,"ReturnData":{"SuccessData":)" + v + R"(,"WarnData":)" + v + R"(,"ErrorData":)" + v +
		                   "},\"TotalCount\":" + v + "}";
		StepDecision d = Decide(body, kStepCollect);
		EXPECT_EQ(d.action, StepAction::kSucceed) << body;
		EXPECT_TRUE(d.answer["message"].is_string()) << body;
		EXPECT_TRUE(d.answer["success_data"].is_array()) << body;
		ExpectStorable(d);
		// ReturnData itself of any type.
		StepDecision r = Decide(R"({"ReturnCode":1,"ReturnData":)" + v + "}", kStepStatus);
		EXPECT_EQ(r.action, StepAction::kSucceed) << value;
		ExpectStorable(r);
		// Fields of an item of any type, assignments included.
		StepDecision a = Decide(R"({"ReturnCode":"1","ReturnData":{"SuccessData":[{"encryCertid":)" + v +
		                            R"(,"encryKey":)" + v + R"(,"eCertID":)" + v + "}]}}",
		                        kStepAssign);
		// None of these is a usable ciphertext: the code is not known, so
		// the outcome is not either (never a decryption failure in SQL).
		EXPECT_EQ(a.action, StepAction::kFail) << value;
		EXPECT_EQ(a.fail_kind, "unknown") << value;
		ExpectStorable(a);
		// The same assignment in a query answer: unknown too.
		EXPECT_EQ(Decide(R"({"ReturnCode":"1","ReturnData":{"SuccessData":[{"encryCertid":)" + v + R"(,"encryKey":)" +
		                     v + "}]}}",
		                 kStepAssign, true)
		              .fail_kind,
		          "unknown")
		    << value;
	}
}

TEST(StepAnswer, OnlyTheKnownReturnCodesDecideAnything) {
	// "1" followed by a NUL, "-1" (one client's own code for an empty body),
	// "3": none of them says what the platform did.
	for (const char *code : {R"("1\u0000")", R"("-1")", "3", R"("")", R"(" 1")"}) {
		StepDecision d = Decide(std::string(R"({"ReturnCode":)") + code + R"(,"ReturnMsg":"ok"})", kStepCollect);
		EXPECT_EQ(d.action, StepAction::kFail) << code;
		EXPECT_EQ(d.fail_kind, "unknown") << code;
		ExpectStorable(d);
	}
	// A success for assign_code must carry its code.
	StepDecision none =
	    Decide(R"({"ReturnCode":"1","ReturnMsg":"赋码成功","ReturnData":{"SuccessData":[]}})", kStepAssign);
	EXPECT_EQ(none.fail_kind, "unknown");
	StepDecision some = Decide(
	    R"({"ReturnCode":"1","ReturnData":{"SuccessData":[{"encryCertid":"AB12","encryKey":"a2V5","eCertID":"g"}]}})",
	    kStepAssign);
	EXPECT_EQ(some.action, StepAction::kSucceed);
}

TEST(StepAnswer, NulCharactersNeverReachTheDatabase) {
	StepDecision d = Decide(
	    R"({"ReturnCode":"0","ReturnMsg":"bad\u0000msg","ReturnData":{"ErrorData":[{"ErrorGuid":"g\u0000","ErrorMsg":"e\u0000"}],)"
	    R"("SuccessData":[{"k\u0000ey":"v\u0000","n":[{"deep\u0000":"\u0000"}]}]}})",
	    kStepCollect, true);
	ASSERT_EQ(d.action, StepAction::kQueried);
	EXPECT_EQ(d.answer["return_code"], "0");
	EXPECT_EQ(d.answer["message"], "badmsg");
	EXPECT_EQ(d.answer["errors"][0], json::parse(R"({"guid":"g","message":"e"})"));
	EXPECT_EQ(d.answer["success_data"][0]["key"], "v");
	EXPECT_EQ(d.answer["success_data"][0]["n"][0]["deep"], "");
	ExpectStorable(d);
	StepDecision refused = Decide(R"({"ReturnCode":"0","ReturnMsg":"x\u0000y"})");
	EXPECT_EQ(refused.fail_kind, "business_error");
	EXPECT_EQ(refused.reason, "0 xy");
}

TEST(StepAnswer, QueryAnswersGoToStepQueriedWhateverTheyHold) {
	// A null url or certState, "not found" with ReturnCode 0, an empty list: the SQL decides.
	for (const char *body :
	     {R"({"ReturnCode":"1","ReturnData":{"SuccessData":[{"zzeCertID":"1.2.x","url":null,"certState":null}]}})",
	      R"({"ReturnCode":"0","ReturnMsg":"未查询到数据"})", R"({"ReturnCode":"1","ReturnData":{"SuccessData":[]}})",
	      R"({"ReturnCode":"1","ReturnData":{"SuccessData":[{"url":{"a":1},"certState":5}]}})"}) {
		for (std::string_view step : {kStepAssign, kStepCollect, kStepStatus, kStepConfirm}) {
			StepDecision d = Decide(body, step, true);
			EXPECT_EQ(d.action, StepAction::kQueried) << body;
			EXPECT_TRUE(d.answer.is_object());
			ExpectStorable(d);
		}
	}
}

TEST(StepAnswer, TransportAndHttp) {
	DirectEnvelope direct;
	Exchange refused;
	refused.curl_code = CURLE_COULDNT_CONNECT;
	StepDecision d = DecideStep({kStepAssign, false, false, false}, refused, direct, kPatterns);
	EXPECT_EQ(d.fail_kind, "not_sent");  // never reached the platform: no retry budget used
	EXPECT_EQ(d.attempt_outcome, "not_sent");
	EXPECT_TRUE(d.outage);
	Exchange timeout;
	timeout.sent = true;
	timeout.curl_code = CURLE_OPERATION_TIMEDOUT;
	StepDecision t = DecideStep({kStepAssign, false, false, false}, timeout, direct, kPatterns);
	EXPECT_EQ(t.fail_kind, "unknown");
	EXPECT_TRUE(t.outage);
	Exchange big = Ok("");
	big.curl_code = CURLE_WRITE_ERROR;
	big.too_large = true;
	big.body_limit = 1048576;
	StepDecision large = DecideStep({kStepCollect, false, false, false}, big, direct, kPatterns);
	EXPECT_EQ(large.fail_kind, "unknown");
	EXPECT_EQ(large.reason, "answer too large (more than 1048576 bytes)");
	EXPECT_EQ(Decide("<html>503</html>").fail_kind, "unknown");
	EXPECT_EQ(DecideStep({kStepCollect, false, false, false}, Ok("{}", 503), direct, kPatterns).fail_kind, "unknown");
	EXPECT_EQ(DecideStep({kStepCollect, false, false, false}, Ok("{}", 404), direct, kPatterns).fail_kind, "retry");
	EXPECT_EQ(DecideStep({kStepCollect, false, false, false}, Ok("", 204), direct, kPatterns).fail_kind, "unknown");
	// 401: a new token once, then a retry.
	EXPECT_EQ(DecideStep({kStepCollect, false, false, false}, Ok("", 401), direct, kPatterns).action,
	          StepAction::kRenewToken);
	StepDecision again = DecideStep({kStepCollect, false, false, true}, Ok("", 401), direct, kPatterns);
	EXPECT_EQ(again.action, StepAction::kFail);
	EXPECT_EQ(again.fail_kind, "retry");
}

TEST(StepAnswer, HugeMessagesAreCutAtACharacterBoundary) {
	std::string msg;
	for (int i = 0; i < 20000; ++i)
		msg += "错";
	StepDecision d = Decide(R"({"ReturnCode":"0","ReturnMsg":")" + msg + "\"}");
	EXPECT_EQ(d.fail_kind, "business_error");
	EXPECT_LE(d.reason.size(), 2000u + 3u);
	EXPECT_FALSE(json::parse(json(d.reason).dump(), nullptr, false).is_discarded()) << "still valid UTF-8";
	EXPECT_EQ(d.reason.substr(d.reason.size() - 3), "…");
	EXPECT_EQ(CleanText(std::string("ab\0c", 4), 10), "abc");
	EXPECT_EQ(CleanText("abcdef", 3), "abc…");
}

TEST(StepAnswer, AlreadyDoneCountsOnlyOnAResend) {
	std::string exists =
	    R"({"ReturnCode":"0","ReturnMsg":"失败","ReturnData":{"ErrorData":[{"ErrorGuid":"e","ErrorMsg":"该证照已存在"}]}})";
	StepDecision first = Decide(exists, kStepCollect, false, false);
	EXPECT_EQ(first.fail_kind, "business_error") << "on a first send it is a refusal";
	StepDecision resent = Decide(exists, kStepCollect, false, true);
	EXPECT_EQ(resent.action, StepAction::kSucceed);
	EXPECT_TRUE(resent.already_done);
	EXPECT_EQ(resent.attempt_outcome, "done");
	ExpectStorable(resent);
	StepDecision assign = Decide(exists, kStepAssign, false, true);
	EXPECT_EQ(assign.action, StepAction::kFail);
	EXPECT_EQ(assign.fail_kind, "hold") << "the code is unknown";
	EXPECT_EQ(assign.attempt_outcome, "held");
	EXPECT_NE(assign.reason.find("no assigned code"), std::string::npos);
	EXPECT_EQ(Decide(R"({"ReturnCode":"0","ReturnMsg":"证书编号重复"})", kStepStatus, false, true).action,
	          StepAction::kSucceed);
	EXPECT_EQ(Decide(R"({"ReturnCode":"0","ReturnMsg":"字段缺失"})", kStepStatus, false, true).fail_kind,
	          "business_error");
	DirectEnvelope direct;
	EXPECT_EQ(
	    DecideStep({kStepStatus, false, true, false}, Ok(R"({"ReturnCode":"0","ReturnMsg":"已存在"})"), direct, {})
	        .fail_kind,
	    "business_error")
	    << "no patterns configured: nothing counts as done";
}

TEST(StepAnswer, RelayAnswersInCustom) {
	RelaySm4Envelope relay("0123456789abcdef", "350000");
	StepDecision d = DecideStep({kStepValidate, false, false, false},
	                            Ok(R"({"custom":{"ReturnCode":"1","ReturnMsg":"校验通过"},"status":{"code":"1"}})"),
	                            relay, kPatterns);
	EXPECT_EQ(d.action, StepAction::kSucceed);
	EXPECT_EQ(d.answer["message"], "校验通过");
	EXPECT_EQ(DecideStep({kStepValidate, false, false, false}, Ok(R"({"custom":{"x":1}})"), relay, kPatterns).fail_kind,
	          "unknown");
}

// --- the plan at lease time -------------------------------------------------

Config DirectConfig(UnknownOutcome rule) {
	Config c;
	c.paths = PresetOf("direct").paths;
	c.credentials["*"] = {"id", "secret"};
	c.unknown_outcome = rule;
	return c;
}

LeasedStep Step(std::string type, std::string_view step, bool needs_query, bool query_item = true) {
	LeasedStep s;
	s.outbox_id = 1;
	s.identifier = "1.2.156.3005.2.x";
	s.type_code = std::move(type);
	s.step = std::string(step);
	s.needs_query = needs_query;
	s.ecert_id = "6f1c0e52-9d7a-4d0c-8f47-2b1e3c9a0d11";
	s.request = step == kStepConfirm ? "" : R"({"eCertID":"6f1c0e52-9d7a-4d0c-8f47-2b1e3c9a0d11"})";
	s.query_request = query_item ? R"({"zzeCertID":"1.2.156.3005.2.x"})" : "";
	return s;
}

TEST(StepPlan, FirstSendsGoToTheirPath) {
	Config c = DirectConfig(UnknownOutcome::kQuery);
	StepPlan p = PlanStep(c, Step(kW032, kStepAssign, false));
	EXPECT_EQ(p.kind, StepPlan::Kind::kSend);
	EXPECT_EQ(p.path, "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_fm");
	EXPECT_FALSE(p.resend);
	EXPECT_EQ(AcceptDataPayload(R"({"a":1})"), R"({"AcceptData":[{"a":1}]})");
}

TEST(StepPlan, MissingPathCredentialsOrItemHoldWithTheReason) {
	Config c = DirectConfig(UnknownOutcome::kQuery);
	StepPlan p = PlanStep(c, Step(kW050, kStepAssign, false));
	EXPECT_EQ(p.kind, StepPlan::Kind::kHold);
	EXPECT_NE(p.reason.find(kW050), std::string::npos) << p.reason;
	EXPECT_NE(p.reason.find("assign_code"), std::string::npos) << p.reason;
	c.credentials.clear();
	c.credentials[kW050] = {"w050", "s"};
	EXPECT_EQ(PlanStep(c, Step(kW032, kStepCollect, false)).kind, StepPlan::Kind::kHold);
	EXPECT_NE(PlanStep(c, Step(kW032, kStepCollect, false)).reason.find("credentials"), std::string::npos);
	LeasedStep no_item = Step(kW050, kStepValidate, false);
	no_item.request.clear();
	EXPECT_EQ(PlanStep(c, no_item).kind, StepPlan::Kind::kHold);
}

TEST(StepPlan, ConfirmWithoutAQueryPathIsDoneWithoutACall) {
	Config c = DirectConfig(UnknownOutcome::kQuery);
	StepPlan p = PlanStep(c, Step(kW032, kStepConfirm, false));
	EXPECT_EQ(p.kind, StepPlan::Kind::kDoneWithoutCall);
	EXPECT_EQ(p.reason, "no query endpoint configured");
	c.paths[kW032]["query"] = "/q";
	EXPECT_EQ(PlanStep(c, Step(kW032, kStepConfirm, false)).kind, StepPlan::Kind::kQuery);
	EXPECT_EQ(PlanStep(c, Step(kW032, kStepConfirm, false, false)).kind, StepPlan::Kind::kDoneWithoutCall)
	    << "a type without query fields has nothing to query";
}

TEST(StepPlan, TheUnknownOutcomeRule) {
	// query: with a query path, query; without one, hold.
	Config q = DirectConfig(UnknownOutcome::kQuery);
	StepPlan held = PlanStep(q, Step(kW032, kStepCollect, true));
	EXPECT_EQ(held.kind, StepPlan::Kind::kHold);
	EXPECT_NE(held.reason.find("unknown"), std::string::npos);
	q.paths["*"]["query"] = "/query";
	StepPlan query = PlanStep(q, Step(kW032, kStepCollect, true));
	EXPECT_EQ(query.kind, StepPlan::Kind::kQuery);
	EXPECT_EQ(query.path, "/query");
	EXPECT_EQ(PlanStep(q, Step(kW032, kStepCollect, true, false)).kind, StepPlan::Kind::kHold)
	    << "no query item for the type";
	// resend: the same request, with the already-done patterns armed.
	StepPlan resend = PlanStep(DirectConfig(UnknownOutcome::kResend), Step(kW032, kStepStatus, true));
	EXPECT_EQ(resend.kind, StepPlan::Kind::kSend);
	EXPECT_TRUE(resend.resend);
	EXPECT_EQ(resend.path, "/epoint-gateway/tzryfm/rest/tzryzsrest/tzry_update");
	// hold.
	StepPlan hold = PlanStep(DirectConfig(UnknownOutcome::kHold), Step(kW032, kStepAssign, true));
	EXPECT_EQ(hold.kind, StepPlan::Kind::kHold);
	EXPECT_NE(hold.reason.find("unknown_outcome hold"), std::string::npos);
	// validate has no effect: always just sent again.
	for (UnknownOutcome rule : {UnknownOutcome::kQuery, UnknownOutcome::kResend, UnknownOutcome::kHold}) {
		StepPlan v = PlanStep(DirectConfig(rule), Step(kW032, kStepValidate, true));
		EXPECT_EQ(v.kind, StepPlan::Kind::kSend);
		EXPECT_FALSE(v.resend);
	}
}

}  // namespace
}  // namespace elicense::worker
