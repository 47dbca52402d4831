// elicense-gateway: the sharing functions over HTTP/JSON for departments.
//   elicense-gateway --config /etc/elicense/gateway.json   serve until SIGTERM
//   elicense-gateway new-secret      print a new random secret and its hash (two lines)
//   elicense-gateway hash-secret     hash the secret read from stdin (one line out)
// The hash goes to elicense.gateway_secret (gateway_rotate_secret); the
// secret goes to the department, once. Prints "listening on HOST:PORT" once
// it accepts connections.
#include "elicense/common/log.hpp"
#include "elicense/common/stop_signals.hpp"
#include "gateway_config.hpp"
#include "gateway_server.hpp"
#include "gateway_store.hpp"
#include "secret_hash.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace gateway = elicense::gateway;

int main(int argc, char **argv) {
	try {
		CLI::App app {"elicense-gateway: licence sharing over HTTP/JSON for departments"};
		std::string config_path, conninfo, listen;
		int port = -1;
		bool version = false;
		app.add_flag("--version", version, "print the version and exit");
		app.add_option("--config", config_path, "JSON config file (see README)");
		app.add_option("--conninfo", conninfo, "libpq conninfo (overrides the config)");
		app.add_option("--listen", listen, "address to listen on (overrides the config)");
		app.add_option("--port", port, "port, 0 for any free one (overrides the config)");
		CLI::App *new_secret = app.add_subcommand("new-secret", "print a new secret and its PBKDF2 hash");
		CLI::App *hash_secret = app.add_subcommand("hash-secret", "print the PBKDF2 hash of the secret on stdin");
		CLI11_PARSE(app, argc, argv);
		if (version) {
			std::printf("elicense-gateway %s\n", ELICENSE_VERSION);
			return 0;
		}
		if (*new_secret) {
			std::string secret = gateway::RandomKey(32);
			std::printf("%s\n%s\n", secret.c_str(), gateway::HashSecret(secret).c_str());
			return 0;
		}
		if (*hash_secret) {
			std::string secret;
			std::getline(std::cin, secret);
			if (secret.size() < 16)
				throw std::runtime_error("a secret has at least 16 characters");
			std::printf("%s\n", gateway::HashSecret(secret).c_str());
			return 0;
		}
		gateway::Config config = gateway::LoadConfig(config_path);
		if (!conninfo.empty())
			config.conninfo = conninfo;
		if (!listen.empty())
			config.listen = listen;
		if (port >= 0)
			config.port = port;
		gateway::CheckConfig(config);

		elicense::common::StopSignals stop_signals;  // before any thread starts
		gateway::GatewayStore store(config.conninfo, config.threads,
		                            std::chrono::milliseconds(config.statement_timeout_ms + 2000),
		                            config.statement_timeout_ms);
		store.CheckLogin();
		gateway::GatewayServer server(config, store);
		int bound = server.Bind();
		stop_signals.OnStop([&server](int sig) {
			elicense::common::LogEvent("info", "stopping", {{"signal", sig}});
			server.Stop();
		});
		elicense::common::LogEvent("info", "start", {{"listen", config.listen}, {"port", bound}});
		std::printf("listening on %s:%d\n", config.listen.c_str(), bound);
		std::fflush(stdout);
		server.Listen();
		stop_signals.Release();
		return 0;
	} catch (const std::exception &e) {
		elicense::common::LogEvent("fatal", "exit", {{"error", e.what()}});
		return 1;
	}
}
