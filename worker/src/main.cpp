// elicense-sync: drains elicense.outbox to the national platform.
//   elicense-sync --config /etc/elicense/sync.json            run until SIGTERM
//   elicense-sync --config … --once                           deliver what is due, then exit
// SIGTERM/SIGINT (elicense/common/stop_signals.hpp): stop leasing, release the steps not yet sent, let requests
// in flight finish for stop_grace_ms (default 20 s, under systemd's 60 s
// TimeoutStopSec of docs/sync.md), then exit 0.
#include "config.hpp"
#include "delivery_loop.hpp"
#include "elicense/common/log.hpp"
#include "elicense/common/stop_signals.hpp"

#include <CLI/CLI.hpp>
#include <curl/curl.h>

#include <atomic>
#include <cstdio>
#include <exception>

int main(int argc, char **argv) {
	try {
		CLI::App app {"elicense-sync: delivers electronic licences to the national platform"};
		std::string config_path, conninfo, worker_id;
		bool once = false, version = false;
		int in_flight = 0;
		app.add_flag("--version", version, "print the version and exit");
		app.add_option("--config", config_path, "JSON config file (see README)");
		app.add_option("--conninfo", conninfo, "libpq conninfo (overrides the config; default: PG* environment)");
		app.add_option("--worker-id", worker_id, "name in leases and history (default host:pid)");
		app.add_option("--in-flight", in_flight, "concurrent requests (overrides the config)");
		app.add_flag("--once", once, "deliver what is due, then exit");
		CLI11_PARSE(app, argc, argv);
		if (version) {
			std::printf("elicense-sync %s\n", ELICENSE_VERSION);
			return 0;
		}
		elicense::worker::Config config = elicense::worker::LoadConfig(config_path);
		if (!conninfo.empty())
			config.conninfo = conninfo;
		if (!worker_id.empty())
			config.worker_id = worker_id;
		if (in_flight > 0)
			config.in_flight = in_flight;
		if (config.base_url.empty())
			throw std::runtime_error("platform.base_url is not configured");
		if (config.token_url.empty())
			throw std::runtime_error("no token endpoint: set platform.token_url or platform.token_path");

		std::atomic<bool> stop_requested {false};
		elicense::common::StopSignals stop_signals;  // before curl or libpq start a thread
		stop_signals.OnStop([&stop_requested](int) {
			stop_requested = true;  // the delivery loop looks at least once a second
		});
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			throw std::runtime_error("curl_global_init failed");
		int rc = elicense::worker::DeliveryLoop(config, stop_requested).Run(once);
		curl_global_cleanup();
		return rc;
	} catch (const std::exception &e) {
		elicense::common::LogEvent("fatal", "exit", {{"error", e.what()}});
		return 1;
	} catch (...) {
		elicense::common::LogEvent("fatal", "exit", {{"error", "unknown exception"}});
		return 1;
	}
}
