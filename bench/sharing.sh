#!/usr/bin/env bash
# Lookups/s through the sharing functions over 1,000,000 licences, next to a
# plain indexed SELECT on elicense.certificate in the same run (the baseline).
#   bench/run sharing     (or bench/sharing.sh; SHARING_LICENCES, SHARING_SECONDS override)
# Data: half W050 licences of companies (USCC holders), half W032 licences of
# people (resident IDs), loaded set-based (one INSERT ... SELECT each, valid
# identifiers and holder IDs, FK triggers skipped with session_replication_role
# = replica; CHECK constraints still run). Usage codes, one per W032 holder,
# are bulk-inserted as create_usage_code would store them (their SHA-256), so
# each lookup can present the code of a random holder; one row also measures
# create_usage_code itself. pgbench, 2 clients, prepared statements; the
# sharing calls write their audit rows through the audit writers as always.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PGHOST:-}" ] || exec bench/run sharing
n=${SHARING_LICENCES:-1000000}
secs=${SHARING_SECONDS:-10}
half=$((n / 2))
db=elicense_bench_sharing
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --force --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

started=$(date +%s.%N)
sql -c "CREATE EXTENSION elicense" -f tests/fixtures/holder_ids.sql >/dev/null
sql -v half="$half" <<'SQL'
CREATE FUNCTION bench_code(i integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'UC' || upper(md5('code' || i) || md5('edoc' || i))
$$;
SET session_replication_role = replica;
INSERT INTO elicense.certificate (identifier, original_identifier, type_code, sequence, version, licence_number, holder_name,
    holder_id_type, holder_id, authority_name, authority_uscc, authority_division, issue_date, valid_from, valid_to,
    operate_type, business_data, created_by)
SELECT id, id, '11100000000013338W050', seq, 1, '(闽)JZ安许证字[2025]' || lpad(g::text, 6, '0'), '福建测试建设工程有限公司' || g,
       'USCC', uscc(g), '福建省住房和城乡建设厅', '11350000003591037R', '350000', date '2020-01-01' + g % 2000,
       date '2020-01-01' + g % 2000, date '2030-01-01' + g % 2000, '01',
       jsonb_build_object('principal', '张三', 'principal_id', '350102199001011238', 'address', '福州市鼓楼区' || g || '号', 'economic_type', '有限责任公司', 'permit_scope', '建筑施工'),
       'bench'
  FROM generate_series(1, :half) g,
       LATERAL (SELECT '2025' || lpad(g::text, 6, '0') AS seq) s,
       LATERAL (SELECT elicense.build_identifier('11100000000013338W050', '11350000003591037R', s.seq, 1) AS id) i;
INSERT INTO elicense.certificate (identifier, original_identifier, type_code, sequence, version, licence_number, holder_name,
    holder_id_type, holder_id, authority_name, authority_uscc, authority_division, issue_date, valid_from, valid_to,
    operate_type, business_data, created_by)
SELECT id, id, '11100000000013338W032', seq, 1, '闽A01' || lpad(g::text, 10, '0'), '测试人员' || g,
       'RESIDENT_ID', resident_id(g), '福建省住房和城乡建设厅', '11350000003591037R', '350000', date '2020-01-01' + g % 2000,
       date '2020-01-01' + g % 2000, date '2030-01-01' + g % 2000, '01',
       jsonb_build_object('gender', '男', 'category', '建筑电工'), 'bench'
  FROM generate_series(1, :half) g,
       LATERAL (SELECT lpad(g::text, 7, '0') AS seq) s,
       LATERAL (SELECT elicense.build_identifier('11100000000013338W032', '11350000003591037R', s.seq, 1) AS id) i;
RESET session_replication_role;
-- The department application and its grant; one usage code per W032 holder.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_dept_app') THEN
    CREATE ROLE bench_dept_app LOGIN PASSWORD 'bench-only' IN ROLE elicense_consumer;
  END IF;
END $$;
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes, max_code_minutes)
VALUES ('bench', '性能测试', '性能测试', '{11100000000013338W050,11100000000013338W032}', 120);
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes)
VALUES ('bench_dept_app', '测试部门', 'bench', '{11100000000013338W050,11100000000013338W032}');
INSERT INTO elicense.usage_code (code_sha256, grant_id, holder_id, type_codes, context, expires_at)
SELECT sha256(convert_to(bench_code(g), 'UTF8')), 1, resident_id(g), '{11100000000013338W032}',
       jsonb_build_object('applicant', '测试人员' || g, 'business_id', 'B' || g, 'step', '受理', 'office', '测试网点',
                          'department', '测试部门', 'officer', '测试员', 'purpose', '性能测试'),
       now() + interval '2 hours'
  FROM generate_series(1, :half) g;
