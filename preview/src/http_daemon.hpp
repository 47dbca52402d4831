// What the preview server's and the gateway's main() share: the flags that
// override their config file, and serving until SIGTERM or SIGINT.
#pragma once

#include "elicense/common/log.hpp"
#include "elicense/common/stop_signals.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

namespace elicense::http {

struct DaemonFlags {
	std::string config_path;
	std::string conninfo;
	std::string listen;
	int port = -1;  // -1: the config's
	bool version = false;

	void AddTo(CLI::App &app) {
		app.add_flag("--version", version, "print the version and exit");
		app.add_option("--config", config_path, "JSON config file (see README)");
		app.add_option("--conninfo", conninfo, "libpq conninfo (overrides the config)");
		app.add_option("--listen", listen, "address to listen on (overrides the config)");
		app.add_option("--port", port, "port, 0 for any free one (overrides the config)");
	}

	// The config with the flags given on the command line in place of its values.
	template <typename Config>
	void Override(Config &config) const {
		if (!conninfo.empty())
			config.conninfo = conninfo;
		if (!listen.empty())
			config.listen = listen;
		if (port >= 0)
			config.port = port;
	}
};

// Binds, then prints "listening on HOST:PORT" (what scripts wait for) and a
// JSON start line, and serves until SIGTERM or SIGINT stops the server.
template <typename Server>
void ServeUntilStopped(Server &server, const std::string &listen, common::StopSignals &stop_signals) {
	int bound = server.Bind();
	stop_signals.OnStop([&server](int sig) {
		common::LogEvent("info", "stopping", {{"signal", sig}});
		server.Stop();
	});
	common::LogEvent("info", "start", {{"listen", listen}, {"port", bound}});
	std::printf("listening on %s:%d\n", listen.c_str(), bound);
	std::fflush(stdout);
	server.Listen();
	stop_signals.Release();  // no stop action may run once the server is gone
}

}  // namespace elicense::http
