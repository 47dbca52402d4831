// Cancellation of long core work.
//
// The core runs inside a PostgreSQL backend, where statement_timeout and
// pg_cancel_backend only set a flag: work that never looks at it cannot be
// stopped short of SIGKILL, which restarts the whole cluster. So every loop
// whose length a caller controls (parts of a package, references of a
// signature, fields of a template, bytes to digest) calls ThrowIfCancelled()
// between units of bounded cost. The glue installs a check that reads the
// backend's interrupt flags (extension/src/module.cpp); the daemons and the
// unit tests install their own or none. The check is per thread.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/error.hpp"

namespace elicense::core {

// Answers "should the work stop now?". Must not throw and must be cheap: it
// runs between units of work of a few hundred microseconds at most.
using CancelCheck = bool (*)() noexcept;

// Installs the check for this thread (nullptr: never cancelled); returns the
// one it replaces.
CancelCheck SetCancelCheck(CancelCheck check) noexcept;

// Throws Cancelled when the installed check says so.
void ThrowIfCancelled();

// The work was stopped from outside (SQLSTATE 57014, query_canceled). The
// glue lets PostgreSQL report its own reason (statement timeout, user
// request, termination) once every C++ object is gone.
class Cancelled : public Error {
public:
	Cancelled() : Error(sqlstate::kQueryCanceled, "canceling statement: elicense work was interrupted") {
	}
};

// Installs a check for the lifetime of a scope (tests, daemons).
class ScopedCancelCheck {
public:
	explicit ScopedCancelCheck(CancelCheck check) noexcept : previous_(SetCancelCheck(check)) {
	}
	~ScopedCancelCheck() {
		SetCancelCheck(previous_);
	}
	ScopedCancelCheck(const ScopedCancelCheck &) = delete;
	ScopedCancelCheck &operator=(const ScopedCancelCheck &) = delete;

private:
	CancelCheck previous_;
};

}  // namespace elicense::core
