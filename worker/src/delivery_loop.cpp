#include "delivery_loop.hpp"

#include "elicense/platform_answer.hpp"
#include "elicense/common/log.hpp"
#include "step_answer.hpp"
#include "step_names.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <string_view>
#include <utility>

namespace elicense::worker {
namespace {

using nlohmann::json;

std::string FormEscape(const std::string &s) {
	char *e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
	std::string out = e ? e : "";
	curl_free(e);
	return out;
}

json NoCallAnswer(const std::string &message) {
	return {{"return_code", ""},       {"message", message},           {"warnings", json::array()},
	        {"errors", json::array()}, {"assignments", json::array()}, {"success_data", json::array()}};
}

}  // namespace

DeliveryLoop::DeliveryLoop(Config config, const std::atomic<bool> &stop)
    : cfg_(std::move(config)), stop_(stop), store_(cfg_.conninfo, OutboxStore::LeaseOwner(cfg_.worker_id)),
      results_store_(cfg_.conninfo, store_.owner(), false), http_(cfg_.in_flight), envelope_(MakeEnvelope(cfg_)),
      endpoints_(cfg_.base_url, cfg_.backup_url, cfg_.failures_to_switch, Millis(cfg_.probe_interval_ms)),
      bucket_(cfg_.rate_per_s, cfg_.burst), breaker_(cfg_.breaker), lane_share_(cfg_.stock_share),
      rng_(std::random_device {}()) {
}

std::string DeliveryLoop::SlotKey(const Credential &c) {
	return c.client_id + '\x1f' + c.client_secret;
}

bool DeliveryLoop::HasToken(const Active &a, Clock::time_point now) const {
	const TokenSlot *slot = FindSlot(*a.credential);
	return slot != nullptr && slot->cache.Usable(now);
}

DeliveryLoop::TokenSlot &DeliveryLoop::SlotFor(const Credential &c) {
	auto [it, fresh] = slot_by_credential_.try_emplace(&c, nullptr);
	if (fresh)
		it->second = &tokens_[SlotKey(c)];
	return *it->second;
}

const DeliveryLoop::TokenSlot *DeliveryLoop::FindSlot(const Credential &c) const {
	if (auto it = slot_by_credential_.find(&c); it != slot_by_credential_.end())
		return it->second;
	auto it = tokens_.find(SlotKey(c));  // made for another credential of the same pair, or not yet
	return it == tokens_.end() ? nullptr : &it->second;
}

// True if the slot holds a token that has not expired. Starts a fetch when
// the token is due for renewal (or missing), unless one is running or the
// pacing of TokenRetry says not yet; the current token stays in use meanwhile.
bool DeliveryLoop::TokenReady(TokenSlot &slot, const Credential &c) {
	auto now = Clock::now();
	if (slot.cache.NeedsRefresh(now) && !slot.fetching && slot.retry.MayFetch(now))
		FetchToken(slot, c);
	return slot.cache.Usable(now);
}

void DeliveryLoop::FetchToken(TokenSlot &slot, const Credential &c) {
	HttpRequest req;
	req.url = cfg_.token_url;
	req.content_type = "application/x-www-form-urlencoded";
	req.body = "client_id=" + FormEscape(c.client_id) + "&client_secret=" + FormEscape(c.client_secret) +
	           "&grant_type=client_credentials";
	req.timeout_ms = cfg_.request_timeout_ms;
	req.connect_timeout_ms = cfg_.connect_timeout_ms;
	req.max_answer_bytes = static_cast<std::size_t>(cfg_.max_answer_bytes);
	slot.fetching = true;
	slot.retry.Started(Clock::now());
	std::string client_id = c.client_id;
	TokenSlot *target = &slot;  // map nodes stay put; slots are never erased
	http_.Submit(std::move(req), [target, client_id](const HttpResult &r) {
		target->fetching = false;
		try {
			if (r.exchange.too_large)
				throw std::runtime_error("token endpoint: answer too large");
			if (r.exchange.curl_code != CURLE_OK)
				throw std::runtime_error(std::string("token endpoint: ") +
				                         curl_easy_strerror(static_cast<CURLcode>(r.exchange.curl_code)));
			if (r.exchange.http_status != 200)
				throw std::runtime_error("token endpoint: HTTP " + std::to_string(r.exchange.http_status));
			core::TokenAnswer t = core::ParseTokenAnswer(r.exchange.body);
			target->cache.Store(t.access_token, t.expires_in_s, Clock::now());
			target->retry.Succeeded();
			common::LogEvent(
			    "info", "token",
			    {{"client_id", client_id}, {"expires_in_s", t.expires_in_s}, {"duration_ms", r.duration.count()}});
		} catch (const std::exception &e) {
			Millis wait = target->retry.Failed(Clock::now());
			common::LogEvent("warning", "token_failed",
			                 {{"client_id", client_id},
			                  {"error", e.what()},
			                  {"failures", target->retry.failures()},
			                  {"retry_in_ms", wait.count()}});
		}
	});
}

// Prechecks go first: an approval waits for their answer.
void DeliveryLoop::LeasePrechecks(int &room) {
	for (LeasedPrecheck &p : store_.LeasePrechecks(room, cfg_.lease_seconds)) {
		auto a = std::make_shared<Active>();
		a->ticket = p.ticket;
		a->step.outbox_id = --next_precheck_key_;
		a->step.identifier = "precheck " + p.ticket;
		a->step.step = std::string(kStepValidate);
		a->step.attempts = p.attempts;
		a->step.type_code = std::move(p.type_code);
		a->step.authority_division = std::move(p.authority_division);
		a->step.ecert_id = p.ticket;
		a->step.request = std::move(p.request);
		active_[a->step.outbox_id] = a;
		--room;
		Begin(a);
	}
}

// True (and logged) if the statement failed because the extension lacks the
// function (42883, undefined_function): the feature waits a minute.
bool DeliveryLoop::Missing(const DbStatementError &e, const char *what, Clock::time_point &until) {
	if (std::string_view(e.what()).rfind("42883", 0) != 0)
		return false;
	until = Clock::now() + Millis(60000);
	common::LogEvent(
	    "warning", "extension_lacks",
	    {{"what", what}, {"error", CleanText(e.what())}, {"note", "delivering without it; looking again in 60 s"}});
	return true;
}

// Leased steps: up to in_flight requests on the wire and three times as many
// waiting to go, so the next request leaves as soon as one ends; results
// waiting for the group commit do not count. Leases are taken in groups (at
// least half of in_flight at a time, or whenever nothing waits), so one
// lease_steps call serves many steps. In a long burst the lease session is
// the worker's bottleneck, and each call is sent as soon as the last one
// returns: with room for twice in_flight that left leases of ~20 steps and
// 1,490-1,870 requests/s (bench/sync.sh, 8,000 requests at 5 ms); with four
// times, leases of twice the size cost less per step and gave 1,850-2,350
// (eight times gave no more).
constexpr int kLeasedPerInFlight = 4;

int DeliveryLoop::LeaseRoom() const {
	int held = static_cast<int>(active_.size() - results_.size() - committing_.size());
	int room = kLeasedPerInFlight * cfg_.in_flight - held;
	return room >= std::max(1, cfg_.in_flight / 2) || (waiting_.empty() && room > 0) ? room : 0;
}

// Lease more only when no leased live step could be sent (all wait for a
// token): stock steps waiting for the rate limit do not keep a live step from
// being leased into the room kept for it. An open breaker needs one step to
// probe with, no more. One lease at a time per session.
bool DeliveryLoop::MayLease() const {
	int room = LeaseRoom();
	if (stop_ || room <= 0 || (breaker_.open() && !waiting_.empty()) ||
	    store_.pending() != OutboxStore::PendingCall::kNone)
		return false;
	if (room >= cfg_.in_flight / 2)  // before the scan of waiting_: NextWake asks at every turn
		return true;
	auto now = Clock::now();
	return std::none_of(waiting_.begin(), waiting_.end(), [&](const ActivePtr &a) {
		return HasToken(*a, now) && LaneNamed(a->step.lane) == Lane::kLive;
	});
}

void DeliveryLoop::LeaseMore() {
	int room = LeaseRoom();
	if (room <= 0 || stop_)
		return;
	if (Clock::now() >= prechecks_missing_until_) {
		try {
			LeasePrechecks(room);
		} catch (const DbStatementError &e) {
			if (!Missing(e, "elicense.lease_prechecks", prechecks_missing_until_))
				throw;
		}
	}
	if (room <= 0)
		return;
	// Stock steps hold at most LaneShare::StockSlots: the rest is room for live steps.
	int stock_active = static_cast<int>(std::count_if(active_.begin(), active_.end(), [](const auto &kv) {
		return LaneNamed(kv.second->step.lane) == Lane::kStock;
	}));
	int max_stock = std::max(0, LaneShare::StockSlots(cfg_.in_flight) - stock_active);
	// The loop does not wait for the answer (CollectDb takes it), except with
	// --once, which ends when nothing more is due.
	store_.SendLease(room, cfg_.lease_seconds, max_stock);
	if (once_) {
		store_.WaitPending();
		CollectDb();
	}
}

void DeliveryLoop::Started(LeasedStep s) {
	auto a = std::make_shared<Active>();
	a->step = std::move(s);
	active_[a->step.outbox_id] = a;
	Begin(a);
}

void DeliveryLoop::Begin(const ActivePtr &a) {
	StepPlan plan = PlanStep(cfg_, a->step);
	switch (plan.kind) {
	case StepPlan::Kind::kHold: Fail(a, "hold", plan.reason); return;
	case StepPlan::Kind::kDoneWithoutCall: CompleteWithoutCall(a, plan.reason); return;
	case StepPlan::Kind::kSend:
	case StepPlan::Kind::kQuery: break;
	}
	a->plan = std::move(plan);
	a->credential = CredentialFor(cfg_, a->step.type_code);
	waiting_.push_back(a);
}

// Sends waiting steps while the in-flight cap, the breaker, the rate limit
// and the lane share allow. The steps of each lane that could be sent but for
// the rate limit (their token at hand) are counted once, then kept as steps
// leave, not counted again for every candidate; the scan goes on after a
// send and starts over (counting again) only if the share held a step back
// earlier in the list, or a send changed the list (a result recorded at once
// may put a step back in front).
void DeliveryLoop::FlushWaiting() {
	auto now = Clock::now();
	int sendable[2] = {0, 0};  // by lane: live, stock
	auto slot_of = [](Lane l) { return l == Lane::kLive ? 0 : 1; };
	auto count = [&] {
		sendable[0] = sendable[1] = 0;
		for (const ActivePtr &w : waiting_)
			if (HasToken(*w, now))
				++sendable[slot_of(LaneNamed(w->step.lane))];
	};
	count();
	bool held_back = false;  // a step skipped for the lane share since the scan (re)started
	for (std::size_t i = 0; i < waiting_.size();) {
		if (stop_)
			return;
		ActivePtr a = waiting_[i];
		TokenSlot &slot = SlotFor(*a->credential);
		if (!TokenReady(slot, *a->credential)) {
			++i;  // others may have another credential with a token
			continue;
		}
		// The in-flight cap and an open circuit breaker stop every lane.
		now = Clock::now();
		if (http_.InFlight() >= static_cast<std::size_t>(cfg_.in_flight) || !breaker_.MaySend(now))
			return;
		// The rate limit shared between lanes: a step whose lane has had its share waits.
		Lane lane = LaneNamed(a->step.lane);
		bool live_waiting = sendable[0] > 0;
		if (!lane_share_.MayTake(lane, live_waiting, sendable[1] > 0)) {
			held_back = true;
			++i;
			continue;
		}
		if (!bucket_.TryTake(now))
			return;
		lane_share_.Took(lane, live_waiting);
		--sendable[slot_of(lane)];
		waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
		std::size_t left = waiting_.size();
		Send(a, slot.cache.token());
		if (held_back || waiting_.size() != left) {
			held_back = false;
			i = 0;
			count();
		}
	}
}

void DeliveryLoop::Send(const ActivePtr &a, const std::string &token) {
	bool query = a->plan.kind == StepPlan::Kind::kQuery;
	std::string body;
	try {
		body = envelope_->Wrap(AcceptDataPayload(query ? a->step.query_request : a->step.request),
		                       a->step.authority_division);
	} catch (const std::exception &e) {
		Fail(a, "hold", std::string("cannot build the ") + envelope_->Name() + " envelope: " + e.what());
		return;
	}
	std::string base = endpoints_.Choose(Clock::now());
	std::string path = a->plan.path;
	HttpRequest req;
	req.url = base + path + "?access_token=" + FormEscape(token);
	req.body = std::move(body);
	req.timeout_ms = cfg_.request_timeout_ms;
	req.connect_timeout_ms = cfg_.connect_timeout_ms;
	req.max_answer_bytes = static_cast<std::size_t>(cfg_.max_answer_bytes);
	a->probe = breaker_.Sending();
	if (a->probe)
		common::LogEvent("info", "breaker_probe", {{"identifier", a->step.identifier}, {"step", a->step.step}});
	http_.Submit(std::move(req), [this, a, base, path](HttpResult r) {
		try {
			OnResult(a, base, path, std::move(r));
		} catch (const std::exception &e) {  // a bug must not end the process: the step's outcome is unknown
			if (a->probe)
				breaker_.ProbeLost(Clock::now());
			active_.erase(a->step.outbox_id);
			unrecorded_.push_back({a->step.outbox_id, a->step.identifier, a->step.step, "unknown",
			                       CleanText(std::string("internal error while handling the answer: ") + e.what()), 0});
			common::LogEvent(
			    "error", "internal_error",
			    {{"identifier", a->step.identifier}, {"step", a->step.step}, {"error", CleanText(e.what())}});
		}
	});
}

void DeliveryLoop::OnResult(const ActivePtr &a, const std::string &base_url, const std::string &path,
                            const HttpResult &r) {
	bool query = a->plan.kind == StepPlan::Kind::kQuery;
	StepAnswerContext context {a->step.step, query, a->plan.resend, a->auth_retried};
	StepDecision d = DecideStep(context, r.exchange, *envelope_, cfg_.already_done_patterns);
	long status = r.exchange.http_status >= 100 && r.exchange.http_status <= 599 ? r.exchange.http_status : 0;
	AttemptRecord attempt {a->step.outbox_id,
	                       a->step.identifier,
	                       query ? std::string(kStepQuery) : a->step.step,
	                       base_url + path,
	                       status,
	                       d.return_code,
	                       d.return_message,
	                       static_cast<long>(r.duration.count()),
	                       d.attempt_outcome,
	                       a->step.ecert_id};
	DbCall attempt_call = store_.AttemptCall(attempt);
	if (d.platform_failure)
		endpoints_.ReportFailure(base_url, Clock::now());
	else
		endpoints_.ReportSuccess(base_url);
	NoteBreaker(d.outage, a->probe);
	a->probe = false;

	if (!a->ticket.empty() && d.action == StepAction::kFail && d.fail_kind == "business_error") {
		// A refusal is the answer a precheck asks for.
		Succeed(a,
		        {{"return_code", d.return_code},
		         {"message", d.return_message},
		         {"warnings", json::array()},
		         {"errors", json::array()},
		         {"assignments", json::array()},
		         {"success_data", json::array()}},
		        false, std::move(attempt_call));
		return;
	}
	switch (d.action) {
	case StepAction::kRenewToken:
		Record(a, std::move(attempt_call), {}, nullptr);
		SlotFor(*a->credential).cache.Invalidate();
		a->auth_retried = true;
		waiting_.push_front(a);
		return;
	case StepAction::kSucceed: Succeed(a, d.answer, d.already_done, std::move(attempt_call)); return;
	case StepAction::kQueried: Queried(a, d.answer, std::move(attempt_call)); return;
	case StepAction::kFail: Fail(a, d.fail_kind, d.reason, std::move(attempt_call)); return;
	}
}

// Feeds the circuit breaker with one exchange and logs when it opens or closes.
void DeliveryLoop::NoteBreaker(bool outage, bool probe) {
	auto now = Clock::now();
	if (!outage) {
		Clock::time_point opened = breaker_.opened_at();
		if (breaker_.Answered())
			common::LogEvent("info", "breaker_closed",
			                 {{"paused_ms", std::chrono::duration_cast<Millis>(now - opened).count()},
			                  {"note", "the platform answers again: delivery resumes"}});
		return;
	}
	if (breaker_.Failed(now, probe))
		common::LogEvent("warning", "breaker_open",
		                 {{"failures", breaker_.failures()},
		                  {"probe_in_ms", std::chrono::duration_cast<Millis>(breaker_.next_probe() - now).count()},
		                  {"note", "the platform does not answer: one probe at a time, the other steps wait"}});
	else if (probe)
		common::LogEvent("warning", "breaker_probe_failed",
		                 {{"failures", breaker_.failures()},
		                  {"probe_in_ms", std::chrono::duration_cast<Millis>(breaker_.next_probe() - now).count()}});
}

void DeliveryLoop::CompleteWithoutCall(const ActivePtr &a, const std::string &message) {
	AttemptRecord attempt {a->step.outbox_id, a->step.identifier, a->step.step, "(no call)", 0, "", message, 0, "done",
	                       a->step.ecert_id};
	Succeed(a, NoCallAnswer(message), false, store_.AttemptCall(attempt));
}

void DeliveryLoop::Record(const ActivePtr &a, DbCall attempt, DbCall result, Then then) {
	PendingResult r {a, std::move(attempt), std::move(result), std::move(then)};
	if (cfg_.result_batch_ms == 0 || !results_store_.Connected()) {
		RecordNow(r);
		return;
	}
	if (results_.empty())
		results_due_ = Clock::now() + Millis(cfg_.result_batch_ms);
	results_.push_back(std::move(r));
	if (static_cast<int>(results_.size()) >= cfg_.result_batch_max)
		FlushResults();
}

// One result, each call in its own transaction: without group commit, and
// for the results of a batch the database refused (to find the bad one).
// A lost attempt row loses no step: the step's result is still recorded.
void DeliveryLoop::RecordNow(PendingResult &r) {
	if (r.attempt.sql != nullptr) {
		try {
			results_store_.Run(r.attempt);
		} catch (const DbStatementError &e) {
			common::LogEvent(
			    "error", "attempt_not_recorded",
			    {{"identifier", r.a->step.identifier}, {"step", r.a->step.step}, {"error", CleanText(e.what())}});
		} catch (const DbConnectionLost &) {
			// the result call below meets the same lost connection and remembers the step
		}
	}
	if (r.result.sql == nullptr) {
		if (r.then)
			r.then(std::nullopt);
		return;
	}
	std::optional<std::string> value;
	try {
		value = results_store_.Run(r.result);
	} catch (const DbConnectionLost &e) {
		KeepUnrecorded(r.a, "unknown",
		               std::string("the database connection was lost before the result was recorded: ") + e.what());
		return;
	} catch (const DbStatementError &e) {
		KeepUnrecorded(r.a, "hold", std::string("the database refused to record the result: ") + e.what());
		return;
	}
	r.then(value);
}

// The group commit: every waiting result in one transaction (one round
// trip). If the worker dies before it, the steps' leases lapse and the next
// lease asks the platform first (unknown outcome): nothing is lost or doubled.
// With record_results (the default) the group goes as one call the loop does
// not wait for: its answer is taken by CollectDb while HTTP requests go on.
// While an answer is pending, results keep gathering for the next group.
void DeliveryLoop::FlushResults() {
	if (results_.empty() || results_store_.pending() != OutboxStore::PendingCall::kNone)
		return;
	std::vector<PendingResult> batch;
	batch.swap(results_);  // a `then` may record again: into the next batch
	if (cfg_.result_set_based && Clock::now() >= record_results_missing_until_) {
		SendGroup(batch);
		return;
	}
	RecordPipelined(batch);
}

// The results' calls one by one in one pipeline and one transaction (an
// extension without record_results, or result_set_based false).
void DeliveryLoop::RecordPipelined(std::vector<PendingResult> &batch) {
	std::vector<const DbCall *> calls;
	std::vector<long> index(batch.size(), -1);
	for (std::size_t i = 0; i < batch.size(); ++i) {
		if (batch[i].attempt.sql != nullptr)
			calls.push_back(&batch[i].attempt);
		if (batch[i].result.sql != nullptr) {
			index[i] = static_cast<long>(calls.size());
			calls.push_back(&batch[i].result);
		}
	}
	std::vector<std::optional<std::string>> values;
	try {
		values = results_store_.RunBatch(calls);
	} catch (const DbConnectionLost &e) {
		GroupLost(batch, e.what());
		return;
	} catch (const DbStatementError &e) {
		RecordRefusedGroup(batch, e.what());
		return;
	}
	++batches_;
	batched_ += static_cast<long long>(batch.size());
	for (std::size_t i = 0; i < batch.size(); ++i)
		if (batch[i].then)
			batch[i].then(index[i] >= 0 ? values[static_cast<std::size_t>(index[i])] : std::nullopt);
}

// Sends the group as one elicense.record_results call; CollectDb takes its answer.
void DeliveryLoop::SendGroup(std::vector<PendingResult> &batch) {
	std::vector<GroupElement> group;
	group.reserve(batch.size());
	for (const PendingResult &r : batch)
		group.push_back(
		    {r.attempt.sql != nullptr ? &r.attempt : nullptr, r.result.sql != nullptr ? &r.result : nullptr});
	try {
		results_store_.SendRecordResults(group);
	} catch (const DbConnectionLost &e) {
		GroupLost(batch, e.what());
		return;
	} catch (const DbStatementError &e) {  // refused when prepared: an extension without it (42883)
		if (Missing(e, "elicense.record_results", record_results_missing_until_))
			RecordPipelined(batch);
		else
			RecordRefusedGroup(batch, e.what());
		return;
	}
	committing_ = std::move(batch);
}

// The connection went with the group's results (sent or not): whether they
// were committed is unknown, so each step is released as an unknown outcome.
void DeliveryLoop::GroupLost(std::vector<PendingResult> &batch, const std::string &why) {
	for (PendingResult &r : batch)
		if (r.result.sql != nullptr)  // else only an attempt row is lost; its step goes on
			KeepUnrecorded(r.a, "unknown",
			               std::string("the database connection was lost before the result was recorded: ") + why);
}

// The database refused the group as a whole: nothing of it was committed.
void DeliveryLoop::RecordRefusedGroup(std::vector<PendingResult> &batch, const std::string &why) {
	common::LogEvent("warning", "batch_refused",
	                 {{"results", static_cast<long long>(batch.size())},
	                  {"error", CleanText(why)},
	                  {"note", "nothing of it was committed; recording its results one by one"}});
	for (PendingResult &r : batch)
		RecordNow(r);
}

// The answer of the pending call, if it has come (a lease's steps begin, a
// group's results take effect). A group whose connection went is released
// as unknown outcomes; DbConnectionLost then goes on to the loop.
void DeliveryLoop::CollectDb() {
	if (!committing_.empty() && results_store_.pending() != OutboxStore::PendingCall::kGroup) {
		std::vector<PendingResult> batch;
		batch.swap(committing_);  // the session that had its answer is gone
		GroupLost(batch, "the session ended before its answer");
	}
	if (store_.pending() == OutboxStore::PendingCall::kLease && store_.PollPending())
		for (LeasedStep &s : store_.TakeLease())  // DbStatementError: the loop logs it; nothing was leased
			Started(std::move(s));
	if (results_store_.pending() == OutboxStore::PendingCall::kNone)
		return;
	bool complete = false;
	try {
		complete = results_store_.PollPending();
	} catch (const DbConnectionLost &e) {
		std::vector<PendingResult> batch;
		batch.swap(committing_);
		GroupLost(batch, e.what());
		throw;
	}
	if (!complete)
		return;
	std::vector<PendingResult> batch;
	batch.swap(committing_);
	std::vector<GroupOutcome> outcomes;
	try {
		outcomes = results_store_.TakeGroup();
	} catch (const DbConnectionLost &e) {
		GroupLost(batch, e.what());
		throw;
	} catch (const DbStatementError &e) {
		if (Missing(e, "elicense.record_results", record_results_missing_until_))
			RecordPipelined(batch);
		else
			RecordRefusedGroup(batch, e.what());
		return;
	}
	++batches_;
	batched_ += static_cast<long long>(batch.size());
	for (std::size_t i = 0; i < batch.size(); ++i) {
		PendingResult &r = batch[i];
		const GroupOutcome &o = outcomes[i];
		if (o.attempt_error)
			common::LogEvent("error", "attempt_not_recorded",
			                 {{"identifier", r.a->step.identifier},
			                  {"step", r.a->step.step},
			                  {"error", CleanText(*o.attempt_error)}});
		if (r.result.sql != nullptr && o.error) {
			KeepUnrecorded(r.a, "hold", "the database refused to record the result: " + *o.error);
			continue;
		}
		if (r.then)
			r.then(r.result.sql != nullptr ? o.value : std::nullopt);
	}
}

void DeliveryLoop::KeepUnrecorded(const ActivePtr &a, const std::string &kind, const std::string &why) {
	std::string reason = CleanText(why);
	active_.erase(a->step.outbox_id);
	wake_ = true;
	unrecorded_.push_back({a->step.outbox_id, a->step.identifier, a->step.step, kind, reason, 0});
	common::LogEvent(
	    "error", "result_not_recorded",
	    {{"identifier", a->step.identifier}, {"step", a->step.step}, {"error", reason}, {"release_as", kind}});
}

// Releases the steps whose results could not be recorded. A refused
// step_failed is tried again as 'unknown'; after three refusals the step is
// left as it is, and its lease lapses when this worker stops.
void DeliveryLoop::ReleaseUnrecorded() {
	for (auto it = unrecorded_.begin(); it != unrecorded_.end();) {
		try {
			std::string status = store_.Failed(it->outbox_id, it->kind, it->reason, 0, cfg_.backoff.max_attempts);
			common::LogEvent(
			    "warning", "step_released",
			    {{"identifier", it->identifier}, {"step", it->step}, {"kind", it->kind}, {"status", status}});
			it = unrecorded_.erase(it);
		} catch (const DbStatementError &e) {
			if (++it->tries >= 3) {
				common::LogEvent("error", "step_not_released",
				                 {{"identifier", it->identifier},
				                  {"step", it->step},
				                  {"error", CleanText(e.what())},
				                  {"note", "it stays in flight while this worker runs"}});
				it = unrecorded_.erase(it);
			} else {
				it->kind = "unknown";
				++it;
			}
		}
		// DbConnectionLost propagates: the loop reconnects and comes back here.
	}
}

void DeliveryLoop::Succeed(const ActivePtr &a, const json &answer, bool already_done, DbCall attempt) {
	bool precheck = !a->ticket.empty();
	DbCall call =
	    precheck ? store_.PrecheckAnsweredCall(a->ticket, answer) : store_.SucceededCall(a->step.outbox_id, answer);
	std::string return_code = answer.value("return_code", "");
	Record(
	    a, std::move(attempt), std::move(call),
	    [this, a, already_done, precheck, return_code](const std::optional<std::string> &value) {
		    bool ok = value.value_or("f") == "t";
		    active_.erase(a->step.outbox_id);
		    wake_ = true;
		    if (precheck) {
			    if (ok)
				    ++prechecks_answered_;
			    common::LogEvent(ok ? "info" : "warning", ok ? "precheck_answered" : "lease_lost",
			                     {{"ticket", a->ticket}, {"return_code", return_code}});
			    return;
		    }
		    if (ok) {
			    ++done_;
			    if (already_done)
				    ++duplicates_avoided_;
			    common::LogEvent("info", already_done ? "already_delivered" : "step_done",
			                     {{"identifier", a->step.identifier}, {"step", a->step.step}});
		    } else {
			    common::LogEvent("warning", "lease_lost", {{"identifier", a->step.identifier}, {"step", a->step.step}});
		    }
	    });
}

void DeliveryLoop::Queried(const ActivePtr &a, const json &answer, DbCall attempt) {
	Record(a, std::move(attempt), store_.QueriedCall(a->step.outbox_id, answer),
	       [this, a](const std::optional<std::string> &value) { AfterQuery(a, value.value_or("")); });
}

// What a recorded query answer means for the step.
void DeliveryLoop::AfterQuery(const ActivePtr &a, const std::string &verdict) {
	if (verdict == "done") {
		active_.erase(a->step.outbox_id);
		wake_ = true;
		++done_;
		bool confirm = a->step.step == kStepConfirm;
		if (!confirm)
			++duplicates_avoided_;
		common::LogEvent("info", confirm ? "step_done" : "already_delivered",
		                 {{"identifier", a->step.identifier}, {"step", a->step.step}});
	} else if (verdict == "send" && a->step.step != kStepConfirm) {
		StepPlan plan = PlanSend(cfg_, a->step, false);
		if (plan.kind != StepPlan::Kind::kSend)
			return Fail(a, "hold", plan.reason);
		a->plan = std::move(plan);
		waiting_.push_front(a);  // the lease stays: send now, same eCertID
	} else if (verdict == "retry" || verdict == "send") {
		Fail(a, "retry", "the platform does not show the collected licence yet");
	} else if (verdict == "dead") {  // assign_code: the assignment the query shows cannot be used
		active_.erase(a->step.outbox_id);
		wake_ = true;
		++failed_;
		common::LogEvent("error", "step_failed",
		                 {{"identifier", a->step.identifier},
		                  {"step", a->step.step},
		                  {"kind", "query"},
		                  {"status", "dead"},
		                  {"error", "the query showed an assignment that cannot be used (see the step's last_error)"}});
	} else {
		active_.erase(a->step.outbox_id);
		wake_ = true;
		common::LogEvent("warning", "lease_lost", {{"identifier", a->step.identifier}, {"step", a->step.step}});
	}
}

void DeliveryLoop::Fail(const ActivePtr &a, const std::string &kind, const std::string &error, DbCall attempt) {
	long delay_ms = kind == "business_error" || kind == "hold"
	                    ? 0
	                    : static_cast<long>(BackoffDelay(cfg_.backoff, a->step.attempts, rng_).count());
	if (kind == "not_sent" && breaker_.open())  // due again when the next probe may go
		delay_ms = std::max(
		    0L, static_cast<long>(std::chrono::duration_cast<Millis>(breaker_.next_probe() - Clock::now()).count()));
	std::string clean = CleanText(error);
	DbCall call = a->ticket.empty()
	                  ? store_.FailedCall(a->step.outbox_id, kind, clean, delay_ms, cfg_.backoff.max_attempts)
	                  // a precheck without a path or envelope cannot succeed later: failed at once; one
	                  // never sent keeps its budget, as a step does
	                  : store_.PrecheckFailedCall(a->ticket, clean, delay_ms,
	                                              kind == "hold" ? 0 : cfg_.backoff.max_attempts, kind == "not_sent");
	Record(a, std::move(attempt), std::move(call),
	       [this, a, kind, clean, delay_ms](const std::optional<std::string> &value) {
		       std::string status = value.value_or("lease lost");
		       active_.erase(a->step.outbox_id);
		       wake_ = true;
		       if (status == "pending")
			       ++retried_;
		       else if (status == "held")
			       ++held_;
		       else
			       ++failed_;
		       common::LogEvent(status == "pending" ? "info"
		                        : status == "held"  ? "warning"
		                                            : "error",
		                        "step_failed",
		                        {{"identifier", a->step.identifier},
		                         {"step", a->step.step},
		                         {"kind", kind},
		                         {"error", clean},
		                         {"status", status},
		                         {"attempts", a->step.attempts},
		                         {"retry_in_ms", delay_ms}});
	       });
}

// On stop: steps leased but not sent go back at once, due now.
void DeliveryLoop::ReleaseWaiting(const std::string &why) {
	while (!waiting_.empty()) {
		ActivePtr a = waiting_.front();
		waiting_.pop_front();
		PendingResult r {a,
		                 {},
		                 a->ticket.empty()
		                     ? store_.FailedCall(a->step.outbox_id, "not_sent", why, 0, cfg_.backoff.max_attempts)
		                     : store_.PrecheckFailedCall(a->ticket, why, 0, cfg_.backoff.max_attempts, true),
		                 [this, a](const std::optional<std::string> &) { active_.erase(a->step.outbox_id); }};
		RecordNow(r);
	}
}

// The expiry schedule this worker owns (expire_interval_ms; 0 leaves it to
// pg_cron). Several workers may call it at once: each expiry is queued once.
// In batches of expire_batch licences: one call holds the loop (and the
// HTTP requests in flight) only for a moment, however many expire that day.
bool DeliveryLoop::ExpireDue() {
	if (Clock::now() < expire_missing_until_)
		return false;
	std::pair<long long, long long> done;
	try {
		done = store_.ExpireDue(cfg_.expire_batch);
	} catch (const DbStatementError &e) {
		if (!Missing(e, "elicense.expire_due", expire_missing_until_))
			throw;
		return false;
	}
	auto [expired, lifted] = done;
	expired_ += expired;
	lifted_ += lifted;
	if (expired > 0 || lifted > 0) {
		wake_ = true;  // their status updates are due now
		common::LogEvent("info", "expire_due", {{"expired", expired}, {"lifted", lifted}});
	}
	return expired + lifted >= cfg_.expire_batch;
}

void DeliveryLoop::Reconnect() {
	auto now = Clock::now();
	if (now < next_db_retry_)
		return;
	try {
		if (!store_.Connected())
			store_.Connect();
		if (!results_store_.Connected())
			results_store_.Connect();
		if (db_failures_ > 0)
			common::LogEvent("info", "db_reconnected", {{"after_failures", db_failures_}});
		db_failures_ = 0;
	} catch (const DbError &e) {
		++db_failures_;
		next_db_retry_ = now + std::min(Millis(30000), Millis(250) * (1 << std::min(db_failures_, 7)));
		common::LogEvent("warning", "db_unavailable", {{"error", CleanText(e.what())}, {"failures", db_failures_}});
	}
}

void DeliveryLoop::LogProgress() {
	long long backlog = store_.Connected() ? store_.Backlog() : -1;
	common::LogEvent("info", "progress",
	                 {{"done", done_},
	                  {"failed", failed_},
	                  {"retried", retried_},
	                  {"held", held_},
	                  {"prechecks_answered", prechecks_answered_},
	                  {"expired", expired_},
	                  {"lifted", lifted_},
	                  {"duplicates_avoided", duplicates_avoided_},
	                  {"in_flight", static_cast<long long>(active_.size())},
	                  {"backlog", backlog},
	                  {"unrecorded", static_cast<long long>(unrecorded_.size())},
	                  {"on_backup", endpoints_.OnBackup()},
	                  {"breaker_open", breaker_.open()},
	                  {"db_round_trips", store_.round_trips() + results_store_.round_trips()},
	                  {"group_commits", batches_},
	                  {"results_committed", batched_}});
}

// When the loop must look again: the poll timer, the rate limit, or the end
// of a token backoff that steps are waiting for (never "now" while every
// waiting step is blocked: that would spin a core).
Clock::time_point DeliveryLoop::NextWake(Clock::time_point next_poll) {
	auto now = Clock::now();
	// The poll timer only when a lease may go: while one is pending its answer
	// (the socket) wakes the loop, without room the end of a request does. A
	// timer past due while no lease could go returned "now" until the lease
	// came back: 30,000-70,000 turns of the loop a second (4 workers, whose
	// leases wait longer), 0.5-1.5 ms of CPU per request.
	Clock::time_point wake = MayLease() ? std::min(next_poll, now + Millis(1000)) : now + Millis(1000);
	if (!DbConnected())  // nothing moves before the next reconnect attempt
		return std::max(now, std::min(wake, next_db_retry_));
	if (store_.PendingComplete() || results_store_.PendingComplete())  // read during a synchronous call
		return now;
	if (!results_.empty() && results_store_.pending() == OutboxStore::PendingCall::kNone)
		wake = std::min(wake, results_due_);  // else the pending answer (the socket) wakes the loop
	std::vector<const Credential *> seen;     // what follows depends on the credential only
	for (const ActivePtr &a : waiting_) {
		if (std::find(seen.begin(), seen.end(), a->credential) != seen.end())
			continue;
		seen.push_back(a->credential);
		const TokenSlot *slot = FindSlot(*a->credential);
		if (slot == nullptr || slot->cache.Usable(now)) {
			// All connections busy, or the probe out: the end of a request wakes the poll.
			bool wire_full = http_.InFlight() >= static_cast<std::size_t>(cfg_.in_flight);
			if (!wire_full && breaker_.MaySend(now))
				wake = std::min(wake, now + bucket_.WaitTime(now));  // sendable: only the rate limit waits
			else if (!wire_full && breaker_.ProbeDue())
				wake = std::min(wake, std::max(now, breaker_.next_probe()));
		} else if (!slot->fetching)
			wake = std::min(wake, std::max(now, slot->retry.next_fetch()));
		// else a fetch is in flight: its end wakes the poll
	}
	return wake;
}

int DeliveryLoop::Run(bool once) {
	once_ = once;
	common::LogEvent("info", "start",
	                 {{"worker_id", cfg_.worker_id},
	                  {"lease_owner", store_.owner()},
	                  {"in_flight", cfg_.in_flight},
	                  {"once", once},
	                  {"profile", cfg_.profile},
	                  {"unknown_outcome", UnknownOutcomeName(cfg_.unknown_outcome)},
	                  {"envelope", envelope_->Name()}});
	for (const std::string &w : ConfigWarnings(cfg_))
		common::LogEvent("warning", "config", {{"note", w}});
	auto next_poll = Clock::now();
	auto next_renew = Clock::now() + std::chrono::seconds(cfg_.lease_seconds) / 3;
	auto next_summary = Clock::now() + Millis(cfg_.summary_interval_ms);
	auto next_expire = Clock::now();  // at start, then every expire_interval_ms
	Clock::time_point stop_deadline {};
	bool stopping = false;
	while (true) {
		auto now = Clock::now();
		if (stop_ && !stopping) {
			stopping = true;
			stop_deadline = now + Millis(cfg_.stop_grace_ms);
			common::LogEvent("info", "stopping",
			                 {{"in_flight", static_cast<long long>(active_.size() - waiting_.size())},
			                  {"grace_ms", cfg_.stop_grace_ms}});
		}
		try {
			if (!DbConnected())
				Reconnect();
			if (DbConnected()) {
				ReleaseUnrecorded();
				if (stopping)
					ReleaseWaiting("the worker stopped before sending");
				wake_ = store_.TakeNotifications() || wake_;
				CollectDb();
				if (!stopping && cfg_.expire_interval_ms > 0 && now >= next_expire) {
					next_expire = now + Millis(cfg_.expire_interval_ms);  // before the call: a failing call waits too
					if (ExpireDue())
						next_expire = now;  // a full batch: the next one after this turn of the loop
				}
				if (!results_.empty() && now >= results_due_)
					FlushResults();
				if (!stopping && (wake_ || now >= next_poll) && MayLease()) {
					wake_ = false;
					next_poll = now + Millis(cfg_.poll_interval_ms);  // before leasing: a failing lease waits too
					LeaseMore();
					if (once && active_.empty())
						break;
				}
				if (now >= next_renew && !active_.empty()) {
					next_renew = now + std::chrono::seconds(cfg_.lease_seconds) / 3;
					store_.RenewLeases(cfg_.lease_seconds);
				}
				FlushWaiting();
			}
		} catch (const DbConnectionLost &e) {
			common::LogEvent("warning", "db_error", {{"error", CleanText(e.what())}});
			++db_failures_;
			next_db_retry_ = Clock::now() + Millis(500);
		} catch (const DbStatementError &e) {
			common::LogEvent("error", "db_statement_failed", {{"error", CleanText(e.what())}});
		}
		if (stopping && !results_.empty() && results_store_.Connected()) {
			try {
				FlushResults();
			} catch (const DbError &) {
			}
		}
		if (stopping && (active_.empty() || Clock::now() >= stop_deadline))
			break;
		if (now >= next_summary) {
			try {
				LogProgress();
			} catch (const DbError &) {
			}
			next_summary = now + Millis(cfg_.summary_interval_ms);
		}
		// Rounded up: a wake-up 0.7 ms away truncated to 0 ms spun the loop
		// until it came (every group commit's window ends that way).
		Millis timeout = std::chrono::ceil<Millis>(NextWake(next_poll) - Clock::now());
		timeout = std::clamp(timeout, Millis(0), Millis(1000));
		if (stopping)
			timeout = std::min(timeout, Millis(200));
		try {
			http_.Poll(timeout, store_.Connected() ? store_.Socket() : -1,
			           results_store_.Connected() ? results_store_.Socket() : -1);
		} catch (const DbError &e) {
			common::LogEvent("warning", "db_error", {{"error", CleanText(e.what())}});
		}
	}
	if (DbConnected() && results_store_.pending() != OutboxStore::PendingCall::kNone) {
		try {  // the last group's answer: its results' log lines and counts
			results_store_.WaitPending();
			CollectDb();
		} catch (const DbError &) {
		}
	}
	if (!active_.empty())
		common::LogEvent("warning", "abandoned_in_flight",
		                 {{"count", static_cast<long long>(active_.size())},
		                  {"note", "their leases lapse; the next lease treats them as unknown outcomes"}});
	try {
		LogProgress();
	} catch (const DbError &) {
	}
	common::LogEvent("info", "stop", {{"done", done_}, {"failed", failed_}, {"held", held_}});
	return 0;
}

}  // namespace elicense::worker
