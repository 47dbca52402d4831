// The one place the glue includes PostgreSQL headers.
//
// Include order matters: PostgreSQL's port.h #defines printf, snprintf,
// gettext and friends, which would rewrite standard C++ headers and core
// headers included after it. So every glue file includes the standard
// library and core headers first and this prelude last; core headers refuse
// to compile after postgres.h (see core/include/elicense/cpp_only.hpp).
#pragma once

// PostgreSQL 15 leaves PGDLLEXPORT empty on Linux; we build with
// -fvisibility=hidden, so the symbols PostgreSQL looks up must say "default".
#define PGDLLEXPORT __attribute__((visibility("default")))

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "access/htup_details.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
}

// Declares an SQL-callable function with C linkage. The body must run its
// C++ work through elicense::pg::GuardedRun (cpp_guard.hpp).
#define ELICENSE_FUNCTION(name) \
	extern "C" {                \
	PG_FUNCTION_INFO_V1(name);  \
	}                           \
	extern "C" PGDLLEXPORT Datum name(PG_FUNCTION_ARGS)
