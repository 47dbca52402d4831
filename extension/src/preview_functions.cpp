// SQL glue of preview tokens (extension/sql/parts/59_preview_url.sql): make
// one, read its key id, check it against a key. The key comes from the
// admin-only table elicense.preview_key through SECURITY DEFINER wrappers.
#include "elicense/preview_token.hpp"

#include "cpp_guard.hpp"

namespace core = elicense::core;
using elicense::pg::ArgBytes;
using elicense::pg::ArgText;
using elicense::pg::GuardedRun;
using elicense::pg::ResultDesc;
using elicense::pg::TextDatum;

// _preview_token(secret bytea, key_id integer, identifier text, expires_at bigint) -> text
ELICENSE_FUNCTION(elicense_preview_token) {
	std::string_view secret = ArgBytes(fcinfo, 0);
	int key_id = PG_GETARG_INT32(1);
	std::string_view identifier = ArgText(fcinfo, 2);
	int64 expires_at = PG_GETARG_INT64(3);
	Datum result;
	GuardedRun([&] {
		result = TextDatum(
		    core::MakePreviewToken(core::Bytes(secret.begin(), secret.end()), key_id, identifier, expires_at));
	});
	PG_RETURN_DATUM(result);
}

// _preview_token_key_id(token text) -> integer, NULL if not a token
ELICENSE_FUNCTION(elicense_preview_token_key_id) {
	std::string_view token = ArgText(fcinfo, 0);
	int key_id = 0;
	GuardedRun([&] {
		if (auto claims = core::ReadPreviewToken(token))
			key_id = claims->key_id;
	});
	if (key_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(key_id);
}

// _preview_token_check(token text, secret bytea, OUT identifier text, OUT expires_at bigint):
// both NULL unless the token is signed with `secret`
ELICENSE_FUNCTION(elicense_preview_token_check) {
	std::string_view token = ArgText(fcinfo, 0);
	std::string_view secret = ArgBytes(fcinfo, 1);
	TupleDesc desc = ResultDesc(fcinfo);
	Datum values[2] = {0, 0};
	bool nulls[2] = {true, true};
	GuardedRun([&] {
		auto claims = core::VerifyPreviewToken(token, core::Bytes(secret.begin(), secret.end()));
		if (!claims)
			return;
		values[0] = TextDatum(claims->identifier);
		values[1] = Int64GetDatum(claims->expires_at);
		nulls[0] = nulls[1] = false;
	});
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
