// SQL functions of the licence QR code: DES with a given key (tests and
// vectors), the QR URL, the QR PNG, decryption of code assignments, and the
// checks the configuration tables use. The functions that need configured
// keys are called by the SECURITY DEFINER wrappers of
// extension/sql/parts/30_qr.sql, which read the keys from admin-only tables,
// so keys never travel as literals in a logged statement.
#include "elicense/assignment.hpp"
#include "elicense/legacy_crypto.hpp"
#include "elicense/qr_image.hpp"
#include "elicense/qr_url.hpp"

#include <algorithm>
#include <cstring>

#include "cpp_guard.hpp"
#include "stored_secret.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
}

namespace core = elicense::core;
using elicense::pg::ArgBytes;
using elicense::pg::ArgText;
using elicense::pg::ByteaDatum;
using elicense::pg::GuardedRun;
using elicense::pg::ResultDesc;
using elicense::pg::TextDatum;

namespace {

// Text argument or an empty view for SQL NULL (for non-STRICT functions).
std::string_view ArgTextOrEmpty(FunctionCallInfo fcinfo, int n) {
	return PG_ARGISNULL(n) ? std::string_view() : ArgText(fcinfo, n);
}

}  // namespace

// des_encrypt_hex(plain text, des_key text) -> text
ELICENSE_FUNCTION(elicense_des_encrypt_hex) {
	std::string_view plain = ArgText(fcinfo, 0);
	std::string_view key = ArgText(fcinfo, 1);
	Datum result;
	GuardedRun([&] { result = TextDatum(core::DesEncryptHex(plain, key)); });
	PG_RETURN_DATUM(result);
}

// des_decrypt_hex(cipher_hex text, des_key text) -> text
ELICENSE_FUNCTION(elicense_des_decrypt_hex) {
	std::string_view hex = ArgText(fcinfo, 0);
	std::string_view key = ArgText(fcinfo, 1);
	Datum result;
	GuardedRun([&] { result = TextDatum(core::DesDecryptHex(hex, key, "cipher_hex")); });
	PG_RETURN_DATUM(result);
}

