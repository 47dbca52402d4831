// Draws the first page of an OFD licence as SVG, so a browser (or librsvg on
// the preview server) shows it without an OFD plug-in. It reads
// what our writer produces (ofd_writer.hpp): text objects with per-glyph
// DeltaX, image objects (the QR PNG), path objects (the frame), the page's
// annotations (the platform watermark, the purpose note) and the seal's
// stamp with the picture taken out of SignedValue.dat (GB/T 38540). Other
// OFD features (clipping, patterns, embedded fonts, several pages) are not
// drawn.
//
// Units stay millimetres: the SVG viewBox is the page's PhysicalBox, and its
// width/height attributes are the pixel size at `pixels_per_mm`. Fonts are
// named by their OFD FontName and FamilyName followed by free fonts that
// stand in for them (Noto CJK from Debian's fonts-noto-cjk), so the page
// renders the same on a machine without the Windows government faces.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <string>
#include <string_view>

namespace elicense::core {

struct OfdSvgOptions {
	double pixels_per_mm = 150 / 25.4;  // 150 dpi
	bool annotations = true;            // watermark and purpose note
	bool seal = true;                   // the stamp picture of each signature
};

// The CSS font-family list for an OFD font (FontName, FamilyName).
std::string OfdSvgFontFamily(std::string_view font_name, std::string_view family_name);

// SVG (UTF-8) of the first page. Throws Error (22P02) if a part it needs is
// missing or not XML.
std::string OfdPageToSvg(const OfdParts &parts, const OfdSvgOptions &options = {});

}  // namespace elicense::core
