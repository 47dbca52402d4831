// Module entry: magic block and initialisation.
#include "elicense/cancel.hpp"

#include "pg_prelude.hpp"
#include "seal_settings.hpp"

extern "C" {
#include "miscadmin.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

// Long core work stops when PostgreSQL has an interrupt pending (cancel
// request, statement_timeout, termination): the flags are plain volatile
// variables set by signal handlers, safe to read from anywhere. The error is
// then raised by CHECK_FOR_INTERRUPTS() in the guard (cpp_guard.cpp).
static bool InterruptPendingForCore() noexcept {
	return QueryCancelPending || ProcDiePending;
}

void _PG_init(void) {
	elicense::core::SetCancelCheck(InterruptPendingForCore);
	elicense::pg::DefineSealSettings();
	// Reserve the prefix so a typo such as "elicense.provnce" is an error.
	MarkGUCPrefixReserved("elicense");
}
}
