// A seal-service double for the tests: the remote seal platform of
// docs/seal-signers.md, holding one seal's key and signing the digests it is
// sent (SM2 or ECDSA P-256, as the key is), after checking the bearer token
// and the seal ID. Answers with the JSON the http signer expects; errors as
// {"error": "..."} with 400, 401 or 404. --delay-ms makes each answer late
// (timeout and cancellation tests).
//
//   elicense-seal-service-double --key KEY.pem --cert CERT.pem --seal-id ID
//       --client-secret-file FILE [--port 0] [--delay-ms 0]
// Prints "listening on 127.0.0.1:PORT", then serves POST /v1/sign.
#include "elicense/ofd_signer.hpp"

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

namespace {

std::string ReadFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Base64(const elicense::core::Bytes &data) {
	std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
	int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), data.data(), static_cast<int>(data.size()));
	out.resize(static_cast<std::size_t>(n));
	return out;
}

bool Unbase64(const std::string &text, elicense::core::Bytes &out) {
	if (text.empty() || text.size() % 4 != 0)
		return false;
	out.resize(text.size() / 4 * 3);
	int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char *>(text.data()),
	                        static_cast<int>(text.size()));
	if (n < 0)
		return false;
	std::size_t padding = text.back() == '=' ? (text[text.size() - 2] == '=' ? 2 : 1) : 0;
	out.resize(static_cast<std::size_t>(n) - padding);
	return true;
}

void Answer(httplib::Response &res, int status, const nlohmann::json &body) {
	res.status = status;
	res.set_content(body.dump(), "application/json");
}

}  // namespace

int main(int argc, char **argv) {
	CLI::App app {"seal-service double: signs digests with one seal's key"};
	std::string key_file, cert_file, seal_id, secret_file, host = "127.0.0.1";
	int port = 0, delay_ms = 0;
	app.add_option("--key", key_file, "the seal's private key (PEM)")->required();
	app.add_option("--cert", cert_file, "the seal's certificate (PEM)")->required();
	app.add_option("--seal-id", seal_id, "the seal's esID")->required();
	app.add_option("--client-secret-file", secret_file, "the bearer token clients must send")->required();
	app.add_option("--port", port, "port; 0 picks a free one");
	app.add_option("--delay-ms", delay_ms, "answer this late");
	CLI11_PARSE(app, argc, argv);
	try {
		std::unique_ptr<elicense::core::OfdSigner> signer =
		    elicense::core::MakeKeySigner(ReadFile(key_file), ReadFile(cert_file));
		std::string secret = ReadFile(secret_file);
		while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
			secret.pop_back();
		std::mutex mutex;
		std::atomic<long> signed_count {0};
		httplib::Server svr;
		svr.Post("/v1/sign", [&](const httplib::Request &req, httplib::Response &res) {
			if (delay_ms > 0)
				std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
			if (req.get_header_value("Authorization") != "Bearer " + secret)
				return Answer(res, 401, {{"error", "unknown client"}});
			nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
			if (!body.is_object() || !body.value("digest", nlohmann::json()).is_string() ||
			    !body.value("seal_id", nlohmann::json()).is_string() ||
			    !body.value("algorithm", nlohmann::json()).is_string())
				return Answer(res, 400, {{"error", "want {seal_id, algorithm, digest}"}});
			if (body["seal_id"] != seal_id)
				return Answer(res, 404, {{"error", "no seal " + body["seal_id"].get<std::string>()}});
			elicense::core::Bytes digest;
			if (!Unbase64(body["digest"].get<std::string>(), digest) || digest.size() != 32)
				return Answer(res, 400, {{"error", "digest is not 32 bytes of Base64"}});
			std::lock_guard<std::mutex> lock(mutex);
			try {
				elicense::core::Bytes signature = signer->SignDigest(digest);
				++signed_count;
				return Answer(res, 200,
				              {{"signature", Base64(signature)}, {"certificate", Base64(signer->CertificateDer())}});
			} catch (const std::exception &e) {
				return Answer(res, 400, {{"error", e.what()}});
			}
		});
		svr.Get("/v1/stats", [&](const httplib::Request &, httplib::Response &res) {
			Answer(res, 200, {{"signed", signed_count.load()}});
		});
		if (port == 0)
			port = svr.bind_to_any_port(host);
		else if (!svr.bind_to_port(host, port))
			throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
		std::printf("listening on %s:%d\n", host.c_str(), port);
		std::fflush(stdout);
		svr.listen_after_bind();
	} catch (const std::exception &e) {
		std::fprintf(stderr, "seal-service double: %s\n", e.what());
		return 1;
	}
	return 0;
}
