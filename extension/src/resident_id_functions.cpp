// SQL glue of the resident ID vault (extension/sql/parts/44_resident_id_vault.sql,
// docs/personal-data.md): the clear resident ID numbers of a row sealed under
// the master key, opened for the one call that needs them, and the blind
// index that finds a holder's rows by equality. The index key is stored only
// encrypted (elicense.holder_index_key) and opened here, in C.
#include "elicense/blind_index.hpp"
#include "elicense/error.hpp"
#include "elicense/secret_box.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cpp_guard.hpp"
#include "seal_settings.hpp"
#include "stored_secret.hpp"

namespace core = elicense::core;
using elicense::pg::ArgBytes;
using elicense::pg::ArgText;
using elicense::pg::ByteaDatum;
using elicense::pg::GuardedRun;
using elicense::pg::TextDatum;

namespace {

// Without a master key no resident ID number can be stored: 55000, before
// any work, with what to do.
void RequireMasterKey() {
	if (!elicense::pg::MasterKeyConfigured())
		throw core::Error("55000",
		                  "elicense.master_key_file is not set: resident ID numbers cannot be stored or looked up",
		                  "Resident ID numbers are kept only encrypted under the master key, and found by a keyed "
		                  "index whose key is encrypted under it.",
		                  "Set elicense.master_key_file in postgresql.conf to a file of 32 random bytes readable by "
		                  "the server only (head -c 32 /dev/urandom), then reload (docs/personal-data.md).");
}

// The opened index key of the last box seen: the key itself never changes
// (a master key rotation re-encrypts its box, giving other bytes, which are
// opened once again), so a backend opens it once per box.
struct IndexKeyCache {
	std::string box;
	core::Bytes key;
	~IndexKeyCache() {
		OPENSSL_cleanse(key.data(), key.size());
	}
};

const core::Bytes &IndexKey(std::string_view box) {
	static IndexKeyCache cache;
	if (cache.key.empty() || cache.box != box) {
		OPENSSL_cleanse(cache.key.data(), cache.key.size());
		cache.key.clear();
		elicense::pg::WipedString key {elicense::pg::OpenStoredSecret(elicense::pg::kHolderIndexKeyPurpose, box)};
		if (key.value.size() != core::kHolderIndexKeyBytes)
			throw core::Error(core::sqlstate::kInvalidParameterValue,
			                  "the stored holder index key does not have 32 bytes");
		cache.key.assign(key.value.begin(), key.value.end());
		cache.box.assign(box);
	}
	return cache.key;
}

}  // namespace

// _ids_seal(clear text) -> bytea: the clear resident ID numbers of a row
// (a JSON object) in a box under the current master key.
ELICENSE_FUNCTION(elicense_ids_seal) {
	std::string_view clear = ArgText(fcinfo, 0);
	Datum result = 0;
	GuardedRun([&] {
		RequireMasterKey();
		result =
		    ByteaDatum(core::SealSecret(elicense::pg::CurrentMasterKey(), elicense::pg::kResidentIdsPurpose, clear));
	});
	PG_RETURN_DATUM(result);
}

// _ids_open(box bytea) -> text: what _ids_seal sealed (under the current or
// the previous master key).
ELICENSE_FUNCTION(elicense_ids_open) {
	std::string_view box = ArgBytes(fcinfo, 0);
	Datum result = 0;
	GuardedRun([&] {
		RequireMasterKey();
		elicense::pg::WipedString clear {elicense::pg::OpenStoredSecret(elicense::pg::kResidentIdsPurpose, box)};
		result = TextDatum(clear.value);
	});
	PG_RETURN_DATUM(result);
}

// _holder_index_key_box() -> bytea: a fresh random index key, encrypted under
// the master key (made here: the key is never a SQL value).
ELICENSE_FUNCTION(elicense_holder_index_key_box) {
	Datum result = 0;
	GuardedRun([&] {
		RequireMasterKey();
		std::string key(core::kHolderIndexKeyBytes, '\0');
		elicense::pg::WipeOnExit guard {[&] { OPENSSL_cleanse(key.data(), key.size()); }};
		if (RAND_bytes(reinterpret_cast<unsigned char *>(key.data()), static_cast<int>(key.size())) != 1)
			throw core::Error(core::sqlstate::kInternalError, "no random bytes for the holder index key");
		result =
		    ByteaDatum(core::SealSecret(elicense::pg::CurrentMasterKey(), elicense::pg::kHolderIndexKeyPurpose, key));
	});
	PG_RETURN_DATUM(result);
}

// _holder_index(key_box bytea, holder_id text) -> bytea: the 16-byte blind
// index of a holder ID number under the index key in key_box.
ELICENSE_FUNCTION(elicense_holder_index) {
	std::string_view box = ArgBytes(fcinfo, 0);
	std::string_view id = ArgText(fcinfo, 1, 256);
	Datum result = 0;
	GuardedRun([&] {
		RequireMasterKey();
		result = ByteaDatum(core::HolderBlindIndex(IndexKey(box), id));
	});
	PG_RETURN_DATUM(result);
}
