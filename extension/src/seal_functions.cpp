// Seals from SQL: the transit type elicense.secret, encryption of a seal's
// secret under the master key when it is loaded, re-encryption after a
// master key rotation, and _seal_ofd, which opens a seal row's secret only
// here, in C, builds the row's signer (key, pkcs11 or http) and seals a file.
// A secret never comes back out: elicense.secret prints as "(secret)" (so a
// bind parameter of that type is logged as such by log_statement) and
// cannot be sent to a client.
#include "elicense/error.hpp"
#include "elicense/ofd_signature.hpp"
#include "elicense/pem_check.hpp"
#include "elicense/ofd_signer.hpp"
#include "elicense/secret_box.hpp"
#include "ofd_crypto.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include <memory>
#include <string>

#include "cpp_guard.hpp"
#include "http_seal_signer.hpp"
#include "seal_settings.hpp"
#include "stored_secret.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/fmgrprotos.h"
}

namespace core = elicense::core;
using elicense::pg::ArgBytes;
using elicense::pg::ArgText;
using elicense::pg::ByteaDatum;
using elicense::pg::GuardedRun;
using elicense::pg::TextDatum;
using elicense::pg::WipedString;

namespace {

constexpr const char *kSecretPurpose = elicense::pg::kSealSecretPurpose;
constexpr std::size_t kMaxSecretBytes = 64 * 1024;

core::Bytes ToBytes(std::string_view data) {
	return core::Bytes(data.begin(), data.end());
}

nlohmann::json ParseConfig(const std::string &json) {
	nlohmann::json config = nlohmann::json::parse(json, nullptr, false);
	if (!config.is_object())
		throw core::Error(core::sqlstate::kInvalidParameterValue, "signer_config is not a JSON object");
	return config;
}

std::string ConfigText(const nlohmann::json &config, const char *key, const std::string &signer) {
	auto found = config.find(key);
	if (found == config.end() || !found->is_string() || found->get<std::string>().empty())
		throw core::Error(core::sqlstate::kInvalidParameterValue,
		                  "signer_config of a " + signer + " seal needs \"" + key + "\" (a non-empty string)", {},
		                  "See docs/seal-signers.md for each signer's configuration.");
	return found->get<std::string>();
}

std::unique_ptr<core::OfdSigner> MakeSigner(const std::string &signer, const nlohmann::json &config,
                                            const std::string &secret, const std::string &certificate_pem,
                                            const std::string &es_id) {
	if (signer == "key")
		return core::MakeKeySigner(secret, certificate_pem);
	if (signer == "pkcs11") {
		core::Pkcs11Config p11;
		p11.module = ConfigText(config, "module", signer);
		p11.token_label = ConfigText(config, "token", signer);
		p11.key_label = ConfigText(config, "key", signer);
		p11.pin = secret;
		elicense::pg::RequireAllowedPkcs11Module(p11.module);
		elicense::pg::ApplyPkcs11Environment();
		std::unique_ptr<core::OfdSigner> made = core::MakePkcs11Signer(p11, certificate_pem);
		OPENSSL_cleanse(p11.pin.data(), p11.pin.size());
		return made;
	}
	if (signer == "http") {
		elicense::pg::HttpSealConfig http;
		http.url = ConfigText(config, "url", signer);
		http.seal_id = es_id;
		http.client_secret = secret;
		auto timeout = config.find("timeout_ms");
		if (timeout != config.end()) {
			if (!timeout->is_number_integer())
				throw core::Error(core::sqlstate::kInvalidParameterValue, "signer_config timeout_ms is not an integer");
			http.timeout_ms = timeout->get<long>();
		}
		std::unique_ptr<core::OfdSigner> made = elicense::pg::MakeHttpSealSigner(http, certificate_pem);
		OPENSSL_cleanse(http.client_secret.data(), http.client_secret.size());
		return made;
	}
	throw core::Error(core::sqlstate::kInvalidParameterValue, "signer \"" + signer + "\" is none of key, pkcs11, http");
}

std::string AttrText(HeapTupleHeader row, const char *name) {
	bool isnull = false;
	Datum value = GetAttributeByName(row, name, &isnull);
	if (isnull)
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("the seal's %s is NULL", name)));
	text *t = DatumGetTextPP(value);
	return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

}  // namespace

