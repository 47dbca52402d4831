// elicense-preview: the watermarked-licence preview server.
//   elicense-preview --config /etc/elicense/preview.json     serve until SIGTERM
//   elicense-preview --render licence.ofd --output page.png  draw one file, no server
// Prints "listening on HOST:PORT" once it accepts connections.
#include "elicense/common/log.hpp"
#include "elicense/common/stop_signals.hpp"
#include "elicense/ofd_package.hpp"
#include "elicense/ofd_svg.hpp"
#include "http_daemon.hpp"
#include "png_rasteriser.hpp"
#include "preview_config.hpp"
#include "preview_server.hpp"
#include "preview_store.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace {

namespace core = elicense::core;
namespace preview = elicense::preview;

std::vector<std::uint8_t> ReadFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string &path, const void *data, std::size_t size) {
	std::ofstream out(path, std::ios::binary);
	out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size));
	if (!out)
		throw std::runtime_error("cannot write " + path);
}

int RenderOnce(const std::string &ofd, const std::string &png, const std::string &svg, double pixels_per_mm) {
	core::OfdSvgOptions options;
	options.pixels_per_mm = pixels_per_mm;
	std::string page = core::OfdPageToSvg(core::ReadOfdZip(ReadFile(ofd)), options);
	if (!svg.empty())
		WriteFile(svg, page.data(), page.size());
	if (!png.empty()) {
		std::vector<std::uint8_t> bytes = preview::RasteriseSvg(page);
		WriteFile(png, bytes.data(), bytes.size());
	}
	return 0;
}

}  // namespace

int main(int argc, char **argv) {
	try {
		CLI::App app {"elicense-preview: serves watermarked licence previews for the national platform"};
		elicense::http::DaemonFlags flags;
		flags.AddTo(app);
		std::string render, output, svg;
		app.add_option("--render", render, "draw this OFD file and exit (no server)");
		app.add_option("--output", output, "PNG written by --render");
		app.add_option("--svg", svg, "SVG written by --render");
		CLI11_PARSE(app, argc, argv);
		if (flags.version) {
			std::printf("elicense-preview %s\n", ELICENSE_VERSION);
			return 0;
		}
		preview::Config config = preview::LoadConfig(flags.config_path);
		if (!render.empty())
			return RenderOnce(render, output, svg, config.pixels_per_mm);
		flags.Override(config);
		preview::CheckConfig(config);

		elicense::common::StopSignals stop_signals;  // before any thread starts

		preview::PreviewStore store(config.conninfo, config.threads,
		                            std::chrono::milliseconds(config.render_wait_ms + 2000));
		store.Ping();
		preview::PreviewServer server(config, store);
		elicense::http::ServeUntilStopped(server, config.listen, stop_signals);
		return 0;
	} catch (const std::exception &e) {
		elicense::common::LogEvent("fatal", "exit", {{"error", e.what()}});
		return 1;
	}
}
