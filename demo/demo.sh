#!/usr/bin/env bash
# elicense end to end, inside a throwaway cluster (run by demo/run):
# approval tables whose triggers issue licences of both types, the sync worker
# delivering them to the national-platform test double (with a few injected
# 503s), a progress bar, the analysts' summary, the licence files, the
# preview links the collect step sent (served by elicense-preview), and a
# department using one licence under a grant (用证), with its audit; all of it
# under log_statement = 'all', then the log and a pg_dump scanned for keys,
# secrets and full ID numbers (tests/support/secret_scan.py).
# Every step checks what it shows and fails the script if it is wrong.
source "$(dirname "$0")/../tests/sync/lib.sh"
[ -x "$bin/elicense-preview" ] || fail "build elicense-preview first (cmake)"
files=$out/files
mkdir -p "$files"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A database with CREATE EXTENSION elicense, the province's keys, a seal, the platform double, the preview server and the worker"
# The whole run under log_statement = 'all': at the end, the log and a pg_dump
# are scanned for keys, secrets and full ID numbers (issue 19).
log_everything
setup_database
install_seal  # every file is sealed from here on
start_double
faults '{"latency_ms": 2, "rate_5xx": 0.03}'
# The preview server, logged in as a member of elicense_preview only; the
# collect step sends the platform links to it (set before the worker starts).
create_preview_login
start_preview demo-preview '{"threads": 4, "max_concurrent_renders": 2}'
sql -c "UPDATE elicense.delivery_config SET preview_url_template = '$preview/p/{token}'"
write_config 16 10
start_worker demo-worker
worker=${pids[-1]}
echo "platform double on $double_url; preview server on $preview; logs in $out"

step "Approval tables with the issuing trigger (what an approval system adds)"
approval() { PGAPPNAME=approval-system sql "$@"; }  # its own session: its statements are its own
approval -f "$root/tests/fixtures/holder_ids.sql"
approval -f "$root/tests/fixtures/approval_tables.sql"
echo "company_approval (安全生产许可证, W050) and worker_approval (特种作业操作资格证书, W032)"

step "Approving 150 companies and 150 workers, then changing one licence and revoking another"
approval <<'SQL'
INSERT INTO company_approval (status, company, uscc, boss, boss_idno, address, cert_no, valid_from, valid_to, decided, clerk)
SELECT 'approved', '福建示范建设工程有限公司' || g, uscc(g), '张' || g, resident_id(1000 + g), '福州市鼓楼区五四路' || g || '号',
       '(闽)JZ安许证字[2025]' || lpad(g::text, 6, '0'), '2025-03-01', '2028-02-28', '2025-03-01', '审批员甲'
FROM generate_series(1, 150) g;
INSERT INTO worker_approval (status, person, sex, idno, work, cert_no, valid_from, valid_to, decided, clerk)
SELECT 'approved', '王' || g, CASE WHEN g % 3 = 0 THEN '女' ELSE '男' END, resident_id(g), '建筑架子工',
       '闽A' || lpad(g::text, 10, '0'), '2025-05-01', '2029-04-30', '2025-05-01', '审批员乙'
FROM generate_series(1, 150) g;
SELECT elicense.change(identifier, '{"address": "福州市台江区江滨路1号"}', '单位地址变更', '审批员甲')
  FROM elicense.certificate WHERE licence_number = '(闽)JZ安许证字[2025]000001' \g /dev/null
SELECT elicense.revoke(identifier, '发生生产安全事故', '审批员乙')
  FROM elicense.certificate WHERE licence_number = '闽A0000000002' \g /dev/null
