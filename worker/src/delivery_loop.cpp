#include "delivery_loop.hpp"

#include "elicense/platform_answer.hpp"
#include "log.hpp"
#include "platform_mapping.hpp"

#include <curl/curl.h>

#include <algorithm>

namespace elicense::worker {
namespace {

using nlohmann::json;

std::string FormEscape(const std::string &s) {
	char *e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
	std::string out = e ? e : "";
	curl_free(e);
	return out;
}

json AnswerJson(const core::BusinessAnswer &a) {
	json assignments = json::array();
	for (const auto &x : a.assignments)
		assignments.push_back({{"encry_certid", x.encry_certid}, {"encry_key", x.encry_key}, {"ecert_id", x.ecert_id}});
	return {{"return_code", a.return_code}, {"message", a.message}, {"warnings", a.warnings},
	        {"assignments", assignments}};
}

// Whether a query answer shows that `step` already took effect for the licence.
bool TookEffect(const LeasedStep &s, const core::BusinessAnswer &answer) {
	if (s.step == kStepAssign)
		return !answer.assignments.empty();
	json items = json::parse(answer.success_data_json, nullptr, false);
	if (!items.is_array())
		return false;
	for (const json &item : items) {
		if (!item.is_object() || ItemIdentifier(item) != s.identifier)
			continue;
		if (s.step == kStepCollect || s.step == kStepConfirm)
			return item.value("url", std::string()) == s.licence.value("preview_url", std::string("?"));
		if (s.step == kStepStatus)
			return item.value("certState", std::string()) == s.licence.value("cert_state", std::string("?"));
	}
	return false;
}

}  // namespace

DeliveryLoop::DeliveryLoop(Config config, const std::atomic<bool> &stop)
    : cfg_(std::move(config)), stop_(stop), store_(cfg_.conninfo, cfg_.worker_id), http_(cfg_.in_flight),
      endpoints_(cfg_.base_url, cfg_.backup_url, cfg_.failures_to_switch, Millis(cfg_.probe_interval_ms)),
      bucket_(cfg_.rate_per_s, cfg_.burst), rng_(std::random_device {}()) {
}

std::string DeliveryLoop::PathFor(const LeasedStep &s, bool query) const {
	std::string type = s.licence.value("type_code", std::string());
	std::string step = query ? std::string(kStepQuery) : s.step;
	auto it = cfg_.paths.find(type + "/" + step);
	return it != cfg_.paths.end() ? it->second : DefaultPath(type, step);
}

bool DeliveryLoop::EnsureToken() {
	auto now = Clock::now();
	if (!token_.NeedsRefresh(now))
		return true;
	if (now < token_retry_at_)
		return false;
	HttpRequest req;
	req.url = cfg_.token_url;
	req.content_type = "application/x-www-form-urlencoded";
	req.body = "client_id=" + FormEscape(cfg_.client_id) + "&client_secret=" + FormEscape(cfg_.client_secret) +
	           "&grant_type=client_credentials";
	req.timeout_ms = cfg_.request_timeout_ms;
	req.connect_timeout_ms = cfg_.connect_timeout_ms;
	HttpResult r = http_.Perform(req);
	try {
		if (r.exchange.curl_code != CURLE_OK || r.exchange.http_status != 200)
			throw std::runtime_error("token endpoint: HTTP " + std::to_string(r.exchange.http_status) + ", " +
			                         curl_easy_strerror(static_cast<CURLcode>(r.exchange.curl_code)));
		core::TokenAnswer t = core::ParseTokenAnswer(r.exchange.body);
		token_.Store(t.access_token, t.expires_in_s, Clock::now());
		LogEvent("info", "token", {{"expires_in_s", t.expires_in_s}, {"duration_ms", r.duration.count()}});
		return true;
	} catch (const std::exception &e) {
		token_retry_at_ = Clock::now() + Millis(2000);
		LogEvent("warning", "token_failed", {{"error", e.what()}});
		return false;
	}
}

void DeliveryLoop::LeaseMore() {
	int room = cfg_.in_flight - static_cast<int>(active_.size());
	if (room <= 0 || stop_)
		return;
	for (LeasedStep &s : store_.Lease(room, cfg_.lease_seconds)) {
		auto a = std::make_shared<Active>();
		a->step = std::move(s);
		a->querying = a->step.needs_query && a->step.step != kStepValidate;
		active_[a->step.outbox_id] = a;
		waiting_.push_back(a);
	}
}

void DeliveryLoop::FlushWaiting() {
	while (!waiting_.empty()) {
		if (!EnsureToken() || !bucket_.TryTake(Clock::now()))
			return;
		ActivePtr a = waiting_.front();
		waiting_.pop_front();
		Send(a);
	}
}

void DeliveryLoop::Send(ActivePtr a) {
	bool query = a->querying || a->step.step == kStepConfirm;
	std::string base = endpoints_.Choose(Clock::now());
	std::string path = PathFor(a->step, query);
	HttpRequest req;
	req.url = base + path + "?access_token=" + FormEscape(token_.token());
	req.body = RequestBody(query ? kStepQuery : std::string_view(a->step.step), a->step.licence).dump();
	req.timeout_ms = cfg_.request_timeout_ms;
	req.connect_timeout_ms = cfg_.connect_timeout_ms;
	http_.Submit(std::move(req), [this, a, base, path](HttpResult r) { OnResult(a, base, path, std::move(r)); });
}

void DeliveryLoop::OnResult(ActivePtr a, const std::string &base_url, const std::string &path, HttpResult r) {
	try {
		if (!store_.Connected())
			throw DbError("not connected");
		Handle(a, base_url, path, std::move(r));
	} catch (const DbError &e) {
		// Cannot record: the lease lapses and the next attempt queries first.
		active_.erase(a->step.outbox_id);
		LogEvent("warning", "result_dropped",
		         {{"identifier", a->step.identifier}, {"step", a->step.step}, {"error", e.what()}});
	}
}

void DeliveryLoop::Handle(const ActivePtr &a, const std::string &base_url, const std::string &path, HttpResult r) {
	Verdict v = Classify(r.exchange);
	bool query = a->querying || a->step.step == kStepConfirm;
	store_.RecordAttempt({a->step.outbox_id, a->step.identifier, a->querying ? "query" : a->step.step,
	                      base_url + path, r.exchange.http_status, v.answer ? v.answer->return_code : "",
	                      v.answer ? core::SummariseAnswer(*v.answer) : v.error, static_cast<long>(r.duration.count()),
	                      OutcomeName(v.outcome)});
	if (v.outcome == StepOutcome::kRetry || v.outcome == StepOutcome::kUnknown)
		endpoints_.ReportFailure(base_url, Clock::now());
	else
		endpoints_.ReportSuccess(base_url);

	if (v.auth_failure) {
		token_.Invalidate();
		if (!a->auth_retried) {  // a new token, once, without counting an attempt
			a->auth_retried = true;
			waiting_.push_front(a);
			return;
		}
	}
	if (v.outcome == StepOutcome::kDone && query) {
		bool took_effect = TookEffect(a->step, *v.answer);
		if (a->step.step == kStepConfirm) {
			if (took_effect)
				Succeed(a, AnswerJson(*v.answer));
			else
				Fail(a, "retry", "the platform does not show the collected licence yet");
			return;
		}
		if (took_effect) {  // an earlier attempt went through: do not send again
			++duplicates_avoided_;
			LogEvent("info", "already_delivered", {{"identifier", a->step.identifier}, {"step", a->step.step}});
			Succeed(a, AnswerJson(*v.answer));
			return;
		}
		a->querying = false;
		waiting_.push_front(a);
		return;
	}
	switch (v.outcome) {
	case StepOutcome::kDone:
		Succeed(a, AnswerJson(*v.answer));
		break;
	case StepOutcome::kBusinessError:
		Fail(a, "business_error", v.error);
		break;
	case StepOutcome::kRetry:
		// A failed query leaves the outcome as unknown as before.
		Fail(a, a->querying ? "unknown" : "retry", v.error);
		break;
	case StepOutcome::kUnknown:
		Fail(a, "unknown", v.error);
		break;
	}
}

void DeliveryLoop::Succeed(const ActivePtr &a, const json &answer) {
	active_.erase(a->step.outbox_id);
	wake_ = true;
	if (store_.Succeeded(a->step.outbox_id, answer)) {
		++done_;
		LogEvent("info", "step_done", {{"identifier", a->step.identifier}, {"step", a->step.step}});
	} else {
		LogEvent("warning", "lease_lost", {{"identifier", a->step.identifier}, {"step", a->step.step}});
	}
}

void DeliveryLoop::Fail(const ActivePtr &a, const char *kind, const std::string &error) {
	active_.erase(a->step.outbox_id);
	wake_ = true;
	long delay_ms = std::string(kind) == "business_error"
	                    ? 0
	                    : static_cast<long>(BackoffDelay(cfg_.backoff, a->step.attempts, rng_).count());
	std::string status = store_.Failed(a->step.outbox_id, kind, error, delay_ms, cfg_.backoff.max_attempts);
	if (status == "pending")
		++retried_;
	else
		++failed_;
	LogEvent(status == "pending" ? "info" : "error", "step_failed",
	         {{"identifier", a->step.identifier}, {"step", a->step.step}, {"kind", kind}, {"error", error},
	          {"status", status}, {"attempts", a->step.attempts}, {"retry_in_ms", delay_ms}});
}

void DeliveryLoop::Reconnect() {
	auto now = Clock::now();
	if (now < next_db_retry_)
		return;
	try {
		store_.Connect();
		if (db_failures_ > 0)
			LogEvent("info", "db_reconnected", {{"after_failures", db_failures_}});
		db_failures_ = 0;
	} catch (const DbError &e) {
		++db_failures_;
		next_db_retry_ = now + std::min(Millis(30000), Millis(250) * (1 << std::min(db_failures_, 7)));
		LogEvent("warning", "db_unavailable", {{"error", e.what()}, {"failures", db_failures_}});
	}
}

void DeliveryLoop::LogProgress() {
	long long backlog = store_.Connected() ? store_.Backlog() : -1;
	LogEvent("info", "progress",
	         {{"done", done_}, {"failed", failed_}, {"retried", retried_}, {"duplicates_avoided", duplicates_avoided_},
	          {"in_flight", static_cast<long long>(active_.size())}, {"backlog", backlog},
	          {"on_backup", endpoints_.OnBackup()}});
}

int DeliveryLoop::Run(bool once) {
	LogEvent("info", "start", {{"worker_id", cfg_.worker_id}, {"in_flight", cfg_.in_flight}, {"once", once}});
	auto next_poll = Clock::now();
	auto next_renew = Clock::now() + std::chrono::seconds(cfg_.lease_seconds) / 3;
	auto next_summary = Clock::now() + Millis(cfg_.summary_interval_ms);
	while (true) {
		auto now = Clock::now();
		try {
			if (!store_.Connected())
				Reconnect();
			if (store_.Connected()) {
				wake_ = store_.TakeNotifications() || wake_;
				if (!stop_ && (wake_ || now >= next_poll) && waiting_.empty()) {
					wake_ = false;
					LeaseMore();
					next_poll = now + Millis(cfg_.poll_interval_ms);
					if (once && active_.empty())
						break;
				}
				if (now >= next_renew && !active_.empty()) {
					store_.RenewLeases(cfg_.lease_seconds);
					next_renew = now + std::chrono::seconds(cfg_.lease_seconds) / 3;
				}
				FlushWaiting();
			}
		} catch (const DbError &e) {
			LogEvent("warning", "db_error", {{"error", e.what()}});
			++db_failures_;
			next_db_retry_ = Clock::now() + Millis(500);
		}
		if (stop_ && active_.empty())
			break;
		if (now >= next_summary) {
			try {
				LogProgress();
			} catch (const DbError &) {
			}
			next_summary = now + Millis(cfg_.summary_interval_ms);
		}
		Millis timeout = std::chrono::duration_cast<Millis>(next_poll - Clock::now());
		timeout = std::clamp(timeout, Millis(0), Millis(1000));
		if (!waiting_.empty())
			timeout = std::min(timeout, std::max(Millis(1), bucket_.WaitTime(Clock::now())));
		try {
			http_.Poll(timeout, store_.Connected() ? store_.Socket() : -1);
		} catch (const DbError &e) {
			LogEvent("warning", "db_error", {{"error", e.what()}});
		}
	}
	try {
		LogProgress();
	} catch (const DbError &) {
	}
	LogEvent("info", "stop", {{"done", done_}, {"failed", failed_}});
	return 0;
}

}  // namespace elicense::worker
