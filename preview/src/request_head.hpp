// Reads the head of one HTTP/1.1 request out of the bytes a connection has
// sent so far, under the server's limits, before any handler sees it: the
// front end (http_front_end.hpp) calls this after every read, so a flood of
// header lines or an oversized head is refused after at most the limit's
// bytes, and a request is handed on only once its head and body are whole.
#pragma once

#include <cstddef>
#include <string_view>

namespace elicense::preview {

struct HeadLimits {
	std::size_t max_head_bytes = 8192;  // request line + header lines + blank line
	std::size_t max_header_count = 64;  // header lines, request line not counted
	std::size_t max_body_bytes = 8192;  // Content-Length
};

struct HeadScan {
	enum class State { kIncomplete, kComplete, kRefused };
	State state = State::kIncomplete;
	int refusal = 0;             // HTTP status when Refused: 400, 411, 413, 414, 431
	const char *reason = "";     // for the log, when Refused
	std::size_t head_bytes = 0;  // when Complete: through the blank line
	std::size_t body_bytes = 0;  // when Complete: Content-Length (0 without one)
	std::string_view method;     // when Complete
	std::string_view target;     // when Complete
};

// Complete means the head is whole and passed the limits; the request is
// whole once `buffer` holds head_bytes + body_bytes. Lines end with CRLF (a
// bare LF never ends the head, as in cpp-httplib); every LF counts as a line
// for max_header_count, so a flood of short lines is cut off early.
HeadScan ScanRequestHead(std::string_view buffer, const HeadLimits &limits);

}  // namespace elicense::preview
