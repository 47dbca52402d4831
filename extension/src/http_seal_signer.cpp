// The remote seal-service signer (see http_seal_signer.hpp).
#include "http_seal_signer.hpp"

#include "elicense/cancel.hpp"
#include "elicense/error.hpp"
#include "ofd_crypto.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "pg_prelude.hpp"

extern "C" {
#include "miscadmin.h"
}

namespace elicense::pg {
namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

std::size_t Collect(char *data, std::size_t size, std::size_t count, void *out) {
	auto *answer = static_cast<std::string *>(out);
	if (answer->size() + size * count > kMaxAnswerBytes)
		return 0;  // curl stops: the answer is too large
	answer->append(data, size * count);
	return size * count;
}

// Called by curl about once a second and on every chunk: a cancel request
// or statement_timeout stops the transfer.
int Progress(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
	return QueryCancelPending || ProcDiePending ? 1 : 0;
}

const char *AlgorithmName(const core::Bytes &certificate_der) {
	core::ofd::X509Ptr cert = core::ofd::CertificateFromDer(certificate_der);
	switch (core::ofd::AlgorithmOf(X509_get0_pubkey(cert.get()))) {
	case core::ofd::Algorithm::kSm2Sm3: return "SM2";
	case core::ofd::Algorithm::kEcdsaSha256: return "ECDSA-P256";
	case core::ofd::Algorithm::kRsaSha256: return "RSA-SHA256";
	}
	return "?";
}

class HttpSealSigner final : public core::OfdSigner {
public:
	HttpSealSigner(const HttpSealConfig &config, std::string_view certificate_pem) : config_(config) {
		core::ofd::X509Ptr cert = core::ofd::LoadCertificate(certificate_pem);
		certificate_der_ = core::ofd::CertificateDer(cert.get());
		algorithm_ = AlgorithmName(certificate_der_);
		if (config_.url.rfind("http://", 0) != 0 && config_.url.rfind("https://", 0) != 0)
			throw core::Error(core::sqlstate::kInvalidParameterValue, "the seal service URL must be http(s)");
		if (config_.timeout_ms <= 0 || config_.timeout_ms > kMaxSealServiceTimeoutMs)
			throw core::Error(core::sqlstate::kInvalidParameterValue,
			                  "the seal service timeout_ms must be 1 to " + std::to_string(kMaxSealServiceTimeoutMs));
	}
	const core::Bytes &CertificateDer() const override {
		return certificate_der_;
	}
	core::Bytes SignDigest(const core::Bytes &digest) override {
		std::string body = nlohmann::json {{"seal_id", config_.seal_id},
		                                   {"algorithm", algorithm_},
		                                   {"digest", core::ofd::Base64Encode(digest)}}
		                       .dump();
		std::string answer;
		long status = 0;
		CURLcode code = Post(body, answer, status);
		if (code == CURLE_ABORTED_BY_CALLBACK)
			throw core::Cancelled();
		if (code != CURLE_OK)
			throw core::Error("58000", std::string("seal service at ") + config_.url + ": " + curl_easy_strerror(code),
			                  {}, "Check that the seal service runs and answers within timeout_ms.");
		nlohmann::json json = nlohmann::json::parse(answer, nullptr, false);
		if (status != 200) {
			std::string error = json.is_object() && json.value("error", nlohmann::json()).is_string()
			                        ? json["error"].get<std::string>().substr(0, 200)
			                        : std::string();
			throw core::Error("58000", "seal service at " + config_.url + " answered HTTP " + std::to_string(status) +
			                               (error.empty() ? "" : ": " + error));
		}
		if (!json.is_object() || !json.value("signature", nlohmann::json()).is_string())
			throw core::Error("58000", "seal service at " + config_.url + " answered without a signature");
		return core::ofd::Base64Decode(json["signature"].get<std::string>());
	}

private:
	CURLcode Post(const std::string &body, std::string &answer, long &status) {
		std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
		if (!curl)
			throw core::Error(core::sqlstate::kInternalError, "cannot start a seal service request");
		std::string authorization = "Authorization: Bearer " + config_.client_secret;
		curl_slist *headers = curl_slist_append(nullptr, "Content-Type: application/json");
		headers = curl_slist_append(headers, authorization.c_str());
		CURL *c = curl.get();
		curl_easy_setopt(c, CURLOPT_URL, config_.url.c_str());
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a backend
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, config_.timeout_ms);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(config_.timeout_ms, 5000L));
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, Progress);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		CURLcode code = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_slist_free_all(headers);
		OPENSSL_cleanse(authorization.data(), authorization.size());
		return code;
	}

	HttpSealConfig config_;
	core::Bytes certificate_der_;
	std::string algorithm_;
};

}  // namespace

std::unique_ptr<core::OfdSigner> MakeHttpSealSigner(const HttpSealConfig &config, std::string_view certificate_pem) {
	return std::make_unique<HttpSealSigner>(config, certificate_pem);
}

}  // namespace elicense::pg
