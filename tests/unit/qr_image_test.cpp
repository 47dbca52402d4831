// The QR PNG: a PNG signature, a 1-bit grayscale IHDR of the right size,
// white quiet zone, black finder pattern corners, every EC level and module
// size, and the errors for bad options and oversized text.
#include "elicense/error.hpp"
#include "elicense/qr_image.hpp"

#include <gtest/gtest.h>

#include <png.h>

#include <cstring>

namespace elicense::core {
namespace {

constexpr char kUrl[] =
    "https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=8B9704DDABA730072E5546FD5B8F61E4890FE52BAB2E71B8&k=XX8U+"
    "FFI3yRWEZ0UQ1qJxS+gsdth779BypvXY5MKfNRELdegoHfCoymJUNG4Q/rTco69eBZ1TYEK+rCNrCbVAg==&certype=11100000000013338W050&"
    "province=510000";

std::uint32_t BigEndian32(const unsigned char *p) {
	return std::uint32_t {p[0]} << 24 | std::uint32_t {p[1]} << 16 | std::uint32_t {p[2]} << 8 | p[3];
}

// 8-bit gray pixels of a PNG, via libpng's simplified read API.
std::vector<unsigned char> Pixels(const std::vector<unsigned char> &png, png_uint_32 &side) {
	png_image image;
	std::memset(&image, 0, sizeof image);
	image.version = PNG_IMAGE_VERSION;
	EXPECT_TRUE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
	image.format = PNG_FORMAT_GRAY;
	std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(image));
	EXPECT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr));
	EXPECT_EQ(image.width, image.height);
	side = image.width;
	return pixels;
}

TEST(QrPng, HeaderSizeQuietZoneAndFinder) {
	for (QrEcLevel level : {QrEcLevel::kL, QrEcLevel::kM, QrEcLevel::kQ, QrEcLevel::kH}) {
		for (int px : {1, 4, 7}) {
			std::vector<unsigned char> png = QrPng(kUrl, level, px);
			ASSERT_GT(png.size(), 33u);
			EXPECT_EQ(std::memcmp(png.data(), "\x89PNG\r\n\x1a\n", 8), 0);
			EXPECT_EQ(std::memcmp(png.data() + 12, "IHDR", 4), 0);
			std::uint32_t width = BigEndian32(png.data() + 16);
			EXPECT_EQ(width, BigEndian32(png.data() + 20));
			EXPECT_EQ(png[24], 1) << "bit depth 1";
			EXPECT_EQ(png[25], 0) << "grayscale";
			ASSERT_EQ(width % px, 0u);
			std::uint32_t modules = width / px - 2 * kQrQuietZoneModules;
			EXPECT_EQ((modules - 17) % 4, 0u) << "QR versions have 21, 25, ... modules";
			png_uint_32 side = 0;
			std::vector<unsigned char> pixels = Pixels(png, side);
			ASSERT_EQ(side, width);
			std::uint32_t quiet = kQrQuietZoneModules * px;
			for (std::uint32_t i = 0; i < side; ++i)
				for (std::uint32_t j = 0; j < quiet; ++j) {
					ASSERT_EQ(pixels[j * side + i], 255) << "top quiet zone";
					ASSERT_EQ(pixels[(side - 1 - j) * side + i], 255) << "bottom quiet zone";
					ASSERT_EQ(pixels[i * side + j], 255) << "left quiet zone";
					ASSERT_EQ(pixels[i * side + side - 1 - j], 255) << "right quiet zone";
				}
			EXPECT_EQ(pixels[quiet * side + quiet], 0) << "top-left finder";
			EXPECT_EQ(pixels[quiet * side + side - 1 - quiet], 0) << "top-right finder";
			EXPECT_EQ(pixels[(side - 1 - quiet) * side + quiet], 0) << "bottom-left finder";
			EXPECT_EQ(pixels[(quiet + px) * side + quiet + px], 255) << "white ring inside the finder";
		}
	}
}

TEST(QrPng, HigherLevelsNeedMoreModules) {
	EXPECT_LT(QrPng(kUrl, QrEcLevel::kL, 1).size(), QrPng(kUrl, QrEcLevel::kH, 1).size());
	EXPECT_EQ(QrPng(kUrl, QrEcLevel::kM, 2), QrPng(kUrl, QrEcLevel::kM, 2)) << "deterministic";
}

TEST(QrPng, Errors) {
	EXPECT_EQ(ParseQrEcLevel("q"), QrEcLevel::kQ);
	for (int px : {0, -1, kMaxQrModulePixels + 1}) {
		try {
			QrPng(kUrl, QrEcLevel::kM, px);
			ADD_FAILURE() << px;
		} catch (const Error &e) {
			EXPECT_STREQ(e.sqlstate(), "22023");
		}
	}
	try {
		ParseQrEcLevel("X");
		ADD_FAILURE();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22023");
		EXPECT_STREQ(e.what(), "unknown QR error correction level \"X\"");
	}
	try {
		QrPng(std::string(3000, 'a'), QrEcLevel::kH, 1);
		ADD_FAILURE();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "54000");
	}
	try {
		QrPng("", QrEcLevel::kM, 1);
		ADD_FAILURE();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22023");
	}
}

}  // namespace
}  // namespace elicense::core
