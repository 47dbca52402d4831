// Per-backend cache of parsed approval-trigger arguments (55_issue.sql).
//
// elicense.issue_from_trigger runs once per row, and parsing its arguments
// in plpgsql took about 300 µs a row for a typical 17-argument trigger,
// more than the rest of a row that issues nothing. The parse is a pure
// function of the argument list, so elicense._trigger_plan parses each list
// once per backend (through the plpgsql parser elicense._parse_trigger_arguments,
// the only place the syntax is written) and keeps the result, a composite
// elicense.trigger_plan, in TopMemoryContext.
//
// The key is the parser's OID and the arguments: a trigger re-created with
// other arguments, or an extension update that re-creates the parser, misses
// the cache. A list the parser refuses raises its error and is not kept. At
// most kCacheEntries lists are kept (a backend sees few triggers); beyond,
// the oldest is replaced.
//
// Plain C-style PostgreSQL API code: nothing here throws, no C++ object is
// alive when the parser raises (STYLE.md 3.1 rule 5).

#include "cpp_guard.hpp"
#include "elicense/limits.hpp"

#include "pg_prelude.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/memutils.h"
}

namespace {

constexpr int kCacheEntries = 64;

struct CachedPlan {
	char *key;  // NULL: free entry
	int key_length;
	Datum plan;  // a flat composite in TopMemoryContext
};

CachedPlan cache[kCacheEntries];
int next_victim = 0;

Oid ParserOid() {
	Oid argtypes[3] = {TEXTARRAYOID, TEXTOID, TEXTOID};
	List *name = list_make2(makeString(pstrdup("elicense")), makeString(pstrdup("_parse_trigger_arguments")));
	return LookupFuncName(name, 3, argtypes, false);
}

// The parser's OID, then each argument as its length and bytes (-1: NULL).
void AppendKey(StringInfo key, Oid parser, ArrayType *args) {
	appendBinaryStringInfo(key, reinterpret_cast<const char *>(&parser), sizeof parser);
	Datum *elems;
	bool *nulls;
	int count;
	deconstruct_array(args, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
	for (int i = 0; i < count; ++i) {
		const text *arg = nulls[i] ? nullptr : DatumGetTextPP(elems[i]);
		const int length = arg ? static_cast<int>(VARSIZE_ANY_EXHDR(arg)) : -1;
		appendBinaryStringInfo(key, reinterpret_cast<const char *>(&length), sizeof length);
		if (arg)
			appendBinaryStringInfo(key, VARDATA_ANY(arg), length);
	}
}

CachedPlan *Find(const StringInfoData &key) {
	for (CachedPlan &entry : cache)
		if (entry.key && entry.key_length == key.len && memcmp(entry.key, key.data, key.len) == 0)
			return &entry;
	return nullptr;
}

CachedPlan *Keep(const StringInfoData &key, Datum plan) {
	CachedPlan &entry = cache[next_victim];
	next_victim = (next_victim + 1) % kCacheEntries;
	if (entry.key) {
		pfree(entry.key);
		pfree(DatumGetPointer(entry.plan));
		entry.key = nullptr;
	}
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	entry.plan = datumCopy(plan, false, -1);  // flattens an expanded record
	entry.key = static_cast<char *>(palloc(key.len));
	MemoryContextSwitchTo(old);
	memcpy(entry.key, key.data, key.len);
	entry.key_length = key.len;
	return &entry;
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(elicense_trigger_plan);
}
// elicense._trigger_plan(args text[], trigger text, table_name text): the
// trigger's name and table only word the parser's errors.
extern "C" PGDLLEXPORT Datum elicense_trigger_plan(PG_FUNCTION_ARGS) {
	elicense::pg::RequireArgSize(fcinfo, 0, elicense::core::kMaxTriggerArgumentsBytes);
	const Oid parser = ParserOid();
	StringInfoData key;
	initStringInfo(&key);
	AppendKey(&key, parser, PG_GETARG_ARRAYTYPE_P(0));
	CachedPlan *entry = Find(key);
	if (!entry)
		entry = Keep(key, OidFunctionCall3(parser, PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)));
	pfree(key.data);
	PG_RETURN_DATUM(datumCopy(entry->plan, false, -1));
}
