#!/usr/bin/env bash
# Stock conversion (elicense.convert_stock) against the approval trigger, in
# the same run: N W032 licences converted from one stock batch, and the same
# N licences issued by one INSERT ... SELECT into the approval table of
# tests/fixtures/w032_approval.sql (elicense.issue_from_trigger per row).
# Printed figures, not a timed test:
#   scripts/throwaway-cluster bash bench/stock_convert.sh [N, default 1000000]
# Also prints the converting backend's peak private memory (RssAnon) for N/10 and for
# N rows: the conversion works in a temp table and set-based statements, so
# its memory should not grow with N (temp_buffers bounds the temp table).
set -euo pipefail
n=${1:-1000000}
small=$(( n / 10 ))
db=elicense_bench_stock
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -v cert_prefix=B -d "$db" -f "$(dirname "$0")/../tests/fixtures/w032_approval.sql"

ms() { sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | tail -n 1; }

# load BATCH ROWS PREFIX: one stock batch of ROWS generated rows (as a DBA's COPY would fill it).
load() {
  psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<SQL | ms
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES ($1, '11100000000013338W032', 'bench $2 rows');
\timing on
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT $1, i, jsonb_build_object('name', '李四', 'gender', '男', 'id_number', '350102199001011238', 'category', '建筑电工',
         'licence_number', '$3' || lpad(i::text, 9, '0'), 'valid_from', '2024-01-01', 'valid_to', '2026-01-01',
         'issue_date', '2024-01-01', 'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
         'authority_division', '350000')
  FROM generate_series(1, $2) i;
SQL
}
# convert BATCH -> "milliseconds peak_anon_kB converted rejected": the conversion
# in a backend of its own, whose private memory (RssAnon of /proc: VmHWM would
# count the shared buffers it touched) is sampled every 0.1 s while it runs.
convert() {
  local log=$(mktemp) pid='' peak=0 kb
  PGAPPNAME=stock_bench_$1 psql -X -At -v ON_ERROR_STOP=1 -d "$db" >"$log" <<SQL &
\timing on
SELECT 'rows ' || converted || ' ' || rejected FROM elicense.convert_stock($1);
SQL
  local client=$!
  while kill -0 "$client" 2>/dev/null; do
    [ -n "$pid" ] || pid=$(psql -X -At -d "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'stock_bench_$1'")
    if [ -n "$pid" ]; then
      kb=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${kb:-0}" -gt "$peak" ] && peak=$kb
    fi
    sleep 0.1
  done
  wait "$client"
  awk -v k="$peak" '/^Time:/ {t=$2} /^rows / {r=$2" "$3} END {print t, k, r}' "$log"
  rm -f "$log"
}

ls=$(load 1 "$small" S)
read -r cs ks rs <<<"$(convert 1)"
lb=$(load 2 "$n" T)
read -r cb kb rb <<<"$(convert 2)"
ti=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<SQL | ms
\timing on
INSERT INTO approval (approved, authority, person, sex, idno, work, start_date, end_date, decided, clerk)
SELECT 'yes', '11350000003591037R', '李四', '男', '350102199001011238', '建筑电工', '2024-01-01', '2026-01-01', '2024-01-01', 'bench'
  FROM generate_series(1, $n);
SQL
)
[ "$(psql -X -At -d "$db" -c "SELECT count(*) FROM elicense.certificate")" = "$(( small + 2 * n ))" ] \
  || { echo "expected $(( small + 2 * n )) licences, not $(psql -X -At -d "$db" -c "SELECT count(*) FROM elicense.certificate")" >&2; exit 1; }

rate() { echo "$1 * 1000 / $2" | bc -l | xargs printf '%.0f'; }
echo "stock conversion of W032 licences, $(nproc) cores, PostgreSQL $(psql -XAtc 'SHOW server_version')"
printf '   %-44s %12s rows/s  (%.1f s)\n' "load $n stock rows (INSERT ... SELECT):" "$(rate "$n" "$lb")" "$(echo "$lb / 1000" | bc -l)"
printf '   %-44s %12s rows/s  (%.1f s; converted/rejected %s; peak %s kB private)\n' "convert_stock, $small rows:" "$(rate "$small" "$cs")" \
  "$(echo "$cs / 1000" | bc -l)" "${rs// //}" "$ks"
printf '   %-44s %12s rows/s  (%.1f s; converted/rejected %s; peak %s kB private)\n' "convert_stock, $n rows:" "$(rate "$n" "$cb")" \
  "$(echo "$cb / 1000" | bc -l)" "${rb// //}" "$kb"
printf '   %-44s %12s rows/s  (%.1f s)\n' "approval trigger, $n rows in one INSERT:" "$(rate "$n" "$ti")" "$(echo "$ti / 1000" | bc -l)"
printf '   conversion / trigger: %.2fx (goal: at least 10x)\n' "$(echo "$ti / $cb" | bc -l)"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES
      ('stock_convert', 'approval trigger, one INSERT', $n, $ti / 1000.0, $n * 1000.0 / $ti, NULL),
      ('stock_convert', 'convert_stock', $n, $cb / 1000.0, $n * 1000.0 / $cb, 'approval trigger, one INSERT');
  END IF;
END
\$\$;
SQL
