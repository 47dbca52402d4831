// SQL glue of preview tokens (extension/sql/parts/59_preview_url.sql): make
// a key, make a token, read its key id, check it against a key. A key is
// stored only encrypted under the master key (elicense.preview_key.secret_box)
// and opened here, in C, for the one call: it is never a SQL value.
#include "elicense/preview_token.hpp"
#include "elicense/secret_box.hpp"

#include <openssl/rand.h>

#include "cpp_guard.hpp"
#include "stored_secret.hpp"

namespace core = elicense::core;
using elicense::pg::ArgBytes;
using elicense::pg::ArgText;
using elicense::pg::ByteaDatum;
using elicense::pg::GuardedRun;
using elicense::pg::ResultDesc;
using elicense::pg::TextDatum;

namespace {

constexpr std::size_t kPreviewKeyBytes = 32;

core::Bytes OpenPreviewKey(std::string_view box) {
	elicense::pg::WipedString key {elicense::pg::OpenStoredSecret(elicense::pg::kPreviewKeyPurpose, box)};
	return core::Bytes(key.value.begin(), key.value.end());
}

void Wipe(core::Bytes &key) {
	OPENSSL_cleanse(key.data(), key.size());
}

// The row of _preview_token_check: (identifier, expires_at) when `token` is
// signed with the key key_of() gives, both NULL otherwise.
template <typename KeyOf>
Datum TokenCheckRow(FunctionCallInfo fcinfo, std::string_view token, KeyOf key_of) {
	TupleDesc desc = ResultDesc(fcinfo);
	Datum values[2] = {0, 0};
	bool nulls[2] = {true, true};
	GuardedRun([&] {
		core::Bytes key = key_of();
		elicense::pg::WipeOnExit guard {[&] { Wipe(key); }};
		auto claims = core::VerifyPreviewToken(token, key);
		if (!claims)
			return;
		values[0] = TextDatum(claims->identifier);
		values[1] = Int64GetDatum(claims->expires_at);
		nulls[0] = nulls[1] = false;
	});
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

}  // namespace

// _preview_key_box(secret bytea) -> bytea: a preview key encrypted under the
// master key; a fresh random 32-byte key when secret is NULL (keys are made
// here, so a new key never exists as a SQL value), else the given key (the
// update from 0.2.0 moves its clear keys), at least 32 bytes.
ELICENSE_FUNCTION(elicense_preview_key_box) {
	std::string_view given = PG_ARGISNULL(0) ? std::string_view() : ArgBytes(fcinfo, 0, 1024);
	bool fresh = PG_ARGISNULL(0);
	Datum result = 0;
	GuardedRun([&] {
		elicense::pg::WipedString key;
		if (fresh) {
			key.value.assign(kPreviewKeyBytes, '\0');
			if (RAND_bytes(reinterpret_cast<unsigned char *>(key.value.data()), kPreviewKeyBytes) != 1)
				throw core::Error("58000", "the random generator failed to make a preview key");
		} else {
			if (given.size() < kPreviewKeyBytes)
				throw core::Error(core::sqlstate::kInvalidParameterValue,
				                  "a preview key has " + std::to_string(given.size()) + " bytes, fewer than 32", {},
				                  "Make keys with elicense.rotate_preview_key(); the value is not repeated here.");
			key.value.assign(given);
		}
		result =
		    ByteaDatum(core::SealSecret(elicense::pg::CurrentMasterKey(), elicense::pg::kPreviewKeyPurpose, key.value));
	});
	PG_RETURN_DATUM(result);
}

// _preview_token(secret_box bytea, key_id integer, identifier text, expires_at bigint) -> text
ELICENSE_FUNCTION(elicense_preview_token_boxed) {
	std::string_view box = ArgBytes(fcinfo, 0);
	int key_id = PG_GETARG_INT32(1);
	std::string_view identifier = ArgText(fcinfo, 2);
	int64 expires_at = PG_GETARG_INT64(3);
	Datum result;
	GuardedRun([&] {
		core::Bytes key = OpenPreviewKey(box);
		elicense::pg::WipeOnExit guard {[&] { Wipe(key); }};
		result = TextDatum(core::MakePreviewToken(key, key_id, identifier, expires_at));
	});
	PG_RETURN_DATUM(result);
}

// _preview_token_check(token text, secret_box bytea, OUT identifier text, OUT
// expires_at bigint): both NULL unless the token is signed with the key in
// the box
ELICENSE_FUNCTION(elicense_preview_token_check_boxed) {
	std::string_view box = ArgBytes(fcinfo, 1);
	PG_RETURN_DATUM(TokenCheckRow(fcinfo, ArgText(fcinfo, 0), [&] { return OpenPreviewKey(box); }));
}

// The clear-key forms below are what 0.1.0 and 0.2.0 declare; kept so their
// scripts still run with this library before an update.

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
	std::string_view secret = ArgBytes(fcinfo, 1);
	PG_RETURN_DATUM(
	    TokenCheckRow(fcinfo, ArgText(fcinfo, 0), [&] { return core::Bytes(secret.begin(), secret.end()); }));
}