SQL
step "Converting 20 workers' licences issued on paper (存量证照), 3 rows with errors"
# What a DBA does with the old system's export: a batch, COPY, convert, read the errors.
batch=$(sql -c "INSERT INTO elicense.stock_batch (type_code, label) VALUES ('11100000000013338W032', '福州市 2019 年纸质证书') RETURNING id")
# stock_line G [fixed]: the export's line of worker G (rows 7, 13 and 19 wrong, unless fixed).
stock_line() {
  local g=$1 number id issued=2019-07-01
  number="闽B$(printf '%010d' "$g")"; id=$(sql -c "SELECT resident_id(500 + $g)")
  [ "${2:-}" = fixed ] || case $g in
    7) id=350102199001011239 ;;          # wrong check digit
    13) number="闽B 13" ;;               # not a W032 certificate number
    19) issued=2019-02-30 ;;             # no such day
  esac
  printf '{"name": "陈%s", "gender": "男", "id_number": "%s", "category": "建筑电工", "licence_number": "%s", "first_issue_date": "2013-07-01", "valid_from": "2019-07-01", "valid_to": "2029-06-30", "issue_date": "%s", "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000"}\n' \
    "$g" "$id" "$number" "$issued"
}
for g in $(seq 1 20); do stock_line "$g"; done >"$out/stock.jsonl"
sql -c "SET elicense.stock_batch = '$batch'" -c "\\copy elicense.stock_row (data) FROM '$out/stock.jsonl'"
PGDATABASE=$db "$root/scripts/stock-progress" --convert "$batch"
psql -X -q -d "$db" -c "SELECT row_no, sqlstate, field, message FROM elicense.stock_error WHERE batch_id = $batch ORDER BY row_no" \
  -c "SELECT batch_id, rows, converted, rejected, rejected_by_reason FROM elicense.stock_batch_progress WHERE batch_id = $batch"
[ "$(sql -c "SELECT converted || '/' || rejected FROM elicense.stock_batch_progress WHERE batch_id = $batch")" = 17/3 ] \
  || fail "the stock batch did not convert 17 rows and reject 3"
# The DBA corrects the three rows from the old system (the errors name the
# field), loads them again by COPY and converts again: the converted rows are
# skipped. Until converted, a row holds the export's clear ID number
# (docs/personal-data.md, "Limits").
for g in 7 13 19; do stock_line "$g" fixed; done >"$out/stock-fixed.jsonl"
sql -c "CREATE TEMP TABLE fixed (data jsonb)" -c "\\copy fixed FROM '$out/stock-fixed.jsonl'" \
    -c "UPDATE elicense.stock_row r SET data = f.data FROM fixed f WHERE r.batch_id = $batch AND r.data ->> 'name' = f.data ->> 'name'" >/dev/null
PGDATABASE=$db "$root/scripts/stock-progress" --convert "$batch"
[ "$(sql -c "SELECT converted || '/' || rejected FROM elicense.stock_batch_progress WHERE batch_id = $batch")" = 20/0 ] \
  || fail "the corrected stock batch did not convert all 20 rows"

# Each version queues its first step; each step done queues the next.
total=$(sql -c "SELECT sum(cardinality(elicense._delivery_steps(operate_type))) FROM elicense.certificate")
echo "$(sql -c "SELECT count(*) FROM elicense.certificate") licence versions issued, $total delivery steps to make"

step "The worker delivers them to the platform double"
while true; do
  done_steps=$(sql -c "SELECT count(*) FROM elicense.outbox WHERE status = 'done'")
  width=50; filled=$(( done_steps * width / total ))
  printf '\r[%-*s] %d/%d steps' "$width" "$(printf '%*s' "$filled" '' | tr ' ' '#')" "$done_steps" "$total"
  [ "$done_steps" -lt "$total" ] || break
  sleep 0.3
done
echo
echo "the stock batch (elicense.stock_batch_progress, scripts/stock-progress):"
PGDATABASE=$db "$root/scripts/stock-progress" "$batch" 60 || fail "the stock batch was not delivered"
[ "$(sql -c "SELECT delivered || '/' || failed FROM elicense.stock_batch_progress WHERE batch_id = $batch")" = 20/0 ] \
  || fail "the stock batch did not deliver its 20 licences"

