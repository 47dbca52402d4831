#!/usr/bin/env bash
# A 0.2.0 database holds seal keys in clear (elicense.seal_key). Updating it
# to 0.3.0 without elicense.master_key_file stops with a HINT and changes
# nothing; with the master key, the keys move to elicense.seal encrypted
# (esID elicense-seal-<USCC>), seal_key is gone, files still seal and verify,
# and a pg_dump holds no line of the key's PEM body.
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
sql -v key="$(cat "$out/fix/seal-key.pem")" -v cert="$(cat "$out/fix/seal-cert.pem")" \
    -v png="$(od -An -v -tx1 "$out/fix/seal.png" | tr -d ' \n')" <<'SQL'
CREATE EXTENSION elicense VERSION '0.2.0';
INSERT INTO elicense.seal_key (authority_uscc, seal_name, private_key_pem, certificate_pem, seal_png)
VALUES ('11350000003591037R', '福建省住房和城乡建设厅行政审批专用章', :'key', :'cert', decode(:'png', 'hex'));
SQL

set_master ''
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
