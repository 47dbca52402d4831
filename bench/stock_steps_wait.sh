#!/usr/bin/env bash
# How long a live approval waits while a stock batch of the same type and
# authority converts: first by one convert_stock call (the counter of
# (W032, authority) locked until it commits), then by convert_stock_in_steps
# (locked for one step at a time), same data, same run. While each runs, live
# W032 licences of that authority are issued through the approval trigger one
# after another; each INSERT's time (psql's \timing, the connection not
# counted) is taken, and the conversion's time. Printed figures, not a timed test:
#   scripts/throwaway-cluster bash bench/stock_steps_wait.sh [ROWS, default 200000 [ROWS_PER_STEP, default 5000]]
set -euo pipefail
rows=${1:-200000}
step=${2:-5000}
db=elicense_bench_steps
authority=11350000003591037R
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -v cert_prefix=L -d "$db" -f "$(dirname "$0")/../tests/fixtures/w032_approval.sql"
for batch in 1 2; do
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES ($batch, '11100000000013338W032', 'bench $batch');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT $batch, i, jsonb_build_object('name', '李四' || (i % 1000), 'gender', '男', 'id_number', '350102199001011238',
         'category', '建筑电工', 'licence_number', 'S' || $batch || lpad(i::text, 8, '0'), 'valid_from', '2024-01-01',
         'valid_to', '2029-01-01', 'issue_date', '2024-01-01', 'authority_name', '福建省住房和城乡建设厅',
         'authority_uscc', '$authority', 'authority_division', '350000')
  FROM generate_series(1, $rows) i;
ANALYZE elicense.stock_row;
SQL
done

# run LABEL SQL: converts with SQL while issuing live licences; prints a line.
live_no=0
run() {
  local waits client start ms
  waits=$(mktemp)
  start=$(date +%s.%N)
  psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$2" >/dev/null &
  client=$!
  while kill -0 "$client" 2>/dev/null; do
    live_no=$((live_no + 1))
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c '\timing on' \
      -c "INSERT INTO approval (approved, authority, person, sex, idno, work, cert_no, start_date, end_date, decided, clerk)
          VALUES ('yes', '$authority', '张三', '男', '350102199001011238', '建筑电工', 'L$(printf '%08d' "$live_no")', '2024-01-01', '2026-01-01',
                  '2024-01-01', 'clerk')" | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' >>"$waits"
  done
  wait "$client"
  ms=$(echo "($(date +%s.%N) - $start) * 1000" | bc -l)
  sort -n "$waits" | awk -v label="$1" -v ms="$ms" -v rows="$rows" '
    { v[NR] = $1 } END {
      printf "   %-42s %5.1f s (%6.0f rows/s); %3d live licences issued meanwhile, wait p50 %7.0f ms, max %7.0f ms\n",
        label, ms / 1000, rows * 1000 / ms, NR, v[int((NR + 1) / 2)], v[NR] }'
  rm -f "$waits"
  last_ms=$ms
}
echo "Converting $rows W032 rows of one authority while live licences of it are issued:"
run "convert_stock, one call:" "SELECT elicense.convert_stock(1)"
one_ms=$last_ms
run "convert_stock_in_steps, $step rows a step:" "CALL elicense.convert_stock_in_steps(2, $step)"
steps_ms=$last_ms

psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES
      ('stock_steps_wait', 'convert_stock, one call (live approvals wait)', $rows, $one_ms / 1000.0, $rows * 1000.0 / $one_ms, NULL),
      ('stock_steps_wait', 'convert_stock_in_steps', $rows, $steps_ms / 1000.0, $rows * 1000.0 / $steps_ms,
       'convert_stock, one call (live approvals wait)');
  END IF;
END
\$\$;
SQL