step "What analysts see"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "SET ROLE elicense_analyst" \
  -c "SELECT type_code, month, issued, valid_now, revoked_or_withdrawn, delivered, electronic_rate FROM elicense.analyst_issuance_monthly ORDER BY 1" \
  -c "SELECT outcome, count(*) AS attempts, round(avg(duration_ms)) AS avg_ms FROM elicense.analyst_delivery_attempts GROUP BY 1 ORDER BY 1" \
  -c "SELECT right(original_identifier, 22) AS licence, version, from_status, to_status, operate_type, reason FROM elicense.analyst_status_timeline WHERE original_identifier IN (SELECT original_identifier FROM elicense.analyst_status_timeline GROUP BY 1 HAVING count(*) > 1) ORDER BY 1, at"
psql -X -d "$db" -c "SELECT step, done, dead, attempts FROM elicense.delivery_metrics ORDER BY step"

step "Licence files: QR codes and OFD files"
sql -F ' ' -c "SELECT identifier, type FROM (
                 SELECT identifier, right(type_code, 4) AS type,
                        row_number() OVER (PARTITION BY type_code ORDER BY sequence) AS n
                   FROM elicense.certificate WHERE qr_url IS NOT NULL AND superseded_at IS NULL) s
                WHERE n <= 3 ORDER BY 1" |
while read -r id type; do
  name=$type-$(sql -c "SELECT sequence FROM elicense.certificate WHERE identifier = '$id'")
  sql -c "SELECT encode(elicense.qr_png(qr_url, 'M', 6), 'base64') FROM elicense.certificate WHERE identifier = '$id'" | base64 -d >"$files/$name-qr.png"
  sql -c "SELECT encode(elicense.render_certificate_ofd('$id'), 'base64')" | base64 -d >"$files/$name-platform-copy.ofd"
  sql -c "SELECT encode(elicense.render_certificate_ofd('$id', false), 'base64')" | base64 -d >"$files/$name-original.ofd"
  echo "$id -> $files/$name-{qr.png,platform-copy.ofd,original.ofd}"
done
echo "QR URL of one licence: $(sql -c "SELECT qr_url FROM elicense.certificate WHERE qr_url IS NOT NULL LIMIT 1")"

kill -TERM "$worker"
wait "$worker" || true

step "Preview links the collect step sent to the platform (elicense-preview)"
double_state >"$out/double_state.json"
url_of() {  # IDENTIFIER: the preview URL the platform double received in the collect step
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["licences"][sys.argv[2]]["url"])' "$out/double_state.json" "$1"
}
open_preview() {  # URL NAME IDENTIFIER: fetches the page, prints its HTTP and licence status, keeps headers and page
  curl -sS -D "$out/$2.headers" -o "$out/$2.html" "$1" || fail "curl $1"
  http=$(head -n1 "$out/$2.headers" | tr -d '\r')
  status=$(sed -n 's/^X-Licence-Status: *//Ip' "$out/$2.headers" | tr -d '\r')
  echo "GET $preview/p/<token of $(right22 "$3")>: $http, X-Licence-Status: $status"
}
right22() { printf '%s' "${1: -22}"; }
shown=$(sql -c "SELECT identifier FROM elicense.certificate WHERE licence_number = '(闽)JZ安许证字[2025]000002'")
name=W050-$(sql -c "SELECT sequence FROM elicense.certificate WHERE identifier = '$shown'")
url=$(url_of "$shown")
[[ $url == "$preview/p/"* ]] || fail "the collect step sent '$url', not a link to the preview server $preview"
echo "the collect step of $shown sent the platform:"
echo "  ${url:0:60}…  (${#url} characters: a signed, expiring token)"
open_preview "$url" preview-valid "$shown"
[[ $http == *" 200 "* && $status == valid ]] || fail "the preview of a valid licence: $http, status '$status'"
# The page is HTML with the licence drawn on the server as an inline PNG.
sed -n 's/.*src="data:image\/png;base64,\([^"]*\)".*/\1/p' "$out/preview-valid.html" | base64 -d >"$files/$name-preview.png"
size=$(python3 -c 'import struct, sys; d = open(sys.argv[1], "rb").read(24); assert d[:8] == b"\x89PNG\r\n\x1a\n"; print("%dx%d" % struct.unpack(">II", d[16:24]))' \
       "$files/$name-preview.png") || fail "the preview page holds no PNG"