// elicense.secret input: the text as given (a literal in SQL text is as
// visible as any other: load secrets with elicense-admin, which binds them).
ELICENSE_FUNCTION(elicense_secret_in) {
	const char *text = PG_GETARG_CSTRING(0);
	std::size_t size = strlen(text);
	if (size > kMaxSecretBytes)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("a secret has at most 64 KB")));
	PG_RETURN_BYTEA_P(cstring_to_text_with_len(text, static_cast<int>(size)));
}

ELICENSE_FUNCTION(elicense_secret_out) {
	PG_RETURN_CSTRING(pstrdup("(secret)"));
}

// Binary input: the bytes of the parameter, as elicense-admin sends them.
ELICENSE_FUNCTION(elicense_secret_recv) {
	StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
	int size = buf->len - buf->cursor;
	if (static_cast<std::size_t>(size) > kMaxSecretBytes)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("a secret has at most 64 KB")));
	bytea *result = static_cast<bytea *>(palloc(VARHDRSZ + size));
	SET_VARSIZE(result, VARHDRSZ + size);
	pq_copymsgbytes(buf, VARDATA(result), size);
	PG_RETURN_BYTEA_P(result);
}

ELICENSE_FUNCTION(elicense_secret_send) {
	ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("an elicense.secret is never sent to a client"),
	                errhint("Secrets go in through elicense-admin and are only used by the server.")));
	PG_RETURN_NULL();
}

// _seal_secret_encrypt(signer text, signer_config jsonb, secret elicense.secret,
//                      certificate_pem text, es_id text) -> bytea (a box under the master key)
// Checks first what can be checked without signing: a key parses and belongs
// to the certificate, a module is allowed, a URL is http(s).
ELICENSE_FUNCTION(elicense_seal_secret_encrypt) {
	std::string_view signer = ArgText(fcinfo, 0);
	elicense::pg::RequireArgSize(fcinfo, 1, elicense::pg::kMaxTextArgBytes);
	const char *config_json = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(1)));
	std::string_view secret = ArgBytes(fcinfo, 2, kMaxSecretBytes);
	std::string_view certificate = ArgText(fcinfo, 3);
	std::string_view es_id = ArgText(fcinfo, 4);
	Datum result = 0;
	GuardedRun([&] {
		WipedString plain {std::string(secret)};
		std::string kind(signer);
		nlohmann::json config = ParseConfig(config_json);
		// The same words as the other key columns (pem_problem), never the value.
		if (auto problem = core::PemProblem("certificate", certificate))
			throw core::Error(core::sqlstate::kInvalidParameterValue, "the seal's certificate_pem " + *problem);
		if (kind == "key")
			if (auto problem = core::PemProblem("private_key", plain.value))
				throw core::Error(
				    core::sqlstate::kInvalidParameterValue, "the seal's private key " + *problem, {},
				    "Give the unencrypted PEM private key as openssl writes it; the value is not repeated here.");
		if (kind == "pkcs11") {
			ConfigText(config, "token", kind);
			ConfigText(config, "key", kind);
			elicense::pg::RequireAllowedPkcs11Module(ConfigText(config, "module", kind));
			core::ofd::X509Ptr cert = core::ofd::LoadCertificate(certificate);
		} else {
			MakeSigner(kind, config, plain.value, std::string(certificate), std::string(es_id));
		}
		result = ByteaDatum(core::SealSecret(elicense::pg::CurrentMasterKey(), kSecretPurpose, plain.value));
	});
	PG_RETURN_DATUM(result);
}

