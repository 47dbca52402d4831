// The digest a seal signer signs, and the signer over a PEM key (see
// ofd_signer.hpp). The PKCS#11 signer is in ofd_pkcs11_signer.cpp.
#include "elicense/ofd_signer.hpp"

#include "elicense/error.hpp"
#include "ofd_crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <cstring>

namespace elicense::core {
namespace {

// GM/T 0003.5 recommended curve: a, b and the base point, for Z.
constexpr char kSm2CurveHex[] = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
                                "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
                                "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
                                "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";
constexpr char kSm2Id[] = "1234567812345678";

Bytes FromHex(std::string_view hex) {
	Bytes out;
	for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
		out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
	return out;
}

// Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GM/T 0003.2, 5.5).
Bytes Sm2Z(EVP_PKEY *key) {
	unsigned char point[65];
	std::size_t size = 0;
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &size) != 1 ||
	    size != 65 || point[0] != 0x04) {
		ERR_clear_error();
		throw Error(sqlstate::kInvalidParameterValue, "the SM2 certificate's public key is not an uncompressed point");
	}
	Bytes input;
	std::size_t id_bits = std::strlen(kSm2Id) * 8;
	input.push_back(static_cast<std::uint8_t>(id_bits >> 8));
	input.push_back(static_cast<std::uint8_t>(id_bits & 0xff));
	input.insert(input.end(), kSm2Id, kSm2Id + std::strlen(kSm2Id));
	Bytes curve = FromHex(kSm2CurveHex);
	input.insert(input.end(), curve.begin(), curve.end());
	input.insert(input.end(), point + 1, point + 65);
	return ofd::Digest(ofd::Algorithm::kSm2Sm3, input);
}

class KeySigner final : public OfdSigner {
public:
	KeySigner(std::string_view private_key_pem, std::string_view certificate_pem)
	    : key_(ofd::LoadPrivateKey(private_key_pem)) {
		ofd::X509Ptr cert = ofd::LoadCertificate(certificate_pem);
		ofd::AlgorithmOf(key_.get());  // refuses a key type we cannot seal with
		if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key_.get()) != 1) {
			ERR_clear_error();
			throw Error(sqlstate::kInvalidParameterValue,
			            "the seal certificate does not belong to the seal private key");
		}
		certificate_der_ = ofd::CertificateDer(cert.get());
	}
	const Bytes &CertificateDer() const override {
		return certificate_der_;
	}
	// EVP_PKEY_sign signs a digest as given: SM2 and ECDSA sign it as e,
	// RSA wraps it in a SHA-256 DigestInfo (PKCS#1 v1.5).
	Bytes SignDigest(const Bytes &digest) override {
		std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key_.get(), nullptr),
		                                                                EVP_PKEY_CTX_free);
		bool rsa = ofd::AlgorithmOf(key_.get()) == ofd::Algorithm::kRsaSha256;
		std::size_t size = 0;
		if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
		    (rsa && (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
		             EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1)) ||
		    EVP_PKEY_sign(ctx.get(), nullptr, &size, digest.data(), digest.size()) != 1) {
			ERR_clear_error();
			throw Error(sqlstate::kInternalError, "signing with the seal key failed");
		}
		Bytes signature(size);
		if (EVP_PKEY_sign(ctx.get(), signature.data(), &size, digest.data(), digest.size()) != 1) {
			ERR_clear_error();
			throw Error(sqlstate::kInternalError, "signing with the seal key failed");
		}
		signature.resize(size);
		return signature;
	}

private:
	ofd::PkeyPtr key_;
	Bytes certificate_der_;
};

}  // namespace

Bytes SignatureDigest(const Bytes &certificate_der, const Bytes &data) {
	ofd::X509Ptr cert = ofd::CertificateFromDer(certificate_der);
	EVP_PKEY *key = X509_get0_pubkey(cert.get());
	if (!key)
		throw Error(sqlstate::kInvalidParameterValue, "the seal certificate has no usable public key");
	ofd::Algorithm algorithm = ofd::AlgorithmOf(key);
	if (algorithm != ofd::Algorithm::kSm2Sm3)
		return ofd::Digest(algorithm, data);
	Bytes input = Sm2Z(key);
	input.insert(input.end(), data.begin(), data.end());
	return ofd::Digest(algorithm, input);
}

std::unique_ptr<OfdSigner> MakeKeySigner(std::string_view private_key_pem, std::string_view certificate_pem) {
	return std::make_unique<KeySigner>(private_key_pem, certificate_pem);
}

}  // namespace elicense::core
