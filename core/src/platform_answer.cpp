// Parsing of the national platform's token and business answers.
#include "elicense/platform_answer.hpp"

#include "elicense/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace elicense::core {
namespace {

using nlohmann::json;

[[noreturn]] void Malformed(const std::string &what) {
	throw Error(sqlstate::kInvalidTextRepresentation, "malformed answer from the national platform", what,
	            "Check the endpoint URL and the platform's interface version.");
}

}  // namespace

int JsonNestingDepth(std::string_view body, int limit) {
	int depth = 0, deepest = 0;
	bool in_string = false, escaped = false;
	for (char c : body) {
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			deepest = std::max(deepest, ++depth);
			if (deepest > limit)
				break;
		} else if (c == ']' || c == '}') {
			--depth;
		}
	}
	return deepest;
}

namespace {

json ParseJson(std::string_view body, const char *kind) {
	// JSON never holds a raw NUL, and nlohmann's parser would take one for
	// the end of the input and accept whatever came before it.
	if (body.find('\0') != std::string_view::npos)
		Malformed(std::string(kind) + " holds a NUL byte");
	if (JsonNestingDepth(body, kMaxAnswerDepth) > kMaxAnswerDepth)
		Malformed(std::string(kind) + " nests deeper than " + std::to_string(kMaxAnswerDepth) + " levels");
	json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
	if (doc.is_discarded() || !doc.is_object())
		Malformed(std::string(kind) + " is not a JSON object");
	return doc;
}

// A code sent as "1" or 1: its decimal text, or "" if absent or of another type.
std::string CodeText(const json &v) {
	if (v.is_string())
		return v.get<std::string>();
	if (v.is_number_integer())
		return std::to_string(v.get<long long>());
	return {};
}

std::string StringField(const json &obj, const char *key) {
	auto it = obj.find(key);
	if (it == obj.end() || it->is_null())
		return {};
	if (it->is_string())
		return it->get<std::string>();
	return it->dump();
}

// A field that must be text (ciphertexts, ids): its string, else "" (a number
// or an object in its place is as good as missing).
std::string TextField(const json &obj, const char *key) {
	auto it = obj.find(key);
	return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A warning or error entry: {"ErrorMsg": "…"}, a bare string, or else its JSON.
std::string MessageOf(const json &item, const char *key) {
	if (item.is_string())
		return item.get<std::string>();
	if (item.is_object() && item.contains(key))
		return StringField(item, key);
	return item.dump();
}

const json *ArrayIn(const json &obj, const char *key) {
	auto it = obj.find(key);
	return it != obj.end() && it->is_array() ? &*it : nullptr;
}

}  // namespace

TokenAnswer ParseTokenAnswer(std::string_view body) {
	json doc = ParseJson(body, "the token answer");
	auto status = doc.find("status");
	if (status == doc.end() || !status->is_object() || CodeText(status->value("code", json())) != "1")
		Malformed("the token answer's status.code is not 1");
	auto custom = doc.find("custom");
	if (custom == doc.end() || !custom->is_object())
		Malformed("the token answer has no \"custom\" object");
	TokenAnswer out;
	out.access_token = StringField(*custom, "access_token");
	if (out.access_token.empty())
		Malformed("the token answer has no access_token");
	std::string expires = CodeText(custom->value("expires_in", json()));
	if (expires.empty() || expires.size() > 9 || expires.find_first_not_of("0123456789") != std::string::npos)
		Malformed("the token answer's expires_in is not a number of seconds");
	out.expires_in_s = std::stoi(expires);
	return out;
}

BusinessAnswer ParseBusinessAnswer(std::string_view body) {
	json doc = ParseJson(body, "the answer");
	auto code = doc.find("ReturnCode");
	if (code == doc.end())
		Malformed("the answer has no ReturnCode");
	BusinessAnswer out;
	out.return_code = CodeText(*code);
	if (out.return_code.empty())
		Malformed("the answer's ReturnCode is neither a string nor an integer");
	out.outcome = out.return_code == "1"   ? AnswerOutcome::kSuccess
	              : out.return_code == "2" ? AnswerOutcome::kSuccessWithWarning
	                                       : AnswerOutcome::kFailure;
	out.message = StringField(doc, "ReturnMsg");
	out.id = StringField(doc, "ID");
	out.success_data_json = "[]";
	auto data = doc.find("ReturnData");
	if (data != doc.end() && data->is_object()) {
		if (const json *success = ArrayIn(*data, "SuccessData")) {
			out.success_data_json = success->dump();
			for (const json &item : *success)
				if (item.is_object() && item.contains("encryCertid"))
					out.assignments.push_back(
					    {TextField(item, "encryCertid"), TextField(item, "encryKey"), TextField(item, "eCertID")});
		}
		if (const json *warn = ArrayIn(*data, "WarnData"))
			for (const json &item : *warn)
				out.warnings.push_back(MessageOf(item, "WarnMsg"));
		if (const json *errors = ArrayIn(*data, "ErrorData"))
			for (const json &item : *errors) {
				out.errors.push_back(MessageOf(item, "ErrorMsg"));
				out.error_guids.push_back(item.is_object() ? StringField(item, "ErrorGuid") : std::string());
			}
	}
	return out;
}

std::string SummariseAnswer(const BusinessAnswer &answer) {
	std::string out = answer.return_code;
	if (!answer.message.empty())
		out += " " + answer.message;
	const std::vector<std::string> &details =
	    answer.outcome == AnswerOutcome::kFailure ? answer.errors : answer.warnings;
	for (std::size_t i = 0; i < details.size(); ++i)
		out += (i == 0 ? ": " : "; ") + details[i];
	return out;
}

}  // namespace elicense::core
