// Lays a field value out in its box: wraps it into lines no wider than the
// box, shrinks the font when the lines do not fit, and gives every character
// its advance (OFD TextCode DeltaX: ofd.js places each character by it).
// Widths are estimated without font metrics: CJK and full-width characters
// are one em wide, everything else half an em, which holds for 宋体/仿宋/黑体.
#pragma once

#include "elicense/cpp_only.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace elicense::core::ofd {

struct TextLine {
	std::string text;              // UTF-8, control characters removed
	std::vector<double> advances;  // one per character, mm
	double width = 0;              // mm
};

struct TextBlock {
	double size = 0;  // font size used, mm
	std::vector<TextLine> lines;
};

// Splits into lines of at most `width` mm at `size` mm; '\n' breaks a line,
// other control characters are dropped. Throws Error (22P02) on invalid UTF-8.
std::vector<TextLine> WrapText(std::string_view text, double size, double width);

// Wraps at `size`, and shrinks in 5 % steps down to `min_scale` of it until
// the text takes at most `max_lines` lines. Throws Error (22023) naming
// `what` if it still does not fit.
TextBlock FitText(std::string_view text, double size, double width, int max_lines, std::string_view what,
                  double min_scale = 0.5);

// One line, no wrapping (titles, watermarks).
TextLine SingleLine(std::string_view text, double size);

constexpr double PointsToMm(double points) {
	return points * 25.4 / 72.0;
}

}  // namespace elicense::core::ofd
