#!/usr/bin/env bash
# Issue 19's tamper suite through both SQL functions, verify_licence_ofd(file)
# and licence_verify(scenario, file), in one database whose authority seals
# (tests/fixtures/sharing_seal.sql, its certificate a trust anchor). The
# forgeries are written by `elicense-ofd forge` (tests/support/ofd_forgery.hpp)
# from an original the store issued and archived:
#   the original                          sealed    / valid
#   forged re-signature (Content.xml byte, digest and dataHash fixed, re-signed
#     with another SM2 key whose certificate is put in the SES_Signature)
#                                         tampered (seal_mismatch) / tampered
#   a whole seal the forger made          untrusted / untrusted
#   swapped seal picture                  tampered (bad_seal) / tampered
#   moved signing time                    tampered (bad_signature) / tampered
#   signing time backdated by the seal key's holder (re-signed) to before
#     the certificate's validity          tampered (outside_validity) / tampered
#   signing time post-dated by the key's holder (tomorrow, inside every
#     validity)                           tampered (outside_validity) / tampered
#   extra part Doc_0/Signs/../Pages/...   tampered (unreferenced_part) / tampered
#   unsigned original, the authority seals unsigned / unsigned (not valid)
#     (the same file while the authority has no seal: valid)
#   the original, trust anchor removed    untrusted / untrusted
# Also: elicense_worker has no UPDATE on certificate.file_sha256 and only
# elicense_admin writes trust anchors; the archive holds the original's bytes.
# Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp}/ofd_tamper
db=elicense_tamper
rm -rf "$out" && mkdir -p "$out"
cleanup() { dropdb --force --if-exists "$db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
tool=$root/build/cmake/elicense-ofd
if [ ! -x "$tool" ]; then
  cmake -S "$root" -B "$root/build/cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$root/build/cmake" -j2 --target elicense-ofd >/dev/null
fi
# The forger's throw-away SM2 key and certificate (other-*.pem), a picture.
bash "$root/tests/ofd/make_fixtures.sh" "$out/keys" >/dev/null

dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
sql -c "CREATE EXTENSION elicense" -f "$root/tests/fixtures/sharing_seal.sql" >/dev/null
sql -v app=tamper_test_app -f "$root/tests/fixtures/shared_w032_licence.sql" >/dev/null
id=$(sql -c "SELECT identifier FROM elicense.certificate")

# "<verdict> <status>" of verify_licence_ofd, and "<verdict> <signature_status>"
# of licence_verify as a department's application calls it.
ofd_verdict() {
  sql -v f="$(od -An -v -tx1 "$1" | tr -d ' \n')" <<<"SELECT verdict || ' ' || status FROM elicense.verify_licence_ofd(decode(:'f', 'hex'))"
}
licence_verdict() {
  sql -v f="$(od -An -v -tx1 "$1" | tr -d ' \n')" <<'SQL'
SET SESSION AUTHORIZATION tamper_test_app;
SELECT verdict || ' ' || signature_status FROM elicense.licence_verify('bidding', decode(:'f', 'hex'));
SQL
}
expect() {  # FILE WHAT OFD_EXPECTED LICENCE_EXPECTED
  local got_ofd got_licence
  got_ofd=$(ofd_verdict "$1")
  got_licence=$(licence_verdict "$1")
  [ "$got_ofd" = "$3" ] || fail "$2: verify_licence_ofd says '$got_ofd', not '$3'"
  [ "$got_licence" = "$4" ] || fail "$2: licence_verify says '$got_licence', not '$4'"
  echo "ok: $2: verify_licence_ofd $got_ofd, licence_verify $got_licence"
}

# The sealed original, archived as rendered.
sql -c "SELECT encode(elicense.render_certificate_ofd('$id', false), 'base64')" | base64 -d >"$out/original.ofd"
[ "$(sql -c "SELECT count(*) FROM elicense.sealed_file WHERE identifier = '$id' AND kind = 'original'
               AND sha256 = '$(sha256sum <"$out/original.ofd" | cut -d' ' -f1)'")" = 1 ] \
  || fail "the original is not archived under its SHA-256"
expect "$out/original.ofd" "the original" "sealed ok" "valid ok"

forge() {  # KIND OUTPUT [options]
  local kind=$1 output=$2
  shift 2
  "$tool" forge "$kind" --forger-key "$out/keys/other-key.pem" --forger-cert "$out/keys/other-cert.pem" "$@" \
    "$out/original.ofd" -o "$output"
}
forge resign "$out/resign.ofd"
expect "$out/resign.ofd" "forged re-signature" "tampered seal_mismatch" "tampered seal_mismatch"
forge own-seal "$out/own-seal.ofd"
expect "$out/own-seal.ofd" "a seal the forger made" "untrusted untrusted" "untrusted untrusted"
forge seal-picture "$out/seal-picture.ofd" --seal "$out/keys/seal.png"
expect "$out/seal-picture.ofd" "swapped seal picture" "tampered bad_seal" "tampered bad_seal"
forge move-time "$out/move-time.ofd" --time 20261201000000Z
expect "$out/move-time.ofd" "moved signing time" "tampered bad_signature" "tampered bad_signature"
# The seal key's holder re-signs with a time before the seal certificate's
# validity (notBefore 2026-11-23 12:05:46Z): issue 19 says such a file passed.
sed -n '/^  \$key\$-----BEGIN PRIVATE KEY-----/,/^-----END PRIVATE KEY-----/p' "$root/tests/fixtures/sharing_seal.sql" \
  | sed 's/^  \$key\$//' >"$out/authority-key.pem"
sql -c "SELECT certificate_pem FROM elicense.seal" >"$out/authority-cert.pem"
forge move-time "$out/backdated.ofd" --time 20261101000000Z --key "$out/authority-key.pem" --cert "$out/authority-cert.pem"
expect "$out/backdated.ofd" "signing time backdated by the key's holder" "tampered outside_validity" "tampered outside_validity"
# Post-dated by the key's holder: tomorrow lies inside every validity, but
# no one can have signed then yet.
forge move-time "$out/postdated.ofd" --time "$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)" --key "$out/authority-key.pem" --cert "$out/authority-cert.pem"
expect "$out/postdated.ofd" "signing time post-dated by the key's holder" "tampered outside_validity" "tampered outside_validity"
# Control: the same re-signing at a time inside every validity (the seal
# made at rendering is valid from then on: a minute from now, inside the
# verifier's allowance for clock skew) is sealed.
forge move-time "$out/redated.ofd" --time "$(date -u -d '+1 minute' +%Y%m%d%H%M%SZ)" --key "$out/authority-key.pem" --cert "$out/authority-cert.pem"
[ "$(ofd_verdict "$out/redated.ofd")" = "sealed ok" ] \
  || fail "re-signed by the key's holder inside the validity: $(ofd_verdict "$out/redated.ofd") (the backdated and post-dated cases would prove nothing)"
forge signs-dotdot "$out/signs-dotdot.ofd"
expect "$out/signs-dotdot.ofd" "extra part under Signs/../" "tampered unreferenced_part" "tampered unreferenced_part"

# An unsigned original: issued while the authority had no seal (archived).
sql >/dev/null <<SQL
CREATE TABLE saved_seal AS SELECT * FROM elicense.seal;
DELETE FROM elicense.seal;
SELECT elicense.render_certificate_ofd('$id', false);
SQL
sql -c "SELECT encode(elicense.render_certificate_ofd('$id', false), 'base64')" | base64 -d >"$out/unsigned.ofd"
expect "$out/unsigned.ofd" "unsigned original, authority without a seal" "unsigned unsigned" "valid unsigned"
sql -c "INSERT INTO elicense.seal SELECT * FROM saved_seal" >/dev/null
expect "$out/unsigned.ofd" "unsigned original, the authority seals" "unsigned unsigned" "unsigned unsigned"

# Without the trust anchor, the honest original is untrusted too.
sql -c "DELETE FROM elicense.trust_anchor" >/dev/null
expect "$out/original.ofd" "the original, no trust anchor" "untrusted untrusted" "untrusted untrusted"

# Privileges: the worker cannot set the digest a file is recognised by; only
# elicense_admin writes trust anchors; nobody but admin reads the archive.
got=$(sql -c "SELECT has_column_privilege('elicense_worker', 'elicense.certificate', 'file_sha256', 'UPDATE'),
                     has_table_privilege('elicense_worker', 'elicense.trust_anchor', 'INSERT'),
                     has_table_privilege('elicense_consumer', 'elicense.trust_anchor', 'INSERT'),
                     has_table_privilege('elicense_issuer', 'elicense.trust_anchor', 'UPDATE'),
                     has_table_privilege('elicense_admin', 'elicense.trust_anchor', 'INSERT'),
                     has_table_privilege('elicense_consumer', 'elicense.sealed_file', 'SELECT'),
                     has_table_privilege('elicense_worker', 'elicense.sealed_file', 'INSERT')")
[ "$got" = "f|f|f|f|t|f|f" ] || fail "privileges (worker file_sha256, trust_anchor writers, sealed_file): $got"
echo "ok: no UPDATE (file_sha256) for the worker; trust anchors written by elicense_admin only; archive not readable by departments"
echo "ofd_tamper: all checks passed"
