#include "secret_hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace elicense::gateway {

std::string RandomKey(std::size_t bytes) {
	std::vector<unsigned char> raw(bytes);
	if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
		throw std::runtime_error("RAND_bytes failed");
	std::string out = Base64(std::string_view(reinterpret_cast<const char *>(raw.data()), raw.size()));
	for (char &c : out)
		c = c == '+' ? '-' : c == '/' ? '_' : c;
	while (!out.empty() && out.back() == '=')
		out.pop_back();
	return out;
}

std::string Sha256(std::string_view text) {
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) != 1)
		throw std::runtime_error("SHA-256 failed");
	return std::string(reinterpret_cast<const char *>(digest), len);
}

std::string Hex(std::string_view bytes) {
	static constexpr char kHex[] = "0123456789abcdef";
	std::string out;
	out.reserve(bytes.size() * 2);
	for (unsigned char c : bytes) {
		out.push_back(kHex[c >> 4]);
		out.push_back(kHex[c & 15]);
	}
	return out;
}

std::string Base64(std::string_view bytes) {
	std::string out(4 * ((bytes.size() + 2) / 3), '\0');
	int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
	                        reinterpret_cast<const unsigned char *>(bytes.data()), static_cast<int>(bytes.size()));
	out.resize(static_cast<std::size_t>(n));
	return out;
}

bool FromBase64(std::string_view text, std::string &out) {
	if (text.size() % 4 != 0)
		return false;
	for (std::size_t i = 0; i < text.size(); ++i) {
		char c = text[i];
		bool letter =
		    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
		bool pad = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text[i + 1] == '=');
		if (!letter && !pad)
			return false;
	}
	out.assign(text.size() / 4 * 3, '\0');
	int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data()),
	                        reinterpret_cast<const unsigned char *>(text.data()), static_cast<int>(text.size()));
	if (n < 0)
		return false;
	std::size_t padding = text.empty() ? 0 : (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
	out.resize(static_cast<std::size_t>(n) - padding);
	return true;
}

namespace {

std::string Pbkdf2(std::string_view secret, std::string_view salt, int iterations) {
	unsigned char key[32];
	if (PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()),
	                      reinterpret_cast<const unsigned char *>(salt.data()), static_cast<int>(salt.size()),
	                      iterations, EVP_sha256(), sizeof key, key) != 1)
		throw std::runtime_error("PBKDF2 failed");
	return std::string(reinterpret_cast<const char *>(key), sizeof key);
}

}  // namespace

std::string HashSecret(std::string_view secret, int iterations) {
	std::string salt(16, '\0');
	if (RAND_bytes(reinterpret_cast<unsigned char *>(salt.data()), static_cast<int>(salt.size())) != 1)
		throw std::runtime_error("RAND_bytes failed");
	return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + Base64(salt) + "$" +
	       Base64(Pbkdf2(secret, salt, iterations));
}

bool SecretMatches(std::string_view secret, std::string_view stored) {
	constexpr std::string_view kScheme = "pbkdf2-sha256$";
	if (stored.substr(0, kScheme.size()) != kScheme)
		return false;
	std::string_view rest = stored.substr(kScheme.size());
	std::size_t a = rest.find('$');
	std::size_t b = a == std::string_view::npos ? a : rest.find('$', a + 1);
	if (b == std::string_view::npos)
		return false;
	std::string_view count = rest.substr(0, a);
	if (count.empty() || count.size() > 7 || count.find_first_not_of("0123456789") != std::string_view::npos)
		return false;
	int iterations = std::stoi(std::string(count));
	std::string salt, expected;
	if (iterations < 10000 || !FromBase64(rest.substr(a + 1, b - a - 1), salt) ||
	    !FromBase64(rest.substr(b + 1), expected) || expected.size() != 32)
		return false;
	std::string got = Pbkdf2(secret, salt, iterations);
	return CRYPTO_memcmp(got.data(), expected.data(), 32) == 0;
}

}  // namespace elicense::gateway
