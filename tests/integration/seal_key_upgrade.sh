#!/usr/bin/env bash
# A 0.2.0 database holds seal keys (elicense.seal_key), the province's
# assignment secrets (an RSA private key and a DES key) and a preview key in
# clear. Updating it to 0.3.0 without elicense.master_key_file stops with a
# HINT and changes nothing (for the province and preview keys alone too);
# with the master key, the seal keys move to elicense.seal encrypted (esID
# elicense-seal-<USCC>), seal_key is gone, files still seal and verify; the
# province and preview keys are encrypted in place: an assignment still
# decrypts, a preview token made before the update still opens, and neither
# a pg_dump nor the two tables' files hold any of those keys.
# Runs inside a throwaway cluster (PG* set, superuser); $1 is the output directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp}/seal_key_upgrade
rm -rf "$out" && mkdir -p "$out"
db=elicense_seal_key_upgrade
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
master=$(psql -X -At -d postgres -c 'SHOW elicense.master_key_file')
[ -n "$master" ] || fail "the cluster has no elicense.master_key_file (scripts/throwaway-cluster sets one)"
set_master() {  # VALUE: through ALTER SYSTEM, then wait until new sessions see it
  psql -X -q -d postgres -v m="$1" >/dev/null <<'SQL'
LOAD 'elicense';
ALTER SYSTEM SET elicense.master_key_file = :'m';
SELECT pg_reload_conf();
SQL
  for _ in $(seq 100); do
    [ "$(psql -X -At -d postgres -c 'SHOW elicense.master_key_file')" = "$1" ] && return 0
    sleep 0.1
  done
  fail "the server did not take elicense.master_key_file = '$1'"
}
cleanup() {
  set_master "$master" || true
  dropdb --if-exists "$db" 2>/dev/null || true
}
trap cleanup EXIT
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
bash "$root/tests/ofd/make_fixtures.sh" "$out/fix" >/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$out/province.pem" 2>/dev/null
des_key=Kp3Rw8Zq
sql -v priv="$(cat "$out/province.pem")" -v des="$des_key" <<'SQL'
CREATE EXTENSION elicense VERSION '0.2.0';
INSERT INTO elicense.province_secret (province, private_key_pem) VALUES ('510000', :'priv');
INSERT INTO elicense.province_secret (province, assignment_scheme, des_key) VALUES ('350000', 'des', :'des');
SELECT elicense.rotate_preview_key();
SQL
preview_hex=$(sql -c "SELECT encode(secret, 'hex') FROM elicense.preview_key")
token=$(sql -c "SELECT elicense._preview_token(secret, id, 'UPGRADE-TOKEN-1', 4000000000) FROM elicense.preview_key")
# True if FILE (default: the files of province_secret and preview_key and
# their TOAST tables, after a checkpoint) holds a piece of those keys in clear.
clear_keys_found() {  # [FILE]
  local files=${1:-}
  if [ -z "$files" ]; then
    sql -c "CHECKPOINT" >/dev/null
    files=$(sql -c "SELECT string_agg(current_setting('data_directory') || '/' || pg_relation_filepath(c.oid), ' ')
                      FROM pg_class c WHERE c.oid IN ('elicense.province_secret'::regclass, 'elicense.preview_key'::regclass)
                         OR c.oid IN (SELECT reltoastrelid FROM pg_class
                                       WHERE oid IN ('elicense.province_secret'::regclass, 'elicense.preview_key'::regclass))")
  fi
  # shellcheck disable=SC2086  # several paths
  python3 - "$out/province.pem" "$des_key" "$preview_hex" $files <<'PY'
import base64, glob, sys
pem, des, preview = sys.argv[1:4]
needles = [l.strip().encode() for l in open(pem) if not l.startswith('-----') and len(l.strip()) >= 20]
needles += [des.encode(), bytes.fromhex(preview), preview.encode(), base64.b64encode(bytes.fromhex(preview))]
paths = [f for base in sys.argv[4:] for f in (glob.glob(base + '*') or [base])]
sys.exit(0 if any(n in open(p, 'rb').read() for p in paths for n in needles) else 1)
PY
}
clear_keys_found || fail "0.2.0's table files do not hold the keys in clear: the check after the update would prove nothing"

set_master ''
psql -X -q -d "$db" -v VERBOSITY=verbose -c "ALTER EXTENSION elicense UPDATE TO '0.3.0'" >/dev/null 2>"$out/refused-keys.err" \
  && fail "the update went through with province and preview keys in clear and no master key"
grep -q "55000: elicense.province_secret and elicense.preview_key hold 3 keys in clear and elicense.master_key_file is not set" \
  "$out/refused-keys.err" || fail "refusal: $(cat "$out/refused-keys.err")"
grep -q "^HINT:  Put 32 random bytes in a file only the server can read" "$out/refused-keys.err" || fail "no HINT: $(cat "$out/refused-keys.err")"
[ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'elicense'")" = 0.2.0 ] || fail "the refused update changed the version"

sql -v key="$(cat "$out/fix/seal-key.pem")" -v cert="$(cat "$out/fix/seal-cert.pem")" \
    -v png="$(od -An -v -tx1 "$out/fix/seal.png" | tr -d ' \n')" <<'SQL'
INSERT INTO elicense.seal_key (authority_uscc, seal_name, private_key_pem, certificate_pem, seal_png)
VALUES ('11350000003591037R', '福建省住房和城乡建设厅行政审批专用章', :'key', :'cert', decode(:'png', 'hex'));
SQL
psql -X -q -d "$db" -v VERBOSITY=verbose -c "ALTER EXTENSION elicense UPDATE TO '0.3.0'" >/dev/null 2>"$out/refused.err" \
  && fail "the update went through with keys in clear and no master key"
grep -q "55000: elicense.seal_key holds 1 seal private keys in clear and elicense.master_key_file is not set" "$out/refused.err" \
  || fail "refusal: $(cat "$out/refused.err")"
grep -q "^HINT:  Put 32 random bytes in a file only the server can read" "$out/refused.err" || fail "no HINT: $(cat "$out/refused.err")"
[ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'elicense'")" = 0.2.0 ] || fail "the refused update changed the version"
echo "ok: without a master key the update stops (55000) with a HINT and changes nothing"

set_master "$master"
sql -c "ALTER EXTENSION elicense UPDATE TO '0.3.0'"
[ "$(sql -c "SELECT to_regclass('elicense.seal_key') IS NULL")" = t ] || fail "seal_key is still there"
row=$(sql -F ' ' -c "SELECT es_id, signer, city_code = '', elicense._secret_key_id(secret_box) = elicense.master_key_id() FROM elicense.seal")
[ "$row" = "elicense-seal-11350000003591037R key t t" ] || fail "the migrated seal: '$row'"
sql -c "SELECT encode(elicense._seal_ofd(elicense.render_licence_ofd(t.template, '{}'::jsonb || jsonb_build_object(
          'cert_no', 'A1', 'unit_name', '测试建设有限公司', 'uscc', '91350100MA00000000', 'principal', '张三', 'address', '福州市',
          'economic_type', '有限责任公司', 'scope', '施工', 'valid_period', '2025年 至 2028年', 'issuer', '福建省住房和城乡建设厅',
          'issue_date', '2025年01月02日'), elicense.qr_png('https://example.test/qr'), false), s, 100, 200, 40), 'base64')
        FROM elicense.ofd_template t, elicense.seal s WHERE t.type_code = '11100000000013338W050'" | base64 -d >"$out/sealed.ofd"
