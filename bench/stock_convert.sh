#!/usr/bin/env bash
# Stock conversion (elicense.convert_stock) against the approval trigger, in
# the same run. Printed figures, not a timed test:
#   scripts/throwaway-cluster bash bench/stock_convert.sh [SIZES [TRIGGER_ROWS]]
#     SIZES         batch sizes converted, default "10000 100000 1000000"
#     TRIGGER_ROWS  rows of the largest batch issued through the trigger, default 20000
# Each batch of generated W032 stock rows is converted in a backend of its
# own, whose private memory (RssAnon of /proc: VmHWM would count the shared
# buffers it touched) is sampled every 0.1 s; its peak is printed per size, so
# that memory growing with the rows would show. Part of it is the local
# buffers of convert_stock's work table, allocated on first use up to
# temp_buffers (printed) within the first few 5,000-row chunks: a batch of
# 10,000 rows ends before it has them all.
# The trigger leg issues the first TRIGGER_ROWS rows of the largest batch (the
# same items) by one INSERT ... SELECT into the approval table of
# tests/fixtures/w032_approval.sql (elicense.issue per row). It runs at a few
# hundred rows/s, and its cost per row does not depend on how many rows the
# INSERT has, so a sample gives its rate: all 1,000,000 rows would take over an
# hour.
set -euo pipefail
read -r -a sizes <<<"${1:-10000 100000 1000000}"
trigger_rows=${2:-20000}
db=elicense_bench_stock
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -v cert_prefix=B -d "$db" -f "$(dirname "$0")/../tests/fixtures/w032_approval.sql"

ms() { sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | tail -n 1; }
rate() { echo "$1 * 1000 / $2" | bc -l | xargs printf '%.0f'; }

# load BATCH ROWS: one stock batch of ROWS generated rows (as a DBA's COPY
# would fill it), certificate numbers unique across batches.
load() {
  psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<SQL | ms
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES ($1, '11100000000013338W032', 'bench $2 rows');
\timing on
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT $1, i, jsonb_build_object('name', '李四' || (i % 1000), 'gender', '男', 'id_number', '350102199001011238',
         'category', '建筑电工', 'licence_number', 'T' || $1 || lpad(i::text, 8, '0'), 'valid_from', '2024-01-01',
         'valid_to', '2029-01-01', 'issue_date', '2024-01-01', 'authority_name', '福建省住房和城乡建设厅',
         'authority_uscc', '11350000003591037R', 'authority_division', '350000')
  FROM generate_series(1, $2) i;
SQL
}
# convert BATCH -> "milliseconds peak_anon_kB converted rejected"
convert() {
  local log pid='' peak=0 kb
  log=$(mktemp)
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

echo "stock conversion of W032 licences, $(nproc) cores, PostgreSQL $(psql -XAtc 'SHOW server_version')," \
  "temp_buffers $(psql -XAtc 'SHOW temp_buffers'), work_mem $(psql -XAtc 'SHOW work_mem')"
batch=0
total=0
for n in "${sizes[@]}"; do
  batch=$((batch + 1))
  lt=$(load "$batch" "$n")
  read -r ct peak got <<<"$(convert "$batch")"
  total=$((total + n))
  [ "$got" = "$n 0" ] || { echo "batch of $n rows: converted/rejected $got, expected $n 0" >&2; exit 1; }
  printf '   %-34s %9s rows/s  (%.1f s; loaded at %s rows/s)  peak private memory %6s kB\n' "convert_stock, $n rows:" \
    "$(rate "$n" "$ct")" "$(echo "$ct / 1000" | bc -l)" "$(rate "$n" "$lt")" "$peak"
  last_n=$n last_ct=$ct
done

# The trigger leg: the first rows of the largest batch, as approvals (with
# the number they were loaded with: a converted row keeps it masked).
tt=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<SQL | ms
\timing on
INSERT INTO approval (approved, authority, person, sex, idno, work, cert_no, start_date, end_date, decided, clerk)
SELECT 'yes', r.data ->> 'authority_uscc', r.data ->> 'name', r.data ->> 'gender', '350102199001011238', r.data ->> 'category',
       'A' || (r.data ->> 'licence_number'), (r.data ->> 'valid_from')::date, (r.data ->> 'valid_to')::date,
       (r.data ->> 'issue_date')::date, 'bench'
  FROM elicense.stock_row r WHERE r.batch_id = $batch AND r.row_no <= $trigger_rows;
SQL
)
licences=$(psql -X -At -d "$db" -c "SELECT count(*) FROM elicense.certificate")
[ "$licences" = "$((total + trigger_rows))" ] || { echo "expected $((total + trigger_rows)) licences, not $licences" >&2; exit 1; }
printf '   %-34s %9s rows/s  (%.1f s; the first %s rows of the %s-row batch)\n' "approval trigger, one INSERT:" \
  "$(rate "$trigger_rows" "$tt")" "$(echo "$tt / 1000" | bc -l)" "$trigger_rows" "$last_n"
ratio=$(echo "($last_n / $last_ct) / ($trigger_rows / $tt)" | bc -l)
printf '   convert_stock (%s rows) / trigger: %.1fx (goal: at least 10x)\n' "$last_n" "$ratio"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES
      ('stock_convert', 'approval trigger, one INSERT', $trigger_rows, $tt / 1000.0, $trigger_rows * 1000.0 / $tt, NULL),
      ('stock_convert', 'convert_stock', $last_n, $last_ct / 1000.0, $last_n * 1000.0 / $last_ct, 'approval trigger, one INSERT');
  END IF;
END
\$\$;
SQL
