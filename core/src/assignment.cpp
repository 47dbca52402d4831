// Decryption of code assignment answers (see assignment.hpp).
#include "elicense/assignment.hpp"

#include "elicense/error.hpp"
#include "elicense/legacy_crypto.hpp"
#include "elicense/qr_url.hpp"

#include <algorithm>

namespace elicense::core {
namespace {

[[noreturn]] void BadPlain(std::string reason) {
	// The plain text is not shown: with a wrong key it is noise, with a
	// right one it is the licence's code, which belongs in no log line.
	throw Error(sqlstate::kInvalidParameterValue, "encryCertid decrypts to neither an assigned code nor a QR URL",
	            std::move(reason),
	            "Check that the province's assignment scheme and key are the ones the platform uses.");
}

}  // namespace

AssignmentScheme ParseAssignmentScheme(std::string_view name) {
	if (name == "rsa-des")
		return AssignmentScheme::kRsaDes;
	if (name == "des")
		return AssignmentScheme::kDes;
	throw Error(sqlstate::kInvalidParameterValue,
	            "unknown assignment scheme \"" + std::string(name.substr(0, 16)) + "\"", {},
	            "Use rsa-des (province RSA private key, PLATFORM.md) or des (a configured 8-character DES key).");
}

void RequireAssignmentSecret(const AssignmentSecret &secret) {
	if (secret.scheme == AssignmentScheme::kRsaDes) {
		if (secret.private_key_pem.empty())
			throw Error(sqlstate::kInvalidParameterValue, "column \"private_key_pem\" is empty for scheme rsa-des", {},
			            "Scheme rsa-des needs the province's RSA private key in PEM.");
		RsaPrivateKeyBits(secret.private_key_pem);
		return;
	}
	bool printable = true;
	for (char c : secret.des_key)
		printable = printable && c > ' ' && c < 0x7F;
	if (secret.des_key.size() != kDesKeyLength || !printable)
		throw Error(sqlstate::kInvalidParameterValue,
		            "column \"des_key\" is not 8 printable ASCII characters for scheme des", {},
		            "Scheme des needs the 8-character DES key agreed with the platform.");
}

Assignment ClassifyAssignmentPlain(std::string_view plain) {
	Assignment a;
	if (plain.substr(0, 7) == "http://" || plain.substr(0, 8) == "https://") {
		// The base's own error would quote it; this one says only what is wrong.
		try {
			RequireQrBaseUrl(plain.substr(0, plain.find('?')));
		} catch (const Error &) {
			BadPlain("It is a URL whose part before '?' is not a valid base URL.");
		}
		auto id = QueryParameter(plain, "ID");
		if (!id || id->empty())
			BadPlain("It is a URL without an ID parameter.");
		if (AssignedCodeProblem(*id))
			BadPlain("It is a URL whose ID parameter is not letters and digits.");
		for (char c : plain)
			if (static_cast<unsigned char>(c) <= ' ' || c == 0x7F)
				BadPlain("It is a URL with spaces or control characters.");
		a.is_url = true;
		a.code = std::move(*id);
		a.url = std::string(plain);
		return a;
	}
	if (auto p = AssignedCodeProblem(plain))
		BadPlain("It is not 1-64 ASCII letters and digits.");
	a.code = std::string(plain);
	return a;
}

AssignmentDecryptor::AssignmentDecryptor(const AssignmentSecret &secret) : scheme_(secret.scheme) {
	RequireAssignmentSecret(secret);
	if (scheme_ == AssignmentScheme::kRsaDes)
		rsa_ = std::make_unique<RsaPrivateKey>(secret.private_key_pem);
	else
		des_key_ = secret.des_key;
}

AssignmentDecryptor::~AssignmentDecryptor() {
	std::fill(des_key_.begin(), des_key_.end(), '\0');
}

Assignment AssignmentDecryptor::Decrypt(std::string_view encry_certid, std::string_view encry_key) const {
	std::string key8;
	if (scheme_ == AssignmentScheme::kRsaDes) {
		key8 = rsa_->Decrypt(encry_key, CipherTextFormat::kBase64, "encryKey");
		if (key8.size() != kDesKeyLength)
			throw Error(sqlstate::kInvalidParameterValue,
			            "encryKey decrypts to " + std::to_string(key8.size()) + " bytes, not an 8-character DES key",
			            {}, "Check that the configured private key is the province's own key.");
	} else {
		key8 = des_key_;
	}
	Assignment a = ClassifyAssignmentPlain(DesDecryptHex(encry_certid, key8, "encryCertid"));
	std::fill(key8.begin(), key8.end(), '\0');
	return a;
}

Assignment DecryptAssignment(std::string_view encry_certid, std::string_view encry_key,
                             const AssignmentSecret &secret) {
	return AssignmentDecryptor(secret).Decrypt(encry_certid, encry_key);
}

}  // namespace elicense::core
