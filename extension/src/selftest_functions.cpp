// Functions that prove the C++ -> PostgreSQL boundary works: each throws a
// different kind of C++ exception while C++ objects are alive, and a counter
// of live objects shows that their destructors ran before the SQL error.
// Only superusers may call them: extension/sql/parts/90_selftest.sql revokes
// EXECUTE from PUBLIC and grants it to no role.
#include "elicense/error.hpp"

#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpp_guard.hpp"

namespace core = elicense::core;
using elicense::pg::ArgText;
using elicense::pg::GuardedRun;

namespace {

int live_objects = 0;

struct Tracked {
	Tracked() {
		++live_objects;
	}
	~Tracked() {
		--live_objects;
	}
	Tracked(const Tracked &) = delete;
	Tracked &operator=(const Tracked &) = delete;
};

void ThrowWhileHoldingObjects(std::string_view kind) {
	Tracked on_stack;
	auto on_heap = std::make_unique<Tracked>();
	std::vector<std::string> strings(100, std::string(1000, 'x'));
	if (kind == "core_error")
		throw core::Error(core::sqlstate::kInvalidParameterValue, "test error from C++", "detail from C++",
		                  "hint from C++");
	if (kind == "std_exception")
		throw std::runtime_error("std::runtime_error from C++");
	if (kind == "bad_alloc")
		throw std::bad_alloc();
	if (kind == "unknown")
		throw 42;
	throw core::Error(core::sqlstate::kInvalidParameterValue, "unknown exception kind",
	                  "Kinds are core_error, std_exception, bad_alloc and unknown.");
}

}  // namespace

ELICENSE_FUNCTION(elicense_selftest_throw) {
	std::string_view kind = ArgText(fcinfo, 0);
	GuardedRun([&] { ThrowWhileHoldingObjects(kind); });
	PG_RETURN_VOID();
}

ELICENSE_FUNCTION(elicense_selftest_live_objects) {
	PG_RETURN_INT32(live_objects);
}
