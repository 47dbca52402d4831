// The archive of issued licence files (elicense.sealed_file) at rest: each
// file is kept only as a box under the master key (core/secret_box.hpp), so
// neither a pg_dump nor the table's files hold the holder's full ID number
// that an original's face shows. The box's associated data names the row
// (the file's SHA-256 and the licence identifier): a box copied onto another
// row does not open. A box is opened only here, in C, to compare with a
// presented file (licence_verify) or to re-encrypt it after a master key
// rotation; the clear file never becomes a SQL value.
#include "elicense/error.hpp"
#include "elicense/secret_box.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "cpp_guard.hpp"
#include "seal_settings.hpp"
#include "stored_secret.hpp"

namespace core = elicense::core;
using elicense::pg::ArgBytes;
using elicense::pg::ArgText;
using elicense::pg::ByteaDatum;
using elicense::pg::GuardedRun;
using elicense::pg::WipedString;

namespace {

constexpr char kDataCorrupted[] = "XX001";
constexpr char kNotInPrerequisiteState[] = "55000";

core::Bytes ToBytes(std::string_view data) {
	return core::Bytes(data.begin(), data.end());
}

// The associated data of a row's box: its content address and licence.
std::string Purpose(std::string_view sha256, std::string_view identifier) {
	std::string purpose = "elicense sealed file\n";
	purpose.append(sha256).append("\n").append(identifier);
	return purpose;
}

std::string Sha256Hex(std::string_view data) {
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int size = 0;
	if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1)
		throw core::Error(core::sqlstate::kInternalError, "SHA-256 failed");
	static const char digits[] = "0123456789abcdef";
	std::string hex;
	for (unsigned int i = 0; i < size; ++i) {
		hex.push_back(digits[digest[i] >> 4]);
		hex.push_back(digits[digest[i] & 15]);
	}
	return hex;
}

// The clear file of a row's box. A box that is none, or does not
// authenticate with this row's SHA-256 and identifier (altered, or moved from
// another row), is XX001; one under a key that is not configured, 55000.
std::string OpenFile(std::string_view box, std::string_view sha256, std::string_view identifier) {
	core::Bytes bytes = ToBytes(box);
	std::string row = "the archived file " + std::string(sha256) + " of licence " + std::string(identifier);
	core::Bytes id = core::SecretBoxKeyId(bytes);
	if (id.empty())
		throw core::Error(kDataCorrupted, row + " is not an encrypted file", {},
		                  "elicense.sealed_file rows are written only by render_certificate_ofd and licence_file; "
		                  "restore the row from a backup.");
	std::vector<core::Bytes> keys = elicense::pg::MasterKeys();
	elicense::pg::WipeOnExit guard {[&] {
		for (core::Bytes &k : keys)
			OPENSSL_cleanse(k.data(), k.size());
	}};
	if (std::none_of(keys.begin(), keys.end(), [&](const core::Bytes &k) { return core::MasterKeyId(k) == id; }))
		throw core::Error(kNotInPrerequisiteState, row + " is encrypted under a master key that is not configured", {},
		                  "After a master key rotation, set elicense.previous_master_key_file to the old key and run "
		                  "elicense.reencrypt_secrets().");
	try {
		return core::OpenSecret(keys, Purpose(sha256, identifier), bytes);
	} catch (const core::Error &) {
		throw core::Error(kDataCorrupted, row + " does not authenticate (altered, or moved from another row)", {},
		                  "elicense.sealed_file rows are written only by render_certificate_ofd and licence_file; "
		                  "restore the row from a backup.");
	}
}

}  // namespace

// _sealed_file_box(file bytea, sha256 text, identifier text) -> bytea: the
// file boxed under the current master key for the row (sha256, identifier);
// sha256 must be the file's (the archive is content-addressed).
ELICENSE_FUNCTION(elicense_sealed_file_box) {
	std::string_view file = ArgBytes(fcinfo, 0);
	std::string_view sha256 = ArgText(fcinfo, 1);
	std::string_view identifier = ArgText(fcinfo, 2);
	Datum result = 0;
	GuardedRun([&] {
		if (Sha256Hex(file) != sha256)
			throw core::Error(core::sqlstate::kInvalidParameterValue,
			                  "sha256 \"" + std::string(sha256) + "\" is not the SHA-256 of the file to archive", {},
			                  "The archive is content-addressed: pass encode(sha256(file), 'hex').");
		WipedString plain {std::string(file)};
		result =
		    ByteaDatum(core::SealSecret(elicense::pg::CurrentMasterKey(), Purpose(sha256, identifier), plain.value));
	});
	PG_RETURN_DATUM(result);
}

// _sealed_file_matches(box bytea, sha256 text, identifier text, file bytea)
// -> boolean: whether the row's archived file is `file`, byte for byte.
ELICENSE_FUNCTION(elicense_sealed_file_matches) {
	std::string_view box = ArgBytes(fcinfo, 0);
	std::string_view sha256 = ArgText(fcinfo, 1);
	std::string_view identifier = ArgText(fcinfo, 2);
	std::string_view file = ArgBytes(fcinfo, 3);
	bool same = false;
	GuardedRun([&] {
		WipedString archived {OpenFile(box, sha256, identifier)};
		same = archived.value == file;
	});
	PG_RETURN_BOOL(same);
}

// _sealed_file_reencrypt(box bytea, sha256 text, identifier text) -> bytea:
// the row's file under the current master key (the box itself if it is
// under it already).
ELICENSE_FUNCTION(elicense_sealed_file_reencrypt) {
	std::string_view box = ArgBytes(fcinfo, 0);
	std::string_view sha256 = ArgText(fcinfo, 1);
	std::string_view identifier = ArgText(fcinfo, 2);
	Datum result = 0;
	GuardedRun([&] {
		core::Bytes current = elicense::pg::CurrentMasterKey();
		elicense::pg::WipeOnExit guard {[&] { OPENSSL_cleanse(current.data(), current.size()); }};
		if (core::SecretBoxKeyId(ToBytes(box)) == core::MasterKeyId(current)) {
			result = ByteaDatum(ToBytes(box));
		} else {
			WipedString plain {OpenFile(box, sha256, identifier)};
			result = ByteaDatum(core::SealSecret(current, Purpose(sha256, identifier), plain.value));
		}
	});
	PG_RETURN_DATUM(result);
}
