#include "outcome.hpp"

#include "elicense/error.hpp"

#include <curl/curl.h>

namespace elicense::worker {

const char *OutcomeName(StepOutcome outcome) {
	switch (outcome) {
	case StepOutcome::kDone: return "done";
	case StepOutcome::kBusinessError: return "business_error";
	case StepOutcome::kRetry: return "retry";
	case StepOutcome::kUnknown: return "unknown";
	}
	return "?";
}

Verdict Classify(const Exchange &ex) {
	if (ex.too_large)  // the platform answered at length: it may have acted
		return {StepOutcome::kUnknown,
		        false,
		        false,
		        false,
		        std::nullopt,
		        "answer too large (more than " + std::to_string(ex.body_limit) + " bytes)"};
	if (ex.curl_code != CURLE_OK) {
		std::string what = std::string("transport: ") + curl_easy_strerror(static_cast<CURLcode>(ex.curl_code));
		// Before the request left, nothing can have happened on the platform.
		if (!ex.sent)
			return {StepOutcome::kRetry, false, true, true, std::nullopt, what + " (not sent)"};
		return {StepOutcome::kUnknown, false, false, true, std::nullopt, what + " after sending"};
	}
	if (ex.http_status == 401 || ex.http_status == 403)
		return {StepOutcome::kRetry,
		        true,
		        false,
		        false,
		        std::nullopt,
		        "HTTP " + std::to_string(ex.http_status) + ": token refused"};
	if (ex.http_status == 429)
		return {StepOutcome::kRetry, false, false, false, std::nullopt, "HTTP 429: rate limited"};
	// Other 4xx: the platform refused the request itself (bad path, bad
	// body), so it had no effect; retries end in "dead" for an operator.
	if (ex.http_status >= 400 && ex.http_status < 500)
		return {StepOutcome::kRetry, false, false, false, std::nullopt, "HTTP " + std::to_string(ex.http_status)};
	if (ex.http_status != 200)  // 5xx (or 1xx/3xx): a gateway or the platform failing
		return {StepOutcome::kUnknown, false,        false,
		        ex.http_status >= 500, std::nullopt, "HTTP " + std::to_string(ex.http_status)};
	try {
		core::BusinessAnswer answer = core::ParseBusinessAnswer(ex.body);
		// Only 1, 2 and 0 mean something (PLATFORM.md); any other code, "1"
		// with a NUL after it included, says nothing about what happened.
		if (answer.return_code != "1" && answer.return_code != "2" && answer.return_code != "0")
			return {StepOutcome::kUnknown, false, false, false, std::nullopt, "unexpected ReturnCode in the answer"};
		StepOutcome outcome =
		    answer.outcome == core::AnswerOutcome::kFailure ? StepOutcome::kBusinessError : StepOutcome::kDone;
		std::string error = outcome == StepOutcome::kBusinessError ? core::SummariseAnswer(answer) : std::string();
		return {outcome, false, false, false, std::move(answer), std::move(error)};
	} catch (const core::Error &e) {
		return {StepOutcome::kUnknown, false, false, false, std::nullopt, std::string(e.what()) + ": " + e.detail()};
	}
}

}  // namespace elicense::worker
