// What the worker does with a step it has just leased, before any request:
// send it, query first, hold it for an operator, or finish it without a call.
//
// The unknown-outcome rule. A step "needs a query" when an earlier attempt
// may have taken effect on the platform (a timeout or dropped connection
// after sending, a 5xx, an answer too large to read, a lease that lapsed
// because its worker died). No query endpoint for W032/W050 was ever seen
// (PLATFORM.md), so config.unknown_outcome says how such a step is resolved:
//
//   query   send the type's query item (lease_steps' query_request) to its
//           query path and let elicense.step_queried decide: 'done' (the
//           platform shows the step took effect: nothing is sent again),
//           'send' (it does not: send the request now, same eCertID), 'retry'
//           (confirm only: not shown yet). A type with no query path or no
//           query item is held as under `hold`.
//           Guarantee: nothing twice, as far as the query answer is right.
//   resend  send the same request again; it carries the same eCertID (the
//           extension keeps it for every resend of a step), so a platform
//           that is idempotent by eCertID acts once. A ReturnCode 0 answer
//           whose ReturnMsg or an ErrorMsg contains one of
//           config.already_done_patterns (plain substrings, e.g. "已存在")
//           counts as done: the earlier attempt took effect. assign_code is
//           the exception: such an answer does not carry the assigned code,
//           so the step is held for an operator. The patterns apply only to
//           these resends, never to a first send, where "already exists" is
//           a real refusal.
//           Guarantee: nothing twice if the platform de-duplicates by eCertID
//           or answers "already exists"; otherwise a duplicate is possible.
//   hold    step_failed(kind 'hold'): the row waits as 'held' until an
//           operator has looked at the platform and replays or closes it.
//           Guarantee: nothing twice; delivery waits for a person.
//
// validate has no effect on the platform, so it is always simply sent again.
// confirm is a query by nature: with a query path it is queried; without one
// it is done without a call (its attempt is recorded with outcome done and
// the message "no query endpoint configured"), since collect's own answer
// already said the platform accepted the licence.
//
// A step whose path for its licence type is not configured, whose request
// item is missing, or whose type has no credentials is held with the reason
// (naming the type and step): it never crashes or spins the worker.
#pragma once

#include "config.hpp"
#include "outbox_store.hpp"

#include <string>

namespace elicense::worker {

struct StepPlan {
	enum class Kind { kSend, kQuery, kHold, kDoneWithoutCall };
	Kind kind = Kind::kHold;
	std::string path;     // kSend, kQuery
	bool resend = false;  // kSend under unknown_outcome resend: already_done_patterns apply
	std::string reason;   // kHold: why (last_error); kDoneWithoutCall: the attempt's message
};

// The plan for a step as lease_steps returned it.
StepPlan PlanStep(const Config &config, const LeasedStep &step);

// The plan for sending the step's own request (after a query said 'send').
StepPlan PlanSend(const Config &config, const LeasedStep &step, bool resend);

// {"AcceptData":[item]} around the item's JSON text, as lease_steps gave it.
std::string AcceptDataPayload(const std::string &item_json);

}  // namespace elicense::worker
