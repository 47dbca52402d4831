// Secrets stored in tables, each encrypted under the master key
// (core/include/elicense/secret_box.hpp) with its purpose as associated data,
// so a box made for one table never opens as another's: a seal's signer
// secret (elicense.seal), a province's assignment secret
// (elicense.province_secret), a preview token key (elicense.preview_key),
// resident ID numbers and the key of their blind index.
// Opened only in C, for the one call that needs it, and wiped after.
#pragma once

#include "elicense/error.hpp"
#include "elicense/secret_box.hpp"

#include <openssl/crypto.h>

#include <string>
#include <string_view>
#include <utility>

#include "seal_settings.hpp"

namespace elicense::pg {

inline constexpr char kSealSecretPurpose[] = "elicense seal secret";
inline constexpr char kProvinceSecretPurpose[] = "elicense province secret";
inline constexpr char kPreviewKeyPurpose[] = "elicense preview key";
// Personal data (issue 19): the clear resident ID numbers of a row
// (certificate.id_box, usage_code.id_box) and the key of their blind index
// (elicense.holder_index_key).
inline constexpr char kResidentIdsPurpose[] = "elicense resident ids";
inline constexpr char kHolderIndexKeyPurpose[] = "elicense holder index key";

// The purpose of a kind of stored secret as SQL names it (_reencrypt_secret).
inline const char *StoredSecretPurpose(std::string_view kind) {
	if (kind == "seal")
		return kSealSecretPurpose;
	if (kind == "province")
		return kProvinceSecretPurpose;
	if (kind == "preview")
		return kPreviewKeyPurpose;
	if (kind == "ids")
		return kResidentIdsPurpose;
	if (kind == "index")
		return kHolderIndexKeyPurpose;
	throw core::Error(core::sqlstate::kInvalidParameterValue, "kind of stored secret \"" + std::string(kind) +
	                                                              "\" is none of seal, province, preview, ids, index");
}

// A secret as a std::string that is wiped when it goes.
struct WipedString {
	std::string value;
	WipedString() = default;
	explicit WipedString(std::string v) : value(std::move(v)) {
	}
	WipedString(const WipedString &) = delete;
	WipedString &operator=(const WipedString &) = delete;
	~WipedString() {
		OPENSSL_cleanse(value.data(), value.size());
	}
};

// Runs `wipe` when the scope ends, by return or by exception:
//   core::Bytes key = ...;  WipeOnExit guard {[&] { Wipe(key); }};
template <typename F>
struct WipeOnExit {
	F wipe;
	WipeOnExit(const WipeOnExit &) = delete;
	WipeOnExit &operator=(const WipeOnExit &) = delete;
	~WipeOnExit() {
		wipe();
	}
};
template <typename F>
WipeOnExit(F) -> WipeOnExit<F>;

inline core::Bytes BoxBytes(std::string_view box) {
	return core::Bytes(box.begin(), box.end());
}

// The secret in a box of this purpose, opened with the current or the
// previous master key; Error 22023 (never quoting the box) otherwise.
inline std::string OpenStoredSecret(const char *purpose, std::string_view box) {
	return core::OpenSecret(MasterKeys(), purpose, BoxBytes(box));
}

}  // namespace elicense::pg
