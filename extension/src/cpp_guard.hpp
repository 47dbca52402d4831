// The C++ -> PostgreSQL error boundary.
//
// PostgreSQL reports errors with longjmp. A longjmp over a frame that holds
// C++ objects skips their destructors (leaks, held locks, undefined
// behaviour), and a C++ exception that reaches PostgreSQL's C frames kills
// the backend. So every SQL-callable function follows one shape:
//
//   ELICENSE_FUNCTION(elicense_x) {
//       std::string_view arg = elicense::pg::ArgText(fcinfo, 0);  // PG calls that may
//                                                                 // raise: before
//       Datum result;
//       elicense::pg::GuardedRun([&] {                            // C++ work: inside
//           result = elicense::pg::TextDatum(core::X(arg));
//       });
//       PG_RETURN_DATUM(result);                                  // PG calls: after
//   }
//
// Wrong: calling ereport()/palloc()/PG_GETARG_TEXT_PP() inside the lambda
// while a std::string is alive; throwing out of the extern "C" function.
// GuardedRun catches every exception, copies what PostgreSQL needs into a
// plain struct on its own frame, lets the exception and every C++ object
// die, and only then raises ereport(ERROR).
#pragma once

#include "elicense/error.hpp"
#include "elicense/limits.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pg_prelude.hpp"

namespace elicense::pg {

// A C++ exception reduced to plain data that outlives it.
struct PendingError {
	bool active;
	int sqlerrcode;
	char message[1024];
	char detail[1024];
	char hint[512];
};

// Called from inside a catch handler: classifies the exception in flight.
void CaptureCurrentException(PendingError &out) noexcept;

// Raises the captured error as ereport(ERROR). Never returns.
[[noreturn]] void RaisePendingError(const PendingError &err);

template <typename Body>
void GuardedRun(Body &&body) {
	PendingError err;
	err.active = false;
	try {
		body();
	} catch (...) {
		CaptureCurrentException(err);
	}
	if (err.active)
		RaisePendingError(err);
}

// Default bounds of arguments (see core/include/elicense/limits.hpp): no
// text argument of ours is legitimately larger than a PEM chain or a
// template, no bytea larger than an OFD package.
inline constexpr std::size_t kMaxTextArgBytes = 1u << 20;
inline constexpr std::size_t kMaxBytesArgBytes = static_cast<std::size_t>(core::kMaxOfdPackageBytes);

// Raises 54000 naming the function and argument if argument n is larger
// than max_bytes. It reads the size from the varlena header, so nothing is
// detoasted or copied first. Call it before GuardedRun.
void RequireArgSize(FunctionCallInfo fcinfo, int n, std::size_t max_bytes);

// Text argument as a view of the (detoasted) datum, refused over max_bytes
// before detoasting. Call it before GuardedRun: detoasting may raise a
// PostgreSQL error.
std::string_view ArgText(FunctionCallInfo fcinfo, int n, std::size_t max_bytes = kMaxTextArgBytes);

// bytea argument as a view of the (detoasted) datum; before GuardedRun too.
std::string_view ArgBytes(FunctionCallInfo fcinfo, int n, std::size_t max_bytes = kMaxBytesArgBytes);

// The blessed descriptor of a function's composite result (OUT parameters
// or a row type); call it before GuardedRun, with the arguments.
TupleDesc ResultDesc(FunctionCallInfo fcinfo);

// text and bytea datums from C++ data, allocated without PostgreSQL's
// longjmp on OOM (they throw std::bad_alloc instead), so they are safe
// inside GuardedRun.
Datum TextDatum(std::string_view s);
Datum ByteaDatum(const std::vector<std::uint8_t> &bytes);

}  // namespace elicense::pg
