// OpenSSL 3 helpers of the OFD seal (see ofd_crypto.hpp).
#include "ofd_crypto.hpp"

#include "elicense/cancel.hpp"
#include "elicense/error.hpp"
#include "elicense/limits.hpp"

#include "base64.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace elicense::core::ofd {
namespace {

struct BioFree {
	void operator()(BIO *bio) const noexcept {
		BIO_free(bio);
	}
};
struct MdCtxFree {
	void operator()(EVP_MD_CTX *ctx) const noexcept {
		EVP_MD_CTX_free(ctx);
	}
};
struct PkeyCtxFree {
	void operator()(EVP_PKEY_CTX *ctx) const noexcept {
		EVP_PKEY_CTX_free(ctx);
	}
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// GM/T 0009-2012 default signer identity, used by every SM2 reader we know.
constexpr char kSm2Id[] = "1234567812345678";

// OpenSSL's error queue may hold file names or offsets but never key bytes;
// it is cleared so nothing stale leaks into a later, unrelated message.
[[noreturn]] void Fail(const char *sqlstate, const std::string &message) {
	ERR_clear_error();
	throw Error(sqlstate, message);
}

BioPtr MemoryBio(std::string_view text) {
	BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
	if (!bio)
		Fail(sqlstate::kInternalError, "out of memory for a BIO");
	return bio;
}

const EVP_MD *Md(Algorithm algorithm) noexcept {
	return algorithm == Algorithm::kSm2Sm3 ? EVP_sm3() : EVP_sha256();
}

// A digest-sign/verify context; for SM2 the signer ID must be set on the key
// context before the init call (OpenSSL SM2(7)).
struct SignContext {
	PkeyCtxPtr pkey_ctx;
	MdCtxPtr md_ctx;
};

SignContext NewSignContext(EVP_PKEY *key, Algorithm algorithm) {
	SignContext ctx;
	ctx.md_ctx.reset(EVP_MD_CTX_new());
	if (!ctx.md_ctx)
		Fail(sqlstate::kInternalError, "out of memory for a digest context");
	if (algorithm == Algorithm::kSm2Sm3) {
		ctx.pkey_ctx.reset(EVP_PKEY_CTX_new(key, nullptr));
		if (!ctx.pkey_ctx || EVP_PKEY_CTX_set1_id(ctx.pkey_ctx.get(), kSm2Id, std::strlen(kSm2Id)) <= 0)
			Fail(sqlstate::kInternalError, "cannot set the SM2 signer ID");
		EVP_MD_CTX_set_pkey_ctx(ctx.md_ctx.get(), ctx.pkey_ctx.get());
	}
	return ctx;
}

}  // namespace

PkeyPtr LoadPrivateKey(std::string_view pem) {
	BioPtr bio = MemoryBio(pem);
	PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
	if (!key)
		Fail(sqlstate::kInvalidParameterValue, "the seal private key is not an unencrypted PEM private key");
	return key;
}

X509Ptr LoadCertificate(std::string_view pem) {
	BioPtr bio = MemoryBio(pem);
	X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
	if (!cert)
		Fail(sqlstate::kInvalidParameterValue, "the seal certificate is not a PEM X.509 certificate");
	return cert;
}

X509Ptr CertificateFromDer(const Bytes &der) {
	const unsigned char *p = der.data();
	X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
	if (!cert)
		Fail(sqlstate::kInvalidTextRepresentation, "the signer certificate in the signature is not DER X.509");
	return cert;
}

Bytes CertificateDer(X509 *cert) {
	int size = i2d_X509(cert, nullptr);
	if (size <= 0)
		Fail(sqlstate::kInternalError, "cannot encode the certificate");
	Bytes der(static_cast<std::size_t>(size));
	unsigned char *p = der.data();
	i2d_X509(cert, &p);
	return der;
}

std::string CertificateSubject(X509 *cert) {
	BioPtr bio(BIO_new(BIO_s_mem()));
	if (!bio ||
	    X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		return {};
	char *data = nullptr;
	long size = BIO_get_mem_data(bio.get(), &data);
	return std::string(data, static_cast<std::size_t>(size));
}

Algorithm AlgorithmOf(EVP_PKEY *key) {
	if (EVP_PKEY_is_a(key, "SM2"))
		return Algorithm::kSm2Sm3;
	char group[64] = {0};
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, group, sizeof group, nullptr) == 1 &&
	    std::strcmp(group, "SM2") == 0)
		return Algorithm::kSm2Sm3;
	if (EVP_PKEY_is_a(key, "EC") && std::strcmp(group, "prime256v1") == 0)
		return Algorithm::kEcdsaSha256;
	if (EVP_PKEY_is_a(key, "RSA"))
		return Algorithm::kRsaSha256;
	Fail(sqlstate::kFeatureNotSupported, "the seal key is neither SM2, EC P-256 nor RSA");
}

