// The remote seal-service signer (API: docs/seal-signers.md): POST the
// digest as JSON to the service's sign URL with the client secret as a
// bearer token, get the signature back. Runs in the backend, bounded: a
// total timeout (timeout_ms, at most 30 s), no redirects, http/https only,
// and the transfer stops as soon as the statement is cancelled.
#pragma once

#include "elicense/ofd_signer.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace elicense::pg {

struct HttpSealConfig {
	std::string url;            // the service's sign endpoint
	std::string seal_id;        // our esID, which the service knows the seal by
	std::string client_secret;  // bearer token (a secret: never in messages)
	long timeout_ms = 5000;
};

inline constexpr long kMaxSealServiceTimeoutMs = 30000;

std::unique_ptr<core::OfdSigner> MakeHttpSealSigner(const HttpSealConfig &config, std::string_view certificate_pem);

}  // namespace elicense::pg
