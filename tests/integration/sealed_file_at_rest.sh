#!/usr/bin/env bash
# The archive of issued files (elicense.sealed_file) at rest and through a
# master key rotation. An original's face shows the holder's full ID number;
# the archive keeps each file only encrypted under the master key:
#   - the original and a copy are archived; neither the table's files (heap
#     and TOAST, after a checkpoint) nor a pg_dump hold a clear file (ZIP
#     header, the file's first bytes) or the ID number (in the dump: outside
#     the columns of tests/support/id_columns.txt, and inside no file:
#     tests/support/secret_scan.py opens every ZIP it finds);
#   - licence_verify says valid for both;
#   - rotation: with a new master key and without the old one, licence_verify
#     fails with 55000 (the archive is under a key that is not configured);
#     with the old one as elicense.previous_master_key_file,
#     reencrypt_secrets() re-encrypts the seal's secret and both files; the old
#     key removed, both still verify and every box names the new key.
# (Round trip and a box altered or moved to another row: tests/pgtap/sealed_file.sql.)
# Runs inside a throwaway cluster (PG* set, superuser); $1 is the output directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp}/sealed_file_at_rest
rm -rf "$out" && mkdir -p "$out"
db=elicense_sealed_file
app=sealed_file_rest_app
holder=350102199001011238  # tests/fixtures/shared_w032_licence.sql
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
master=$(psql -X -At -d postgres -c 'SHOW elicense.master_key_file')
[ -n "$master" ] || fail "the cluster has no elicense.master_key_file (scripts/throwaway-cluster sets one)"
set_setting() {  # NAME VALUE: through ALTER SYSTEM, then wait until new sessions see it
  psql -X -q -d postgres -v v="$2" >/dev/null <<SQL
LOAD 'elicense';
ALTER SYSTEM SET $1 = :'v';
SELECT pg_reload_conf();
SQL
  for _ in $(seq 100); do
    [ "$(psql -X -q -At -d postgres -c "LOAD 'elicense'" -c "SHOW $1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "the server did not take $1 = '$2'"
}
cleanup() {
  set_setting elicense.master_key_file "$master" || true
  set_setting elicense.previous_master_key_file "" || true
  dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
sql -c "CREATE EXTENSION elicense" -f "$root/tests/fixtures/sharing_seal.sql" >/dev/null
sql -v app="$app" -f "$root/tests/fixtures/shared_w032_licence.sql" >/dev/null
id=$(sql -c "SELECT identifier FROM elicense.certificate")

# The original (rendered and archived) and a department's copy (archived as licence_file does).
sql -c "SELECT encode(elicense.render_certificate_ofd('$id', false), 'base64')" | base64 -d >"$out/original.ofd"
sql -c "SELECT encode(elicense.render_certificate_ofd('$id', false, '招投标资格审查', '2099-12-31'), 'base64')" \
  | base64 -d >"$out/copy.ofd"
sql -v f="$(base64 -w0 "$out/copy.ofd")" <<<"SELECT elicense._archive_file('$id', decode(:'f', 'base64'), '2099-12-31')" >/dev/null
unzip -p "$out/original.ofd" 'Doc_0/Pages/Page_0/Content.xml' >"$out/original-content.xml"
grep -qF "$holder" "$out/original-content.xml" || fail "the original's face does not show the full ID number: this test would prove nothing"
verdicts() {  # "<original's verdict> <copy's verdict>" from licence_verify as the department's application
  local file v=()
  for file in "$out/original.ofd" "$out/copy.ofd"; do
    v+=("$(sql -v f="$(base64 -w0 "$file")" <<SQL
SET SESSION AUTHORIZATION $app;
SELECT verdict FROM elicense.licence_verify('bidding', decode(:'f', 'base64'));
SQL
)")
  done
  echo "${v[*]}"
}
[ "$(verdicts)" = "valid valid" ] || fail "the archived original and copy: $(verdicts)"
[ "$(sql -c "SELECT count(*) FROM elicense.sealed_file WHERE elicense._secret_key_id(file_box) = elicense.master_key_id()")" = 2 ] \
  || fail "the original and the copy are not both archived under the master key"
echo "ok: the original and a copy are archived encrypted under the master key and verify as valid"

# Whether FILE... hold a clear archived file: its first 64 bytes (ZIP header
# and first part name), as bytes or as hex (a dump's bytea).
clear_file_in() {  # FILE...
  python3 - "$out/original.ofd" "$out/copy.ofd" "$@" <<'PY'
import glob, sys
heads = [open(f, 'rb').read()[:64] for f in sys.argv[1:3]]
needles = heads + [h.hex().encode() for h in heads]
paths = [f for base in sys.argv[3:] for f in (glob.glob(base + '*') or [base])]
sys.exit(0 if any(n in open(p, 'rb').read() for p in paths for n in needles) else 1)
PY
}
clear_file_in "$out/original.ofd" || fail "the check of clear files does not find the original in itself"
sql -c "CHECKPOINT" >/dev/null
files=$(sql -c "SELECT string_agg(current_setting('data_directory') || '/' || pg_relation_filepath(c.oid), ' ')
                  FROM pg_class c WHERE c.oid = 'elicense.sealed_file'::regclass
                     OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'elicense.sealed_file'::regclass)")
# shellcheck disable=SC2086  # two paths
clear_file_in $files && fail "the files of elicense.sealed_file hold an archived file in clear"
# shellcheck disable=SC2086
! grep -qF "$holder" $files || fail "the files of elicense.sealed_file hold the ID number"
pg_dump -d "$db" >"$out/dump.sql"
grep -q "^COPY elicense.sealed_file (sha256, file_box, " "$out/dump.sql" || fail "the dump has no sealed_file rows"
clear_file_in "$out/dump.sql" && fail "the dump holds an archived file in clear"
: >"$out/empty.log" && : >"$out/needles.txt" && echo "$holder" >"$out/ids.txt"
python3 "$root/tests/support/secret_scan.py" scan "$out/empty.log" "$out/dump.sql" "$out/needles.txt" "$out/ids.txt" \
  "--allowed-columns=$root/tests/support/id_columns.txt" >"$out/scan.txt" || fail "scan of the dump: $(cat "$out/scan.txt")"
echo "ok: neither the table's files nor a pg_dump hold an archived file or the ID number in clear"

# Master key rotation.
old_id=$(sql -c "SELECT elicense.master_key_id()")
head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$out/master-2.key"
chmod 600 "$out/master-2.key"
[ "$(id -u)" != 0 ] || chown postgres: "$out/master-2.key"
set_setting elicense.master_key_file "$out/master-2.key"
if sql -v VERBOSITY=verbose -v f="$(base64 -w0 "$out/original.ofd")" >/dev/null 2>"$out/err-old-key" <<SQL
SET SESSION AUTHORIZATION $app;
SELECT verdict FROM elicense.licence_verify('bidding', decode(:'f', 'base64'));
SQL
then
  fail "licence_verify opened an archived file under a master key no longer configured"
fi
grep -q "ERROR:  55000: the archived file [0-9a-f]\{64\} of licence $id is encrypted under a master key that is not configured" \
  "$out/err-old-key" || fail "without the old master key: $(cat "$out/err-old-key")"
grep -q "^HINT:  After a master key rotation, set elicense.previous_master_key_file" "$out/err-old-key" \
  || fail "no HINT: $(cat "$out/err-old-key")"
echo "ok: under a new master key without the old one, licence_verify fails with 55000 and a HINT"
set_setting elicense.previous_master_key_file "$master"
[ "$(verdicts)" = "valid valid" ] || fail "with the old key as the previous one: $(verdicts)"
expected=$(sql -f "$root/tests/fixtures/count_stored_secrets.sql")
[ "$(sql -c "SELECT elicense.reencrypt_secrets()")" = "$expected" ] || fail "reencrypt_secrets did not re-encrypt $expected boxes"
new_id=$(sql -c "SELECT elicense.master_key_id()")
[ "$new_id" != "$old_id" ] || fail "the master key ID did not change"
[ "$(sql -c "SELECT count(*) FROM elicense.sealed_file WHERE elicense._secret_key_id(file_box) = '$new_id'")" = 2 ] \
  || fail "an archived file is not under the new master key after reencrypt_secrets"
set_setting elicense.previous_master_key_file ""
[ "$(verdicts)" = "valid valid" ] || fail "after the rotation, the old key removed: $(verdicts)"
[ "$(sql -c "SELECT elicense.reencrypt_secrets()")" = 0 ] || fail "a second reencrypt_secrets found boxes to re-encrypt"
echo "ok: master key rotation re-encrypts the archive; with the old key removed both files still verify"
echo "sealed_file_at_rest: all checks passed"
