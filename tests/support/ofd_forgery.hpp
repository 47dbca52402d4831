// Test-only forgeries of a sealed OFD package, the attacks a verifier must
// refuse (issue 19's tamper suite). Each takes a package sealed by
// SignOfdParts and returns the forged package; the forger's key pair is a
// throw-away one. Used by the unit tests and by `elicense-ofd forge` for the
// database tests; never by the core or the extension.
#pragma once

#include "elicense/ofd_package.hpp"
#include "ofd_crypto.hpp"
#include "ofd_der.hpp"
#include "ofd_test_keys.hpp"

#include <pugixml.hpp>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace elicense::test {

namespace forgery {

namespace core = elicense::core;
namespace der = elicense::core::der;
namespace ofd = elicense::core::ofd;

inline constexpr char kContent[] = "Doc_0/Pages/Page_0/Content.xml";
inline constexpr char kSignature[] = "Doc_0/Signs/Sign_0/Signature.xml";
inline constexpr char kSignedValue[] = "Doc_0/Signs/Sign_0/SignedValue.dat";

// A SEQUENCE of `children` (their whole encodings).
inline core::Bytes SequenceOf(const std::vector<der::Element> &children) {
	core::Bytes content;
	for (const der::Element &child : children)
		content.insert(content.end(), child.whole.begin(), child.whole.end());
	return der::Tlv(der::kSequence, content.data(), content.size());
}

inline der::Element Reread(const core::Bytes &whole) {
	return der::Read(whole);
}

inline core::Bytes Serialize(const pugi::xml_document &doc) {
	std::ostringstream out;
	doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
	std::string text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + out.str();
	return core::Bytes(text.begin(), text.end());
}

// Sets the CheckValue of `part`'s Reference in Signature.xml to its SM3
// digest in `parts`, and SignatureDateTime to `time` unless empty.
inline void FixSignatureXml(core::OfdParts &parts, const std::string &part, const std::string &time = {}) {
	const core::Bytes &xml = parts.Get(kSignature);
	pugi::xml_document doc;
	if (!doc.load_buffer(xml.data(), xml.size()))
		throw std::runtime_error("Signature.xml does not parse");
	pugi::xml_node info = doc.child("ofd:Signature").child("ofd:SignedInfo");
	for (pugi::xml_node reference : info.child("ofd:References").children("ofd:Reference"))
		if (std::string(reference.attribute("FileRef").as_string()) == "/" + part)
			reference.child("ofd:CheckValue")
			    .text()
			    .set(ofd::Base64Encode(ofd::Digest(ofd::Algorithm::kSm2Sm3, parts.Get(part))).c_str());
	if (!time.empty())
		info.child("ofd:SignatureDateTime").text().set(time.c_str());
	parts.Put(kSignature, Serialize(doc));
}

// The SES_Signature rebuilt: TBS_Sign with `eseal` (unchanged if empty),
// timeInfo `time` (unchanged if empty) and the dataHash of the current
// Signature.xml; signed by `signer` (nullptr: the old signature value kept)
// and carrying `signer_cert_der` (empty: the old certificate kept).
inline void RebuildSes(core::OfdParts &parts, const core::Bytes &eseal, const std::string &time, EVP_PKEY *signer,
                       const core::Bytes &signer_cert_der) {
	std::vector<der::Element> ses = der::Children(der::Read(parts.Get(kSignedValue)));
	std::vector<der::Element> tbs = der::Children(ses[0]);
	if (!eseal.empty())
		tbs[1] = Reread(eseal);
	if (!time.empty())
		tbs[2] = Reread(der::String(der::kGeneralizedTime, time));
	tbs[3] = Reread(der::Bits(ofd::Digest(ofd::Algorithm::kSm2Sm3, parts.Get(kSignature))));
	ses[0] = Reread(SequenceOf(tbs));
	if (!signer_cert_der.empty())
		ses[1] = Reread(der::Octets(signer_cert_der));
	if (signer)
		ses[3] = Reread(der::Bits(ofd::Sign(signer, ofd::Algorithm::kSm2Sm3, ses[0].whole)));
	parts.Put(kSignedValue, SequenceOf(ses));
}

// The SESeal of the package with its picture replaced by `png` (if not
// empty) and `extra_cert_der` added to its certificate list (if not empty);
// the maker's signature is kept, so it no longer matches.
inline core::Bytes ChangedSeal(const core::OfdParts &parts, const core::Bytes &png, const core::Bytes &extra_cert_der) {
	std::vector<der::Element> tbs = der::Children(der::Children(der::Read(parts.Get(kSignedValue)))[0]);
	std::vector<der::Element> eseal = der::Children(tbs[1]);
	std::vector<der::Element> info = der::Children(eseal[0]);
	if (!png.empty()) {
		std::vector<der::Element> picture = der::Children(info[3]);
		picture[1] = Reread(der::Octets(png));
		info[3] = Reread(SequenceOf(picture));
	}
	if (!extra_cert_der.empty()) {
		std::vector<der::Element> property = der::Children(info[2]);
		std::vector<der::Element> certs = der::Children(property[3]);
		certs.push_back(Reread(der::Octets(extra_cert_der)));
		property[3] = Reread(SequenceOf(certs));
		info[2] = Reread(SequenceOf(property));
	}
	eseal[0] = Reread(SequenceOf(info));
	return SequenceOf(eseal);
}

// A whole new seal made by `maker` listing `maker`'s certificate.
inline core::Bytes SelfMadeSeal(const core::OfdParts &parts, EVP_PKEY *maker, const core::Bytes &maker_cert_der) {
	std::vector<der::Element> tbs = der::Children(der::Children(der::Read(parts.Get(kSignedValue)))[0]);
	std::vector<der::Element> eseal = der::Children(tbs[1]);
	std::vector<der::Element> info = der::Children(eseal[0]);
	std::vector<der::Element> property = der::Children(info[2]);
	property[3] = Reread(SequenceOf({Reread(der::Octets(maker_cert_der))}));
	info[2] = Reread(SequenceOf(property));
	eseal[0] = Reread(SequenceOf(info));
	eseal[1] = Reread(der::Octets(maker_cert_der));
	core::Bytes to_sign = SequenceOf({eseal[0], eseal[1], eseal[2]});
	eseal[3] = Reread(der::Bits(ofd::Sign(maker, ofd::Algorithm::kSm2Sm3, to_sign)));
	return SequenceOf(eseal);
}

inline core::Bytes CertDer(const TestKeyPair &keys) {
	ofd::X509Ptr cert = ofd::LoadCertificate(keys.certificate_pem);
	return ofd::CertificateDer(cert.get());
}

inline void FlipContentByte(core::OfdParts &parts) {
	core::Bytes content = parts.Get(kContent);
	content[content.size() / 2] ^= 0x01;
	parts.Put(kContent, content);
}

}  // namespace forgery

