// The fonts an elicense OFD file names. Fonts are referenced, not embedded:
// the licence uses the three standard Chinese government-document faces, and
// some readers (ofd.js) ignore embedded fonts anyway. A viewer needs fonts
// that answer to these family names (Windows ships them as simsun.ttc,
// simfang.ttf, simhei.ttf; on Linux fonts-arphic or fonts-noto-cjk stand in
// through fontconfig aliases).
#pragma once

#include "elicense/cpp_only.hpp"

#include <array>
#include <string_view>

namespace elicense::core {

struct OfdFont {
	std::string_view name;         // as templates write it
	std::string_view font_name;    // OFD FontName
	std::string_view family_name;  // OFD FamilyName
};

inline constexpr std::array<OfdFont, 3> kOfdFonts = {{
    {"宋体", "SimSun", "宋体"},
    {"仿宋", "FangSong", "仿宋"},
    {"黑体", "SimHei", "黑体"},
}};

// Index in kOfdFonts of a font given by template name, FontName or
// FamilyName; -1 if unknown.
inline int FindOfdFont(std::string_view name) noexcept {
	for (std::size_t i = 0; i < kOfdFonts.size(); ++i)
		if (name == kOfdFonts[i].name || name == kOfdFonts[i].font_name || name == kOfdFonts[i].family_name)
			return static_cast<int>(i);
	return -1;
}

}  // namespace elicense::core
