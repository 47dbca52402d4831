// The PKCS#11 seal signer (see ofd_signer.hpp): an HSM or UKey module loaded
// with dlopen, the private key found by its label on the token named by its
// label, the digest signed with C_Sign. Standard PKCS#11 (2.40, 3.0) has no
// SM2 mechanism (vendors number their own, and SoftHSM2 2.6 has none), so an
// SM2 certificate is refused here; ECDSA P-256 uses CKM_ECDSA, whose raw r||s
// answer becomes a DER ECDSA-Sig-Value as the SES structure wants.
// Only modules an administrator allowed reach this code: the extension
// checks the module path against elicense.pkcs11_modules (postgresql.conf)
// before calling MakePkcs11Signer, as dlopen runs the module's code.
#include "elicense/ofd_signer.hpp"

#include "elicense/error.hpp"
#include "ofd_crypto.hpp"

#include <dlfcn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include <map>
#include <mutex>

#include <p11-kit/pkcs11.h>

namespace elicense::core {
namespace {

[[noreturn]] void Fail(const std::string &what, CK_RV rv) {
	char code[32];
	std::snprintf(code, sizeof code, "0x%08lx", static_cast<unsigned long>(rv));
	throw Error(sqlstate::kInternalError, "PKCS#11 " + what + " failed (CKR " + code + ")");
}

// One initialised function list per module path for the life of the
// process (C_Initialize twice is an error; a backend reuses the module).
CK_FUNCTION_LIST_PTR LoadModule(const std::string &path) {
	static std::map<std::string, CK_FUNCTION_LIST_PTR> loaded;
	static std::mutex mutex;
	std::lock_guard<std::mutex> lock(mutex);
	auto found = loaded.find(path);
	if (found != loaded.end())
		return found->second;
	void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		throw Error(sqlstate::kInvalidParameterValue, "cannot load the PKCS#11 module " + path);
	auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
	CK_FUNCTION_LIST_PTR list = nullptr;
	if (!get_list || get_list(&list) != CKR_OK || !list)
		throw Error(sqlstate::kInvalidParameterValue, "module " + path + " is not a PKCS#11 module");
	CK_RV rv = list->C_Initialize(nullptr);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		Fail("C_Initialize of " + path, rv);
	loaded.emplace(path, list);
	return list;
}

std::string Label(const CK_UTF8CHAR (&label)[32]) {
	std::string text(reinterpret_cast<const char *>(label), 32);
	while (!text.empty() && text.back() == ' ')
		text.pop_back();
	return text;
}

// r||s (each half the length) to DER ECDSA-Sig-Value.
Bytes RawToDer(const Bytes &raw) {
	if (raw.empty() || raw.size() % 2 != 0)
		throw Error(sqlstate::kInternalError, "PKCS#11 token returned an ECDSA signature of odd length");
	std::size_t half = raw.size() / 2;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw.data(), static_cast<int>(half), nullptr);
	BIGNUM *s = BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr);
	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
		ECDSA_SIG_free(sig);
		BN_free(r);
		BN_free(s);
		throw Error(sqlstate::kInternalError, "out of memory for an ECDSA signature");
	}
	unsigned char *der = nullptr;
	int size = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (size <= 0)
		throw Error(sqlstate::kInternalError, "cannot encode the ECDSA signature");
	Bytes out(der, der + size);
	OPENSSL_free(der);
	return out;
}

class Session {
public:
	Session(CK_FUNCTION_LIST_PTR p11, CK_SLOT_ID slot) : p11_(p11) {
		CK_RV rv = p11_->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &handle_);
		if (rv != CKR_OK)
			Fail("C_OpenSession", rv);
	}
	~Session() {
		p11_->C_CloseSession(handle_);
	}
	Session(const Session &) = delete;
	Session &operator=(const Session &) = delete;
	CK_SESSION_HANDLE handle() const {
		return handle_;
	}

private:
	CK_FUNCTION_LIST_PTR p11_;
	CK_SESSION_HANDLE handle_ = 0;
};