VACUUM ANALYZE elicense.certificate;
VACUUM ANALYZE elicense.usage_code;
SQL
loaded=$(echo "$(date +%s.%N) - $started" | bc -l)
# Write the loaded gigabyte out now, not in a checkpoint during a measured run
# (the by-holder row once ran at 618/s in one run and 1,115/s in the next).
sql -c "CHECKPOINT"
rows=$(sql -c "SELECT count(*) FROM elicense.certificate")
[ "$(sql -c "SELECT count(*) FROM elicense.certificate WHERE holder_ref = elicense._holder_ref(resident_id($((half / 2))))")" = 1 ] || { echo "bad data"; exit 1; }
printf '\nloaded %s licences and %s usage codes in %.0f s (size of elicense.certificate with indexes: %s)\n' \
  "$rows" "$half" "$loaded" "$(sql -c "SELECT pg_size_pretty(pg_total_relation_size('elicense.certificate'))")"

w032="elicense.build_identifier('11100000000013338W032', '11350000003591037R', lpad(:i::text, 7, '0'), 1)"
cat >"$work/baseline_id.sql" <<SQL
\set i random(1, $half)
SELECT * FROM elicense.certificate WHERE identifier = $w032;
SQL
cat >"$work/baseline_holder.sql" <<SQL
\set i random(1, $half)
SELECT * FROM elicense.certificate WHERE holder_ref = elicense._holder_ref(resident_id(:i)) AND superseded_at IS NULL;
SQL
cat >"$work/share_id.sql" <<SQL
\set i random(1, $half)
SELECT * FROM elicense.licence_info(bench_code(:i), $w032);
SQL
cat >"$work/share_holder.sql" <<SQL
\set i random(1, $half)
SELECT * FROM elicense.licence_info_by_holder(bench_code(:i), resident_id(:i));
SQL
cat >"$work/create_code.sql" <<SQL
\set i random(1, $half)
SELECT elicense.create_usage_code('bench', resident_id(:i), '{11100000000013338W032}',
  '{"applicant": "测试", "business_id": "B", "step": "受理", "office": "网点", "department": "测试部门", "officer": "测试员"}');
SQL

tps() {  # tps SCRIPT [as the department application] -> transactions/s
  local script=$1
  if [ "${2:-}" = app ]; then
    PGUSER=bench_dept_app PGPASSWORD=bench-only pgbench -n -M prepared -c 2 -j 2 -T "$secs" -f "$work/$script.sql" "$db" >"$work/$script.log" 2>&1
  else
    pgbench -n -M prepared -c 2 -j 2 -T "$secs" -f "$work/$script.sql" "$db" >"$work/$script.log" 2>&1
  fi
  sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$work/$script.log"
}
audit_before=$(sql -c "SELECT count(*) FROM elicense.usage_audit")
b_id=$(tps baseline_id)
s_id=$(tps share_id app)
b_holder=$(tps baseline_holder)
s_holder=$(tps share_holder app)
c_code=$(tps create_code app)
audit=$(sql -c "SELECT count(*) - $audit_before || ' rows, ' || count(*) FILTER (WHERE result = 'ok' AND recorded_by = 'writer') || ' ok by the audit writer' FROM elicense.usage_audit")
[ -n "$s_id" ] && [ -n "$s_holder" ] || { cat "$work"/share_*.log; exit 1; }

printf '\n%-52s %12s %18s\n' "sharing lookups over $rows licences (2 clients, ${secs} s)" "lookups/s" "time vs baseline"
row() { printf '%-52s %12.0f %18s\n' "$1" "$2" "${3:-}"; }
row "by identifier: SELECT on certificate (baseline)" "$b_id"
row "by identifier: licence_info(code, identifier)" "$s_id" "$(echo "$b_id / $s_id" | bc -l | xargs printf '%.1f')"
row "by holder: SELECT on certificate (baseline)" "$b_holder"
row "by holder: licence_info_by_holder(code, holder)" "$s_holder" "$(echo "$b_holder / $s_holder" | bc -l | xargs printf '%.1f')"
row "create_usage_code" "$c_code"
echo "audit rows written during the runs: $audit"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES
      ('sharing', 'by identifier: SELECT (baseline)', round($b_id * $secs), $secs, $b_id, NULL),
      ('sharing', 'by identifier: licence_info', round($s_id * $secs), $secs, $s_id, 'by identifier: SELECT (baseline)'),
      ('sharing', 'by holder: SELECT (baseline)', round($b_holder * $secs), $secs, $b_holder, NULL),
      ('sharing', 'by holder: licence_info_by_holder', round($s_holder * $secs), $secs, $s_holder, 'by holder: SELECT (baseline)'),
      ('sharing', 'create_usage_code', round($c_code * $secs), $secs, $c_code, 'by identifier: SELECT (baseline)');
  END IF;
END
\$\$;
SQL
