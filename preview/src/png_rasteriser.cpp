#include "png_rasteriser.hpp"

#include <cairo.h>
#include <librsvg/rsvg.h>

#include <cmath>
#include <memory>
#include <stdexcept>

namespace elicense::preview {
namespace {

struct GObjectFree {
	void operator()(RsvgHandle *h) const noexcept {
		g_object_unref(h);
	}
};
struct SurfaceFree {
	void operator()(cairo_surface_t *s) const noexcept {
		cairo_surface_destroy(s);
	}
};
struct ContextFree {
	void operator()(cairo_t *c) const noexcept {
		cairo_destroy(c);
	}
};

cairo_status_t AppendPng(void *closure, const unsigned char *data, unsigned int length) {
	auto *out = static_cast<Bytes *>(closure);
	out->insert(out->end(), data, data + length);
	return CAIRO_STATUS_SUCCESS;
}

std::string Take(GError *error) {
	std::string message = error && error->message ? error->message : "unknown error";
	if (error)
		g_error_free(error);
	return message;
}

}  // namespace

Bytes RasteriseSvg(const std::string &svg, int max_side) {
	GError *error = nullptr;
	// Flags 0: no external files (only data: URIs) and librsvg's own limits
	// on huge documents stay on.
	std::unique_ptr<RsvgHandle, GObjectFree> handle(
	    rsvg_handle_new_from_data(reinterpret_cast<const guint8 *>(svg.data()), svg.size(), &error));
	if (!handle)
		throw std::runtime_error("SVG not readable: " + Take(error));
	gdouble width = 0, height = 0;
	if (!rsvg_handle_get_intrinsic_size_in_pixels(handle.get(), &width, &height))
		throw std::runtime_error("SVG has no pixel size");
	int w = static_cast<int>(std::lround(width)), h = static_cast<int>(std::lround(height));
	if (w < 1 || h < 1 || w > max_side || h > max_side)
		throw std::runtime_error("SVG pixel size " + std::to_string(w) + "x" + std::to_string(h) + " out of range");

	std::unique_ptr<cairo_surface_t, SurfaceFree> surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h));
	if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
		throw std::runtime_error("cairo surface not created");
	std::unique_ptr<cairo_t, ContextFree> cr(cairo_create(surface.get()));
	cairo_set_source_rgb(cr.get(), 1, 1, 1);
	cairo_paint(cr.get());
	RsvgRectangle viewport {0, 0, static_cast<double>(w), static_cast<double>(h)};
	if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &error))
		throw std::runtime_error("SVG not drawn: " + Take(error));
	cairo_surface_flush(surface.get());
	Bytes png;
	png.reserve(std::size_t {256} * 1024);
	if (cairo_surface_write_to_png_stream(surface.get(), AppendPng, &png) != CAIRO_STATUS_SUCCESS)
		throw std::runtime_error("PNG not written");
	return png;
}

}  // namespace elicense::preview
