// libFuzzer target for the first thing the preview server reads from the
// Internet: a request head, scanned by ScanRequestHead after every read.
// Besides "no crash, no sanitizer report" it checks, with small limits so
// that every cap is reached:
//   - a complete head ends with CRLF CRLF inside the buffer and within
//     max_head_bytes, its body within max_body_bytes, method and target
//     inside the request line;
//   - an incomplete scan holds fewer than max_head_bytes and no CRLF CRLF;
//   - a refusal is one of the statuses the front end answers;
//   - more bytes never undo an outcome: a head complete in a prefix is the
//     same head in the whole input, and a prefix refused stays refused (the
//     front end acts on every prefix it reads).
#include "request_head.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using elicense::preview::HeadLimits;
using elicense::preview::HeadScan;
using elicense::preview::ScanRequestHead;

void Check(bool condition) {
	if (!condition)
		std::abort();
}

void CheckOne(std::string_view in, const HeadScan &s, const HeadLimits &limits) {
	switch (s.state) {
	case HeadScan::State::kComplete:
		Check(s.head_bytes >= 4 && s.head_bytes <= in.size() && s.head_bytes <= limits.max_head_bytes);
		Check(in.substr(s.head_bytes - 4, 4) == "\r\n\r\n");
		Check(in.substr(0, s.head_bytes - 2).find("\r\n\r\n") == std::string_view::npos);
		Check(s.body_bytes <= limits.max_body_bytes);
		Check(!s.method.empty() && !s.target.empty());
		Check(s.method.data() == in.data() && s.target.data() > in.data() &&
		      s.target.data() + s.target.size() <= in.data() + s.head_bytes);
		break;
	case HeadScan::State::kIncomplete:
		Check(in.size() < limits.max_head_bytes && in.find("\r\n\r\n") == std::string_view::npos);
		break;
	case HeadScan::State::kRefused:
		Check(s.refusal == 400 || s.refusal == 411 || s.refusal == 413 || s.refusal == 414 || s.refusal == 431);
		break;
	}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 1)
		return 0;
	HeadLimits limits;
	limits.max_head_bytes = 256;
	limits.max_header_count = 8;
	limits.max_body_bytes = 64;
	std::string_view in(reinterpret_cast<const char *>(data) + 1, size - 1);
	HeadScan whole = ScanRequestHead(in, limits);
	CheckOne(in, whole, limits);
	std::string_view prefix = in.substr(0, data[0] % (in.size() + 1));
	HeadScan part = ScanRequestHead(prefix, limits);
	CheckOne(prefix, part, limits);
	if (part.state == HeadScan::State::kComplete)
		Check(whole.state == HeadScan::State::kComplete && whole.head_bytes == part.head_bytes &&
		      whole.body_bytes == part.body_bytes && whole.target == part.target);
	if (part.state == HeadScan::State::kRefused)
		Check(whole.state == HeadScan::State::kRefused);
	return 0;
}
