// Seals and verifies OFD packages in the GB/T 38540 structure (see
// ofd_signature.hpp). One signature per package: Doc_0/Signs/Sign_0.
#include "elicense/ofd_signature.hpp"

#include "elicense/cancel.hpp"
#include "elicense/error.hpp"
#include "elicense/limits.hpp"
#include "ofd_crypto.hpp"
#include "ofd_der.hpp"
#include "ofd_trust.hpp"
#include "ofd_xml.hpp"

#include <openssl/asn1.h>

#include <cmath>
#include <ctime>
#include <optional>
#include <set>

namespace elicense::core {
namespace {

using ofd::Add;
using ofd::Child;
using ofd::Text;

constexpr char kSignsDir[] = "Doc_0/Signs/";
constexpr char kSignaturesPart[] = "Doc_0/Signs/Signatures.xml";
constexpr char kSignaturePart[] = "Doc_0/Signs/Sign_0/Signature.xml";
constexpr char kSignedValuePart[] = "Doc_0/Signs/Sign_0/SignedValue.dat";
constexpr char kProvider[] = "elicense";
constexpr long kSesVersion = 4;
// A signature may carry a time slightly ahead of the verifier's clock (two
// machines' clocks), never more: a post-dated signature claims a time nobody
// could have witnessed yet.
constexpr std::int64_t kClockSkewSeconds = 600;

bool StartsWith(std::string_view text, std::string_view prefix) {
	return text.substr(0, prefix.size()) == prefix;
}

// "/Doc_0/x" and "Doc_0/x" name the same part: OFD paths are package-absolute.
std::string PartName(std::string_view loc) {
	while (!loc.empty() && loc.front() == '/')
		loc.remove_prefix(1);
	return std::string(loc);
}

std::string UtcNow() {
	std::time_t now = std::time(nullptr);
	std::tm tm {};
	gmtime_r(&now, &tm);
	char buf[20];
	std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
	return buf;
}

std::string CertNotAfter(X509 *cert) {
	std::tm tm {};
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return "99991231235959Z";
	char buf[20];
	std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
	return buf;
}

bool IsGeneralizedTime(const std::string &time) {
	if (time.size() != 15 || time.back() != 'Z')
		return false;
	for (std::size_t i = 0; i < 14; ++i)
		if (time[i] < '0' || time[i] > '9')
			return false;
	return true;
}

// SESeal: the seal itself (picture and properties), signed by its maker. We
// make our own seal with the signing key; a seal issued by a seal authority
// would be passed in ready-made instead.
Bytes SignWith(OfdSigner &signer, const Bytes &data) {
	return signer.SignDigest(SignatureDigest(signer.CertificateDer(), data));
}

Bytes MakeSeal(const OfdSeal &seal, OfdSigner &signer, ofd::Algorithm algorithm, const Bytes &cert_der,
               const std::string &created, const std::string &valid_end) {
	Bytes header_id = der::String(der::kIa5String, "ES");
	Bytes header_version = der::Integer(kSesVersion);
	Bytes header_vid = der::String(der::kIa5String, kProvider);
	Bytes header = der::Sequence({&header_id, &header_version, &header_vid});
	Bytes es_id = der::String(der::kIa5String, seal.es_id);

	Bytes type = der::Integer(1);  // 1: organisation seal
	Bytes name = der::String(der::kUtf8String, seal.name);
	Bytes cert_list_type = der::Integer(1);  // 1: certificates
	Bytes cert_octets = der::Octets(cert_der);
	Bytes cert_list = der::Sequence({&cert_octets});
	Bytes create_date = der::String(der::kGeneralizedTime, created);
	Bytes valid_start = create_date;
	Bytes valid_end_time = der::String(der::kGeneralizedTime, valid_end);
	Bytes property =
	    der::Sequence({&type, &name, &cert_list_type, &cert_list, &create_date, &valid_start, &valid_end_time});

	Bytes picture_type = der::String(der::kIa5String, "PNG");
	Bytes picture_data = der::Octets(seal.picture_png);
	Bytes picture_width = der::Integer(std::lround(seal.width));
	Bytes picture_height = der::Integer(std::lround(seal.height));
	Bytes picture = der::Sequence({&picture_type, &picture_data, &picture_width, &picture_height});

	Bytes seal_info = der::Sequence({&header, &es_id, &property, &picture});
	Bytes maker_cert = der::Octets(cert_der);
	Bytes sign_alg = der::Oid(ofd::SignatureOid(algorithm));
	Bytes to_sign = der::Sequence({&seal_info, &maker_cert, &sign_alg});
	Bytes signed_value = der::Bits(SignWith(signer, to_sign));
	return der::Sequence({&seal_info, &maker_cert, &sign_alg, &signed_value});
}

Bytes MakeSesSignature(const OfdSeal &seal, OfdSigner &signer, ofd::Algorithm algorithm, const Bytes &cert_der,
                       const std::string &time, const std::string &valid_end, const Bytes &signature_xml) {
	Bytes version = der::Integer(kSesVersion);
	Bytes eseal = MakeSeal(seal, signer, algorithm, cert_der, time, valid_end);
	Bytes time_info = der::String(der::kGeneralizedTime, time);
	Bytes data_hash = der::Bits(ofd::Digest(algorithm, signature_xml));
	Bytes property_info = der::String(der::kIa5String, std::string("/") + kSignaturePart);
	Bytes tbs = der::Sequence({&version, &eseal, &time_info, &data_hash, &property_info});
	Bytes cert = der::Octets(cert_der);
	Bytes alg = der::Oid(ofd::SignatureOid(algorithm));
	Bytes signature = der::Bits(SignWith(signer, tbs));
	return der::Sequence({&tbs, &cert, &alg, &signature});
}

// ID of the first page, which the seal is placed on.
std::string FirstPageId(const OfdParts &parts, const std::string &doc_root) {
	pugi::xml_document doc;
	ofd::ParsePart(doc, parts.Get(doc_root), doc_root);
	std::string id = Child(Child(Child(doc, "Document"), "Pages"), "Page").attribute("ID").as_string();
	if (id.empty())
		throw Error(sqlstate::kInvalidParameterValue, "OFD document has no page to seal");
	return id;
}

OfdVerifyResult Result(OfdVerifyStatus status, std::string part, std::string message) {
	OfdVerifyResult result;
	result.status = status;
	result.part = std::move(part);
	result.message = std::move(message);
	return result;
}

// The SESeal of a TBS_Sign as GB/T 38540 (V4) lays it out:
//   SESeal ::= SEQUENCE { esealInfo SES_SealInfo, cert OCTET STRING (the
//     maker's), signAlgID OID, signedValue BIT STRING (the maker's signature
//     over SEQUENCE { esealInfo, cert, signAlgID }) }
//   SES_SealInfo ::= SEQUENCE { header, esID, property, picture, ... }
//   SES_ESPropertyInfo ::= SEQUENCE { type, name, certListType (1: the
//     certificates themselves), certList SEQUENCE OF OCTET STRING,
//     createDate, validStart, validEnd (GeneralizedTime) }
struct SealView {
	std::vector<Bytes> signer_certificates;
	std::string created, valid_start, valid_end;
	Bytes maker_certificate;
	std::string algorithm_oid;
	Bytes to_sign;  // DER SEQUENCE { esealInfo, cert, signAlgID }
	Bytes signature;
};

// Throws Error (22P02) for a seal that is not laid out so.
SealView ReadSeal(const der::Element &eseal) {
	auto malformed = [](const std::string &what) {
		return Error(sqlstate::kInvalidTextRepresentation, "the SESeal " + what);
	};
	std::vector<der::Element> top = der::Children(eseal);
	if (top.size() < 4 || top[1].tag != der::kOctetString)
		throw malformed("is not SEQUENCE { esealInfo, cert, signAlgID, signedValue }");
	std::vector<der::Element> info = der::Children(top[0]);
	if (info.size() < 4)
		throw malformed("info is incomplete");
	std::vector<der::Element> property = der::Children(info[2]);
	if (property.size() < 7 || property[2].tag != der::kInteger || property[2].content != Bytes {1})
		throw malformed("property has no certificate list (certListType 1)");
	SealView seal;
	for (const der::Element &cert : der::Children(property[3])) {
		if (cert.tag != der::kOctetString)
			throw malformed("certificate list holds something else than certificates");
		seal.signer_certificates.push_back(cert.content);
	}
	for (int i : {4, 5, 6})
		if (property[i].tag != der::kGeneralizedTime)
			throw malformed("dates are not GeneralizedTime");
	seal.created.assign(property[4].content.begin(), property[4].content.end());
	seal.valid_start.assign(property[5].content.begin(), property[5].content.end());
	seal.valid_end.assign(property[6].content.begin(), property[6].content.end());
	seal.maker_certificate = top[1].content;
	seal.algorithm_oid = der::OidValue(top[2]);
	seal.to_sign = der::Sequence({&top[0].whole, &top[1].whole, &top[2].whole});
	seal.signature = der::BitsValue(top[3]);
	return seal;
}

// "20261123093000Z" as "2026-11-23 09:30:00Z" for messages.
std::string ShowTime(const std::string &time) {
	if (time.size() != 15)
		return time;
	return time.substr(0, 4) + "-" + time.substr(4, 2) + "-" + time.substr(6, 2) + " " + time.substr(8, 2) + ":" +
	       time.substr(10, 2) + ":" + time.substr(12, 2) + "Z";
}

// The checks of GB/T 38540 on the seal and the signer once the signature over
// TBS_Sign holds: the signer certificate is one the seal lists, the maker's
// signature over the seal verifies, and the times lie inside the validities.
// kOk, or the failure (trust in the chains is checked last, by the caller).
OfdVerifyResult CheckSeal(const SealView &seal, const Bytes &signer_der, X509 *signer, const std::string &time,
                          const std::string &value_part) {
	bool listed = false;
	for (const Bytes &cert : seal.signer_certificates)
		listed = listed || cert == signer_der;
	if (!listed)
		return Result(OfdVerifyStatus::kSealMismatch, value_part,
		              "the signer certificate is not one of the seal's certificates");
	ofd::X509Ptr maker = ofd::CertificateFromDer(seal.maker_certificate);
	EVP_PKEY *maker_key = X509_get0_pubkey(maker.get());
	if (!maker_key)
		return Result(OfdVerifyStatus::kMalformed, value_part, "the seal maker's certificate has no public key");
	ofd::Algorithm maker_algorithm = ofd::AlgorithmFromSignatureOid(seal.algorithm_oid);
	if (!ofd::Verify(maker_key, maker_algorithm, seal.to_sign, seal.signature))
		return Result(OfdVerifyStatus::kBadSeal, value_part,
		              "the seal maker's signature over the seal does not verify");

	std::optional<std::int64_t> at = ofd::GeneralizedTimeSeconds(time);
	std::optional<std::int64_t> created = ofd::GeneralizedTimeSeconds(seal.created);
	std::optional<std::int64_t> start = ofd::GeneralizedTimeSeconds(seal.valid_start);
	std::optional<std::int64_t> end = ofd::GeneralizedTimeSeconds(seal.valid_end);
	if (!at || !created || !start || !end)
		return Result(OfdVerifyStatus::kMalformed, value_part,
		              "a time of the seal or signature is not YYYYMMDDhhmmssZ");
	if (*at > static_cast<std::int64_t>(std::time(nullptr)) + kClockSkewSeconds)
		return Result(OfdVerifyStatus::kOutsideValidity, value_part,
		              "signed at " + ShowTime(time) + ", later than the time of verification");
	if (*at < *start || *at > *end)
		return Result(OfdVerifyStatus::kOutsideValidity, value_part,
		              "signed at " + ShowTime(time) + ", outside the seal's validity " + ShowTime(seal.valid_start) +
		                  " to " + ShowTime(seal.valid_end));
	std::optional<std::int64_t> not_before = ofd::CertificateNotBefore(signer);
	std::optional<std::int64_t> not_after = ofd::CertificateNotAfter(signer);
	if (!not_before || !not_after || *at < *not_before || *at > *not_after)
		return Result(OfdVerifyStatus::kOutsideValidity, value_part,
		              "signed at " + ShowTime(time) + ", outside the signer certificate's validity");
	not_before = ofd::CertificateNotBefore(maker.get());
	not_after = ofd::CertificateNotAfter(maker.get());
	if (*created > *at || !not_before || !not_after || *created < *not_before || *created > *not_after)
		return Result(OfdVerifyStatus::kOutsideValidity, value_part,
		              "the seal was made at " + ShowTime(seal.created) +
		                  ", after the signature or outside the maker certificate's validity");
	return Result(OfdVerifyStatus::kOk, {}, "signature valid");
}

// Checks one signature (Signature.xml at `signature_part`); fills `covered`
// with the parts its References name. The signature over Signature.xml is
// checked before the References it lists are trusted, so a changed
// Signature.xml is reported as such and not as a changed part. The chains to
// a trust anchor are checked last: kUntrusted means every other check held.
OfdVerifyResult VerifySignature(const OfdParts &parts, const std::string &signature_part, EVP_PKEY *expected_key,
                                const ofd::TrustAnchors &anchors, std::set<std::string> &covered) {
	const Bytes *signature_xml = parts.Find(signature_part);
	if (!signature_xml)
		return Result(OfdVerifyStatus::kMissingPart, signature_part, "signature file is missing");
	pugi::xml_document doc;
	if (!doc.load_buffer(signature_xml->data(), signature_xml->size()))
		return Result(OfdVerifyStatus::kBadSignature, signature_part, "Signature.xml is damaged");
	pugi::xml_node signature = Child(doc, "Signature");
	pugi::xml_node info = Child(signature, "SignedInfo");
	pugi::xml_node references = Child(info, "References");

	std::string value_part = PartName(Text(Child(signature, "SignedValue")));
	const Bytes *value = parts.Find(value_part);
	if (!value)
		return Result(OfdVerifyStatus::kMissingPart, value_part, "signature value file is missing");
	// SES_Signature ::= SEQUENCE { toSign, cert, signatureAlgID, signature, ... }
	std::vector<der::Element> ses = der::Children(der::Read(*value));
	if (ses.size() < 4 || ses[1].tag != der::kOctetString)
		return Result(OfdVerifyStatus::kMalformed, value_part, "SignedValue.dat is not an SES_Signature");
	// TBS_Sign ::= SEQUENCE { version, eseal, timeInfo, dataHash, propertyInfo, ... }
	std::vector<der::Element> tbs = der::Children(ses[0]);
	if (tbs.size() < 5 || tbs[2].tag != der::kGeneralizedTime)
		return Result(OfdVerifyStatus::kMalformed, value_part, "SES TBS_Sign is incomplete");
	std::string method = der::OidValue(ses[2]);
	ofd::Algorithm algorithm = ofd::AlgorithmFromSignatureOid(method);
	std::string time(tbs[2].content.begin(), tbs[2].content.end());

	OfdVerifyResult ok = Result(OfdVerifyStatus::kOk, {}, "signature valid");
	ok.algorithm = method;
	ok.signing_time = time;
	ofd::X509Ptr cert = ofd::CertificateFromDer(ses[1].content);
	ok.signer = ofd::CertificateSubject(cert.get());
	EVP_PKEY *signer_key = X509_get0_pubkey(cert.get());
	if (!signer_key)
		return Result(OfdVerifyStatus::kMalformed, value_part, "signer certificate has no public key");
	if (der::BitsValue(tbs[3]) != ofd::Digest(algorithm, *signature_xml))
		return Result(OfdVerifyStatus::kBadSignature, signature_part, "Signature.xml has changed since it was signed");
	if (!ofd::Verify(signer_key, algorithm, ses[0].whole, der::BitsValue(ses[3])))
		return Result(OfdVerifyStatus::kBadSignature, value_part, "the signature does not verify");
	if (expected_key && EVP_PKEY_eq(signer_key, expected_key) != 1)
		return Result(OfdVerifyStatus::kWrongSigner, value_part,
		              "signed by " + ok.signer + ", not the expected signer");
	SealView seal = ReadSeal(tbs[1]);
	OfdVerifyResult seal_check = CheckSeal(seal, ses[1].content, cert.get(), time, value_part);
	if (!seal_check.ok())
		return seal_check;

	// Signature.xml is authentic from here on.
	if (!references || Text(Child(info, "SignatureMethod")) != method ||
	    references.attribute("CheckMethod").as_string() != std::string(ofd::DigestOid(algorithm)))
		return Result(OfdVerifyStatus::kMalformed, signature_part, "SignedInfo does not match the SES algorithm");
	if (Text(Child(info, "SignatureDateTime")) != time)
		return Result(OfdVerifyStatus::kMalformed, signature_part, "SignatureDateTime is not the SES signing time");
	std::size_t count = 0;
	std::set<std::string> referenced;
	for (pugi::xml_node reference : references.children("ofd:Reference")) {
		ThrowIfCancelled();
		if (++count > kMaxOfdReferences)
			return Result(OfdVerifyStatus::kMalformed, signature_part,
			              "signature has more than " + std::to_string(kMaxOfdReferences) + " references");
		std::string part = PartName(reference.attribute("FileRef").as_string());
		// Each part is digested once: a list naming one large part thousands
		// of times would otherwise cost minutes (a signature we write never
		// names a part twice).
		if (!referenced.insert(part).second)
			return Result(OfdVerifyStatus::kMalformed, signature_part, "signature references " + part + " twice");
		const Bytes *data = parts.Find(part);
		if (!data)
			return Result(OfdVerifyStatus::kMissingPart, part, "signed part " + part + " is missing");
		Bytes expected = ofd::Base64Decode(Text(Child(reference, "CheckValue")));
		if (ofd::Digest(algorithm, *data) != expected)
			return Result(OfdVerifyStatus::kDigestMismatch, part, "signed part " + part + " has changed");
		covered.insert(part);
	}
	if (count == 0)
		return Result(OfdVerifyStatus::kMalformed, signature_part, "signature references no part");

	// Untrusted keeps what the signature says (signer, algorithm, time).
	auto untrusted = [&](const std::string &why) {
		OfdVerifyResult r = Result(OfdVerifyStatus::kUntrusted, value_part, why);
		r.signer = ok.signer;
		r.algorithm = ok.algorithm;
		r.signing_time = ok.signing_time;
		return r;
	};
	std::string why;
	if (!anchors.Reaches(cert.get(), *ofd::GeneralizedTimeSeconds(time), why))
		return untrusted("the signer certificate does not chain to a trust anchor: " + why);
	ofd::X509Ptr maker = ofd::CertificateFromDer(seal.maker_certificate);
	if (!anchors.Reaches(maker.get(), *ofd::GeneralizedTimeSeconds(seal.created), why))
		return untrusted("the seal maker's certificate does not chain to a trust anchor: " + why);
	return ok;
}

// Every signature, then the coverage of the parts. An untrusted signature
// does not stop the checks: a changed or added part is still reported as
// such (tampered outranks untrusted).
OfdVerifyResult VerifyParts(const OfdParts &parts, EVP_PKEY *expected_key, const ofd::TrustAnchors &anchors) {
	const Bytes *ofd_xml = parts.Find("OFD.xml");
	if (!ofd_xml)
		return Result(OfdVerifyStatus::kMalformed, "OFD.xml", "package has no OFD.xml");
	pugi::xml_document entry;
	std::string signatures_loc;
	if (entry.load_buffer(ofd_xml->data(), ofd_xml->size()))
		signatures_loc = Text(Child(Child(Child(entry, "OFD"), "DocBody"), "Signatures"));
	else if (parts.Find(kSignaturesPart))
		signatures_loc = kSignaturesPart;  // OFD.xml is damaged: its digest check will say so
	else
		return Result(OfdVerifyStatus::kMalformed, "OFD.xml", "OFD.xml is not well-formed XML");
	if (signatures_loc.empty())
		return Result(OfdVerifyStatus::kUnsigned, {}, "the package is not signed");
	std::string signatures_part = PartName(signatures_loc);
	const Bytes *signatures_xml = parts.Find(signatures_part);
	if (!signatures_xml)
		return Result(OfdVerifyStatus::kMissingPart, signatures_part, "signature list is missing");
	pugi::xml_document list;
	ofd::ParsePart(list, *signatures_xml, signatures_part);
	std::string signs_dir = signatures_part.substr(0, signatures_part.rfind('/') + 1);

	std::set<std::string> covered;
	OfdVerifyResult last = Result(OfdVerifyStatus::kUnsigned, {}, "the signature list is empty");
	std::optional<OfdVerifyResult> untrusted;
	std::size_t signatures = 0;
	for (pugi::xml_node sign : Child(list, "Signatures").children("ofd:Signature")) {
		if (++signatures > kMaxOfdSignatures)
			return Result(OfdVerifyStatus::kMalformed, signatures_part,
			              "more than " + std::to_string(kMaxOfdSignatures) + " signatures");
		std::string loc = PartName(sign.attribute("BaseLoc").as_string());
		std::string part = StartsWith(loc, signs_dir) ? loc : signs_dir + loc;
		last = VerifySignature(parts, part, expected_key, anchors, covered);
		if (last.status == OfdVerifyStatus::kUntrusted) {
			if (!untrusted)
				untrusted = last;
			continue;
		}
		if (!last.ok())
			return last;
	}
	if (last.status == OfdVerifyStatus::kUnsigned)
		return last;
	for (const auto &part : parts.All())
		if (!StartsWith(part.name, signs_dir) && !covered.count(part.name))
			return Result(OfdVerifyStatus::kUnreferencedPart, part.name,
			              "part " + part.name + " is not covered by the signature");
	return untrusted ? *untrusted : last;
}

}  // namespace

void SignOfdParts(OfdParts &parts, const OfdSeal &seal, OfdSigner &signer) {
	for (const auto &part : parts.All())
		if (StartsWith(part.name, kSignsDir))
			throw Error(sqlstate::kInvalidParameterValue, "the OFD package is signed already");
	if (seal.picture_png.size() < 8 || seal.picture_png[1] != 'P' || seal.picture_png[2] != 'N')
		throw Error(sqlstate::kInvalidParameterValue, "the seal picture is not a PNG");
	std::string time = seal.signature_time.empty() ? UtcNow() : seal.signature_time;
	if (!IsGeneralizedTime(time))
		throw Error(sqlstate::kInvalidParameterValue, "signature_time is not YYYYMMDDhhmmssZ");

	if (seal.es_id.empty() || seal.es_id.size() > 64)
		throw Error(sqlstate::kInvalidParameterValue, "the seal's esID must have 1 to 64 characters");
	for (char c : seal.es_id)
		if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
			throw Error(sqlstate::kInvalidParameterValue, "the seal's esID must be printable ASCII (IA5String)");
	const Bytes &cert_der = signer.CertificateDer();
	ofd::X509Ptr cert = ofd::CertificateFromDer(cert_der);
	ofd::Algorithm algorithm = ofd::AlgorithmOf(X509_get0_pubkey(cert.get()));

	// OFD.xml gets its Signatures entry first: it is one of the signed parts.
	pugi::xml_document entry;
	ofd::ParsePart(entry, parts.Get("OFD.xml"), "OFD.xml");
	pugi::xml_node body = Child(Child(entry, "OFD"), "DocBody");
	std::string doc_root = PartName(Text(Child(body, "DocRoot")));
	if (!body || doc_root.empty())
		throw Error(sqlstate::kInvalidParameterValue, "OFD.xml has no DocBody/DocRoot");
	Add(body, "Signatures", kSignaturesPart);
	parts.Put("OFD.xml", ofd::Serialize(entry));
	std::string page_id = FirstPageId(parts, doc_root);

	pugi::xml_document signature_doc;
	pugi::xml_node signature = ofd::NewPart(signature_doc, "Signature");
	pugi::xml_node info = Add(signature, "SignedInfo");
	pugi::xml_node provider = Add(info, "Provider");
	provider.append_attribute("ProviderName") = kProvider;
	provider.append_attribute("Version") = "1.0";
	Add(info, "SignatureMethod", ofd::SignatureOid(algorithm));
	Add(info, "SignatureDateTime", time);
	pugi::xml_node references = Add(info, "References");
	references.append_attribute("CheckMethod") = ofd::DigestOid(algorithm);
	for (const auto &part : parts.All()) {
		pugi::xml_node reference = Add(references, "Reference");
		reference.append_attribute("FileRef") = ("/" + part.name).c_str();
		Add(reference, "CheckValue", ofd::Base64Encode(ofd::Digest(algorithm, part.data)));
	}
	pugi::xml_node stamp = Add(info, "StampAnnot");
	stamp.append_attribute("ID") = "1";
	stamp.append_attribute("PageRef") = page_id.c_str();
	stamp.append_attribute("Boundary") =
	    (ofd::Num(seal.x) + " " + ofd::Num(seal.y) + " " + ofd::Num(seal.width) + " " + ofd::Num(seal.height)).c_str();
	Add(signature, "SignedValue", std::string("/") + kSignedValuePart);
	Bytes signature_xml = ofd::Serialize(signature_doc);

	Bytes signed_value =
	    MakeSesSignature(seal, signer, algorithm, cert_der, time, CertNotAfter(cert.get()), signature_xml);

	pugi::xml_document list_doc;
	pugi::xml_node list = ofd::NewPart(list_doc, "Signatures");
	Add(list, "MaxSignId", "1");
	pugi::xml_node sign = Add(list, "Signature");
	sign.append_attribute("ID") = "1";
	sign.append_attribute("Type") = "Seal";
	sign.append_attribute("BaseLoc") = (std::string("/") + kSignaturePart).c_str();

	parts.Put(kSignaturesPart, ofd::Serialize(list_doc));
	parts.Put(kSignaturePart, std::move(signature_xml));
	parts.Put(kSignedValuePart, std::move(signed_value));
}

Bytes SignOfd(const Bytes &zip, const OfdSeal &seal, OfdSigner &signer) {
	OfdParts parts = ReadOfdZip(zip);
	SignOfdParts(parts, seal, signer);
	return WriteOfdZip(parts);
}

void SignOfdParts(OfdParts &parts, const OfdSeal &seal) {
	std::unique_ptr<OfdSigner> signer = MakeKeySigner(seal.private_key_pem, seal.certificate_pem);
	SignOfdParts(parts, seal, *signer);
}

Bytes SignOfd(const Bytes &zip, const OfdSeal &seal) {
	std::unique_ptr<OfdSigner> signer = MakeKeySigner(seal.private_key_pem, seal.certificate_pem);
	return SignOfd(zip, seal, *signer);
}

OfdVerifyResult VerifyOfd(const Bytes &zip, std::string_view expected_certificate_pem,
                          const std::vector<std::string> &trust_anchor_pems) {
	ofd::X509Ptr expected;
	if (!expected_certificate_pem.empty())
		expected = ofd::LoadCertificate(expected_certificate_pem);
	EVP_PKEY *expected_key = expected ? X509_get0_pubkey(expected.get()) : nullptr;
	ofd::TrustAnchors anchors(trust_anchor_pems);
	try {
		return VerifyParts(ReadOfdZip(zip), expected_key, anchors);
	} catch (const Cancelled &) {
		throw;  // not a verdict on the file
	} catch (const OfdEntryNameError &e) {
		// "Doc_0/Signs/../x" is outside the signature's coverage as a viewer
		// resolves it: a part no Reference covers.
		return Result(OfdVerifyStatus::kUnreferencedPart, e.entry(), e.what());
	} catch (const Error &e) {
		// Unreadable ZIP, XML, DER, Base64 or certificate inside the package.
		return Result(OfdVerifyStatus::kMalformed, {}, e.what());
	}
}

const char *OfdVerifyStatusName(OfdVerifyStatus status) noexcept {
	switch (status) {
	case OfdVerifyStatus::kOk: return "ok";
	case OfdVerifyStatus::kUnsigned: return "unsigned";
	case OfdVerifyStatus::kMalformed: return "malformed";
	case OfdVerifyStatus::kMissingPart: return "missing_part";
	case OfdVerifyStatus::kDigestMismatch: return "digest_mismatch";
	case OfdVerifyStatus::kUnreferencedPart: return "unreferenced_part";
	case OfdVerifyStatus::kBadSignature: return "bad_signature";
	case OfdVerifyStatus::kWrongSigner: return "wrong_signer";
	case OfdVerifyStatus::kSealMismatch: return "seal_mismatch";
	case OfdVerifyStatus::kBadSeal: return "bad_seal";
	case OfdVerifyStatus::kOutsideValidity: return "outside_validity";
	case OfdVerifyStatus::kUntrusted: return "untrusted";
	}
	return "unknown";
}

OfdVerdict OfdVerdictOf(OfdVerifyStatus status) noexcept {
	switch (status) {
	case OfdVerifyStatus::kOk: return OfdVerdict::kSealed;
	case OfdVerifyStatus::kUnsigned: return OfdVerdict::kUnsigned;
	case OfdVerifyStatus::kUntrusted: return OfdVerdict::kUntrusted;
	case OfdVerifyStatus::kMalformed: return OfdVerdict::kMalformed;
	case OfdVerifyStatus::kMissingPart:
	case OfdVerifyStatus::kDigestMismatch:
	case OfdVerifyStatus::kUnreferencedPart:
	case OfdVerifyStatus::kBadSignature:
	case OfdVerifyStatus::kWrongSigner:
	case OfdVerifyStatus::kSealMismatch:
	case OfdVerifyStatus::kBadSeal:
	case OfdVerifyStatus::kOutsideValidity: return OfdVerdict::kTampered;
	}
	return OfdVerdict::kMalformed;
}

const char *OfdVerdictName(OfdVerdict verdict) noexcept {
	switch (verdict) {
	case OfdVerdict::kSealed: return "sealed";
	case OfdVerdict::kUnsigned: return "unsigned";
	case OfdVerdict::kUntrusted: return "untrusted";
	case OfdVerdict::kTampered: return "tampered";
	case OfdVerdict::kMalformed: return "malformed";
	}
	return "malformed";
}

}  // namespace elicense::core
