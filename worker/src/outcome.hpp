// What one HTTP exchange with the platform means for its delivery step.
//
//   kDone           ReturnCode 1 or 2: record the answer, go to the next step
//   kBusinessError  ReturnCode 0 (or other): the platform refused the data;
//                   retrying cannot help, the licence stops and is reported
//   kRetry          the request certainly did not take effect (no connection,
//                   429, other 4xx, or 401/403 after which a new token is fetched);
//                   not_sent: it never reached the platform at all (refused,
//                   DNS, TLS or any failure before the request went out)
//   kUnknown        it may have taken effect (timeout after sending, dropped
//                   connection, 5xx, an answer over max_answer_bytes, an
//                   unreadable 200): the unknown-outcome rule (step_plan.hpp)
//                   decides what happens next, so nothing is delivered twice
#pragma once

#include "elicense/platform_answer.hpp"

#include <optional>
#include <string>

namespace elicense::worker {

enum class StepOutcome { kDone, kBusinessError, kRetry, kUnknown };

const char *OutcomeName(StepOutcome outcome);

struct Exchange {
	bool sent = false;       // the request left completely (curl got past sending)
	int curl_code = 0;       // CURLcode, 0 = transfer completed
	long http_status = 0;    // 0 if no response
	bool too_large = false;  // the answer passed `body_limit` bytes and was cut off
	std::size_t body_limit = 0;
	std::string body;
};

struct Verdict {
	StepOutcome outcome;
	bool auth_failure = false;  // 401/403: drop the token
	bool not_sent = false;      // kRetry: the request never left (no retry budget is used)
	bool outage = false;        // the platform did not answer (not sent, transport error, 5xx): counts for the breaker
	std::optional<core::BusinessAnswer> answer;
	std::string error;  // for kRetry/kUnknown/kBusinessError: what happened
};

Verdict Classify(const Exchange &exchange);

}  // namespace elicense::worker
