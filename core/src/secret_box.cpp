// AES-256-GCM boxes under a master key (see secret_box.hpp).
#include "elicense/secret_box.hpp"

#include "elicense/error.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

namespace elicense::core {
namespace {

constexpr char kMagic[] = "ESB1";
constexpr std::size_t kMagicBytes = 4, kIdBytes = 8, kNonceBytes = 12, kTagBytes = 16;
constexpr std::size_t kHeaderBytes = kMagicBytes + kIdBytes + kNonceBytes;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

[[noreturn]] void Fail(const char *sqlstate, const std::string &message) {
	ERR_clear_error();
	throw Error(sqlstate, message);
}

int HexValue(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void Wipe(std::string &text) {
	OPENSSL_cleanse(text.data(), text.size());
}

}  // namespace

Bytes ReadMasterKeyFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		Fail(sqlstate::kInvalidParameterValue, "cannot read the master key file " + path);
	std::string content;
	char buffer[130];
	in.read(buffer, sizeof buffer);
	content.assign(buffer, static_cast<std::size_t>(in.gcount()));
	OPENSSL_cleanse(buffer, sizeof buffer);
	Bytes key;
	if (content.size() == kMasterKeyBytes) {
		key.assign(content.begin(), content.end());
	} else {
		std::string hex = content;
		while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r'))
			hex.pop_back();
		bool ok = hex.size() == 2 * kMasterKeyBytes;
		for (std::size_t i = 0; ok && i < hex.size(); i += 2) {
			int high = HexValue(hex[i]), low = HexValue(hex[i + 1]);
			ok = high >= 0 && low >= 0;
			key.push_back(static_cast<std::uint8_t>(high * 16 + low));
		}
		Wipe(hex);
		if (!ok) {
			Wipe(content);
			Fail(sqlstate::kInvalidParameterValue,
			     "the master key file " + path + " holds neither 32 bytes nor 64 hex digits");
		}
	}
	Wipe(content);
	return key;
}

Bytes MasterKeyId(const Bytes &master_key) {
	static const char label[] = "elicense master key id";
	Bytes input(label, label + sizeof label - 1);
	input.insert(input.end(), master_key.begin(), master_key.end());
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int size = 0;
	if (EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr) != 1)
		Fail(sqlstate::kInternalError, "SHA-256 failed");
	OPENSSL_cleanse(input.data(), input.size());
	return Bytes(digest, digest + kIdBytes);
}

Bytes SealSecret(const Bytes &master_key, std::string_view purpose, std::string_view secret) {
	if (master_key.size() != kMasterKeyBytes)
		Fail(sqlstate::kInvalidParameterValue, "the master key must have 32 bytes");
	Bytes box(kMagic, kMagic + kMagicBytes);
	Bytes id = MasterKeyId(master_key);
	box.insert(box.end(), id.begin(), id.end());
	box.resize(kHeaderBytes + secret.size() + kTagBytes);
	if (RAND_bytes(box.data() + kMagicBytes + kIdBytes, kNonceBytes) != 1)
		Fail(sqlstate::kInternalError, "no random bytes for a nonce");
	CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
	int size = 0;
	bool ok =
	    ctx &&
	    EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, master_key.data(),
	                       box.data() + kMagicBytes + kIdBytes) == 1 &&
	    EVP_EncryptUpdate(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char *>(purpose.data()),
	                      static_cast<int>(purpose.size())) == 1 &&
	    EVP_EncryptUpdate(ctx.get(), box.data() + kHeaderBytes, &size,
	                      reinterpret_cast<const unsigned char *>(secret.data()),
	                      static_cast<int>(secret.size())) == 1 &&
	    EVP_EncryptFinal_ex(ctx.get(), box.data() + kHeaderBytes + size, &size) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, box.data() + kHeaderBytes + secret.size()) == 1;
	if (!ok)
		Fail(sqlstate::kInternalError, "encrypting a secret failed");
	return box;
}

Bytes SecretBoxKeyId(const Bytes &box) {
	if (box.size() < kHeaderBytes + kTagBytes || std::memcmp(box.data(), kMagic, kMagicBytes) != 0)
		return {};
	return Bytes(box.begin() + kMagicBytes, box.begin() + kMagicBytes + kIdBytes);
}

std::string OpenSecret(const std::vector<Bytes> &master_keys, std::string_view purpose, const Bytes &box) {
	Bytes id = SecretBoxKeyId(box);
	if (id.empty())
		Fail(sqlstate::kInvalidParameterValue, "the stored " + std::string(purpose) + " is not an encrypted secret");
	const Bytes *key = nullptr;
	for (const Bytes &candidate : master_keys)
		if (MasterKeyId(candidate) == id)
			key = &candidate;
	if (!key)
		Fail(sqlstate::kInvalidParameterValue,
		     "the stored " + std::string(purpose) + " is encrypted under a master key that is not configured");
	std::size_t size = box.size() - kHeaderBytes - kTagBytes;
	std::string secret(size, '\0');
	Bytes tag(box.end() - kTagBytes, box.end());
	CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
	int out = 0;
	bool ok = ctx &&
	          EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key->data(),
	                             box.data() + kMagicBytes + kIdBytes) == 1 &&
	          EVP_DecryptUpdate(ctx.get(), nullptr, &out, reinterpret_cast<const unsigned char *>(purpose.data()),
	                            static_cast<int>(purpose.size())) == 1 &&
	          EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char *>(secret.data()), &out,
	                            box.data() + kHeaderBytes, static_cast<int>(size)) == 1 &&
	          EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
	          EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char *>(secret.data()) + out, &out) == 1;
	if (!ok) {
		Wipe(secret);
		Fail(sqlstate::kInvalidParameterValue, "the stored " + std::string(purpose) + " does not authenticate");
	}
	return secret;
}

}  // namespace elicense::core
