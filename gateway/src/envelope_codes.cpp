#include "envelope_codes.hpp"

namespace elicense::gateway {
namespace {

int HttpOf(Code code) {
	switch (code) {
	case Code::kOk: return 200;
	case Code::kIdentity: return 401;
	case Code::kRateLimited: return 429;
	case Code::kNoPermission:
	case Code::kUsageCode: return 403;
	case Code::kNotFound: return 404;
	case Code::kBadHolderType:
	case Code::kBadRequest: return 400;
	case Code::kNotReady: return 409;
	case Code::kOther: return 500;
	}
	return 500;
}

bool Has(const std::string &text, const char *part) {
	return text.find(part) != std::string::npos;
}

}  // namespace

Outcome Refusal(Code code, std::string message) {
	return Outcome {code, HttpOf(code), std::move(message)};
}

Outcome Unavailable() {
	return Outcome {Code::kOther, 503, "the service is temporarily unavailable; retry later"};
}

Outcome FromDatabase(const std::string &state, const std::string &m) {
	if (state == "28000")
		return Refusal(Code::kUsageCode, "the usage code is unknown or has expired");
	if (state == "42501") {
		if (Has(m, "has no usage grant"))
			return Refusal(Code::kNoPermission, "the application has no usage grant for this scenario");
		if (Has(m, "was revoked") || Has(m, ", not now"))
			return Refusal(Code::kNoPermission, "the application's usage grant is revoked or not valid now");
		if (Has(m, "made under another grant"))
			return Refusal(Code::kNoPermission, "the usage code was made by another application or grant");
		if (Has(m, "another holder"))
			return Refusal(Code::kNoPermission, "the licence or holder asked for is not the usage code's holder");
		if (Has(m, "outside") || Has(m, "not among the types"))
			return Refusal(Code::kNoPermission, "the licence type is outside the usage grant or the usage code");
		if (Has(m, "by resident ID number"))
			return Refusal(Code::kNoPermission,
			               "searching by resident ID number needs a grant that may see ID numbers, or a live usage "
			               "code for that holder");
		return Refusal(Code::kNoPermission, "no permission");
	}
	if (state == "P0002")
		return Refusal(Code::kNotFound, "no licence with this identifier");
	if (state == "42704")
		return Refusal(Code::kBadRequest, Has(m, "scenario") ? "unknown usage scenario" : "unknown licence type");
	if (state == "22P02" && Has(m, "holder_id"))
		return Refusal(Code::kBadHolderType, "holderCode is neither a valid USCC nor a valid resident ID number");
	if (state == "22001")
		return Refusal(Code::kBadRequest, "a value is longer than the limit (256 characters; context 4096)");
	if (state.rfind("22", 0) == 0) {
		if (Has(m, "page_size"))
			return Refusal(Code::kBadRequest, "pageSize must be 1-200");
		if (Has(m, "valid_minutes"))
			return Refusal(Code::kBadRequest, "validMinutes is outside 1 to the scenario's maximum");
		if (Has(m, "usage context lacks"))
			return Refusal(Code::kBadRequest,
			               "context lacks one of applicant, business_id, step, office, department, officer");
		if (Has(m, "usage context must be"))
			return Refusal(Code::kBadRequest, "context must be a JSON object");
		if (Has(m, "licence_types is empty"))
			return Refusal(Code::kBadRequest, "certTypeCodes is empty");
		if (Has(m, "date") || Has(m, "time"))
			return Refusal(Code::kBadRequest, "a date is not in the form YYYY-MM-DD");
		return Refusal(Code::kBadRequest, "a value in data is invalid");
	}
	if (state == "53400" && Has(m, "searches by resident ID number"))
		return Refusal(Code::kRateLimited, "too many searches by resident ID number in the last minute; retry later");
	if (state == "55000" && Has(m, "no QR code yet"))
		return Refusal(Code::kNotReady, "the licence file is not ready yet (no QR code assigned); retry later");
	if (state == "55000" || state == "57014" || state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 ||
	    state == "40001" || state == "40P01" || state == "57P01")
		return Unavailable();
	return Refusal(Code::kOther, "internal error");
}

}  // namespace elicense::gateway
