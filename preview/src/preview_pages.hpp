// The HTML the preview server answers with. No scripts, no links, no
// external resources: the licence page carries its picture as a data: URI,
// so the Content-Security-Policy can forbid everything else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace elicense::preview {

// Headers every answer carries (no caching anywhere, no sniffing, nothing
// loaded from elsewhere, no Referer carrying the token away).
inline constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

// The page showing the watermarked licence as a PNG. It does not depend on
// the version beyond the picture, so it is cached whole by content hash.
std::string LicencePage(const std::vector<std::uint8_t> &png);

// The page shown instead of a licence: why it is not valid (status as
// preview_open returns it), for which version.
std::string StatusPage(const std::string &status, const std::string &identifier, int version);

// A short page for 404, 410, 503 and other errors.
std::string ErrorPage(int code);

// People-facing words for a status: Chinese, then English.
std::string StatusLabel(const std::string &status);

}  // namespace elicense::preview
