#!/usr/bin/env bash
# Cost of the issuing trigger: INSERTs/s into an approval table WITH
# elicense.issue_from_trigger vs the same table WITHOUT it, in the same run,
# and the floor between them: the same table with a trigger that makes the
# same writes with no validation (bench/fixtures/issue_trigger_floor.sql).
#   pg_virtualenv -v 15 bash bench/issue_trigger.sh [seconds per run, default 15]
# Two measurements:
#   1. pgbench, 1 client, one approved row per transaction (what an approval
#      system does; includes the round trip and the commit), twice: with
#      fsync = on, as a production database runs, and with fsync = off, as
#      pg_virtualenv makes its throwaway clusters (commits cost nearly nothing
#      there, so the trigger's own work weighs most)
#   2. one INSERT ... SELECT of 5,000 rows (the trigger's own cost per row)
# Then, for the trigger runs, where the time goes (pg_stat_user_functions
# with track_functions = all) and an EXPLAIN ANALYZE of one insert.
set -euo pipefail
secs=${1:-15}
db=elicense_bench
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -v cert_prefix=B -d "$db" -f "$(dirname "$0")/../tests/fixtures/w032_approval.sql"
# The same table without the trigger (LIKE copies no triggers).
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "ALTER TABLE approval RENAME TO approval_issuing" \
  -c "CREATE TABLE approval_plain (LIKE approval_issuing INCLUDING ALL)"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$(dirname "$0")/fixtures/issue_trigger_floor.sql"

for t in plain floor issuing; do
  cat >"$work/$t.sql" <<SQL
INSERT INTO approval_$t (approved, authority, person, sex, idno, work, start_date, end_date, decided, clerk)
VALUES ('yes', '11350000003591037R', '李四', '男', '350102199001011238', '建筑电工', '2024-01-01', '2026-01-01', '2024-01-01', 'bench');
SQL
done

tps() {  # tps TABLE -> transactions per second (= INSERTs/s)
  PGOPTIONS='-c track_functions=all' pgbench -n -M prepared -c 1 -T "$secs" -f "$work/$1.sql" "$db" >"$work/$1.log" 2>&1
  sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$work/$1.log"
}
rows=()
n=1
psql -X -q -d "$db" -c "SELECT pg_stat_reset()" >/dev/null
for fsync in on off; do
  psql -X -q -c "ALTER SYSTEM SET fsync = $fsync" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1  # the postmaster has read it before pgbench connects
  [ "$(psql -X -At -c "SHOW fsync")" = "$fsync" ] || { echo "fsync did not become $fsync" >&2; exit 1; }
  psql -X -q -c "CHECKPOINT" >/dev/null
  plain=$(tps plain)
  floor=$(tps floor)
  issuing=$(tps issuing)
  echo "1.$n pgbench, 1 client, ${secs} s each, one INSERT per transaction, fsync = $fsync"
  printf '   without trigger:         %10.1f INSERTs/s\n' "$plain"
  printf '   floor (same writes, no checks): %10.1f INSERTs/s  %6.2fx\n' "$floor" "$(echo "$plain / $floor" | bc -l)"
  printf '   with issuing trigger:    %10.1f INSERTs/s  %6.2fx (goal <= 1.5x)\n' "$issuing" "$(echo "$plain / $issuing" | bc -l)"
  printf '   per licence: %.0f us of writes, %.0f us of checks\n' \
    "$(echo "(1 / $floor - 1 / $plain) * 1000000" | bc -l)" "$(echo "(1 / $issuing - 1 / $floor) * 1000000" | bc -l)"
  base="insert without trigger (pgbench, fsync $fsync)"
  rows+=("('issue_trigger', '$base', round($plain * $secs), $secs, $plain, NULL)"
         "('issue_trigger', 'insert with floor trigger (pgbench, fsync $fsync)', round($floor * $secs), $secs, $floor, '$base')"
         "('issue_trigger', 'insert with trigger (pgbench, fsync $fsync)', round($issuing * $secs), $secs, $issuing, '$base')")
  n=$((n + 1))
done
psql -X -q -c "ALTER SYSTEM RESET fsync" -c "SELECT pg_reload_conf()" >/dev/null

bulk() {  # bulk TABLE -> milliseconds for 5,000 rows in one statement
  psql -X -At -d "$db" <<SQL | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p'
\timing on
INSERT INTO approval_$1 (approved, authority, person, sex, idno, work, start_date, end_date, decided, clerk)
SELECT 'yes', '11350000003591037R', '李四', '男', '350102199001011238', '建筑电工', '2024-01-01', '2026-01-01', '2024-01-01', 'bench'
  FROM generate_series(1, 5000);
SQL
}
bp=$(bulk plain)
bf=$(bulk floor)
bi=$(bulk issuing)
echo "2. one INSERT ... SELECT of 5,000 rows"
printf '   without trigger:      %10.1f rows/s (%.1f ms)\n' "$(echo "5000000 / $bp" | bc -l)" "$bp"
printf '   floor:                %10.1f rows/s (%.1f ms)  %6.2fx\n' "$(echo "5000000 / $bf" | bc -l)" "$bf" "$(echo "$bf / $bp" | bc -l)"
printf '   with issuing trigger: %10.1f rows/s (%.1f ms)  %6.2fx\n' "$(echo "5000000 / $bi" | bc -l)" "$bi" "$(echo "$bi / $bp" | bc -l)"
echo "   per issued licence: $(echo "($bi - $bp) * 1000 / 5000" | bc -l | xargs printf '%.1f') us of trigger work"

# Under bench/run (main branch harness) the results also go to bench.result
# in the default database, with the plain INSERT as the baseline.
psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES
      $(IFS=,; echo "${rows[*]}"),
      ('issue_trigger', 'bulk insert without trigger', 5000, $bp / 1000.0, 5000000.0 / $bp, NULL),
      ('issue_trigger', 'bulk insert with floor trigger', 5000, $bf / 1000.0, 5000000.0 / $bf, 'bulk insert without trigger'),
      ('issue_trigger', 'bulk insert with trigger', 5000, $bi / 1000.0, 5000000.0 / $bi, 'bulk insert without trigger');
  END IF;
END
\$\$;
SQL

echo "3. where the time goes (pgbench trigger runs + bulk run; self time per call)"
sleep 1  # let the backends' function statistics reach the shared stats
psql -X -d "$db" -P footer=off <<'SQL'
SELECT schemaname || '.' || funcname AS function, calls,
       round((total_time / calls * 1000)::numeric, 1) AS total_us_per_call,
       round((self_time / calls * 1000)::numeric, 1) AS self_us_per_call
  FROM pg_stat_user_functions WHERE calls > 0 ORDER BY self_time DESC LIMIT 12;
SQL
psql -X -d "$db" -P footer=off <<'SQL'
EXPLAIN (ANALYZE, COSTS OFF, TIMING ON)
INSERT INTO approval_issuing (approved, authority, person, sex, idno, work, start_date, end_date, decided, clerk)
VALUES ('yes', '11350000003591037R', '李四', '男', '350102199001011238', '建筑电工', '2024-01-01', '2026-01-01', '2024-01-01', 'bench');
SQL
