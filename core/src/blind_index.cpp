// Blind index of a holder ID number (see blind_index.hpp).
#include "elicense/blind_index.hpp"

#include "elicense/error.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace elicense::core {

Bytes HolderBlindIndex(const Bytes &index_key, std::string_view holder_id) {
	if (index_key.size() != kHolderIndexKeyBytes)
		throw Error(sqlstate::kInvalidParameterValue, "the holder index key must have 32 bytes");
	// The label keeps this HMAC apart from any other use of the key.
	static const char label[] = "elicense holder index v1";
	Bytes input(label, label + sizeof label);  // with its NUL: label and value cannot run together
	input.insert(input.end(), holder_id.begin(), holder_id.end());
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int size = 0;
	if (!HMAC(EVP_sha256(), index_key.data(), static_cast<int>(index_key.size()), input.data(), input.size(), digest,
	          &size))
		throw Error(sqlstate::kInternalError, "HMAC-SHA256 failed");
	return Bytes(digest, digest + kHolderIndexBytes);
}

}  // namespace elicense::core