// encrypt_qr_id(code text, OUT id text, OUT des_key text)
ELICENSE_FUNCTION(elicense_encrypt_qr_id) {
	std::string_view code = ArgText(fcinfo, 0);
	TupleDesc desc = ResultDesc(fcinfo);
	Datum values[2];
	GuardedRun([&] {
		core::RequireAssignedCode(code, "code");
		std::string key8 = core::RandomDesKey();
		values[0] = TextDatum(core::DesEncryptHex(code, key8));
		values[1] = TextDatum(key8);
	});
	bool nulls[2] = {false, false};
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

// rsa_public_key_bits(pem text) -> integer, or 22023 saying what is wrong
ELICENSE_FUNCTION(elicense_rsa_public_key_bits) {
	std::string_view pem = ArgText(fcinfo, 0);
	int bits = 0;
	GuardedRun([&] { bits = core::RsaPublicKeyBits(pem); });
	PG_RETURN_INT32(bits);
}

// check_platform_key(public_key_pem, k_format, base_url) -> true or raises
ELICENSE_FUNCTION(elicense_check_platform_key) {
	std::string_view pem = ArgText(fcinfo, 0);
	std::string_view format = ArgText(fcinfo, 1);
	std::string_view base_url = ArgText(fcinfo, 2);
	GuardedRun([&] {
		core::RsaPublicKeyBits(pem);
		core::ParseCipherTextFormat(format);
		core::RequireQrBaseUrl(base_url);
	});
	PG_RETURN_BOOL(true);
}

// verify_province_secret(scheme, private_key_pem, des_key) -> true or raises;
// NULL keys are allowed when the scheme does not use them. Only 0.1.0 and
// 0.2.0 declare it (0.3.0 loads keys through load_province_secret): kept so
// their install scripts still run with this library before an update.
ELICENSE_FUNCTION(elicense_verify_province_secret) {
	bool scheme_null = PG_ARGISNULL(0);
	std::string_view scheme = ArgTextOrEmpty(fcinfo, 0);
	std::string_view pem = ArgTextOrEmpty(fcinfo, 1);
	std::string_view des_key = ArgTextOrEmpty(fcinfo, 2);
	GuardedRun([&] {
		if (scheme_null)
			throw core::Error(core::sqlstate::kNullValueNotAllowed, "column \"assignment_scheme\" is NULL", {},
			                  "Use rsa-des or des.");
		core::AssignmentSecret secret;
		secret.scheme = core::ParseAssignmentScheme(scheme);
		secret.private_key_pem = std::string(pem);
		secret.des_key = std::string(des_key);
		core::RequireAssignmentSecret(secret);
	});
	PG_RETURN_BOOL(true);
}

// _qr_url(code, certype, province, public_key_pem, k_format, base_url,
// percent_encode_k) -> text
ELICENSE_FUNCTION(elicense_qr_url_with_key) {
	std::string_view code = ArgText(fcinfo, 0);
	std::string_view certype = ArgText(fcinfo, 1);
	std::string_view province = ArgText(fcinfo, 2);
	std::string_view pem = ArgText(fcinfo, 3);
	std::string_view format = ArgText(fcinfo, 4);
	std::string_view base_url = ArgText(fcinfo, 5);
	bool percent_encode = PG_GETARG_BOOL(6);
	Datum result;
	GuardedRun([&] {
		core::QrUrlOptions options;
		options.base_url = std::string(base_url);
		options.k_format = core::ParseCipherTextFormat(format);
		options.percent_encode = percent_encode;
		result = TextDatum(core::BuildQrUrl(code, certype, province, pem, options));
	});
	PG_RETURN_DATUM(result);
}

// qr_png(content text, ec_level text, module_px integer) -> bytea
ELICENSE_FUNCTION(elicense_qr_png) {
	std::string_view content = ArgText(fcinfo, 0);
	std::string_view level = ArgText(fcinfo, 1);
	int32 module_px = PG_GETARG_INT32(2);
	Datum result;
	GuardedRun([&] { result = ByteaDatum(core::QrPng(content, core::ParseQrEcLevel(level), module_px)); });
	PG_RETURN_DATUM(result);
}

namespace {

// The row of _decrypt_assignment's result.
Datum AssignmentRow(FunctionCallInfo fcinfo, const core::Assignment &a) {
	TupleDesc desc = ResultDesc(fcinfo);
	Datum values[3] = {TextDatum(a.is_url ? "url" : "code"), TextDatum(a.code), 0};
	bool nulls[3] = {false, false, !a.is_url};
	if (a.is_url)
		values[2] = TextDatum(a.url);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

// The secret of a scheme: the private key PEM (rsa-des) or the DES key (des).
core::AssignmentSecret ProvinceSecret(std::string_view scheme, std::string secret) {
	core::AssignmentSecret s;
	s.scheme = core::ParseAssignmentScheme(scheme);
	(s.scheme == core::AssignmentScheme::kRsaDes ? s.private_key_pem : s.des_key) = std::move(secret);
	return s;
}

void Wipe(core::AssignmentSecret &s) {
	OPENSSL_cleanse(s.private_key_pem.data(), s.private_key_pem.size());
	OPENSSL_cleanse(s.des_key.data(), s.des_key.size());
}

}  // namespace

// _province_secret_encrypt(scheme text, secret elicense.secret) -> bytea: the
// secret checked for its scheme (an RSA private key PEM >= 512 bits for
// rsa-des, 8 printable characters for des; errors never show it) and
// encrypted under the master key.
ELICENSE_FUNCTION(elicense_province_secret_encrypt) {
	std::string_view scheme = ArgText(fcinfo, 0);
	std::string_view secret = ArgBytes(fcinfo, 1, 64 * 1024);
	Datum result = 0;
	GuardedRun([&] {
		core::AssignmentSecret s = ProvinceSecret(scheme, std::string(secret));
		elicense::pg::WipeOnExit guard {[&] { Wipe(s); }};
		core::RequireAssignmentSecret(s);
		const std::string &plain = s.scheme == core::AssignmentScheme::kRsaDes ? s.private_key_pem : s.des_key;
		result =
		    ByteaDatum(core::SealSecret(elicense::pg::CurrentMasterKey(), elicense::pg::kProvinceSecretPurpose, plain));
	});
	PG_RETURN_DATUM(result);
}

// _decrypt_assignment(encry_certid, encry_key, scheme, secret_box, OUT kind,
// OUT code, OUT url): the province's secret opened from its box only here.
ELICENSE_FUNCTION(elicense_decrypt_assignment_with_box) {
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("encryCertid, the assignment scheme and the province's secret must not be NULL")));
	std::string_view certid = ArgText(fcinfo, 0);
	std::string_view key = ArgTextOrEmpty(fcinfo, 1);
	std::string_view scheme = ArgText(fcinfo, 2);
	std::string_view box = ArgBytes(fcinfo, 3);
	Datum result = 0;
	GuardedRun([&] {
		elicense::pg::WipedString opened {elicense::pg::OpenStoredSecret(elicense::pg::kProvinceSecretPurpose, box)};
		core::AssignmentSecret s = ProvinceSecret(scheme, opened.value);
		elicense::pg::WipeOnExit guard {[&] { Wipe(s); }};
		result = AssignmentRow(fcinfo, core::DecryptAssignment(certid, key, s));
	});
	PG_RETURN_DATUM(result);
}

