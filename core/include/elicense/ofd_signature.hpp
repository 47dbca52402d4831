// The electronic seal of an OFD file, in the structure of GB/T 38540-2020:
//
//   OFD.xml DocBody/Signatures -> Doc_0/Signs/Signatures.xml (MaxSignId,
//   Signature ID BaseLoc) -> Doc_0/Signs/Sign_0/Signature.xml:
//     SignedInfo: Provider, SignatureMethod, SignatureDateTime,
//       References (CheckMethod): one Reference per part of the package
//       outside Doc_0/Signs, each with the Base64 digest of the part,
//       StampAnnot (page, box of the seal picture)
//     SignedValue -> Doc_0/Signs/Sign_0/SignedValue.dat
//   SignedValue.dat is a DER SES_Signature (V4): TBS_Sign { version 4,
//   SESeal (seal info with the PNG picture, self-made with the same key),
//   timeInfo, dataHash = digest of the whole Signature.xml, propertyInfo },
//   the signer certificate, the algorithm OID and the signature over
//   DER(TBS_Sign).
//
// SM2 keys sign SM2-with-SM3 and digest with SM3; RSA keys sign
// sha256WithRSAEncryption and digest with SHA-256. The key and certificate
// come from the caller (PEM), never from a literal in the code; they never
// appear in error messages.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"
#include "elicense/ofd_signer.hpp"

#include <string>
#include <string_view>

namespace elicense::core {

struct OfdSeal {
	std::string private_key_pem;                   // SM2, P-256 or RSA, unencrypted PEM (SignOfd without a signer)
	std::string certificate_pem;                   // the signer's X.509 certificate (idem)
	std::string es_id = "elicense-seal";           // the seal's esID (one per seal: authority and city)
	Bytes picture_png;                             // the seal picture
	std::string name = "电子印章";                 // seal name in the SES structure
	double x = 0, y = 0, width = 40, height = 40;  // seal box on the first page, mm
	std::string signature_time;                    // UTC "YYYYMMDDhhmmssZ"; empty: now
};

// Adds the signature parts to an unsigned package and the Signatures entry
// to OFD.xml, signed by `signer` (its certificate is the signer's and the
// seal maker's). Throws Error (22023) if the package is signed already or the
// signer is unusable.
void SignOfdParts(OfdParts &parts, const OfdSeal &seal, OfdSigner &signer);
Bytes SignOfd(const Bytes &zip, const OfdSeal &seal, OfdSigner &signer);
// With the seal's own private_key_pem and certificate_pem (MakeKeySigner).
void SignOfdParts(OfdParts &parts, const OfdSeal &seal);
Bytes SignOfd(const Bytes &zip, const OfdSeal &seal);

enum class OfdVerifyStatus {
	kOk,
	kUnsigned,          // no Signatures in OFD.xml
	kMalformed,         // not a ZIP, an XML part or SignedValue.dat unreadable
	kMissingPart,       // a Reference names a part that is not in the package
	kDigestMismatch,    // a signed part changed (part says which)
	kUnreferencedPart,  // a part outside Signs/ that no Reference covers
	kBadSignature,      // Signature.xml changed or the signature is wrong
	kWrongSigner,       // signed with another key than the expected one
};

struct OfdVerifyResult {
	OfdVerifyStatus status = OfdVerifyStatus::kMalformed;
	std::string part;       // the part concerned, if any
	std::string message;    // one line for people
	std::string signer;     // subject of the signer certificate (when read)
	std::string algorithm;  // signature algorithm OID (when read)
	bool ok() const noexcept {
		return status == OfdVerifyStatus::kOk;
	}
};

// Checks every signature of the package: each Reference digest, that every
// part outside Signs/ is referenced, the SES dataHash over Signature.xml and
// the signature over TBS_Sign. With `expected_certificate_pem`, the signer's
// public key must also be that certificate's. Never throws for a bad
// package; throws Error (22023) only for an unreadable expected certificate.
OfdVerifyResult VerifyOfd(const Bytes &zip, std::string_view expected_certificate_pem = {});

const char *OfdVerifyStatusName(OfdVerifyStatus status) noexcept;

}  // namespace elicense::core
