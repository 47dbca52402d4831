// libFuzzer target for the worker's answer handling: arbitrary bytes as the
// HTTP answer body of every step, sent, queried or resent, through both
// envelopes, go through DecideStep (worker/src/step_answer.hpp), the very
// function the delivery loop calls for each exchange. It must never throw
// nor fall back on its internal catch-all, and whatever it hands to the
// database (the canonical answer, the reason, the attempt's message) must be
// valid UTF-8 JSON / text without a NUL character.
#include "direct_envelope.hpp"
#include "relay_sm4_envelope.hpp"
#include "step_answer.hpp"
#include "step_names.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

using elicense::worker::StepAction;
using elicense::worker::StepDecision;
using nlohmann::json;

// Valid UTF-8 without NUL, as PostgreSQL text takes it.
void CheckText(const std::string &s) {
	if (s.find('\0') != std::string::npos)
		std::abort();
	try {
		(void)json(s).dump(-1, ' ', false, json::error_handler_t::strict);
	} catch (const json::exception &) {
		std::abort();
	}
}

void Check(const StepDecision &d) {
	CheckText(d.reason);
	CheckText(d.return_message);
	CheckText(d.return_code);
	if (d.reason.rfind("cannot interpret the answer", 0) == 0)
		std::abort();  // the catch-all fired: something threw
	bool with_answer = d.action == StepAction::kSucceed || d.action == StepAction::kQueried;
	if (with_answer != d.answer.is_object())
		std::abort();
	if (d.action == StepAction::kFail && d.fail_kind != "retry" && d.fail_kind != "not_sent" &&
	    d.fail_kind != "unknown" && d.fail_kind != "business_error" && d.fail_kind != "hold")
		std::abort();
	if (!with_answer)
		return;
	for (const char *key : {"return_code", "message"})
		if (!d.answer[key].is_string())
			std::abort();
	for (const char *key : {"warnings", "errors", "assignments", "success_data"})
		if (!d.answer[key].is_array())
			std::abort();
	for (const json &item : d.answer["success_data"])
		if (!item.is_object())
			std::abort();
	std::string text;
	try {
		text = d.answer.dump(-1, ' ', false, json::error_handler_t::strict);
	} catch (const json::exception &) {
		std::abort();  // invalid UTF-8 would be refused by jsonb
	}
	if (text.find('\0') != std::string::npos || text.find("\\u0000") != std::string::npos)
		std::abort();
	if (json::parse(text, nullptr, false).is_discarded())
		std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	namespace w = elicense::worker;
	static const w::DirectEnvelope direct;
	static const w::RelaySm4Envelope relay("0123456789abcdef", "350000");
	static const std::vector<std::string> patterns = {"已存在", "重复"};
	std::string body(reinterpret_cast<const char *>(data), size);
	// The first byte also picks an HTTP status, so the other branches see odd bodies too.
	static const long statuses[] = {200, 200, 200, 201, 204, 401, 403, 404, 429, 500, 503, 302};
	long status = size > 0 ? statuses[data[0] % (sizeof statuses / sizeof statuses[0])] : 200;
	for (const w::Envelope *envelope :
	     {static_cast<const w::Envelope *>(&direct), static_cast<const w::Envelope *>(&relay)})
		for (std::string_view step :
		     {w::kStepValidate, w::kStepAssign, w::kStepCollect, w::kStepStatus, w::kStepConfirm})
			for (int mode = 0; mode < 4; ++mode) {
				w::Exchange ex;
				ex.sent = true;
				ex.curl_code = CURLE_OK;
				ex.http_status = mode == 3 ? status : 200;
				ex.body = body;
				w::StepAnswerContext context {step, mode == 1, mode == 2, mode == 3};
				try {
					Check(w::DecideStep(context, ex, *envelope, patterns));
				} catch (...) {
					std::abort();
				}
			}
	return 0;
}
