// From one HTTP exchange of a step to what happens next, as a pure function:
// the delivery loop calls DecideStep for every answer, and so do the unit
// tests and tests/fuzz/step_answer_fuzz.cpp. Whatever the platform sends (any
// JSON type in any field, null, \u0000, an empty body, HTML, a body without
// ReturnCode, an answer cut off at max_answer_bytes), the result is one of
// the actions below with a reason, never an exception, and the canonical
// answer holds no NUL character (PostgreSQL's jsonb refuses \u0000).
//
// Canonical answer (what step_succeeded and step_queried receive):
//   {"return_code": "1", "message": "…", "warnings": ["…"],
//    "errors": [{"guid": "…", "message": "…"}],
//    "assignments": [{"encry_certid": "…", "encry_key": "…", "ecert_id": "…"}],
//    "success_data": [ …SuccessData items as sent, objects only… ]}
#pragma once

#include "elicense/platform_answer.hpp"
#include "envelope.hpp"
#include "outcome.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace elicense::worker {

struct StepAnswerContext {
	std::string_view step;      // outbox step
	bool query = false;         // the exchange was a query (confirm, or before a resend)
	bool resend = false;        // a resend under unknown_outcome resend: already_done_patterns apply
	bool auth_retried = false;  // a refused token was already replaced once for this step
};

enum class StepAction {
	kSucceed,     // step_succeeded(answer)
	kQueried,     // step_queried(answer) decides
	kFail,        // step_failed(fail_kind, reason)
	kRenewToken,  // drop the token and send again, without counting an attempt
};

struct StepDecision {
	StepAction action = StepAction::kFail;
	std::string fail_kind;          // kFail: retry | not_sent | unknown | business_error | hold
	std::string reason;             // kFail: last_error; otherwise a note for the log
	nlohmann::json answer;          // kSucceed, kQueried: the canonical answer; else null
	std::string attempt_outcome;    // record_attempt: done | business_error | retry | not_sent | unknown | held
	std::string return_code;        // record_attempt (empty: NULL)
	std::string return_message;     // record_attempt: the answer's summary, or what went wrong
	bool platform_failure = false;  // counts toward switching to the backup endpoint
	bool outage = false;        // no answer from the platform (not sent, transport, 5xx): the circuit breaker counts it
	bool already_done = false;  // a resend answered "already exists"
};

StepDecision DecideStep(const StepAnswerContext &context, const Exchange &exchange, const Envelope &envelope,
                        const std::vector<std::string> &already_done_patterns);

// The canonical answer of a parsed business answer.
nlohmann::json CanonicalAnswer(const core::BusinessAnswer &answer);

// `text` without NUL characters, cut to at most `max_bytes` at a UTF-8
// character boundary (with "…" when cut).
std::string CleanText(std::string_view text, std::size_t max_bytes = 2000);

}  // namespace elicense::worker
