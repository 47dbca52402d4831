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
#include "http_daemon.hpp"
#include "secret_hash.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace gateway = elicense::gateway;

int main(int argc, char **argv) {
	try {
		CLI::App app {"elicense-gateway: licence sharing over HTTP/JSON for departments"};
		elicense::http::DaemonFlags flags;
		flags.AddTo(app);
		CLI::App *new_secret = app.add_subcommand("new-secret", "print a new secret and its PBKDF2 hash");
		CLI::App *hash_secret = app.add_subcommand("hash-secret", "print the PBKDF2 hash of the secret on stdin");
		CLI11_PARSE(app, argc, argv);
		if (flags.version) {
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
		gateway::Config config = gateway::LoadConfig(flags.config_path);
		flags.Override(config);
		gateway::CheckConfig(config);

		elicense::common::StopSignals stop_signals;  // before any thread starts
		gateway::GatewayStore store(config.conninfo, config.threads,
		                            std::chrono::milliseconds(config.statement_timeout_ms + 2000),
		                            config.statement_timeout_ms);
		store.CheckLogin();
		gateway::GatewayServer server(config, store);
		elicense::http::ServeUntilStopped(server, config.listen, stop_signals);
		return 0;
	} catch (const std::exception &e) {
		elicense::common::LogEvent("fatal", "exit", {{"error", e.what()}});
		return 1;
	}
}
