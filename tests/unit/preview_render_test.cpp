// The preview server's parts without a database: a licence drawn to PNG
// (size, white page, dark QR corner, grey watermark pixels, red frame), the
// rendered-page cache (LRU by bytes), the render gate (cap and deadline),
// the pages (no script, status words, escaping) and the config checks.
#include "elicense/ofd_svg.hpp"
#include "elicense/ofd_writer.hpp"
#include "ofd_sample_fields.hpp"
#include "png_rasteriser.hpp"
#include "preview_config.hpp"
#include "preview_pages.hpp"
#include "render_cache.hpp"
#include "render_gate.hpp"

#include <gtest/gtest.h>
#include <png.h>
#include <qrencode.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

namespace elicense::preview {
namespace {

struct Rgb {
	std::vector<unsigned char> pixels;
	unsigned width = 0, height = 0;
	const unsigned char *At(unsigned x, unsigned y) const {
		return &pixels[(static_cast<std::size_t>(y) * width + x) * 3];
	}
};

Rgb Decode(const Bytes &png) {
	png_image image;
	std::memset(&image, 0, sizeof image);
	image.version = PNG_IMAGE_VERSION;
	EXPECT_TRUE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
	image.format = PNG_FORMAT_RGB;
	Rgb rgb;
	rgb.pixels.resize(PNG_IMAGE_SIZE(image));
	EXPECT_TRUE(png_image_finish_read(&image, nullptr, rgb.pixels.data(), 0, nullptr));
	rgb.width = image.width;
	rgb.height = image.height;
	return rgb;
}

// A real QR PNG (so the page has something to draw where the QR goes).
Bytes QrPng() {
	QRcode *code =
	    QRcode_encodeString("https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=1", 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int scale = 4, side = (code->width + 8) * scale;
	std::vector<unsigned char> gray(static_cast<std::size_t>(side) * side, 255);
	for (int y = 0; y < code->width; ++y)
		for (int x = 0; x < code->width; ++x)
			if (code->data[y * code->width + x] & 1)
				for (int dy = 0; dy < scale; ++dy)
					for (int dx = 0; dx < scale; ++dx)
						gray[static_cast<std::size_t>((y + 4) * scale + dy) * side + (x + 4) * scale + dx] = 0;
	QRcode_free(code);
	png_image image;
	std::memset(&image, 0, sizeof image);
	image.version = PNG_IMAGE_VERSION;
	image.width = image.height = static_cast<png_uint_32>(side);
	image.format = PNG_FORMAT_GRAY;
	png_alloc_size_t size = 0;
	png_image_write_to_memory(&image, nullptr, &size, 0, gray.data(), 0, nullptr);
	Bytes png(size);
	EXPECT_TRUE(png_image_write_to_memory(&image, png.data(), &size, 0, gray.data(), 0, nullptr));
	png.resize(size);
	return png;
}

TEST(PreviewRender, LicencePageToPng) {
	core::OfdTemplate face =
	    core::LoadOfdTemplateFile(std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/W050.json");
	core::OfdRenderOptions options;
	options.doc_id = "0123456789abcdef0123456789abcdef";
	options.creation_date = "2026-11-23";
	core::OfdParts parts = core::ReadOfdZip(core::RenderLicenceOfd(face, SampleW050Values(), QrPng(), options));
	core::OfdSvgOptions svg_options;
	svg_options.pixels_per_mm = 4;
	Rgb page = Decode(RasteriseSvg(core::OfdPageToSvg(parts, svg_options)));
	ASSERT_EQ(page.width, 840u);
	ASSERT_EQ(page.height, 1188u);
	auto mm = [](double v) { return static_cast<unsigned>(v * 4); };
	// Page corner white; frame red (176,32,32) at the margin.
	EXPECT_EQ(page.At(1, 1)[0], 255);
	const unsigned char *frame = page.At(mm(face.frame_margin), mm(100));
	EXPECT_GT(frame[0], 120);
	EXPECT_LT(frame[1], 100);
	// The QR's top-left finder pattern: dark just inside its quiet zone.
	// The QR box: a good share of its pixels dark (modules), the rest white.
	int dark = 0, all = 0;
	for (unsigned y = mm(face.qr.y); y < mm(face.qr.y + face.qr.size); ++y)
		for (unsigned x = mm(face.qr.x); x < mm(face.qr.x + face.qr.size); ++x, ++all)
			dark += page.At(x, y)[0] < 80;
	EXPECT_GT(dark, all / 5) << "QR not drawn";
	EXPECT_LT(dark, all * 3 / 4);
	// Grey (128,128,128) pixels of the watermark across the middle band.
	int grey = 0;
	for (unsigned y = mm(130); y < mm(170); ++y)
		for (unsigned x = 0; x < page.width; ++x) {
			const unsigned char *p = page.At(x, y);
			grey += p[0] > 110 && p[0] < 146 && p[0] == p[1] && p[1] == p[2];
		}
	EXPECT_GT(grey, 1000) << "no watermark";
}

TEST(PreviewRender, BadSvgAndHugeSizesAreRefused) {
	EXPECT_THROW(RasteriseSvg("not svg"), std::runtime_error);
	EXPECT_THROW(RasteriseSvg("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100000\" height=\"10\"/>"),
	             std::runtime_error);
	EXPECT_NO_THROW(RasteriseSvg("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>"));
}

RenderCache::Page Blob(std::size_t size) {
	return std::make_shared<const std::vector<std::uint8_t>>(size, 1);
}

TEST(RenderCache, LeastRecentlyUsedOutByBytes) {
	RenderCache cache(300);
	cache.Put("a", Blob(100));
	cache.Put("b", Blob(100));
	cache.Put("c", Blob(100));
	EXPECT_TRUE(cache.Get("a"));  // a is now the most recent
	cache.Put("d", Blob(100));    // evicts b
	EXPECT_FALSE(cache.Get("b"));
	EXPECT_TRUE(cache.Get("a"));
	EXPECT_TRUE(cache.Get("c"));
	EXPECT_TRUE(cache.Get("d"));
	EXPECT_EQ(cache.bytes(), 300u);
	cache.Put("huge", Blob(301));  // larger than the cache: not kept, nothing evicted
	EXPECT_FALSE(cache.Get("huge"));
	EXPECT_EQ(cache.entries(), 3u);
	cache.Put("a", Blob(50));  // replaced, bytes follow
	EXPECT_EQ(cache.bytes(), 250u);
}

TEST(RenderGate, CapsConcurrencyAndGivesUp) {
	RenderGate gate(2);
	std::atomic<int> inside {0}, most {0}, refused {0};
	std::vector<std::thread> threads;
	for (int i = 0; i < 8; ++i)
		threads.emplace_back([&] {
			GateSlot slot(gate, std::chrono::milliseconds(i < 4 ? 2000 : 0));
			if (!slot.held()) {
				++refused;
				return;
			}
			int now = ++inside;
			int seen = most.load();
			while (now > seen && !most.compare_exchange_weak(seen, now)) {
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(30));
			--inside;
		});
	for (auto &t : threads)
		t.join();
	EXPECT_LE(most.load(), 2);
	EXPECT_GE(most.load(), 1);
	RenderGate full(1);
	ASSERT_TRUE(full.Enter(std::chrono::milliseconds(0)));
	auto started = std::chrono::steady_clock::now();
	EXPECT_FALSE(full.Enter(std::chrono::milliseconds(50)));
	EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(45));
	full.Leave();
	EXPECT_TRUE(full.Enter(std::chrono::milliseconds(0)));
}

TEST(PreviewPages, NoScriptsAndEscaped) {
	std::string licence = LicencePage({1, 2, 3});
	EXPECT_NE(licence.find("src=\"data:image/png;base64,AQID\""), std::string::npos);
	EXPECT_EQ(licence.find("<script"), std::string::npos);
	std::string status = StatusPage("revoked", "<id>&", 3);
	EXPECT_NE(status.find("已吊销"), std::string::npos);
	EXPECT_NE(status.find("&lt;id&gt;&amp;"), std::string::npos);
	EXPECT_NE(status.find("data-status=\"revoked\""), std::string::npos);
	EXPECT_EQ(status.find("<img"), std::string::npos);
	EXPECT_NE(ErrorPage(410).find("预览链接已过期"), std::string::npos);
	EXPECT_EQ(StatusLabel("nonsense"), StatusLabel("other"));
	EXPECT_NE(std::string(kContentSecurityPolicy).find("default-src 'none'"), std::string::npos);
}

TEST(PreviewConfig, RangesAndUnknownKeys) {
	Config ok;
	EXPECT_NO_THROW(CheckConfig(ok));
	Config bad = ok;
	bad.max_concurrent_renders = 0;
	EXPECT_THROW(CheckConfig(bad), std::runtime_error);
	bad = ok;
	bad.path_prefix = "/p";
	EXPECT_THROW(CheckConfig(bad), std::runtime_error);
	bad = ok;
	bad.path_prefix = "/p(.*)/";
	EXPECT_THROW(CheckConfig(bad), std::runtime_error);
	std::string path = ::testing::TempDir() + "/preview.json";
	std::ofstream(path) << R"({"threads": 4, "cache_bytes": 1000, "tls": true})";
	EXPECT_THROW(LoadConfig(path), std::runtime_error);
	std::ofstream(path) << R"({"threads": 4, "cache_bytes": 1000})";
	Config loaded = LoadConfig(path);
	EXPECT_EQ(loaded.threads, 4);
	EXPECT_EQ(loaded.cache_bytes, 1000u);
	std::ofstream(path) << R"({"threads": "many"})";
	EXPECT_THROW(LoadConfig(path), std::runtime_error);
	// Values of another JSON type are refused, not converted (found by
	// tests/fuzz/preview_config_fuzz.cpp): true is not 1 thread, 4.5 is not
	// 4, 4294967297 does not wrap to 1, 1e300 is not cast with undefined behaviour.
	for (const char *text :
	     {R"({"threads": true})", R"({"threads": 4.5})", R"({"threads": 4294967297})", R"({"port": 1e300})",
	      R"({"cache_bytes": -1})", R"({"trust_forwarded_for": 1})", R"({"pixels_per_mm": "6"})"})
		EXPECT_THROW(ParseConfig(text, "test"), std::runtime_error) << text;
	EXPECT_EQ(ParseConfig(R"({"pixels_per_mm": 6, "port": 0})", "test").pixels_per_mm, 6.0);
}

}  // namespace
}  // namespace elicense::preview
