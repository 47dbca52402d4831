// Trust in an OFD seal's certificates: the trust anchors an admin configures
// (seal-maker and CA certificates, PEM) and the times GB/T 38540 compares
// with the certificates' validity (GeneralizedTime "YYYYMMDDhhmmssZ").
#pragma once

#include "elicense/cpp_only.hpp"

#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace elicense::core::ofd {

// Seconds since 1970 (UTC) of "YYYYMMDDhhmmssZ"; nullopt for another form
// or an impossible date.
std::optional<std::int64_t> GeneralizedTimeSeconds(std::string_view text);

// A certificate's notBefore and notAfter in seconds since 1970 (UTC);
// nullopt when unreadable.
std::optional<std::int64_t> CertificateNotBefore(X509 *cert);
std::optional<std::int64_t> CertificateNotAfter(X509 *cert);

struct X509StoreFree {
	void operator()(X509_STORE *store) const noexcept {
		X509_STORE_free(store);
	}
};

class TrustAnchors {
public:
	// Throws Error (22023) naming the anchor (1-based) that is not a PEM
	// certificate; never quotes it.
	explicit TrustAnchors(const std::vector<std::string> &anchor_pems);
	bool empty() const noexcept {
		return count_ == 0;
	}
	// Whether `cert` chains to an anchor with every certificate of the chain
	// valid at `at` (a chain may end at any anchor: an intermediate or the
	// certificate itself). On false, `why` says why, for people.
	bool Reaches(X509 *cert, std::int64_t at, std::string &why) const;

private:
	std::unique_ptr<X509_STORE, X509StoreFree> store_;
	std::size_t count_ = 0;
};

}  // namespace elicense::core::ofd
