// Trust anchors and certificate times of the OFD seal (see ofd_trust.hpp).
#include "ofd_trust.hpp"

#include "elicense/error.hpp"

#include "ofd_crypto.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509_vfy.h>

#include <ctime>

namespace elicense::core::ofd {
namespace {

struct StoreCtxFree {
	void operator()(X509_STORE_CTX *ctx) const noexcept {
		X509_STORE_CTX_free(ctx);
	}
};

std::optional<std::int64_t> Seconds(const ASN1_TIME *time) {
	std::tm tm {};
	if (!time || ASN1_TIME_to_tm(time, &tm) != 1)
		return std::nullopt;
	return static_cast<std::int64_t>(timegm(&tm));
}

// GM/T 0015: an SM2 certificate is signed with the default signer ID
// "1234567812345678"; OpenSSL 3.0 checks a certificate's SM2 signature with
// no ID unless the certificate carries one, so every SM2-signed certificate
// of a chain gets it before verification.
void UseSm2DefaultId(X509 *cert) {
	if (X509_get_signature_nid(cert) != NID_SM2_with_SM3)
		return;
	static const char kId[] = "1234567812345678";
	ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
	if (!id || ASN1_OCTET_STRING_set(id, reinterpret_cast<const unsigned char *>(kId), sizeof kId - 1) != 1) {
		ASN1_OCTET_STRING_free(id);
		throw Error(sqlstate::kInternalError, "out of memory for an SM2 signer ID");
	}
	X509_set0_distinguishing_id(cert, id);  // takes ownership
}

}  // namespace

std::optional<std::int64_t> GeneralizedTimeSeconds(std::string_view text) {
	if (text.size() != 15 || text.back() != 'Z')
		return std::nullopt;
	for (std::size_t i = 0; i < 14; ++i)
		if (text[i] < '0' || text[i] > '9')
			return std::nullopt;
	// ASN1_TIME_set_string checks the calendar (no 31 February).
	std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> time(ASN1_TIME_new(), ASN1_TIME_free);
	std::string copy(text);
	if (!time || ASN1_GENERALIZEDTIME_set_string(time.get(), copy.c_str()) != 1 || ASN1_TIME_check(time.get()) != 1) {
		ERR_clear_error();
		return std::nullopt;
	}
	return Seconds(time.get());
}

std::optional<std::int64_t> CertificateNotBefore(X509 *cert) {
	return Seconds(X509_get0_notBefore(cert));
}

std::optional<std::int64_t> CertificateNotAfter(X509 *cert) {
	return Seconds(X509_get0_notAfter(cert));
}

TrustAnchors::TrustAnchors(const std::vector<std::string> &anchor_pems) : store_(X509_STORE_new()) {
	if (!store_)
		throw Error(sqlstate::kInternalError, "out of memory for a certificate store");
	for (const std::string &pem : anchor_pems) {
		++count_;
		X509Ptr cert;
		try {
			cert = LoadCertificate(pem);
		} catch (const Error &) {
			throw Error(sqlstate::kInvalidParameterValue,
			            "trust anchor " + std::to_string(count_) + " is not a PEM X.509 certificate", {},
			            "An elicense_admin stores seal-maker and CA certificates in elicense.trust_anchor.");
		}
		UseSm2DefaultId(cert.get());
		// Adding the same certificate twice is no error for the store.
		if (X509_STORE_add_cert(store_.get(), cert.get()) != 1)
			ERR_clear_error();
	}
}

bool TrustAnchors::Reaches(X509 *cert, std::int64_t at, std::string &why) const {
	if (count_ == 0) {
		why = "no trust anchor is configured";
		return false;
	}
	UseSm2DefaultId(cert);
	std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
	if (!ctx || X509_STORE_CTX_init(ctx.get(), store_.get(), cert, nullptr) != 1) {
		ERR_clear_error();
		throw Error(sqlstate::kInternalError, "cannot set up certificate verification");
	}
	// An admin may trust a seal maker's intermediate CA (or a self-made
	// seal's own certificate) without its root.
	X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(at));
	bool ok = X509_verify_cert(ctx.get()) == 1;
	if (!ok)
		why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
	ERR_clear_error();
	return ok;
}

}  // namespace elicense::core::ofd