// _reencrypt_secret(box bytea, kind text) -> bytea: the same secret under
// the current master key (the box itself if it is under it already); kind
// (seal, province, preview) names the table, whose purpose the box carries.
ELICENSE_FUNCTION(elicense_reencrypt_secret) {
	std::string_view box = ArgBytes(fcinfo, 0);
	std::string_view kind = ArgText(fcinfo, 1);
	Datum result = 0;
	GuardedRun([&] {
		const char *purpose = elicense::pg::StoredSecretPurpose(kind);
		core::Bytes old_box = ToBytes(box);
		core::Bytes current = elicense::pg::CurrentMasterKey();
		if (core::SecretBoxKeyId(old_box) == core::MasterKeyId(current)) {
			result = ByteaDatum(old_box);
			return;
		}
		WipedString plain {core::OpenSecret(elicense::pg::MasterKeys(), purpose, old_box)};
		result = ByteaDatum(core::SealSecret(current, purpose, plain.value));
	});
	PG_RETURN_DATUM(result);
}

// _secret_key_id(box bytea) -> text: hex ID of the master key a box is
// under (NULL if it is no box); master_key_id() -> the current key's.
ELICENSE_FUNCTION(elicense_secret_key_id) {
	std::string_view box = ArgBytes(fcinfo, 0);
	std::string hex;
	GuardedRun([&] {
		static const char digits[] = "0123456789abcdef";
		for (std::uint8_t b : core::SecretBoxKeyId(ToBytes(box))) {
			hex.push_back(digits[b >> 4]);
			hex.push_back(digits[b & 15]);
		}
	});
	if (hex.empty())
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(hex.data(), static_cast<int>(hex.size())));
}

ELICENSE_FUNCTION(elicense_master_key_id) {
	std::string hex;
	GuardedRun([&] {
		static const char digits[] = "0123456789abcdef";
		for (std::uint8_t b : core::MasterKeyId(elicense::pg::CurrentMasterKey())) {
			hex.push_back(digits[b >> 4]);
			hex.push_back(digits[b & 15]);
		}
	});
	PG_RETURN_TEXT_P(cstring_to_text_with_len(hex.data(), static_cast<int>(hex.size())));
}

// _seal_ofd(ofd bytea, s elicense.seal, x float8, y float8, size float8) -> bytea
ELICENSE_FUNCTION(elicense_seal_ofd) {
	std::string_view ofd = ArgBytes(fcinfo, 0);
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
	double x = PG_GETARG_FLOAT8(2), y = PG_GETARG_FLOAT8(3), size = PG_GETARG_FLOAT8(4);
	std::string signer = AttrText(row, "signer");
	std::string es_id = AttrText(row, "es_id");
	std::string seal_name = AttrText(row, "seal_name");
	std::string certificate = AttrText(row, "certificate_pem");
	std::string box = AttrText(row, "secret_box");  // bytea: same varlena layout
	std::string picture = AttrText(row, "seal_png");
	bool isnull = false;
	Datum config_datum = GetAttributeByName(row, "signer_config", &isnull);
	const char *config_json = isnull ? "{}" : DatumGetCString(DirectFunctionCall1(jsonb_out, config_datum));
	Datum result = 0;
	GuardedRun([&] {
		WipedString secret {core::OpenSecret(elicense::pg::MasterKeys(), kSecretPurpose, ToBytes(box))};
		std::unique_ptr<core::OfdSigner> made =
		    MakeSigner(signer, ParseConfig(config_json), secret.value, certificate, es_id);
		core::OfdSeal seal;
		seal.picture_png = ToBytes(picture);
		seal.name = seal_name;
		seal.es_id = es_id;
		seal.x = x;
		seal.y = y;
		seal.width = seal.height = size;
		result = ByteaDatum(core::SignOfd(ToBytes(ofd), seal, *made));
	});
	PG_RETURN_DATUM(result);
}
