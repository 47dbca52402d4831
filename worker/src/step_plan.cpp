#include "step_plan.hpp"

#include "step_names.hpp"

namespace elicense::worker {
namespace {

StepPlan Hold(std::string reason) {
	StepPlan p;
	p.kind = StepPlan::Kind::kHold;
	p.reason = std::move(reason);
	return p;
}

std::string Which(const LeasedStep &s) {
	return "licence type " + s.type_code + ", step " + s.step;
}

// A query of the platform (confirm, or before a step is sent again).
StepPlan PlanQuery(const Config &config, const LeasedStep &s, const std::string &query_path) {
	if (CredentialFor(config, s.type_code) == nullptr)
		return Hold("no credentials configured for licence type " + s.type_code);
	StepPlan p;
	p.kind = StepPlan::Kind::kQuery;
	p.path = query_path;
	return p;
}

}  // namespace

std::string AcceptDataPayload(const std::string &item_json) {
	return "{\"AcceptData\":[" + item_json + "]}";
}

StepPlan PlanSend(const Config &config, const LeasedStep &s, bool resend) {
	if (CredentialFor(config, s.type_code) == nullptr)
		return Hold("no credentials configured for licence type " + s.type_code + " (credentials.\"" + s.type_code +
		            "\" or \"*\")");
	auto path = PathFor(config, s.type_code, CatalogueStep(s.step));
	if (!path)
		return Hold("no path configured for " + Which(s) + " (paths.\"" + s.type_code + "\"." +
		            std::string(CatalogueStep(s.step)) + ", profile " + config.profile + ")");
	if (s.request.empty() || s.request.front() != '{')
		return Hold("lease_steps gave no request item for " + Which(s));
	StepPlan p;
	p.kind = StepPlan::Kind::kSend;
	p.path = *path;
	p.resend = resend;
	return p;
}

StepPlan PlanStep(const Config &config, const LeasedStep &s) {
	auto query_path = PathFor(config, s.type_code, kStepQuery);
	bool can_query = query_path && !s.query_request.empty() && s.query_request.front() == '{';
	if (s.step == kStepConfirm) {
		if (!can_query) {
			StepPlan p;
			p.kind = StepPlan::Kind::kDoneWithoutCall;
			p.reason = "no query endpoint configured";
			return p;
		}
		return PlanQuery(config, s, *query_path);
	}
	if (!s.needs_query || s.step == kStepValidate)
		return PlanSend(config, s, false);
	switch (config.unknown_outcome) {
	case UnknownOutcome::kQuery:
		if (!can_query)
			return Hold("the outcome of an earlier attempt is unknown and " + Which(s) +
			            " has no query path or query item (unknown_outcome query): check the platform, then replay "
			            "or close the step");
		return PlanQuery(config, s, *query_path);
	case UnknownOutcome::kResend: return PlanSend(config, s, true);
	case UnknownOutcome::kHold: break;
	}
	return Hold("the outcome of an earlier attempt of " + Which(s) +
	            " is unknown (unknown_outcome hold): check the platform, then replay or close the step");
}

}  // namespace elicense::worker
