#!/usr/bin/env bash
# Issue 19, "Must show": with log_statement = 'all' for the whole cluster, a
# demo-sized run leaves no private key, secret or full resident ID number in
# the server log or in a plain pg_dump of the whole database:
#   keys loaded through elicense-admin (the province's RSA key, a seal key);
#   both licence types issued by an approval system's triggers with resident
#   ID numbers (W032 holders, W050 principals); paper licences converted
#   (stock); delivery by the worker to the platform double (assignments
#   decrypted with the province's key); previews served by elicense-preview
#   (tokens signed with the preview key); a department reading a W032
#   licence through elicense-gateway with a usage code, its copy and its
#   verification; the original rendered by an issuer (archived, encrypted).
# Needles (tests/support/secret_scan.py): the PEM body lines and private
# exponent of the province's key, what only the seal key's scalar gives, the
# master key, the preview key (opened from its box with the master key), the
# worker's platform client secret, the gateway application's secret, and
# every full ID number the run used. The approval system's own statements
# (its INSERTs carry the numbers it stores in its own tables) are outside
# our control: counted apart. The full numbers may be in the dump only in
# the columns tests/support/id_columns.txt lists (the licence itself, what
# the platform must receive, the approval system's tables): anywhere else
# fails, like a key anywhere. Every file (ZIP/OFD) in the log or the dump is
# opened and scanned too; a dump with the original added in clear must fail.
# Runs inside a throwaway cluster (PG* set, superuser); $1 is the output directory.
source "$(dirname "$0")/../sync/lib.sh"
source "$root/tests/gateway/lib.sh"
[ -x "$bin/elicense-preview" ] && [ -x "$bin/elicense-gateway" ] || fail "build elicense-preview and elicense-gateway first (cmake)"
trap 'for p in "${gw_pids[@]}"; do kill "$p" 2>/dev/null || true; done; cleanup' EXIT
log_everything

# Keys through elicense-admin, the platform double, the preview server, the worker.
setup_database
install_seal
start_double
create_preview_login
start_preview scan-preview '{"threads": 2, "max_concurrent_renders": 1}'
sql -c "UPDATE elicense.delivery_config SET preview_url_template = '$preview/p/{token}'"
write_config 8 10
start_worker scan-worker

# The approval system (its own login session, application "approval-system").
approval() { PGAPPNAME=approval-system sql "$@"; }
approval -f "$root/tests/fixtures/holder_ids.sql"
approval -f "$root/tests/fixtures/approval_tables.sql"
approval <<'SQL'
INSERT INTO company_approval (status, company, uscc, boss, boss_idno, address, cert_no, valid_from, valid_to, decided, clerk)
SELECT 'approved', '福建示范建设工程有限公司' || g, uscc(g), '张' || g, resident_id(1000 + g), '福州市鼓楼区五四路' || g || '号',
       '(闽)JZ安许证字[2025]' || lpad(g::text, 6, '0'), '2025-03-01', '2028-02-28', '2025-03-01', '审批员甲'
FROM generate_series(1, 3) g;
INSERT INTO worker_approval (status, person, sex, idno, work, cert_no, valid_from, valid_to, decided, clerk)
SELECT 'approved', '王' || g, '男', resident_id(g), '建筑架子工', '闽A' || lpad(g::text, 10, '0'),
       '2025-05-01', '2029-04-30', '2025-05-01', '审批员乙'
FROM generate_series(1, 3) g;
INSERT INTO worker_approval (status, person, sex, idno, work, cert_no, valid_from, valid_to, decided, clerk)
VALUES ('approved', '王九', '女', '350102199001011238', '建筑电工', '闽A0000000009', '2025-05-01', '2029-04-30', '2025-05-01', '审批员乙');
SQL

# Paper licences converted by a DBA (COPY of the old system's export).
batch=$(sql -c "INSERT INTO elicense.stock_batch (type_code, label) VALUES ('11100000000013338W032', '纸质证书') RETURNING id")
for g in 1 2; do
  printf '{"name": "陈%s", "gender": "男", "id_number": "%s", "category": "建筑电工", "licence_number": "闽B%010d", "first_issue_date": "2013-07-01", "valid_from": "2019-07-01", "valid_to": "2029-06-30", "issue_date": "2019-07-01", "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000"}\n' \
    "$g" "$(sql -c "SELECT resident_id(500 + $g)")" "$g"
done >"$out/stock.jsonl"
sql -c "SET elicense.stock_batch = '$batch'" -c "\\copy elicense.stock_row (data) FROM '$out/stock.jsonl'"
PGDATABASE=$db "$root/scripts/stock-progress" --convert "$batch" >/dev/null
[ "$(sql -c "SELECT converted FROM elicense.stock_batch_progress WHERE batch_id = $batch")" = 2 ] || fail "the stock rows did not convert"

wait_for 120 "$(all_delivered)"
[ "$(sql -c "SELECT count(*) FROM elicense.certificate WHERE assigned_code IS NULL")" = 0 ] || fail "a licence has no assigned code"

# A preview page, as the platform's visitors open it.
double_state >"$out/double_state.json"
person=350102199001011238
shown=$(sql -c "SELECT identifier FROM elicense.certificate WHERE licence_number = '闽A0000000009'")  # $person's
url=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["licences"][sys.argv[2]]["url"])' "$out/double_state.json" "$shown")
[ "$(curl -sS -o "$out/preview.html" -w '%{http_code}' "$url")" = 200 ] || fail "the preview of $shown did not open"

# A department reads that person's licence through the gateway with a usage code.
sql >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dept_app') THEN CREATE ROLE dept_app LOGIN IN ROLE elicense_consumer; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_login') THEN
    CREATE ROLE gateway_login LOGIN NOINHERIT IN ROLE elicense_gateway;
  END IF;