# The test seal's certificate is self-signed: its own trust anchor.
sql -v c="$(cat "$out/fix/seal-cert.pem")" <<<"INSERT INTO elicense.trust_anchor (name, certificate_pem) VALUES ('test seal', :'c')" >/dev/null
verdict=$(sql -F ' ' -v f="$(base64 -w0 "$out/sealed.ofd")" -v c="$(cat "$out/fix/seal-cert.pem")" \
  <<<"SELECT ok, status FROM elicense.verify_licence_ofd(decode(:'f', 'base64'), :'c')")
[ "$verdict" = "t ok" ] || fail "a file sealed with the migrated key: '$verdict'"
pg_dump -d "$db" >"$out/dump.sql"
while read -r line; do
  ! grep -qF -- "$line" "$out/dump.sql" || fail "the dump holds a line of the seal key's PEM body"
done < <(grep -v -- '-----' "$out/fix/seal-key.pem" | sed -n '1,2p')  # the lines that hold the private scalar
echo "ok: with the master key the update encrypts the key into elicense.seal, files seal and verify, the dump holds ciphertext"

# The province's and the preview keys: encrypted in place, still working.
[ "$(sql -c "SELECT count(*) FROM elicense.province_secret WHERE elicense._secret_key_id(secret_box) = elicense.master_key_id()")" = 2 ] \
  && [ "$(sql -c "SELECT count(*) FROM elicense.preview_key WHERE elicense._secret_key_id(secret_box) = elicense.master_key_id()")" = 1 ] \
  || fail "the province's or the preview keys are not encrypted under the master key after the update"
[ "$(sql -c "SELECT code FROM elicense.decrypt_assignment(elicense.des_encrypt_hex('202235000001000005', '$des_key'), NULL, '350000')")" \
  = 202235000001000005 ] || fail "the DES key does not decrypt an assignment after the update"
key8=Ab3dE5g7
encry_key=$(printf %s "$key8" | openssl pkeyutl -encrypt -pubin -inkey <(openssl pkey -in "$out/province.pem" -pubout) \
  -pkeyopt rsa_padding_mode:pkcs1 | base64 -w0)
[ "$(sql -c "SELECT code FROM elicense.decrypt_assignment(elicense.des_encrypt_hex('202251000001000006', '$key8'), '$encry_key', '510000')")" \
  = 202251000001000006 ] || fail "the province's RSA key does not decrypt an assignment after the update"
[ "$(sql -c "SELECT identifier FROM elicense._preview_claims('$token')")" = UPGRADE-TOKEN-1 ] \
  || fail "a preview token made before the update does not open after it"
clear_keys_found "$out/dump.sql" && fail "a province or preview key is in clear in the dump after the update"
clear_keys_found && fail "a province or preview key is in clear in the table files after the update"
echo "ok: the province's and the preview keys are encrypted in place, still decrypt and sign, and no dump or table file holds them"
