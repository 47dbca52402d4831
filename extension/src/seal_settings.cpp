// The seal signers' server settings (see seal_settings.hpp). PGC_SIGHUP:
// set in postgresql.conf (or ALTER SYSTEM) by a superuser, never by a
// session, so an elicense_admin cannot point the server at another key file
// or make it dlopen a library of its choice.
#include "seal_settings.hpp"

#include "elicense/error.hpp"
#include "elicense/secret_box.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>

#include "pg_prelude.hpp"

namespace elicense::pg {
namespace {

char *master_key_file = nullptr;
char *previous_master_key_file = nullptr;
char *pkcs11_modules = nullptr;
char *pkcs11_environment = nullptr;

bool Set(const char *value) {
	return value && value[0] != '\0';
}

std::vector<std::string> Split(const char *list, char separator) {
	std::vector<std::string> items;
	std::stringstream in(list ? list : "");
	std::string item;
	while (std::getline(in, item, separator)) {
		std::size_t begin = item.find_first_not_of(" \t"), end = item.find_last_not_of(" \t");
		if (begin != std::string::npos)
			items.push_back(item.substr(begin, end - begin + 1));
	}
	return items;
}

}  // namespace

void DefineSealSettings() {
	DefineCustomStringVariable(
	    "elicense.master_key_file",
	    "File holding the master key that encrypts stored secrets: seals, province keys, preview keys "
	    "(32 bytes or 64 hex digits).",
	    "Readable by the server only; never inside the data directory's dumps.", &master_key_file, "", PGC_SIGHUP, 0,
	    nullptr, nullptr, nullptr);
	DefineCustomStringVariable("elicense.previous_master_key_file",
	                           "The master key before a rotation: secrets under it still open until re-encrypted.",
	                           nullptr, &previous_master_key_file, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("elicense.pkcs11_modules",
	                           "Comma-separated paths of the PKCS#11 modules a seal may use.", nullptr, &pkcs11_modules,
	                           "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("elicense.pkcs11_environment",
	                           "NAME=value;... environment set before a PKCS#11 module is loaded (e.g. SOFTHSM2_CONF).",
	                           nullptr, &pkcs11_environment, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
}

bool MasterKeyConfigured() {
	return Set(master_key_file);
}

namespace {

// The key of a file as last read, and what the file was then: read again
// only when the path or the file changes (a rotation writes a new file or
// names another). Resident ID numbers are sealed per licence, and a read of
// the file per value was most of the cost of the sealing.
struct CachedKeyFile {
	std::string path;
	struct stat st {};
	core::Bytes key;
};

core::Bytes ReadKeyFileCached(const char *path, CachedKeyFile &cache) {
	struct stat st {};
	if (stat(path, &st) == 0 && cache.path == path && !cache.key.empty() && cache.st.st_ino == st.st_ino &&
	    cache.st.st_dev == st.st_dev && cache.st.st_size == st.st_size &&
	    cache.st.st_mtim.tv_sec == st.st_mtim.tv_sec && cache.st.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
	    cache.st.st_ctim.tv_sec == st.st_ctim.tv_sec && cache.st.st_ctim.tv_nsec == st.st_ctim.tv_nsec)
		return cache.key;
	OPENSSL_cleanse(cache.key.data(), cache.key.size());
	cache.key.clear();
	core::Bytes key = core::ReadMasterKeyFile(path);  // throws (22023) when unreadable
	cache.path = path;
	cache.st = st;
	cache.key = key;
	return key;
}

CachedKeyFile current_key_cache, previous_key_cache;

}  // namespace

core::Bytes CurrentMasterKey() {
	if (!Set(master_key_file))
		throw core::Error(
		    core::sqlstate::kInvalidParameterValue,
		    "elicense.master_key_file is not set: stored secrets (seals, province keys, preview keys) cannot be "
		    "encrypted or opened",
		    {},
		    "Set it in postgresql.conf to a file of 32 random bytes readable by the server only "
		    "(head -c 32 /dev/urandom), then reload.");
	return ReadKeyFileCached(master_key_file, current_key_cache);
}

std::vector<core::Bytes> MasterKeys() {
	std::vector<core::Bytes> keys {CurrentMasterKey()};
	if (Set(previous_master_key_file))
		keys.push_back(ReadKeyFileCached(previous_master_key_file, previous_key_cache));
	return keys;
}

void RequireAllowedPkcs11Module(const std::string &module) {
	for (const std::string &allowed : Split(pkcs11_modules, ','))
		if (allowed == module)
			return;
	throw core::Error("42501", "PKCS#11 module " + module + " is not listed in elicense.pkcs11_modules", {},
	                  "A superuser lists the modules seals may load in postgresql.conf (elicense.pkcs11_modules).");
}

void ApplyPkcs11Environment() {
	for (const std::string &item : Split(pkcs11_environment, ';')) {
		std::size_t eq = item.find('=');
		if (eq == std::string::npos || eq == 0)
			throw core::Error(core::sqlstate::kInvalidParameterValue,
			                  "elicense.pkcs11_environment: \"" + item + "\" is not NAME=value");
		setenv(item.substr(0, eq).c_str(), item.substr(eq + 1).c_str(), 1);
	}
}

}  // namespace elicense::pg
