#include "request_head.hpp"

#include <algorithm>
#include <cctype>

namespace elicense::preview {
namespace {

HeadScan Refuse(int status, const char *reason) {
	HeadScan scan;
	scan.state = HeadScan::State::kRefused;
	scan.refusal = status;
	scan.reason = reason;
	return scan;
}

bool NameIs(std::string_view line, std::string_view name) {
	if (line.size() <= name.size() || line[name.size()] != ':')
		return false;
	for (std::size_t i = 0; i < name.size(); ++i)
		if (std::tolower(static_cast<unsigned char>(line[i])) != name[i])
			return false;
	return true;
}

std::string_view Trim(std::string_view value) {
	while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
		value.remove_prefix(1);
	while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
		value.remove_suffix(1);
	return value;
}

}  // namespace

HeadScan ScanRequestHead(std::string_view buffer, const HeadLimits &limits) {
	std::size_t end = buffer.find("\r\n\r\n");
	std::size_t scanned = end == std::string_view::npos ? buffer.size() : end + 2;
	std::size_t lines = static_cast<std::size_t>(std::count(buffer.begin(), buffer.begin() + scanned, '\n'));
	// The request line is not a header line.
	if (lines > limits.max_header_count + 1)
		return Refuse(431, "too many header lines");
	if (end == std::string_view::npos) {
		if (buffer.size() < limits.max_head_bytes)
			return HeadScan {};
		return buffer.find('\n') == std::string_view::npos ? Refuse(414, "request line too long")
		                                                   : Refuse(431, "request head too large");
	}
	if (end + 4 > limits.max_head_bytes)
		return Refuse(431, "request head too large");

	HeadScan scan;
	scan.head_bytes = end + 4;
	std::string_view head = buffer.substr(0, end + 2);
	std::size_t line_end = head.find("\r\n");
	std::string_view request_line = head.substr(0, line_end);
	std::size_t sp1 = request_line.find(' ');
	std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
	if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1)
		return Refuse(400, "malformed request line");
	scan.method = request_line.substr(0, sp1);
	scan.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);

	bool has_length = false;
	for (std::size_t pos = line_end + 2; pos < head.size();) {
		std::size_t next = head.find("\r\n", pos);
		std::string_view line = head.substr(pos, next - pos);
		pos = next + 2;
		if (line.front() == ' ' || line.front() == '\t')
			return Refuse(400, "folded header line");
		if (NameIs(line, "transfer-encoding"))
			return Refuse(411, "Transfer-Encoding in a request");  // only Content-Length bodies
		if (NameIs(line, "content-length")) {
			std::string_view value = Trim(line.substr(15));
			if (has_length || value.empty() || value.size() > 12 ||
			    value.find_first_not_of("0123456789") != std::string_view::npos)
				return Refuse(400, "bad or repeated Content-Length");
			has_length = true;
			std::size_t length = 0;
			for (char c : value)
				length = length * 10 + static_cast<std::size_t>(c - '0');
			if (length > limits.max_body_bytes)
				return Refuse(413, "request body too large");
			scan.body_bytes = length;
		}
	}
	scan.state = HeadScan::State::kComplete;
	return scan;
}

}  // namespace elicense::preview
