// The one exception type of the core. It carries what a PostgreSQL error
// needs (SQLSTATE, message, detail, hint) without depending on PostgreSQL:
// the extension glue turns it into ereport(ERROR) at the boundary.
#pragma once

#include "elicense/cpp_only.hpp"

#include <stdexcept>
#include <string>

namespace elicense::core {

// SQLSTATEs the core raises, as their five-character codes.
namespace sqlstate {
inline constexpr char kInvalidTextRepresentation[] = "22P02";  // malformed value
inline constexpr char kInvalidParameterValue[] = "22023";      // well-formed but not allowed
inline constexpr char kNullValueNotAllowed[] = "22004";
inline constexpr char kFeatureNotSupported[] = "0A000";
inline constexpr char kQueryCanceled[] = "57014";         // see cancel.hpp
inline constexpr char kProgramLimitExceeded[] = "54000";  // an input over a documented limit
inline constexpr char kInternalError[] = "XX000";
}  // namespace sqlstate

class Error : public std::runtime_error {
public:
	Error(const char *sqlstate, const std::string &message, std::string detail = {}, std::string hint = {})
	    : std::runtime_error(message), sqlstate_(sqlstate), detail_(std::move(detail)), hint_(std::move(hint)) {
	}

	const char *sqlstate() const noexcept {
		return sqlstate_;
	}
	const std::string &detail() const noexcept {
		return detail_;
	}
	const std::string &hint() const noexcept {
		return hint_;
	}

private:
	const char *sqlstate_;  // points at one of the constants above
	std::string detail_;
	std::string hint_;
};

}  // namespace elicense::core
