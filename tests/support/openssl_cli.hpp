// Runs the openssl command-line tool as a second, independent implementation
// for the crypto tests: input and output through temporary files.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace elicense::test {

// `openssl <args> -in IN -out OUT` with `input` in IN; returns OUT's bytes.
// Throws std::runtime_error when openssl exits non-zero.
inline std::string RunOpensslCli(const std::string &args, const std::string &input) {
	static int counter = 0;
	std::string base = "/tmp/elicense_openssl_cli_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
	std::string in = base + ".in", out = base + ".out";
	{
		std::ofstream f(in, std::ios::binary);
		f << input;
	}
	std::string command = "openssl " + args + " -in " + in + " -out " + out + " 2>/dev/null";
	int rc = std::system(command.c_str());
	std::string result;
	{
		std::ifstream f(out, std::ios::binary);
		std::stringstream ss;
		ss << f.rdbuf();
		result = ss.str();
	}
	std::remove(in.c_str());
	std::remove(out.c_str());
	if (rc != 0)
		throw std::runtime_error("openssl " + args + " failed");
	return result;
}

}  // namespace elicense::test
