// elicense-admin: administrative steps that carry secrets, kept out of SQL
// text. A seal's secret (private key, token PIN, seal-service client secret)
// or a province's assignment secret (RSA private key, DES key) is read from
// a file and sent as a binary bind parameter of type elicense.secret, which
// the server prints as "(secret)": log_statement = 'all' logs the statement
// with $n and "(secret)", a failing call logs the statement text only, and no
// error message quotes the value.
//
//   elicense-admin [-d CONNINFO] load-seal --authority USCC [--city 350100] --es-id ID
//       [--name 印章名称] [--signer key|pkcs11|http] [--config JSON]
//       (--key-file KEY.pem | --secret-file FILE) --cert-file CERT.pem --seal-png SEAL.png
//   elicense-admin [-d CONNINFO] load-province-secret --province 350000
//       (--key-file PROVINCE.pem | --scheme des --secret-file DES.txt)
//   elicense-admin [-d CONNINFO] reencrypt-secrets   (alias: reencrypt-seals)
//
// Connection: CONNINFO or the PG* environment and ~/.pgpass.
#include <CLI/CLI.hpp>
#include <libpq-fe.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;

std::string ReadFile(const std::string &path, const char *what) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error(std::string("cannot read the ") + what + " file " + path);
	std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	if (data.size() > kMaxFileBytes)
		throw std::runtime_error(std::string("the ") + what + " file " + path + " is larger than 1 MB");
	return data;
}

// Overwrites a secret before its memory is freed.
void Wipe(std::string &secret) {
	volatile char *p = secret.data();
	for (std::size_t i = 0; i < secret.size(); ++i)
		p[i] = 0;
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

Connection Connect(const std::string &conninfo) {
	Connection conn(PQconnectdb(conninfo.c_str()), PQfinish);
	if (PQstatus(conn.get()) != CONNECTION_OK)
		throw std::runtime_error(std::string("cannot connect: ") + PQerrorMessage(conn.get()));
	return conn;
}

// The server's error, with its SQLSTATE and HINT (which never quote a secret).
std::string ServerError(const PGresult *result) {
	std::string message =
	    PQresultErrorField(result, PG_DIAG_SQLSTATE) ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : "?????";
	message += ": ";
	message += PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)
	                                                               : "unknown error";
	if (const char *hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT))
		message += std::string("\nHINT: ") + hint;
	return message;
}

struct SealArgs {
	std::string authority, city, es_id, name = "电子印章", signer = "key", config = "{}";
	std::string key_file, secret_file, cert_file, png_file;
};

int LoadSeal(const std::string &conninfo, const SealArgs &a) {
	if (a.key_file.empty() == a.secret_file.empty())
		throw std::runtime_error(
		    "give exactly one of --key-file (signer key) and --secret-file (pkcs11 PIN, http client secret)");
	if (!a.key_file.empty() && a.signer != "key")
		throw std::runtime_error("--key-file is for --signer key; use --secret-file for " + a.signer);
	std::string secret = ReadFile(a.key_file.empty() ? a.secret_file : a.key_file, "secret");
	if (!a.secret_file.empty())
		while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
			secret.pop_back();  // a PIN or token file usually ends with a newline
	std::string cert = ReadFile(a.cert_file, "certificate");
	std::string png = ReadFile(a.png_file, "seal picture");
	Connection conn = Connect(conninfo);
	const char *values[9] = {a.authority.c_str(), a.city.c_str(), a.es_id.c_str(), a.name.c_str(), a.signer.c_str(),
	                         a.config.c_str(),    secret.data(),  cert.c_str(),    png.data()};
	int lengths[9] = {0, 0, 0, 0, 0, 0, static_cast<int>(secret.size()), 0, static_cast<int>(png.size())};
	int formats[9] = {0, 0, 0, 0, 0, 0, 1, 0, 1};  // the secret and the picture in binary
	Result result(PQexecParams(conn.get(),
	                           "SELECT elicense.load_seal($1, $2, $3, $4, $5, $6::jsonb, $7::elicense.secret, $8, "
	                           "$9::bytea)",
	                           9, nullptr, values, lengths, formats, 0),
	              PQclear);
	Wipe(secret);
	if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
		throw std::runtime_error(ServerError(result.get()));
	std::cout << "loaded seal " << a.es_id << " of " << a.authority << (a.city.empty() ? "" : " for " + a.city)
	          << " (signer " << a.signer << ")\n";
	return 0;
}

struct ProvinceArgs {
	std::string province, scheme = "rsa-des", key_file, secret_file;
};

