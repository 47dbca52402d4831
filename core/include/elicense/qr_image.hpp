// The QR code image of a licence: a QR symbol (GB/T 27766 = ISO/IEC 18004,
// libqrencode, 8-bit mode, case-sensitive) as a 1-bit black-and-white PNG
// (libpng) with the standard 4-module quiet zone.
#pragma once

#include "elicense/cpp_only.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace elicense::core {

enum class QrEcLevel { kL, kM, kQ, kH };

inline constexpr int kQrQuietZoneModules = 4;
inline constexpr int kMaxQrModulePixels = 64;

// "L", "M", "Q" or "H" (either case); throws Error 22023 otherwise.
QrEcLevel ParseQrEcLevel(std::string_view name);

// PNG bytes of the QR symbol of `text`, `module_px` pixels per module
// (1..kMaxQrModulePixels). Side length: (symbol modules + 8) * module_px.
// \throws Error 22023 for a bad module size, 54000 if the text does not fit
// in a QR symbol at that level.
std::vector<unsigned char> QrPng(std::string_view text, QrEcLevel level, int module_px);

}  // namespace elicense::core
