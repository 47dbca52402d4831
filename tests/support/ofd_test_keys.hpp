// Test-only helpers for the OFD seal: throw-away SM2 and RSA keys with
// self-signed certificates (PEM), and a tiny PNG. Used by the unit tests and
// the benchmark; never by the core or the extension.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace elicense::test {

struct TestKeyPair {
	std::string private_key_pem;
	std::string certificate_pem;
};

namespace detail {

struct PkeyFree {
	void operator()(EVP_PKEY *p) const noexcept {
		EVP_PKEY_free(p);
	}
};
struct X509Free {
	void operator()(X509 *p) const noexcept {
		X509_free(p);
	}
};
struct BioFree {
	void operator()(BIO *p) const noexcept {
		BIO_free(p);
	}
};
struct MdCtxFree {
	void operator()(EVP_MD_CTX *p) const noexcept {
		EVP_MD_CTX_free(p);
	}
};
struct PkeyCtxFree {
	void operator()(EVP_PKEY_CTX *p) const noexcept {
		EVP_PKEY_CTX_free(p);
	}
};

inline std::string BioText(BIO *bio) {
	char *data = nullptr;
	long size = BIO_get_mem_data(bio, &data);
	return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace detail

// `algorithm` is "SM2", "P-256" (EC, what PKCS#11 tokens sign) or "RSA".
// Self-signed unless `issuer` is given (then signed by the issuer's key); a
// CA certificate (basicConstraints CA:TRUE) when `ca`.
inline TestKeyPair MakeTestKeyPair(const char *algorithm, const char *common_name, const TestKeyPair *issuer = nullptr,
                                   bool ca = false) {
	bool sm2 = std::string(algorithm) == "SM2";
	bool p256 = std::string(algorithm) == "P-256";
	std::unique_ptr<EVP_PKEY, detail::PkeyFree> key(sm2    ? EVP_PKEY_Q_keygen(nullptr, nullptr, "SM2")
	                                                : p256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
	                                                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t {2048}));
	std::unique_ptr<X509, detail::X509Free> cert(X509_new());
	if (!key || !cert)
		throw std::runtime_error("key generation failed");
	std::unique_ptr<EVP_PKEY, detail::PkeyFree> issuer_key;
	std::unique_ptr<X509, detail::X509Free> issuer_cert;
	if (issuer) {
		std::unique_ptr<BIO, detail::BioFree> key_in(BIO_new_mem_buf(issuer->private_key_pem.data(), -1));
		std::unique_ptr<BIO, detail::BioFree> cert_in(BIO_new_mem_buf(issuer->certificate_pem.data(), -1));
		issuer_key.reset(PEM_read_bio_PrivateKey(key_in.get(), nullptr, nullptr, nullptr));
		issuer_cert.reset(PEM_read_bio_X509(cert_in.get(), nullptr, nullptr, nullptr));
		if (!issuer_key || !issuer_cert)
			throw std::runtime_error("unreadable issuer");
	}
	static long serial = 0;
	X509_set_version(cert.get(), 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
	// Valid from 2020-01-01: the tests sign at fixed times (November 2026).
	ASN1_TIME_set(X509_getm_notBefore(cert.get()), 1577836800);
	X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3650L * 24 * 3600);
	X509_set_pubkey(cert.get(), key.get());
	X509_NAME *name = X509_get_subject_name(cert.get());
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char *>(common_name), -1, -1,
	                           0);
	X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer_cert.get()) : name);
	if (ca) {
		std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> bc(
		    X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"), X509_EXTENSION_free);
		if (!bc || X509_add_ext(cert.get(), bc.get(), -1) != 1)
			throw std::runtime_error("cannot add basicConstraints");
	}

	EVP_PKEY *signing_key = issuer ? issuer_key.get() : key.get();
	// A PEM-read SM2 key may say "EC" with the SM2 curve.
	char group[16] = {0};
	bool sm2_signer = !issuer ? sm2
	                          : EVP_PKEY_is_a(signing_key, "SM2") == 1 ||
	                                (EVP_PKEY_get_group_name(signing_key, group, sizeof group, nullptr) == 1 &&
	                                 std::string(group) == "SM2");
	std::unique_ptr<EVP_MD_CTX, detail::MdCtxFree> md_ctx(EVP_MD_CTX_new());
	std::unique_ptr<EVP_PKEY_CTX, detail::PkeyCtxFree> pkey_ctx;
	if (sm2_signer) {
		pkey_ctx.reset(EVP_PKEY_CTX_new(signing_key, nullptr));
		EVP_PKEY_CTX_set1_id(pkey_ctx.get(), "1234567812345678", 16);
		EVP_MD_CTX_set_pkey_ctx(md_ctx.get(), pkey_ctx.get());
	}
	if (EVP_DigestSignInit(md_ctx.get(), nullptr, sm2_signer ? EVP_sm3() : EVP_sha256(), nullptr, signing_key) != 1 ||
	    X509_sign_ctx(cert.get(), md_ctx.get()) <= 0)
		throw std::runtime_error("certificate signing failed");

	std::unique_ptr<BIO, detail::BioFree> key_bio(BIO_new(BIO_s_mem()));
	std::unique_ptr<BIO, detail::BioFree> cert_bio(BIO_new(BIO_s_mem()));
	PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
	PEM_write_bio_X509(cert_bio.get(), cert.get());
	return {detail::BioText(key_bio.get()), detail::BioText(cert_bio.get())};
}

// A valid 1x1 PNG (opaque red), enough where the image content does not matter.
inline std::vector<std::uint8_t> TinyPng() {
	return {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
	        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xDE, 0x00, 0x00, 0x00,
	        0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0xC9,
	        0xFE, 0x92, 0xEF, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};
}

}  // namespace elicense::test