[ "$("$root/tests/support/decode_qr" "$files/$name-preview.png" 2>/dev/null || true)" = \
  "$(sql -c "SELECT qr_url FROM elicense.certificate WHERE identifier = '$shown'")" ] || fail "the QR in the preview picture is not the licence's QR URL"
echo "  page picture $size px -> $files/$name-preview.png; its QR decodes to the licence's QR URL"
revoked=$(sql -c "SELECT identifier FROM elicense.certificate WHERE licence_number = '闽A0000000002' AND version = 1")
open_preview "$(url_of "$revoked")" preview-revoked "$revoked"
[[ $http == *" 200 "* && $status == revoked ]] || fail "the preview of the revoked licence: $http, status '$status'"
! grep -q '<img' "$out/preview-revoked.html" || fail "the revoked licence's preview shows a picture"
echo "  the page says: $(sed -n 's/.*<p id="status"[^>]*>\([^<]*\)<br>.*/\1/p' "$out/preview-revoked.html") (no picture)"
echo "elicense.preview_access (admin):"
psql -X -d "$db" -c "SELECT to_char(at, 'HH24:MI:SS') AS at, right(identifier, 22) AS licence, version, client, code, status
                       FROM elicense.preview_access ORDER BY id"
[ "$(sql -c "SELECT string_agg(status, ' ' ORDER BY id) FROM elicense.preview_access")" = "valid revoked" ] \
  || fail "preview_access does not hold the two pages opened"

step "A department uses one company's licence (用证): scenario, grant, usage code, data, file, verification"
holder=$(sql -c "SELECT holder_id FROM elicense.certificate WHERE identifier = '$shown'")
other=$(sql -c "SELECT identifier FROM elicense.certificate WHERE licence_number = '(闽)JZ安许证字[2025]000003'")
worker_id=$(sql -c "SELECT x.holder_id FROM elicense.certificate c, elicense._reveal_ids(c) x WHERE c.licence_number = '闽A0000000001'")  # the full number: stored sealed (docs/personal-data.md)
# As an admin: the scenario, the department application's roles (its login
# has the cluster's password), a grant for W050 licences only.
# (The password goes as its SCRAM verifier, as psql's \password sends it: the log holds no password.)
verifier=$(scram_verifier)
sql -v verifier="$verifier" <<'SQL'
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes, copy_valid_days, max_code_minutes)
VALUES ('bidding', '招投标资格审查', '招投标资格审查', '{11100000000013338W050,11100000000013338W032}', 30, 30);
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dept_market') THEN CREATE ROLE dept_market NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'market_app') THEN
    CREATE ROLE market_app LOGIN IN ROLE elicense_consumer, dept_market;
  END IF;
END $$;
ALTER ROLE market_app PASSWORD :'verifier';
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes, valid_to)
VALUES ('dept_market', '福州市市场监督管理局', 'bidding', '{11100000000013338W050}', now() + interval '1 year');
SQL
echo "admin: scenario 'bidding' (招投标资格审查), login role market_app (elicense_consumer, dept_market), grant: dept_market may use W050"
# From here on, connected as market_app (the functions know the caller by session_user).
app() { PGAPPNAME=department-app psql -X -q -v ON_ERROR_STOP=1 -U market_app -d "$db" "$@"; }  # its own SQL client
[ "$(app -At -c "SELECT session_user")" = market_app ] || fail "not connected as market_app"
ctx='{"applicant": "张2", "business_id": "ZB-2026-0042", "step": "资格审查", "office": "鼓楼区政务服务中心", "department": "福州市市场监督管理局", "officer": "王五"}'
code=$(app -At -c "SELECT elicense.create_usage_code('bidding', '$holder', '{11100000000013338W050}', '$ctx')")
[[ $code == UC* ]] || fail "create_usage_code returned '$code'"
echo "market_app: create_usage_code('bidding', '$holder', W050, context) -> ${code:0:12}…"
app -c "SELECT valid, scenario, department, holder_id, licence_types, context ->> 'business_id' AS business_id, context ->> 'officer' AS officer
          FROM elicense.usage_code_info('$code')"
