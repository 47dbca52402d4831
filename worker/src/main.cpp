// elicense-sync: drains elicense.outbox to the national platform.
// For now it only reports its version; delivery lands with the worker issue.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char **argv) {
	try {
		CLI::App app {"elicense-sync: delivers electronic licences to the national platform"};
		bool version = false;
		app.add_flag("--version", version, "print the version and exit");
		CLI11_PARSE(app, argc, argv);
		if (version) {
			std::printf("elicense-sync %s\n", ELICENSE_VERSION);
			return 0;
		}
		std::fprintf(stderr, "elicense-sync: delivery is not implemented yet; see --help\n");
		return 2;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "elicense-sync: %s\n", e.what());
		return 1;
	} catch (...) {
		std::fprintf(stderr, "elicense-sync: unknown error\n");
		return 1;
	}
}