// _decrypt_assignments(encry_certids text[], encry_keys text[], scheme,
// secret_box, OUT n, OUT kind, OUT code, OUT url, OUT problem) RETURNS SETOF
// record: a batch of assignments (the group of results of one
// record_results call) under one province's secret, opened from its box and
// its key decoded once, for this call only. One row per element, n its
// position (1-based): its assignment, or in `problem` the message
// _decrypt_assignment would have raised for it (an element's bad ciphertext
// does not stop the others). A NULL encryCertid is a problem; a NULL
// encryKey is ''. A secret that cannot be opened raises, as for one element.
ELICENSE_FUNCTION(elicense_decrypt_assignments_with_box) {
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("the arrays, the assignment scheme and the province's secret must not be NULL")));
	ArrayType *certid_array = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType *key_array = PG_GETARG_ARRAYTYPE_P(1);
	Datum *certid_values = nullptr, *key_values = nullptr;
	bool *certid_nulls = nullptr, *key_nulls = nullptr;
	int certid_count = 0, key_count = 0;
	deconstruct_array(certid_array, TEXTOID, -1, false, TYPALIGN_INT, &certid_values, &certid_nulls, &certid_count);
	deconstruct_array(key_array, TEXTOID, -1, false, TYPALIGN_INT, &key_values, &key_nulls, &key_count);
	if (certid_count != key_count)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
		                errmsg("encry_certids has %d elements but encry_keys has %d", certid_count, key_count),
		                errhint("Pass one encryKey (or NULL) per encryCertid.")));
	std::string_view scheme = ArgText(fcinfo, 2);
	std::string_view box = ArgBytes(fcinfo, 3);
	auto text_of = [](Datum d) {
		text *t = reinterpret_cast<text *>(DatumGetPointer(d));
		return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	};
	// Plain PostgreSQL memory, filled inside GuardedRun (TextDatum never
	// raises), so that no C++ object is alive while the tuples are stored.
	constexpr int kColumns = 5;  // n, kind, code, url, problem
	auto *values = static_cast<Datum *>(palloc0(sizeof(Datum) * kColumns * std::max(certid_count, 1)));
	auto *nulls = static_cast<bool *>(palloc(sizeof(bool) * kColumns * std::max(certid_count, 1)));
	std::fill(nulls, nulls + kColumns * certid_count, true);
	GuardedRun([&] {
		elicense::pg::WipedString opened {elicense::pg::OpenStoredSecret(elicense::pg::kProvinceSecretPurpose, box)};
		core::AssignmentSecret s = ProvinceSecret(scheme, opened.value);
		elicense::pg::WipeOnExit guard {[&] { Wipe(s); }};
		core::AssignmentDecryptor decryptor(s);
		for (int i = 0; i < certid_count; ++i) {
			Datum *row = values + kColumns * i;
			bool *row_nulls = nulls + kColumns * i;
			row[0] = Int32GetDatum(i + 1);
			row_nulls[0] = false;
			std::string problem;
			if (certid_nulls[i]) {
				problem = "encryCertid and province must not be NULL";
			} else {
				try {
					core::Assignment a =
					    decryptor.Decrypt(text_of(certid_values[i]), key_nulls[i] ? "" : text_of(key_values[i]));
					row[1] = TextDatum(a.is_url ? "url" : "code");
					row[2] = TextDatum(a.code);
					row_nulls[1] = row_nulls[2] = false;
					if (a.is_url) {
						row[3] = TextDatum(a.url);
						row_nulls[3] = false;
					}
				} catch (const core::Error &e) {
					problem = e.what();
				}
			}
			if (!problem.empty()) {
				row[4] = TextDatum(problem);
				row_nulls[4] = false;
			}
		}
	});
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	for (int i = 0; i < certid_count; ++i)
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values + kColumns * i, nulls + kColumns * i);
	return static_cast<Datum>(0);
}