class Pkcs11Signer final : public OfdSigner {
public:
	Pkcs11Signer(const Pkcs11Config &config, std::string_view certificate_pem) : config_(config) {
		ofd::X509Ptr cert = ofd::LoadCertificate(certificate_pem);
		ofd::Algorithm algorithm = ofd::AlgorithmOf(X509_get0_pubkey(cert.get()));
		if (algorithm == ofd::Algorithm::kSm2Sm3)
			throw Error(sqlstate::kFeatureNotSupported,
			            "SM2 through PKCS#11 needs a vendor mechanism; this signer signs ECDSA P-256 only");
		if (algorithm != ofd::Algorithm::kEcdsaSha256)
			throw Error(sqlstate::kFeatureNotSupported, "the PKCS#11 signer signs ECDSA P-256 only");
		certificate_der_ = ofd::CertificateDer(cert.get());
		p11_ = LoadModule(config_.module);
	}
	const Bytes &CertificateDer() const override {
		return certificate_der_;
	}
	Bytes SignDigest(const Bytes &digest) override {
		Session session(p11_, FindSlot());
		CK_RV rv = p11_->C_Login(session.handle(), CKU_USER,
		                         reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char *>(config_.pin.data())),
		                         config_.pin.size());
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE)
			throw Error(sqlstate::kInvalidParameterValue,
			            "the PIN of PKCS#11 token \"" + config_.token_label + "\" is wrong");
		if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
			Fail("C_Login", rv);
		CK_OBJECT_HANDLE key = FindKey(session.handle());
		CK_MECHANISM mechanism {CKM_ECDSA, nullptr, 0};
		rv = p11_->C_SignInit(session.handle(), &mechanism, key);
		if (rv != CKR_OK)
			Fail("C_SignInit", rv);
		CK_BYTE_PTR data = const_cast<CK_BYTE_PTR>(digest.data());
		CK_ULONG size = 0;
		rv = p11_->C_Sign(session.handle(), data, digest.size(), nullptr, &size);
		if (rv != CKR_OK)
			Fail("C_Sign", rv);
		Bytes raw(size);
		rv = p11_->C_Sign(session.handle(), data, digest.size(), raw.data(), &size);
		if (rv != CKR_OK)
			Fail("C_Sign", rv);
		raw.resize(size);
		p11_->C_Logout(session.handle());
		return RawToDer(raw);
	}

private:
	CK_SLOT_ID FindSlot() {
		CK_ULONG count = 0;
		CK_RV rv = p11_->C_GetSlotList(CK_TRUE, nullptr, &count);
		if (rv != CKR_OK)
			Fail("C_GetSlotList", rv);
		std::vector<CK_SLOT_ID> slots(count);
		rv = p11_->C_GetSlotList(CK_TRUE, slots.data(), &count);
		if (rv != CKR_OK)
			Fail("C_GetSlotList", rv);
		for (CK_ULONG i = 0; i < count; ++i) {
			CK_TOKEN_INFO info;
			if (p11_->C_GetTokenInfo(slots[i], &info) == CKR_OK && Label(info.label) == config_.token_label)
				return slots[i];
		}
		throw Error(sqlstate::kInvalidParameterValue,
		            "no PKCS#11 token labelled \"" + config_.token_label + "\" in " + config_.module);
	}
	CK_OBJECT_HANDLE FindKey(CK_SESSION_HANDLE session) {
		CK_OBJECT_CLASS key_class = CKO_PRIVATE_KEY;
		CK_ATTRIBUTE search[] = {
		    {CKA_CLASS, &key_class, sizeof key_class},
		    {CKA_LABEL, const_cast<char *>(config_.key_label.data()), config_.key_label.size()},
		};
		CK_RV rv = p11_->C_FindObjectsInit(session, search, 2);
		if (rv != CKR_OK)
			Fail("C_FindObjectsInit", rv);
		CK_OBJECT_HANDLE key = 0;
		CK_ULONG found = 0;
		rv = p11_->C_FindObjects(session, &key, 1, &found);
		p11_->C_FindObjectsFinal(session);
		if (rv != CKR_OK)
			Fail("C_FindObjects", rv);
		if (found == 0)
			throw Error(sqlstate::kInvalidParameterValue, "no private key labelled \"" + config_.key_label +
			                                                  "\" on PKCS#11 token \"" + config_.token_label + "\"");
		return key;
	}

	Pkcs11Config config_;
	Bytes certificate_der_;
	CK_FUNCTION_LIST_PTR p11_ = nullptr;
};

}  // namespace

std::unique_ptr<OfdSigner> MakePkcs11Signer(const Pkcs11Config &config, std::string_view certificate_pem) {
	return std::make_unique<Pkcs11Signer>(config, certificate_pem);
}

}  // namespace elicense::core
