// Module entry: magic block and initialisation.
#include "pg_prelude.hpp"

extern "C" {
PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void _PG_init(void) {
	// Reserve the prefix so a typo such as "elicense.provnce" is an error.
	MarkGUCPrefixReserved("elicense");
}
}
