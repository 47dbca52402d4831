// OpenSSL pieces the OFD seal needs: keys and certificates from PEM, digests,
// signatures, Base64. SM2 keys sign with SM3 (GM/T 0009 default signer ID
// "1234567812345678"); RSA keys sign PKCS#1 v1.5 with SHA-256. Error
// messages never quote key material.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

namespace elicense::core::ofd {

struct PkeyFree {
	void operator()(EVP_PKEY *key) const noexcept {
		EVP_PKEY_free(key);
	}
};
struct X509Free {
	void operator()(X509 *cert) const noexcept {
		X509_free(cert);
	}
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

enum class Algorithm { kSm2Sm3, kRsaSha256, kEcdsaSha256 };

// OIDs written into Signature.xml and the SES structure.
inline constexpr char kOidSm3[] = "1.2.156.10197.1.401";
inline constexpr char kOidSha256[] = "2.16.840.1.101.3.4.2.1";
inline constexpr char kOidSm2WithSm3[] = "1.2.156.10197.1.501";
inline constexpr char kOidSha256WithRsa[] = "1.2.840.113549.1.1.11";
inline constexpr char kOidEcdsaWithSha256[] = "1.2.840.10045.4.3.2";

PkeyPtr LoadPrivateKey(std::string_view pem);
X509Ptr LoadCertificate(std::string_view pem);
X509Ptr CertificateFromDer(const Bytes &der);
Bytes CertificateDer(X509 *cert);
std::string CertificateSubject(X509 *cert);

// kSm2Sm3 for SM2 keys, kEcdsaSha256 for EC P-256 keys (what SoftHSM2 and
// most PKCS#11 tokens sign), kRsaSha256 for RSA keys; throws Error otherwise.
Algorithm AlgorithmOf(EVP_PKEY *key);
const char *DigestOid(Algorithm algorithm) noexcept;
const char *SignatureOid(Algorithm algorithm) noexcept;
// nullopt-like: throws Error (22023) for an OID we do not verify.
Algorithm AlgorithmFromSignatureOid(std::string_view oid);

Bytes Digest(Algorithm algorithm, const std::uint8_t *data, std::size_t size);
inline Bytes Digest(Algorithm algorithm, const Bytes &data) {
	return Digest(algorithm, data.data(), data.size());
}
Bytes Sign(EVP_PKEY *key, Algorithm algorithm, const Bytes &data);
bool Verify(EVP_PKEY *key, Algorithm algorithm, const Bytes &data, const Bytes &signature);

std::string Base64Encode(const Bytes &data);
// Throws Error (22P02) on bad Base64.
Bytes Base64Decode(std::string_view text);

}  // namespace elicense::core::ofd
