// PEM keys and certificates that parse (pem_check.hpp).
#include "elicense/pem_check.hpp"

#include "elicense/limits.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace elicense::core {
namespace {

// Never asks for a passphrase (OpenSSL's default callback would read the
// terminal): an encrypted key does not parse.
int NoPassphrase(char *, int, int, void *) {
	return -1;
}

}  // namespace

std::optional<std::string> PemProblem(std::string_view kind, std::string_view pem) {
	if (pem.size() > kMaxPemBytes)
		return "is longer than " + std::to_string(kMaxPemBytes) + " bytes";
	bool encrypted = pem.find("ENCRYPTED") != std::string_view::npos;
	BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
	if (bio == nullptr)
		return "cannot be read (out of memory)";
	bool ok = false;
	std::string what;
	if (kind == "private_key") {
		what = "an unencrypted PEM private key";
		EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, nullptr, NoPassphrase, nullptr);
		ok = key != nullptr;
		EVP_PKEY_free(key);
	} else if (kind == "public_key") {
		what = "a PEM public key (BEGIN PUBLIC KEY)";
		EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, nullptr, NoPassphrase, nullptr);
		ok = key != nullptr;
		EVP_PKEY_free(key);
	} else if (kind == "certificate") {
		what = "a PEM X.509 certificate";
		X509 *cert = PEM_read_bio_X509(bio, nullptr, NoPassphrase, nullptr);
		ok = cert != nullptr;
		X509_free(cert);
	} else {
		BIO_free(bio);
		return "has an unknown kind (private_key, public_key or certificate)";
	}
	BIO_free(bio);
	ERR_clear_error();  // OpenSSL's queue must not leak into the next caller
	if (ok)
		return std::nullopt;
	if (encrypted && kind == "private_key")
		return "is an encrypted PEM private key, not " + what;
	return "is not " + what;
}

}  // namespace elicense::core
