#!/usr/bin/env bash
# History by month (76_history_partitions.sql), printed figures, not a timed
# test:
#   scripts/throwaway-cluster bash bench/history_retention.sh [N, default 10000000]
# (about 14 min for 10 million on the shared 2-core VM; HISTORY_BENCH_ROWS=N
# for bench/run)
# The current month holds 10,000 status changes. An analyst's question about
# the current month (elicense.analyst_status_timeline) is timed with only
# those 10,000 rows in the table, then again after N more rows of the 24
# months before (generated set-based, one INSERT ... SELECT); partition
# pruning keeps the second time about the first (both plans printed). Then
# retention drops the oldest month, and 11 more, by detach + drop: the time
# does not depend on the rows in them.
set -euo pipefail
n=${1:-${HISTORY_BENCH_ROWS:-10000000}}
db=elicense_bench_history
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
export PGTZ=UTC  # partitions are UTC months; so is "this month" here
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

q -q <<'SQL'
CREATE EXTENSION elicense;
-- 1,000 licences, issued now: their 1,000 status changes are this month's.
SELECT count(elicense.issue('11100000000013338W032', jsonb_build_object('name', '李四', 'gender', '男',
  'id_number', '350102199001011238', 'category', '建筑电工', 'licence_number', 'H' || lpad(i::text, 7, '0'),
  'valid_from', '2023-06-01', 'valid_to', '2025-05-31', 'authority_name', '福建省住房和城乡建设厅',
  'authority_uscc', '11350000003591037R', 'authority_division', '350000', 'issue_date', '2023-06-01'), 'bench'))
  FROM generate_series(1, 1000) i;
-- Partitions: the 24 months before this one, this one and the next.
SELECT count(elicense._create_history_month('status_history', (date_trunc('month', now()) - make_interval(months => m))::date))
  FROM generate_series(1, 24) m;
SELECT count(*) FROM elicense.create_history_partitions(1);
-- 9,000 more status changes this month: 10,000 in all.
INSERT INTO elicense.status_history (identifier, original_identifier, from_status, to_status, operate_type, reason, actor, at)
SELECT c.identifier, c.original_identifier, '01', '01', '02', '变更', 'bench',
       date_trunc('month', now()) + (now() - date_trunc('month', now())) * (i / 9000.0)
  FROM generate_series(1, 9000) i
  JOIN (SELECT identifier, original_identifier, row_number() OVER (ORDER BY identifier) - 1 AS k FROM elicense.certificate) c
    ON c.k = i % 1000;
ANALYZE elicense.status_history;
SQL

# best of 5, in ms, of the analysts' question about this month
# (a date, as an analyst writes it: the planner prunes the other months'
# partitions; with date_trunc('month', now()) they are pruned when the query
# starts, but the plan is costed over all of them)
question="SELECT to_status, operate_type, count(*), count(DISTINCT original_identifier) FROM elicense.analyst_status_timeline
           WHERE at >= '$(date -u +%Y-%m-01)' GROUP BY 1, 2"
best_ms() {
  q <<SQL
DO \$\$
DECLARE t0 timestamptz; best float8 := 'infinity';
BEGIN
  FOR i IN 1..5 LOOP
    t0 := clock_timestamp();
    PERFORM * FROM ($question) x;
    best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
  RAISE NOTICE '%', round(best::numeric, 2);
END
\$\$;
SQL
}
plan() { q -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $question" | sed 's/^/    /'; }
ms_of() { sed -nE 's/^NOTICE: +([0-9.]+)$/\1/p'; }

small_rows=$(q -c "SELECT count(*) FROM elicense.status_history")
small_ms=$(best_ms 2>&1 | ms_of)
small_plan=$(plan)

start=$(date +%s.%N)
q -q <<SQL
INSERT INTO elicense.status_history (identifier, original_identifier, from_status, to_status, operate_type, reason, actor, at)
SELECT c.identifier, c.original_identifier, '01', '01', '02', '变更', 'bench',
       date_trunc('month', now()) - interval '24 months'
         + (date_trunc('month', now()) - (date_trunc('month', now()) - interval '24 months')) * (i / ($n + 1.0))
  FROM generate_series(1, $n) i
  JOIN (SELECT identifier, original_identifier, row_number() OVER (ORDER BY identifier) - 1 AS k FROM elicense.certificate) c
    ON c.k = i % 1000;
ANALYZE elicense.status_history;
SQL
load_s=$(echo "$(date +%s.%N) - $start" | bc)
large_rows=$(q -c "SELECT count(*) FROM elicense.status_history")
large_ms=$(best_ms 2>&1 | ms_of)
large_plan=$(plan)

echo "analyst_status_timeline, this month's 10,000 status changes (best of 5):"
printf '  %10s rows in status_history: %8s ms\n' "$small_rows" "$small_ms" "$large_rows" "$large_ms"
printf '  with %s rows / with %s rows: %.2fx\n' "$large_rows" "$small_rows" "$(echo "$large_ms / $small_ms" | bc -l)"
echo "  plan with $small_rows rows:"
echo "$small_plan"
echo "  plan with $large_rows rows (the other months' partitions pruned):"
echo "$large_plan"
printf '  generating %s rows (one INSERT ... SELECT, indexes and ANALYZE included): %.0f s\n' "$n" "$load_s"

# Retention: the oldest month, then 11 more, detached and dropped.
# retention KEEP_MONTHS -> "partitions rows ms" of one drop_expired_history_partitions()
retention() {
  q <<SQL
INSERT INTO elicense.history_retention VALUES ('status_history', $1)
  ON CONFLICT (table_name) DO UPDATE SET keep_months = EXCLUDED.keep_months;
DO \$\$
DECLARE rows_before bigint; parts bigint; t0 timestamptz; ms numeric;
BEGIN
  SELECT count(*) INTO rows_before FROM elicense.status_history;
  t0 := clock_timestamp();
  SELECT count(*) INTO parts FROM elicense.drop_expired_history_partitions();
  ms := round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 2);
  RAISE NOTICE '% % %', parts, rows_before - (SELECT count(*) FROM elicense.status_history), ms;
END
\$\$;
SQL
}
read -r p1 r1 t1 <<<"$(retention 23 2>&1 | sed -nE 's/^NOTICE: +//p')"
read -r p12 r12 t12 <<<"$(retention 12 2>&1 | sed -nE 's/^NOTICE: +//p')"
echo "retention (detach + drop, no row deletes):"
printf '  keep 23 months: %s partition, %s rows, %s ms\n' "$p1" "$r1" "$t1"
printf '  keep 12 months: %s partitions, %s rows, %s ms\n' "$p12" "$r12" "$t12"
after_ms=$(best_ms 2>&1 | ms_of)
printf "  this month's question after retention: %s ms\n" "$after_ms"

q -q <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES
      ('history_retention', 'this month, $small_rows rows in history', 1, $small_ms / 1000.0, 1000.0 / $small_ms, NULL),
      ('history_retention', 'this month, $large_rows rows in history', 1, $large_ms / 1000.0, 1000.0 / $large_ms,
       'this month, $small_rows rows in history'),
      ('history_retention', 'drop 1 month ($r1 rows)', 1, $t1 / 1000.0, 1000.0 / $t1, NULL),
      ('history_retention', 'drop 11 months ($r12 rows)', 1, $t12 / 1000.0, 1000.0 / $t12, NULL);
  END IF;
END
\$\$;
SQL