// _decrypt_assignment(encry_certid, encry_key, scheme, private_key_pem,
// des_key, OUT kind, OUT code, OUT url): the clear-key form 0.1.0 and 0.2.0
// declare, kept so their scripts still run with this library.
ELICENSE_FUNCTION(elicense_decrypt_assignment_with_key) {
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("encryCertid and the assignment scheme must not be NULL")));
	std::string_view certid = ArgText(fcinfo, 0);
	std::string_view key = ArgTextOrEmpty(fcinfo, 1);
	std::string_view scheme = ArgText(fcinfo, 2);
	std::string_view pem = ArgTextOrEmpty(fcinfo, 3);
	std::string_view des_key = ArgTextOrEmpty(fcinfo, 4);
	TupleDesc desc = ResultDesc(fcinfo);
	Datum values[3] = {0, 0, 0};
	bool nulls[3] = {false, false, true};
	GuardedRun([&] {
		core::AssignmentSecret secret;
		secret.scheme = core::ParseAssignmentScheme(scheme);
		secret.private_key_pem = std::string(pem);
		secret.des_key = std::string(des_key);
		core::Assignment a = core::DecryptAssignment(certid, key, secret);
		values[0] = TextDatum(a.is_url ? "url" : "code");
		values[1] = TextDatum(a.code);
		if (a.is_url) {
			values[2] = TextDatum(a.url);
			nulls[2] = false;
		}
	});
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

// Licence type codes as written (which types exist is elicense.licence_type),
// in the validator pattern of validator_functions.cpp.
ELICENSE_FUNCTION(elicense_is_valid_licence_type) {
	std::string_view value = ArgText(fcinfo, 0);
	bool valid = false;
	GuardedRun([&] { valid = core::IsLicenceTypeCode(value); });
	PG_RETURN_BOOL(valid);
}

ELICENSE_FUNCTION(elicense_licence_type_problem) {
	std::string_view value = ArgText(fcinfo, 0);
	Datum result = 0;
	bool valid = true;
	GuardedRun([&] {
		if (auto p = core::LicenceTypeProblem(value)) {
			result = TextDatum(*p);
			valid = false;
		}
	});
	if (valid)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

ELICENSE_FUNCTION(elicense_check_licence_type) {
	std::string_view value = ArgText(fcinfo, 0);
	std::string_view field = ArgText(fcinfo, 1);
	GuardedRun([&] { core::RequireLicenceType(value, field); });
	PG_RETURN_BOOL(true);
}
