// Answers of the national platform, parsed from their JSON (PLATFORM.md
// "Transport" and "Steps and codes"). Pure functions: the worker feeds them
// HTTP bodies; the fuzz target feeds them anything.
//
// Vocabulary: a "token answer" is the OAuth2 endpoint's reply; a "business
// answer" is the uniform reply of every business call:
//   {"ReturnCode":"1","ReturnMsg":"…","ReturnData":{"SuccessData":[…],
//    "WarnData":[…],"ErrorData":[{"ErrorGuid":"…","ErrorMsg":"…"}]}}
// or the seed's simpler {"ReturnCode":"1","ReturnMsg":"…","ID":"…"}; codes
// may be strings or numbers.
#pragma once

#include "elicense/cpp_only.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace elicense::core {

struct TokenAnswer {
	std::string access_token;
	int expires_in_s = 0;
};

// Throws Error (22P02) if the body is not a successful token answer; the
// message never repeats the body (it may hold a token).
TokenAnswer ParseTokenAnswer(std::string_view body);

enum class AnswerOutcome {
	kSuccess,             // ReturnCode 1
	kSuccessWithWarning,  // ReturnCode 2: record the warnings
	kFailure,             // ReturnCode 0 or anything else: a business error
};

// One QR code assignment (赋码) in SuccessData.
struct Assignment {
	std::string encry_certid;  // hex DES ciphertext of the assigned code
	std::string encry_key;     // base64 RSA ciphertext of the DES key
	std::string ecert_id;      // the licence identifier, echoed
};

struct BusinessAnswer {
	AnswerOutcome outcome = AnswerOutcome::kFailure;
	std::string return_code;               // as sent, numbers as decimal text
	std::string message;                   // ReturnMsg
	std::string id;                        // the seed shape's "ID", if any
	std::vector<std::string> warnings;     // WarnData messages
	std::vector<std::string> errors;       // ErrorData ErrorMsg values
	std::vector<std::string> error_guids;  // ErrorData ErrorGuid values, one per error ("" if absent)
	std::vector<Assignment> assignments;
	std::string success_data_json;  // SuccessData as compact JSON, "[]" if none
};

// Throws Error (22P02) if the body is not JSON of the business-answer shape,
// or nests deeper than kMaxAnswerDepth (a stack-safe limit for every later
// dump or walk of the document).
inline constexpr int kMaxAnswerDepth = 64;

// Deepest nesting of JSON arrays and objects in `text`, counted outside
// strings without parsing; counting stops once past `limit`.
int JsonNestingDepth(std::string_view text, int limit);
BusinessAnswer ParseBusinessAnswer(std::string_view body);

// One line for logs and history: "1 生成成功", "0 证书编号重复; 字段缺失".
std::string SummariseAnswer(const BusinessAnswer &answer);

}  // namespace elicense::core
