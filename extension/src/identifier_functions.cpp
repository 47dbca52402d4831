// SQL functions over licence identifiers (GB/T 36904): build, parse, check.
#include "elicense/identifier.hpp"

#include <cstring>

#include "cpp_guard.hpp"

namespace core = elicense::core;
using elicense::pg::ArgText;
using elicense::pg::GuardedRun;
using elicense::pg::ResultDesc;
using elicense::pg::TextDatum;

namespace {

// Identifier parts copied out of C++ strings, so the record is built with
// PostgreSQL calls after every C++ object is gone.
struct PlainParts {
	char type_code[core::kTypeCodeLength + 1];
	char issuer[19];
	char sequence[core::kMaxSequenceLength + 1];
	int version;
	char check[2];
};

void CopyPart(char *dst, std::size_t size, const std::string &src) {
	std::size_t n = std::min(src.size(), size - 1);  // sizes are guaranteed by the parser
	std::memcpy(dst, src.data(), n);
	dst[n] = '\0';
}

}  // namespace

ELICENSE_FUNCTION(elicense_build_identifier) {
	std::string_view type_code = ArgText(fcinfo, 0);
	std::string_view issuer = ArgText(fcinfo, 1);
	std::string_view sequence = ArgText(fcinfo, 2);
	int32 version = PG_GETARG_INT32(3);
	Datum result;
	GuardedRun([&] { result = TextDatum(core::BuildIdentifier(type_code, issuer, sequence, version)); });
	PG_RETURN_DATUM(result);
}

ELICENSE_FUNCTION(elicense_parse_identifier) {
	std::string_view text = ArgText(fcinfo, 0);
	TupleDesc desc = ResultDesc(fcinfo);
	PlainParts parts;
	GuardedRun([&] {
		core::IdentifierParts p = core::ParseIdentifier(text);
		CopyPart(parts.type_code, sizeof parts.type_code, p.type_code);
		CopyPart(parts.issuer, sizeof parts.issuer, p.issuer);
		CopyPart(parts.sequence, sizeof parts.sequence, p.sequence);
		parts.version = p.version;
		parts.check[0] = p.check;
		parts.check[1] = '\0';
	});
	Datum values[5] = {CStringGetTextDatum(parts.type_code), CStringGetTextDatum(parts.issuer),
	                   CStringGetTextDatum(parts.sequence), Int32GetDatum(parts.version),
	                   CStringGetTextDatum(parts.check)};
	bool nulls[5] = {false, false, false, false, false};
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
