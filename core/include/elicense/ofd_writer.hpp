// Renders a licence as an OFD file (GB/T 33190-2016) from a face template, the
// field values and the QR code PNG ("data + template", seed 000 §4.5), with
// the platform watermark (§8.2), an optional purpose-and-validity note for
// copies to other departments (§8.4) and an optional seal (ofd_signature.hpp).
//
// Package layout:
//   OFD.xml                          DocBody: DocInfo, DocRoot[, Signatures]
//   Doc_0/Document.xml               CommonData (MaxUnitID, PageArea A4, res), Pages, Annotations
//   Doc_0/PublicRes.xml              fonts, by name (not embedded, see ofd_fonts.hpp)
//   Doc_0/DocumentRes.xml            the QR image (MultiMedia)
//   Doc_0/Res/qr.png
//   Doc_0/Pages/Page_0/Content.xml   frame, title, labels, values, QR
//   Doc_0/Annots.xml                 (with annotations)
//   Doc_0/Pages/Page_0/Annotation.xml
//   Doc_0/Signs/...                  (when sealed)
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_template.hpp"

#include <map>
#include <string>
#include <string_view>

namespace elicense::core {

// The watermark every file delivered to the platform carries (seed 000 §8.2).
inline constexpr char kPlatformWatermark[] = "仅供全国工程质量安全监管信息平台信息公开使用";
inline constexpr double kWatermarkSizePt = 24;
inline constexpr char kWatermarkFont[] = "仿宋";
inline constexpr char kWatermarkColor[] = "128 128 128";

struct OfdRenderOptions {
	bool watermark = true;
	std::string watermark_text = kPlatformWatermark;
	// Second annotation for copies given to other departments (§8.4); both
	// set or both empty.
	std::string purpose;
	std::string valid_until;
	std::string doc_id;         // 32 hex digits; empty: random
	std::string creation_date;  // YYYY-MM-DD; empty: today (UTC)
	std::string creator = "elicense";
	bool deflate = false;  // deflate XML parts (slower, see WriteOfdZip)
};

using OfdFieldValues = std::map<std::string, std::string>;

// Field values from a JSON object of strings ({"cert_no": "…", …}); JSON
// null stands for an empty value. Throws Error (22P02 bad JSON, 22023 a
// value that is not a string) naming the key.
OfdFieldValues ParseOfdFieldValues(std::string_view json);

// Builds the unsigned parts. Every template field must have a value (an
// empty string prints nothing); values without a field are rejected so a
// misspelt key is not silently dropped. Throws Error (22023) otherwise.
OfdParts BuildLicenceParts(const OfdTemplate &face, const OfdFieldValues &values, const Bytes &qr_png,
                           const OfdRenderOptions &options);

// BuildLicenceParts, sealed when `seal` is given (the seal goes in the
// template's seal box on the page), as ZIP bytes.
Bytes RenderLicenceOfd(const OfdTemplate &face, const OfdFieldValues &values, const Bytes &qr_png,
                       const OfdRenderOptions &options, const OfdSeal *seal = nullptr);

}  // namespace elicense::core