// Issue 19's forged re-signature: a byte of Content.xml changed, that
// Reference's digest and the TBS dataHash fixed, re-signed with the forger's
// key and the forger's certificate put in the SES_Signature (the seal kept).
inline core::Bytes ForgeResignature(const core::Bytes &sealed, const TestKeyPair &forger) {
	core::OfdParts parts = core::ReadOfdZip(sealed);
	forgery::FlipContentByte(parts);
	forgery::FixSignatureXml(parts, forgery::kContent);
	core::ofd::PkeyPtr key = core::ofd::LoadPrivateKey(forger.private_key_pem);
	forgery::RebuildSes(parts, {}, {}, key.get(), forgery::CertDer(forger));
	return core::WriteOfdZip(parts);
}

// The same, with a whole seal the forger made for the forger's certificate:
// every signature verifies, only the trust anchors tell it apart.
inline core::Bytes ForgeWithOwnSeal(const core::Bytes &sealed, const TestKeyPair &forger) {
	core::OfdParts parts = core::ReadOfdZip(sealed);
	forgery::FlipContentByte(parts);
	forgery::FixSignatureXml(parts, forgery::kContent);
	core::ofd::PkeyPtr key = core::ofd::LoadPrivateKey(forger.private_key_pem);
	core::Bytes cert = forgery::CertDer(forger);
	forgery::RebuildSes(parts, forgery::SelfMadeSeal(parts, key.get(), cert), {}, key.get(), cert);
	return core::WriteOfdZip(parts);
}

// Another seal picture in the seal, the forger's certificate added to the
// seal's list and the TBS re-signed by the forger: only the seal maker's
// signature (kept) no longer matches.
inline core::Bytes SwapSealPicture(const core::Bytes &sealed, const core::Bytes &png, const TestKeyPair &forger) {
	core::OfdParts parts = core::ReadOfdZip(sealed);
	core::Bytes cert = forgery::CertDer(forger);
	core::ofd::PkeyPtr key = core::ofd::LoadPrivateKey(forger.private_key_pem);
	forgery::RebuildSes(parts, forgery::ChangedSeal(parts, png, cert), {}, key.get(), cert);
	return core::WriteOfdZip(parts);
}

// The signing time moved to `time` in Signature.xml and the TBS, the dataHash
// fixed; re-signed by `signer` when given (the key's holder backdating),
// else the old signature value kept (anyone else).
inline core::Bytes MoveSigningTime(const core::Bytes &sealed, const std::string &time,
                                   const TestKeyPair *signer = nullptr) {
	core::OfdParts parts = core::ReadOfdZip(sealed);
	forgery::FixSignatureXml(parts, forgery::kContent, time);
	core::ofd::PkeyPtr key = signer ? core::ofd::LoadPrivateKey(signer->private_key_pem) : nullptr;
	forgery::RebuildSes(parts, {}, time, key.get(), {});
	return core::WriteOfdZip(parts);
}

// An extra entry "Doc_0/Signs/../Pages/Page_0/Content.xml": under Signs/ to
// a naive coverage check, the page itself to a viewer that normalises.
inline core::Bytes AddPartUnderSigns(const core::Bytes &sealed) {
	core::OfdParts parts = core::ReadOfdZip(sealed);
	std::string page = "<ofd:Page xmlns:ofd=\"http://www.ofdspec.org/2016\">forged</ofd:Page>";
	parts.Put("Doc_0/Signs/../Pages/Page_0/Content.xml", core::Bytes(page.begin(), page.end()));
	return core::WriteOfdZip(parts);
}

}  // namespace elicense::test