int LoadProvinceSecret(const std::string &conninfo, const ProvinceArgs &a) {
	if (a.key_file.empty() == a.secret_file.empty())
		throw std::runtime_error("give exactly one of --key-file (scheme rsa-des) and --secret-file (scheme des)");
	if (!a.key_file.empty() && a.scheme != "rsa-des")
		throw std::runtime_error("--key-file is for --scheme rsa-des; use --secret-file for the DES key");
	std::string secret = ReadFile(a.key_file.empty() ? a.secret_file : a.key_file, "secret");
	if (!a.secret_file.empty())
		while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
			secret.pop_back();  // a key file written by echo ends with a newline
	Connection conn = Connect(conninfo);
	const char *values[3] = {a.province.c_str(), a.scheme.c_str(), secret.data()};
	int lengths[3] = {0, 0, static_cast<int>(secret.size())};
	int formats[3] = {0, 0, 1};  // the secret in binary
	Result result(PQexecParams(conn.get(), "SELECT elicense.load_province_secret($1, $2, $3::elicense.secret)", 3,
	                           nullptr, values, lengths, formats, 0),
	              PQclear);
	Wipe(secret);
	if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
		throw std::runtime_error(ServerError(result.get()));
	std::cout << "loaded the assignment secret of province " << a.province << " (scheme " << a.scheme << ")\n";
	return 0;
}

int ReencryptSecrets(const std::string &conninfo) {
	Connection conn = Connect(conninfo);
	Result result(PQexec(conn.get(), "SELECT elicense.reencrypt_secrets()"), PQclear);
	if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
		throw std::runtime_error(ServerError(result.get()));
	std::cout << "re-encrypted " << PQgetvalue(result.get(), 0, 0) << " stored secrets under the current master key\n";
	return 0;
}

// Everything main() does; CLI11's set-up throws too, so main() catches around all of it.
int Run(int argc, char **argv) {
	CLI::App app {"elicense administration: loads seal and province secrets without putting them in SQL text"};
	std::string conninfo;
	app.add_option("-d,--dbname", conninfo, "connection string (default: PG* environment)");
	app.require_subcommand(1);

	SealArgs seal;
	CLI::App *load = app.add_subcommand("load-seal", "store (or replace) the seal of an authority and city");
	load->add_option("--authority", seal.authority, "USCC of the issuing authority")->required();
	load->add_option("--city", seal.city, "division code the seal serves (default: the authority's fallback seal)");
	load->add_option("--es-id", seal.es_id, "the seal's esID (unique, printable ASCII)")->required();
	load->add_option("--name", seal.name, "seal name");
	load->add_option("--signer", seal.signer, "key, pkcs11 or http")->check(CLI::IsMember({"key", "pkcs11", "http"}));
	load->add_option("--config", seal.config, "signer configuration (JSON; docs/seal-signers.md)");
	load->add_option("--key-file", seal.key_file, "private key PEM (signer key)");
	load->add_option("--secret-file", seal.secret_file, "token PIN (pkcs11) or client secret (http)");
	load->add_option("--cert-file", seal.cert_file, "signer certificate PEM")->required();
	load->add_option("--seal-png", seal.png_file, "seal picture PNG")->required();
	ProvinceArgs province;
	CLI::App *load_province = app.add_subcommand(
	    "load-province-secret", "store (or replace) the secret that decrypts a province's code assignments");
	load_province->add_option("--province", province.province, "six-digit province code, e.g. 350000")->required();
	load_province->add_option("--scheme", province.scheme, "rsa-des (default) or des")
	    ->check(CLI::IsMember({"rsa-des", "des"}));
	load_province->add_option("--key-file", province.key_file, "the province's RSA private key PEM (rsa-des)");
	load_province->add_option("--secret-file", province.secret_file, "the 8-character DES key (des)");
	CLI::App *reencrypt = app.add_subcommand(
	    "reencrypt-secrets", "re-encrypt every stored secret (seals, province secrets, preview keys) and every "
	                         "archived licence file under the current master key");
	reencrypt->alias("reencrypt-seals");

	CLI11_PARSE(app, argc, argv);
	if (load->parsed())
		return LoadSeal(conninfo, seal);
	if (load_province->parsed())
		return LoadProvinceSecret(conninfo, province);
	if (reencrypt->parsed())
		return ReencryptSecrets(conninfo);
	return 2;
}

}  // namespace

int main(int argc, char **argv) {
	try {
		return Run(argc, argv);
	} catch (const std::exception &e) {
		std::cerr << "elicense-admin: " << e.what() << "\n";
	} catch (...) {
		std::cerr << "elicense-admin: unexpected error\n";
	}
	return 1;
}
