// libFuzzer target for rendering a licence file from caller input: the face
// template (render_licence_ofd's jsonb argument, a DBA's template row) and
// the field values. The input is "<template JSON>\0<values JSON>"; the first
// byte's low three bits pick a cancellation (0 none, else the check says stop
// at its (2^n)-th call), as statement_timeout would mid-render.
// Besides "no crash, no sanitizer report" (and no allocation over the
// -malloc_limit_mb tests/run sets): only core::Error escapes, a cancelled
// render ends with core::Cancelled alone, and every package the writer
// produces is one the reader accepts (the same limits on both sides).
#include "elicense/cancel.hpp"
#include "elicense/ofd_package.hpp"
#include "elicense/ofd_template.hpp"
#include "elicense/ofd_writer.hpp"
#include "../support/ofd_test_keys.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace core = elicense::core;

namespace {

int checks_left = 0;
bool StopWhenCountedDown() noexcept {
	return --checks_left == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	if (size == 0)
		return 0;
	static const core::Bytes qr = elicense::test::TinyPng();
	int cancel_at = data[0] & 7;
	std::string_view rest(reinterpret_cast<const char *>(data + 1), size - 1);
	std::size_t split = rest.find('\0');
	std::string_view template_json = rest.substr(0, split);
	std::string_view values_json = split == std::string_view::npos ? std::string_view("{}") : rest.substr(split + 1);

	core::Bytes zip;
	try {
		checks_left = cancel_at == 0 ? -1 : 1 << (cancel_at - 1);
		core::ScopedCancelCheck cancel(cancel_at == 0 ? nullptr : StopWhenCountedDown);
		core::OfdRenderOptions options;
		options.doc_id = "00112233445566778899aabbccddeeff";
		options.creation_date = "2026-11-29";
		zip = core::RenderLicenceOfd(core::ParseOfdTemplate(template_json), core::ParseOfdFieldValues(values_json), qr,
		                             options);
	} catch (const core::Cancelled &) {
		if (cancel_at == 0)
			std::abort();  // cancelled without a check installed
		return 0;
	} catch (const core::Error &) {
		return 0;  // refused with its SQLSTATE: what the glue reports
	} catch (...) {
		std::abort();
	}
	try {
		core::ReadOfdZip(zip);
	} catch (...) {
		std::abort();  // we wrote a package we cannot read
	}
	return 0;
}
