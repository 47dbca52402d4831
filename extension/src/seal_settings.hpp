// Server settings of the seal signers (postgresql.conf, superuser only):
//   elicense.master_key_file           file with the master key (32 bytes or 64 hex digits)
//   elicense.previous_master_key_file  the master key before a rotation (optional)
//   elicense.pkcs11_modules            comma-separated PKCS#11 module paths a seal may name
//   elicense.pkcs11_environment        NAME=value;... set before a module is loaded (SOFTHSM2_CONF)
// None is a secret: they name files and modules, not keys.
#pragma once

#include "elicense/ofd_package.hpp"

#include <string>
#include <vector>

namespace elicense::pg {

void DefineSealSettings();

// Whether elicense.master_key_file is set (not whether it can be read).
bool MasterKeyConfigured();
// The current master key; throws Error (22023, with a hint in the message)
// when elicense.master_key_file is not set.
core::Bytes CurrentMasterKey();
// The current key, then the previous one if set: the keys a box may be under.
std::vector<core::Bytes> MasterKeys();

// Throws Error (42501) unless `module` is listed in elicense.pkcs11_modules.
void RequireAllowedPkcs11Module(const std::string &module);
// Applies elicense.pkcs11_environment (setenv) for this backend.
void ApplyPkcs11Environment();

}  // namespace elicense::pg
