// SVG -> PNG on the server (librsvg draws, cairo writes the PNG), so the
// preview needs nothing but an <img> in the browser. Text goes through
// pango and fontconfig: the fonts the SVG names must be installed (Debian
// fonts-noto-cjk stands in for the Windows government faces, ofd_svg.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace elicense::preview {

using Bytes = std::vector<std::uint8_t>;

// Throws std::runtime_error if the SVG cannot be read or drawn, or if its
// pixel size is not in 1..max_side on either side.
Bytes RasteriseSvg(const std::string &svg, int max_side = 4000);

}  // namespace elicense::preview