app -c "SELECT right(identifier, 22) AS licence, version, licence_number, holder_name, effective_status
          FROM elicense.licence_info_by_holder('$code', '$holder')" | tee "$out/by_holder.txt"
grep -qF "$(right22 "$shown")" "$out/by_holder.txt" || fail "licence_info_by_holder does not return the holder's licence"
app -c "SELECT licence_number, valid_to, business_data ->> 'principal' AS principal, business_data ->> 'address' AS address
          FROM elicense.licence_info('$code', '$shown')"
app -At -c "SELECT encode(elicense.licence_file('$code', '$shown'), 'base64')" | base64 -d >"$files/$name-copy-bidding.ofd"
note=$(unzip -p "$files/$name-copy-bidding.ofd" Doc_0/Pages/Page_0/Annotation.xml | grep -o '用途：[^<]*') \
  || fail "the file copy has no purpose note"
unzip -l "$files/$name-copy-bidding.ofd" Doc_0/Signs/Sign_0/SignedValue.dat >/dev/null || fail "the file copy is not sealed"
echo "licence_file -> $files/$name-copy-bidding.ofd: note \"$note\", sealed"
# The file goes in as hex read by psql itself (a command-line argument is capped at 128 KiB).
verdict=$(app -At -F ' ' <<SQL
\\set f \`od -An -v -tx1 '$files/$name-copy-bidding.ofd' | tr -d ' \\n'\`
SELECT verdict, signature_status, copy_valid_until FROM elicense.licence_verify('bidding', decode(:'f', 'hex'));
SQL
)
echo "licence_verify(that copy): $verdict"
[[ $verdict == "valid ok "* ]] || fail "the copy does not verify as valid with a good seal: $verdict"
refuse() {  # WHAT SQL: the call must fail with 42501; prints its SQLSTATE and message
  local got
  if got=$(app -At -v VERBOSITY=verbose -c "$2" 2>&1); then fail "$1 was not refused: $got"; fi
  got=$(head -n1 <<<"$got")
  [[ $got == "ERROR:  42501: "* ]] || fail "$1: $got"
  echo "refused, $1: ${got#ERROR:  }"
}
refuse "another holder's licence" "SELECT licence_number FROM elicense.licence_info('$code', '$other')"
refuse "a W032 licence (outside the grant)" "SELECT elicense.create_usage_code('bidding', '$worker_id', '{11100000000013338W032}', '$ctx')"
echo "elicense.analyst_usage_audit (as elicense_analyst: every call, refusals included, resident IDs masked):"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "SET ROLE elicense_analyst" \
  -c "SELECT id, db_user, grantee, function, right(identifier, 22) AS licence, holder_id_masked, result, sqlstate,
             rows_returned AS rows, recorded_by
        FROM elicense.analyst_usage_audit ORDER BY id"
# The audit holds each call in order, the code's check said valid, the
# holder had exactly one licence.
calls=$(sql -c "SELECT string_agg(function || ':' || result, ' ' ORDER BY id) FROM elicense.usage_audit")
[ "$calls" = "create_usage_code:ok usage_code_info:ok licence_info_by_holder:ok licence_info:ok licence_file:ok licence_verify:ok licence_info:refused create_usage_code:refused" ] \
  || fail "the audit does not hold the reads and the refusals: $calls"
[ "$(sql -c "SELECT count(*) FROM elicense.usage_audit WHERE (function = 'usage_code_info' AND message = 'valid')
                OR (function = 'licence_info_by_holder' AND rows_returned = 1)")" = 2 ] \
  || fail "usage_code_info did not say valid, or the holder has more or less than one licence"

step "No key, secret or full ID number in the server log (log_statement = 'all') or in a pg_dump"
scan_for_secrets approval-system,department-app

step "Done: every licence delivered, $(sql -c "SELECT count(*) FROM elicense.code_assignment") codes assigned, previews served, one licence used by a department ($(sql -c "SELECT count(*) FROM elicense.usage_audit") audit rows); files in $files"
