// QR symbol with libqrencode, PNG with libpng (see qr_image.hpp).
//
// libpng reports errors with longjmp. A longjmp must not skip a C++
// destructor, so all libpng calls live in WritePngRows(), which holds only
// plain pointers and ints across its setjmp; the C++ objects (the output
// vector, the row buffer, the QRcode handle) belong to the caller, whose
// frame the longjmp never leaves. The write callback catches
// std::bad_alloc itself and turns it into png_error(), so no C++ exception
// crosses libpng's C frames either.
#include "elicense/qr_image.hpp"

#include "elicense/limits.hpp"

#include "elicense/error.hpp"

#include <png.h>
#include <qrencode.h>

#include <cerrno>
#include <cstddef>
#include <csetjmp>
#include <memory>

namespace elicense::core {
namespace {

struct QrcodeFree {
	void operator()(QRcode *p) const noexcept {
		QRcode_free(p);
	}
};

// Everything WritePngRows needs, as plain data.
struct PngJob {
	const unsigned char *modules;  // libqrencode's width*width bytes, bit 0 = dark
	int symbol_width;              // modules per side without quiet zone
	int module_px;
	std::vector<unsigned char> *out;
	unsigned char *row;  // (side + 7) / 8 bytes
	bool out_of_memory;
};

void AppendBytes(png_structp png, png_bytep data, png_size_t length) {
	auto *job = static_cast<PngJob *>(png_get_io_ptr(png));
	bool failed = false;
	try {
		job->out->insert(job->out->end(), data, data + length);
	} catch (...) {
		failed = true;
	}
	if (failed) {
		job->out_of_memory = true;
		png_error(png, "out of memory");
	}
}

void FlushNothing(png_structp) {
}

// libpng's default handlers print to stderr (the server log); ours are quiet.
void QuietError(png_structp png, png_const_charp) {
	png_longjmp(png, 1);
}

void QuietWarning(png_structp, png_const_charp) {
}

// Packs the pixel row of module row `my` (-kQrQuietZoneModules .. width +
// kQrQuietZoneModules - 1) into job->row: 1 bit per pixel, 0 black, 1 white
// (PNG grayscale). Work is per dark module, not per pixel: the module rows
// repeat module_px times unchanged.
void FillRow(const PngJob *job, int my, int side_px) {
	int row_bytes = (side_px + 7) / 8;
	for (int i = 0; i < row_bytes; ++i)
		job->row[i] = 0xFF;
	if (my < 0 || my >= job->symbol_width)
		return;
	const unsigned char *line = job->modules + static_cast<std::ptrdiff_t>(my) * job->symbol_width;
	for (int mx = 0; mx < job->symbol_width; ++mx) {
		if (!(line[mx] & 1))
			continue;
		int x0 = (mx + kQrQuietZoneModules) * job->module_px;
		for (int x = x0; x < x0 + job->module_px; ++x)
			job->row[x >> 3] &= static_cast<unsigned char>(~(0x80u >> (x & 7)));
	}
}

// Writes the PNG; false if libpng failed. No C++ object with a destructor
// is live in this frame.
bool WritePngRows(PngJob *job) noexcept {
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, QuietError, QuietWarning);
	if (png == nullptr)
		return false;
	png_infop info = png_create_info_struct(png);
	if (info == nullptr) {
		png_destroy_write_struct(&png, nullptr);
		return false;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return false;
	}
	int side_px = (job->symbol_width + 2 * kQrQuietZoneModules) * job->module_px;
	png_set_write_fn(png, job, AppendBytes, FlushNothing);
	png_set_IHDR(png, info, static_cast<png_uint_32>(side_px), static_cast<png_uint_32>(side_px), 1,
	             PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	// Filters do not help 1-bit images. A small zlib window and hash table
	// keep deflate's state under glibc's mmap threshold: the default state
	// (~256 KiB) was mapped and unmapped on every call, and its page faults
	// cost more than the compression. Level 3 (measured on a real URL, M,
	// 4 px): 1083 bytes in ~0.13 ms; level 9: 936 bytes in ~1.2 ms.
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_set_compression_window_bits(png, 12);
	png_set_compression_mem_level(png, 5);
	png_set_compression_level(png, 3);
	png_write_info(png, info);
	for (int my = -kQrQuietZoneModules; my < job->symbol_width + kQrQuietZoneModules; ++my) {
		FillRow(job, my, side_px);
		for (int i = 0; i < job->module_px; ++i)
			png_write_row(png, job->row);
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	return true;
}

QRecLevel ToQrencode(QrEcLevel level) noexcept {
	switch (level) {
	case QrEcLevel::kL: return QR_ECLEVEL_L;
	case QrEcLevel::kM: return QR_ECLEVEL_M;
	case QrEcLevel::kQ: return QR_ECLEVEL_Q;
	case QrEcLevel::kH: break;
	}
	return QR_ECLEVEL_H;
}

}  // namespace

QrEcLevel ParseQrEcLevel(std::string_view name) {
	if (name == "L" || name == "l")
		return QrEcLevel::kL;
	if (name == "M" || name == "m")
		return QrEcLevel::kM;
	if (name == "Q" || name == "q")
		return QrEcLevel::kQ;
	if (name == "H" || name == "h")
		return QrEcLevel::kH;
	throw Error(sqlstate::kInvalidParameterValue,
	            "unknown QR error correction level \"" + std::string(name.substr(0, 16)) + "\"", {},
	            "Use L (7%), M (15%), Q (25%) or H (30%).");
}

std::vector<unsigned char> QrPng(std::string_view text, QrEcLevel level, int module_px) {
	if (module_px < 1 || module_px > kMaxQrModulePixels)
		throw Error(sqlstate::kInvalidParameterValue,
		            "QR module size " + std::to_string(module_px) + " is out of range", {},
		            "Give 1 to " + std::to_string(kMaxQrModulePixels) + " pixels per module.");
	// Before anything is allocated or encoded: libqrencode would first build
	// data structures proportional to any length it is given.
	if (text.size() > kMaxQrTextBytes)
		throw Error(sqlstate::kProgramLimitExceeded,
		            "the QR text of " + std::to_string(text.size()) + " bytes does not fit in a QR symbol", {},
		            "A QR symbol holds at most " + std::to_string(kMaxQrTextBytes) +
		                " bytes, at error correction level L: use a shorter text.");
	if (text.empty() || text.find('\0') != std::string_view::npos)
		throw Error(sqlstate::kInvalidParameterValue, "QR text is empty or contains a NUL character");
	std::string c_text(text);
	errno = 0;
	std::unique_ptr<QRcode, QrcodeFree> qr(QRcode_encodeString(c_text.c_str(), 0, ToQrencode(level), QR_MODE_8, 1));
	if (!qr) {
		if (errno == ERANGE)
			throw Error(sqlstate::kProgramLimitExceeded,
			            "the QR text of " + std::to_string(text.size()) + " bytes does not fit in a QR symbol", {},
			            "Use a lower error correction level or a shorter text.");
		if (errno == ENOMEM)
			throw std::bad_alloc();
		throw Error(sqlstate::kInternalError, "libqrencode failed to encode the QR text");
	}
	int side_px = (qr->width + 2 * kQrQuietZoneModules) * module_px;
	std::vector<unsigned char> row(static_cast<std::size_t>((side_px + 7) / 8));
	std::vector<unsigned char> png;
	png.reserve(1024);
	PngJob job {qr->data, qr->width, module_px, &png, row.data(), false};
	if (!WritePngRows(&job)) {
		if (job.out_of_memory)
			throw std::bad_alloc();
		throw Error(sqlstate::kInternalError, "libpng failed to write the QR image");
	}
	return png;
}

}  // namespace elicense::core
