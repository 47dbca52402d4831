// Who signs a seal: a plug behind one small interface, so the OFD seal code
// (ofd_signature.cpp) never holds a private key itself. The caller digests
// what is to be signed (SM3 over Z||M for SM2, SHA-256 otherwise: see
// SignatureDigest) and the signer signs that digest, as a token (PKCS#11
// CKM_ECDSA / CKM_SM2) or a seal platform does. Three signers:
//   - a key given as PEM (the in-database key, decrypted by the caller just
//     before use: tests, demos, a single server);
//   - a PKCS#11 token (HSM, UKey, SoftHSM2), module loaded with dlopen;
//   - a remote seal service over HTTP (extension/src/http_seal_signer.cpp).
// No signer ever puts key material or a PIN in an error message.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace elicense::core {

class OfdSigner {
public:
	virtual ~OfdSigner() = default;
	// The signer's X.509 certificate (DER); its public key decides the
	// algorithm: SM2 -> SM2-with-SM3, P-256 -> ECDSA-with-SHA256, RSA ->
	// sha256WithRSAEncryption.
	virtual const Bytes &CertificateDer() const = 0;
	// The signature of `digest`: DER ECDSA-Sig-Value for SM2 and ECDSA,
	// PKCS#1 v1.5 for RSA. Throws Error (never quoting a secret).
	virtual Bytes SignDigest(const Bytes &digest) = 0;
};

// The digest a signer signs for `data` under the certificate's key: SM3 of
// Z (GM/T 0009 default ID 1234567812345678) and data for SM2, SHA-256 of data
// for ECDSA P-256 and RSA.
Bytes SignatureDigest(const Bytes &certificate_der, const Bytes &data);

// A private key in PEM (SM2, EC P-256 or RSA) and its certificate; throws
// Error (22023) if either does not parse or they do not belong together.
std::unique_ptr<OfdSigner> MakeKeySigner(std::string_view private_key_pem, std::string_view certificate_pem);

struct Pkcs11Config {
	std::string module;       // path of the PKCS#11 module (.so)
	std::string token_label;  // CKA_LABEL of the token
	std::string key_label;    // CKA_LABEL of the private key object
	std::string pin;          // user PIN (a secret: never in messages)
};

// The key `key_label` on the token `token_label`; signs with CKM_SM2 for an
// SM2 certificate (needs a module that has it) and CKM_ECDSA for P-256.
// The module is loaded and C_Initialize'd once per process.
std::unique_ptr<OfdSigner> MakePkcs11Signer(const Pkcs11Config &config, std::string_view certificate_pem);

}  // namespace elicense::core