const char *DigestOid(Algorithm algorithm) noexcept {
	return algorithm == Algorithm::kSm2Sm3 ? kOidSm3 : kOidSha256;
}

const char *SignatureOid(Algorithm algorithm) noexcept {
	switch (algorithm) {
	case Algorithm::kSm2Sm3: return kOidSm2WithSm3;
	case Algorithm::kEcdsaSha256: return kOidEcdsaWithSha256;
	case Algorithm::kRsaSha256: break;
	}
	return kOidSha256WithRsa;
}

Algorithm AlgorithmFromSignatureOid(std::string_view oid) {
	if (oid == kOidSm2WithSm3)
		return Algorithm::kSm2Sm3;
	if (oid == kOidSha256WithRsa)
		return Algorithm::kRsaSha256;
	if (oid == kOidEcdsaWithSha256)
		return Algorithm::kEcdsaSha256;
	throw Error(sqlstate::kFeatureNotSupported, "unsupported signature algorithm " + std::string(oid));
}

// In slices with a cancellation check between them: a reference may name a
// part of tens of MiB (limits.hpp), and a signature many references.
Bytes Digest(Algorithm algorithm, const std::uint8_t *data, std::size_t size) {
	std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
	if (!ctx || EVP_DigestInit_ex(ctx.get(), Md(algorithm), nullptr) != 1)
		Fail(sqlstate::kInternalError, "digest failed");
	for (std::size_t at = 0; at < size; at += kCancelCheckBytes) {
		ThrowIfCancelled();
		if (EVP_DigestUpdate(ctx.get(), data + at, std::min(size - at, kCancelCheckBytes)) != 1)
			Fail(sqlstate::kInternalError, "digest failed");
	}
	Bytes out(EVP_MAX_MD_SIZE);
	unsigned int length = 0;
	if (EVP_DigestFinal_ex(ctx.get(), out.data(), &length) != 1)
		Fail(sqlstate::kInternalError, "digest failed");
	out.resize(length);
	return out;
}

Bytes Sign(EVP_PKEY *key, Algorithm algorithm, const Bytes &data) {
	SignContext ctx = NewSignContext(key, algorithm);
	std::size_t size = 0;
	if (EVP_DigestSignInit(ctx.md_ctx.get(), nullptr, Md(algorithm), nullptr, key) != 1 ||
	    EVP_DigestSign(ctx.md_ctx.get(), nullptr, &size, data.data(), data.size()) != 1)
		Fail(sqlstate::kInternalError, "signing failed");
	Bytes signature(size);
	if (EVP_DigestSign(ctx.md_ctx.get(), signature.data(), &size, data.data(), data.size()) != 1)
		Fail(sqlstate::kInternalError, "signing failed");
	signature.resize(size);
	return signature;
}

bool Verify(EVP_PKEY *key, Algorithm algorithm, const Bytes &data, const Bytes &signature) {
	SignContext ctx = NewSignContext(key, algorithm);
	bool ok = EVP_DigestVerifyInit(ctx.md_ctx.get(), nullptr, Md(algorithm), nullptr, key) == 1 &&
	          EVP_DigestVerify(ctx.md_ctx.get(), signature.data(), signature.size(), data.data(), data.size()) == 1;
	ERR_clear_error();
	return ok;
}

std::string Base64Encode(const Bytes &data) {
	return EncodeBase64(data.data(), data.size(), Base64Alphabet::kStandard);
}

Bytes Base64Decode(std::string_view text) {
	std::string clean;
	for (char c : text)
		if (c != '\n' && c != '\r' && c != ' ' && c != '\t')
			clean.push_back(c);
	if (clean.size() % 4 != 0)
		throw Error(sqlstate::kInvalidTextRepresentation, "bad Base64 length");
	Bytes out(clean.size() / 4 * 3 + 1);
	int length = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char *>(clean.data()),
	                             static_cast<int>(clean.size()));
	if (length < 0)
		throw Error(sqlstate::kInvalidTextRepresentation, "bad Base64");
	// EVP_DecodeBlock counts padding as zero bytes.
	std::size_t padding = 0;
	if (!clean.empty() && clean.back() == '=')
		padding = clean.size() >= 2 && clean[clean.size() - 2] == '=' ? 2 : 1;
	out.resize(static_cast<std::size_t>(length) - padding);
	return out;
}

}  // namespace elicense::core::ofd
