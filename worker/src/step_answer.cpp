#include "step_answer.hpp"

#include "step_names.hpp"

#include <algorithm>

namespace elicense::worker {
namespace {

using nlohmann::json;

// A copy of `v` with NUL characters removed from every string and key.
json WithoutNul(const json &v) {
	if (v.is_string())
		return CleanText(v.get_ref<const std::string &>(), std::string::npos);
	if (v.is_array()) {
		json out = json::array();
		for (const json &item : v)
			out.push_back(WithoutNul(item));
		return out;
	}
	if (v.is_object()) {
		json out = json::object();
		for (const auto &item : v.items())
			out[CleanText(item.key(), std::string::npos)] = WithoutNul(item.value());
		return out;
	}
	return v;
}

bool MatchesAny(const core::BusinessAnswer &a, const std::vector<std::string> &patterns) {
	for (const std::string &p : patterns) {
		if (a.message.find(p) != std::string::npos)
			return true;
		for (const std::string &e : a.errors)
			if (e.find(p) != std::string::npos)
				return true;
	}
	return false;
}

StepDecision Fail(const char *kind, const std::string &reason, const char *attempt_outcome) {
	StepDecision d;
	d.action = StepAction::kFail;
	d.fail_kind = kind;
	d.reason = CleanText(reason);
	d.attempt_outcome = attempt_outcome;
	d.return_message = d.reason;
	return d;
}

}  // namespace

std::string CleanText(std::string_view text, std::size_t max_bytes) {
	std::string out;
	out.reserve(std::min(text.size(), max_bytes));
	for (char c : text)
		if (c != '\0')
			out.push_back(c);
	if (out.size() <= max_bytes)
		return out;
	std::size_t cut = max_bytes;
	while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
		--cut;  // back to the first byte of a UTF-8 character
	out.resize(cut);
	return out + "…";
}

json CanonicalAnswer(const core::BusinessAnswer &a) {
	json errors = json::array();
	for (std::size_t i = 0; i < a.errors.size(); ++i)
		errors.push_back(
		    {{"guid", i < a.error_guids.size() ? a.error_guids[i] : std::string()}, {"message", a.errors[i]}});
	json assignments = json::array();
	for (const auto &x : a.assignments)
		assignments.push_back({{"encry_certid", x.encry_certid}, {"encry_key", x.encry_key}, {"ecert_id", x.ecert_id}});
	json success = json::array();
	json items = json::parse(a.success_data_json, nullptr, false);
	if (items.is_array())
		for (const json &item : items)
			if (item.is_object())
				success.push_back(item);
	json out = {{"return_code", a.return_code}, {"message", a.message},   {"warnings", a.warnings}, {"errors", errors},
	            {"assignments", assignments},   {"success_data", success}};
	return WithoutNul(out);
}

StepDecision DecideStep(const StepAnswerContext &ctx, const Exchange &exchange, const Envelope &envelope,
                        const std::vector<std::string> &already_done_patterns) {
	try {
		Exchange ex = exchange;
		if (ex.curl_code == 0 && !ex.too_large)
			ex.body = envelope.Unwrap(std::move(ex.body));
		Verdict v = Classify(ex);
		if (v.auth_failure) {
			if (!ctx.auth_retried) {
				StepDecision d;
				d.action = StepAction::kRenewToken;
				d.attempt_outcome = "retry";
				d.reason = d.return_message = CleanText(v.error + "; fetching a new token");
				return d;
			}
			return Fail("retry", v.error + " again with a new token", "retry");
		}
		if (v.outcome == StepOutcome::kRetry || v.outcome == StepOutcome::kUnknown) {
			const char *kind = v.not_sent ? "not_sent" : v.outcome == StepOutcome::kRetry ? "retry" : "unknown";
			StepDecision d = Fail(kind, (ctx.query ? "query: " : "") + v.error, kind);
			d.platform_failure = true;
			d.outage = v.outage;
			return d;
		}
		const core::BusinessAnswer &a = *v.answer;
		// A success for assign_code must carry the code: an assignment whose
		// ciphertexts are missing, null or not text (a garbled or proxied
		// answer) leaves the outcome unknown, to be asked or sent again,
		// instead of failing the decryption in the database.
		if (ctx.step == kStepAssign && v.outcome == StepOutcome::kDone) {
			bool unusable = std::any_of(a.assignments.begin(), a.assignments.end(), [](const core::Assignment &x) {
				return x.encry_certid.empty() || x.encry_key.empty();
			});
			if (unusable || (!ctx.query && a.assignments.empty())) {
				StepDecision d =
				    Fail("unknown", (ctx.query ? "query: " : "") + std::string("a success without a usable assignment"),
				         "unknown");
				d.return_code = CleanText(a.return_code, 40);
				d.platform_failure = true;
				return d;
			}
		}
		StepDecision d;
		d.answer = CanonicalAnswer(a);
		d.return_code = CleanText(a.return_code, 40);
		d.return_message = CleanText(core::SummariseAnswer(a));
		d.attempt_outcome = OutcomeName(v.outcome);
		if (ctx.query) {
			d.action = StepAction::kQueried;  // the SQL matches SuccessData, including "not found" answers
			d.reason = d.return_message;
			return d;
		}
		if (v.outcome == StepOutcome::kDone) {
			d.action = StepAction::kSucceed;
			d.reason = d.return_message;
			return d;
		}
		if (ctx.resend && MatchesAny(a, already_done_patterns)) {
			d.already_done = true;
			if (ctx.step == kStepAssign) {
				d.action = StepAction::kFail;
				d.fail_kind = "hold";
				d.attempt_outcome = "held";
				d.answer = nullptr;
				d.reason = CleanText("a resend of assign_code was answered \"already done\" (" + d.return_message +
				                     "), but that answer carries no assigned code: look it up on the platform");
				return d;
			}
			d.action = StepAction::kSucceed;
			d.attempt_outcome = "done";
			d.reason = CleanText("a resend was answered \"already done\": the earlier attempt took effect (" +
			                     d.return_message + ")");
			return d;
		}
		d.action = StepAction::kFail;
		d.fail_kind = "business_error";
		d.reason = d.return_message;
		d.answer = nullptr;
		return d;
	} catch (const std::exception &e) {
		// Nothing above is expected to throw; if it does, the outcome is
		// still unknown and the worker goes on.
		return Fail("unknown", std::string("cannot interpret the answer: ") + e.what(), "unknown");
	}
}

}  // namespace elicense::worker
