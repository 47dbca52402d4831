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
//   SESeal (seal info with the PNG picture and the list of certificates
//   that may sign with it, the maker's certificate and signature; self-made
//   with the same key), timeInfo, dataHash = digest of the whole Signature.xml, propertyInfo },
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
#include <vector>

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
	kUnreferencedPart,  // a part outside Signs/ that no Reference covers, or an
	                    // entry whose name normalises elsewhere (Signs/../x)
	kBadSignature,      // Signature.xml changed or the signature is wrong
	kWrongSigner,       // signed with another key than the expected one
	kSealMismatch,      // the signer certificate is not in the seal's list
	kBadSeal,           // the seal's own (maker) signature does not verify
	kOutsideValidity,   // signing time outside the signer certificate's, the
	                    // seal's or (at the seal's making) the maker's validity
	kUntrusted,         // all of the above hold, but a certificate's chain
	                    // does not reach a trust anchor
};

// What a status means for the file, the vocabulary verify_licence_ofd and
// licence_verify share (README, "Verification verdicts"): sealed (every check
// holds and the chains reach a trust anchor), unsigned, untrusted, tampered
// (a digest, signature, seal, signer or time check fails) or malformed.
enum class OfdVerdict { kSealed, kUnsigned, kUntrusted, kTampered, kMalformed };

struct OfdVerifyResult {
	OfdVerifyStatus status = OfdVerifyStatus::kMalformed;
	std::string part;          // the part concerned, if any
	std::string message;       // one line for people
	std::string signer;        // subject of the signer certificate (when read)
	std::string algorithm;     // signature algorithm OID (when read)
	std::string signing_time;  // SES timeInfo, YYYYMMDDhhmmssZ (when read)
	bool ok() const noexcept {
		return status == OfdVerifyStatus::kOk;
	}
};

// Checks every signature of the package as GB/T 38540 intends: each
// Reference digest, that every part outside Signs/ is referenced (and that no
// entry name normalises elsewhere), the SES dataHash over Signature.xml, the
// signature over TBS_Sign, that the signer certificate is one of the seal's
// certificate list, the seal maker's signature over the seal, that the
// signing time lies inside the signer certificate's and the seal's validity
// (and the seal's making inside the maker certificate's), and that both the
// signer's and the maker's certificates chain to one of `trust_anchor_pems`
// (PEM certificates; a chain may end at any of them, root or not) at those
// times. With no anchor every sealed file is kUntrusted. With
// `expected_certificate_pem`, the signer's public key must also be that
// certificate's. Never throws for a bad package; throws Error (22023) only
// for an unreadable expected certificate or trust anchor.
OfdVerifyResult VerifyOfd(const Bytes &zip, std::string_view expected_certificate_pem = {},
                          const std::vector<std::string> &trust_anchor_pems = {});

const char *OfdVerifyStatusName(OfdVerifyStatus status) noexcept;
OfdVerdict OfdVerdictOf(OfdVerifyStatus status) noexcept;
const char *OfdVerdictName(OfdVerdict verdict) noexcept;

}  // namespace elicense::core
