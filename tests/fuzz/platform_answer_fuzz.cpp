// libFuzzer target for the parsers of the national platform's answers: any
// body must either parse or raise elicense::core::Error, and a parsed answer
// must be consistent (outcome from ReturnCode, a summary that starts with it).
#include "elicense/error.hpp"
#include "elicense/platform_answer.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace core = elicense::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string_view body(reinterpret_cast<const char *>(data), size);
	try {
		core::TokenAnswer t = core::ParseTokenAnswer(body);
		if (t.access_token.empty() || t.expires_in_s < 0)
			std::abort();
	} catch (const core::Error &) {
	}
	try {
		core::BusinessAnswer a = core::ParseBusinessAnswer(body);
		bool success = a.return_code == "1" || a.return_code == "2";
		if (success == (a.outcome == core::AnswerOutcome::kFailure) || a.return_code.empty())
			std::abort();
		if (core::SummariseAnswer(a).rfind(a.return_code, 0) != 0)
			std::abort();
	} catch (const core::Error &) {
	}
	return 0;
}
