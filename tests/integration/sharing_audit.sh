#!/usr/bin/env bash
# Sharing functions across real sessions (what pgTAP, inside one transaction,
# cannot show):
#   1. a successful read and a refusal, each in a transaction the caller rolls
#      back, are in the usage audit as seen from another session;
#   2. a copy handed out verifies as valid, and the same copy with one byte of
#      Content.xml changed (tests/ofd/flip_byte.py: a well-formed ZIP) is tampered;
#   3. when every background-worker slot is taken, the call still works and its
#      audit row is written in the caller's transaction (recorded_by = transaction).
# Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
out=${1:-/tmp}/sharing_audit
root=$(cd "$(dirname "$0")/../.." && pwd)
db=elicense_sharing
mkdir -p "$out"
holders=()
cleanup() {
  for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
  # --force ends the backends of this test's database (the sleeping holders, the writers).
  dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
sql -c "CREATE EXTENSION elicense" -f "$root/tests/fixtures/sharing_seal.sql" >/dev/null
sql >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sharing_test_app') THEN
    CREATE ROLE sharing_test_app LOGIN IN ROLE elicense_consumer;
  END IF;
END $$;
SELECT elicense.issue('11100000000013338W032', jsonb_build_object(
  'name', '李四', 'gender', '男', 'id_number', '350102199001011238', 'category', '建筑电工',
  'licence_number', '闽A012025000001', 'valid_from', '2025-01-01', 'valid_to', '2029-01-01',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', '350000', 'issue_date', '2025-01-01'), 'clerk');
UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || md5(identifier);
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes) VALUES ('bidding', '招投标资格审查', '招投标资格审查', '{11100000000013338W032}');
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes) VALUES ('sharing_test_app', '福州市市场监督管理局', 'bidding', '{11100000000013338W032}');
SQL
id=$(sql -c "SELECT identifier FROM elicense.certificate")
ctx='{"applicant": "李四", "business_id": "YW-1", "step": "受理", "office": "鼓楼", "department": "市场监管", "officer": "王五"}'
code=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" \
           -c "SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', '$ctx')")

# 1. Rolled-back transactions leave their audit rows.
sql >/dev/null <<SQL
BEGIN;
SET SESSION AUTHORIZATION sharing_test_app;
SELECT * FROM elicense.licence_info('$code', '$id');
ROLLBACK;
SQL
psql -X -q -d "$db" >"$out/refusal.log" 2>&1 <<SQL || true
BEGIN;
SET SESSION AUTHORIZATION sharing_test_app;
SELECT * FROM elicense.licence_info('UC0000', '$id');
ROLLBACK;
SQL
grep -q 'unknown usage code' "$out/refusal.log" || fail "the refused call did not fail: $(cat "$out/refusal.log")"
got=$(sql -c "SELECT string_agg(concat_ws(' ', function, result, coalesce(sqlstate, '-'), db_user, recorded_by), '; ' ORDER BY id)
                FROM elicense.usage_audit WHERE function = 'licence_info'")
[ "$got" = "licence_info ok - sharing_test_app writer; licence_info refused 28000 sharing_test_app writer" ] \
  || fail "audit after two rolled-back transactions: $got"
echo "ok: a read and a refusal in rolled-back transactions are both in the audit"

# 2. Verification of a copy and of the copy with one byte of Content.xml changed.
sql -c "SET SESSION AUTHORIZATION sharing_test_app" \
    -c "SELECT encode(elicense.licence_file('$code', '$id'), 'base64')" | base64 -d >"$out/copy.ofd"
python3 "$root/tests/ofd/flip_byte.py" "$out/copy.ofd" Doc_0/Pages/Page_0/Content.xml "$out/tampered.ofd"
unzip -tq "$out/tampered.ofd" >/dev/null || fail "flip_byte.py did not write a valid ZIP"
verify() {
  sql -v f="$(od -An -v -tx1 "$1" | tr -d ' \n')" <<'SQL'
SET SESSION AUTHORIZATION sharing_test_app;
SELECT verdict || ' ' || signature_status FROM elicense.licence_verify('bidding', decode(:'f', 'hex'));
SQL
}
[ "$(verify "$out/copy.ofd")" = "valid ok" ] || fail "the copy does not verify as valid: $(verify "$out/copy.ofd")"
[ "$(verify "$out/tampered.ofd")" = "tampered digest_mismatch" ] || fail "the tampered copy: $(verify "$out/tampered.ofd")"
echo "ok: the copy is valid, the copy with one changed byte in Content.xml is tampered (digest_mismatch)"

# 3. No free worker slot: hold every slot with sessions that keep their writer.
slots=$(sql -c "SHOW max_worker_processes")
before=$(sql -c "SELECT count(*) FROM elicense.usage_audit")
for i in $(seq 1 "$slots"); do
  psql -X -q -d "$db" -c "SET SESSION AUTHORIZATION sharing_test_app" \
       -c "SELECT count(*) FROM elicense.licence_search('bidding')" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
  holders+=($!)
done
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT count(*) FROM elicense.usage_audit")" -ge $((before + slots)) ] && break
  sleep 0.1
done
writers=$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")
[ "$writers" -ge 1 ] || fail "no audit writer is running"
got=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" \
          -c "SELECT count(*) FROM elicense.licence_search('bidding')" \
          -c "RESET SESSION AUTHORIZATION" \
          -c "SELECT result || ' ' || recorded_by FROM elicense.usage_audit ORDER BY id DESC LIMIT 1")
[ "$got" = "$(printf '1\nok transaction')" ] || fail "with all $slots worker slots taken ($writers writers): $got"
echo "ok: with all $slots worker slots taken ($writers audit writers), the call works and is recorded in its own transaction"