END $$;
GRANT dept_app TO gateway_login;
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes, max_code_minutes)
VALUES ('bidding', '招投标资格审查', '招投标资格审查', '{11100000000013338W032}', 60);
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes)
VALUES ('dept_app', '福州市市场监督管理局', 'bidding', '{11100000000013338W032}');
SQL
# (gateway_login's password is set like the worker's: create_login.)
create_login gateway_login elicense_gateway
gw_register dept_app dept_app
printf '%s\n' "$secret" >"$out/gateway_secret"
gw_start scan-gateway '{"threads": 2, "token_cache_s": 0}'
token=$(token_for dept_app "$secret")
ctx='{"applicant": "王九", "business_id": "YW-9", "step": "受理", "office": "鼓楼", "department": "市场监管", "officer": "王五"}'
call "$token" /api/v1/usage-codes "$(jq -nc --argjson c "$ctx" --arg h "$person" \
  '{scenario: "bidding", holderCode: $h, holderTypeCode: "111", certTypeCodes: ["11100000000013338W032"], context: $c, validMinutes: 30}')"
expect 200 0 "create a usage code"
code=$(jq -r .data.usageCode "$out/answer.json")
call "$token" /api/v1/licences/info-by-holder "$(jq -nc --arg c "$code" --arg h "$person" '{usageCode: $c, holderCode: $h, holderTypeCode: "111"}')"
expect 200 0 "info by holder"
[ "$(jq -r '[.data[].identifier] | join(",")' "$out/answer.json")" = "$shown" ] || fail "info by holder: $(cat "$out/answer.json")"
# Files: the original as an issuer renders it (archived in elicense.sealed_file;
# its face shows the full ID number), the department's copy through the
# gateway (archived too) and its verification (the file is a parameter of a
# logged statement). The scan opens every file it finds in the log and the dump.
sql -c "SELECT encode(elicense.render_certificate_ofd('$shown', false), 'hex')" >"$out/original.hex"
call "$token" /api/v1/licences/file "$(jq -nc --arg c "$code" --arg i "$shown" '{usageCode: $c, certIdentifier: $i}')"
expect 200 0 "the licence file"
jq -r .data.fileBase64 "$out/answer.json" >"$out/copy.b64"
call "$token" /api/v1/licences/verify "$(jq -nc --rawfile f "$out/copy.b64" '{scenario: "bidding", fileBase64: ($f | rtrimstr("\n"))}')"
expect 200 0 "verify the copy"
[ "$(jq -r .data.verdict "$out/answer.json")" = valid ] || fail "the department's copy does not verify: $(cat "$out/answer.json")"
[ "$(sql -c "SELECT count(*) FROM elicense.sealed_file WHERE identifier = '$shown'")" = 2 ] \
  || fail "the original and the copy are not both archived"

# The scan: the log from the start of the run, a plain dump of the whole database.
scan_for_secrets approval-system "gateway application secret=$out/gateway_secret"
[ "$(wc -l <"$out/ids.txt")" -ge 9 ] || fail "the run used fewer resident ID numbers than it issued: $(wc -l <"$out/ids.txt")"
grep -q "app=elicense-sync/scan-worker" "$out/server.log" || fail "the worker's statements are not in the log"
grep -q "app=elicense-gateway" "$out/server.log" || fail "the gateway's statements are not in the log"
# The scan sees inside files: the same dump plus the original in clear (as
# elicense.sealed_file held it before it was encrypted) fails it.
{
  cat "$out/dump.sql"
  printf 'COPY elicense.sealed_file_in_clear (identifier, file) FROM stdin;\n%s\t\\\\x%s\n\\.\n' "$shown" "$(cat "$out/original.hex")"
} >"$out/dump-clear-original.sql"
python3 "$root/tests/support/secret_scan.py" scan "$out/server.log" "$out/dump-clear-original.sql" "$out/needles.txt" \
  "$out/ids.txt" "--outside-app=approval-system" "--allowed-columns=$root/tests/support/id_columns.txt" \
  >"$out/scan-clear-original.txt" && fail "the scan passed a dump that holds an original in clear"
grep -qF "LEAK: full ID number ${person:0:6}...${person: -4} in the pg_dump, column elicense.sealed_file_in_clear.file, inside a file" \
  "$out/scan-clear-original.txt" || fail "the scan of a clear original: $(cat "$out/scan-clear-original.txt")"
echo "ok: the scan finds the full ID number inside an original in clear"
# Logins get their password as a SCRAM verifier (tests/support/scram_verifier.py):
# the log holds verifiers, and a password in clear in it would fail the scan.
grep -q "ALTER ROLE .* PASSWORD 'SCRAM-SHA-256\$4096:" "$out/server.log" || fail "no login's password was set as a SCRAM verifier"
{
  cat "$out/server.log"
  echo "2026-01-01 00:00:00.000 UTC [1] app=psql user=postgres LOG:  statement: ALTER ROLE probe PASSWORD '$PGPASSWORD';"
} >"$out/server-clear-password.log"
python3 "$root/tests/support/secret_scan.py" scan "$out/server-clear-password.log" "$out/dump.sql" "$out/needles.txt" \
  "$out/ids.txt" "--outside-app=approval-system" "--allowed-columns=$root/tests/support/id_columns.txt" \
  >"$out/scan-clear-password.txt" && fail "the scan passed a log that holds a login's password"
grep -qF "LEAK: login password in the server log" "$out/scan-clear-password.txt" \
  || fail "the scan of a clear password: $(cat "$out/scan-clear-password.txt")"
echo "ok: logins' passwords are sent as SCRAM verifiers; the scan finds one in clear"
echo "secret_scan: no key, secret or full ID number in $(wc -l <"$out/server.log") log lines and the dump"
