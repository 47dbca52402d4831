// Decryption of a code assignment (赋码) answer of the national platform:
// SuccessData[{"encryCertid": HEX, "encryKey": Base64, ...}].
//
// Two schemes, chosen per province by configuration, because the annex
// that fixes the algorithm is not public:
//   kRsaDes  (PLATFORM.md) key8 = RSA-PKCS#1v1.5-decrypt(province private
//            key, base64 encryKey); plain = DES-decrypt(key8, hex encryCertid)
//   kDes     plain = DES-decrypt(configured 8-character key, hex encryCertid);
//            encryKey is not used
//
// plain is either the bare assigned code or a finished QR URL (PLATFORM.md:
// accept both). For a URL, the platform has already made the QR content:
// the URL is returned as it is, to be put in the QR image unchanged, and
// `code` is its ID parameter, the value the platform itself uses to find
// the licence. Its ID is DES under a key8 that only the platform can
// recover (k is for the platform's private key), so we cannot and do not
// try to turn it back into the bare code.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/legacy_crypto.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace elicense::core {

enum class AssignmentScheme { kRsaDes, kDes };

// "rsa-des" or "des"; throws Error 22023 otherwise.
AssignmentScheme ParseAssignmentScheme(std::string_view name);

struct AssignmentSecret {
	AssignmentScheme scheme = AssignmentScheme::kRsaDes;
	std::string private_key_pem;  // kRsaDes
	std::string des_key;          // kDes: 8 characters
};

// Checks a configured secret; throws Error 22023 naming the column, never
// showing the key.
void RequireAssignmentSecret(const AssignmentSecret &secret);

struct Assignment {
	bool is_url = false;  // plain was a finished QR URL
	std::string code;     // the bare code, or the URL's ID parameter
	std::string url;      // the URL when is_url, else empty
};

// Decrypts; `encry_key` is ignored under kDes. Throws Error (22P02 bad
// hex/base64, 22023 wrong key or a plain text that is neither a code nor a
// QR URL) naming encryCertid/encryKey, never the key or the plain text.
Assignment DecryptAssignment(std::string_view encry_certid, std::string_view encry_key, const AssignmentSecret &secret);

// The same decryption for a batch of assignments under one secret: the
// secret is checked and its RSA key decoded once, at construction (the
// errors of RequireAssignmentSecret), and kept only as long as the object.
class AssignmentDecryptor {
public:
	explicit AssignmentDecryptor(const AssignmentSecret &secret);
	~AssignmentDecryptor();
	// As DecryptAssignment.
	Assignment Decrypt(std::string_view encry_certid, std::string_view encry_key) const;

private:
	AssignmentScheme scheme_;
	std::string des_key_;
	std::unique_ptr<RsaPrivateKey> rsa_;
};

// Classifies decrypted plain text (exposed for the tests).
Assignment ClassifyAssignmentPlain(std::string_view plain);

}  // namespace elicense::core
