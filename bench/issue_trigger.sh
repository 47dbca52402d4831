#!/usr/bin/env bash
# Cost of the issuing trigger: INSERTs/s into an approval table WITH
# elicense.issue_from_trigger vs the same table WITHOUT it, in the same run,
# and the floor between them: the same table with a trigger that makes the
# same writes with no validation (bench/fixtures/issue_trigger_floor.sql).
#   scripts/throwaway-cluster bash bench/issue_trigger.sh [seconds per run, default 15]
# Two measurements:
#   1. pgbench, one approved row per transaction (what an approval system
#      does; includes the round trip and the commit), with fsync = on, as a
#      production database runs, and with fsync = off, as pg_virtualenv makes
#      its throwaway clusters (commits cost nearly nothing there, so the
#      trigger's own work weighs most). Each with 1 client, and with 8 clients
#      whose rows come from 4 issuing authorities: approvals of one authority
#      queue on its gap-free counter row until commit, and nothing else may
#      make them queue. The 8-client runs also measure the trigger with the
#      foreign key from certificate to licence type that 0.1.0 had: its check
#      locked the type's row in every approval.
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
  cat >"$work/$t-1.sql" <<SQL
INSERT INTO approval_$t (approved, authority, person, sex, idno, work, start_date, end_date, decided, clerk)
VALUES ('yes', '11350000003591037R', '李四', '男', '350102199001011238', '建筑电工', '2024-01-01', '2026-01-01', '2024-01-01', 'bench');
SQL
  cat >"$work/$t-8.sql" <<SQL
\\set auth random(1, 4)
INSERT INTO approval_$t (approved, authority, person, sex, idno, work, start_date, end_date, decided, clerk)
VALUES ('yes', (ARRAY['12350000MB0000019K', '12350000MB0000027E', '12350000MB00000359', '12350000MB00000434'])[:auth],
        '李四', '男', '350102199001011238', '建筑电工', '2024-01-01', '2026-01-01', '2024-01-01', 'bench');
SQL
done

tps() {  # tps TABLE CLIENTS -> transactions per second (= INSERTs/s)
  PGOPTIONS='-c track_functions=all' pgbench -n -M prepared -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" -T "$secs" \
    -f "$work/$1-$2.sql" "$db" >"$work/$1-$2.log" 2>&1
  sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$work/$1-$2.log"
}
ratio() {  # ratio NAME TPS BASELINE-TPS
  printf '   %-32s %10.1f INSERTs/s  %6.2fx\n' "$1" "$2" "$(echo "$3 / $2" | bc -l)"
}
rows=()
n=1
psql -X -q -d "$db" -c "SELECT pg_stat_reset()" >/dev/null
for fsync in on off; do
  psql -X -q -c "ALTER SYSTEM SET fsync = $fsync" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1  # the postmaster has read it before pgbench connects
  [ "$(psql -X -At -c "SHOW fsync")" = "$fsync" ] || { echo "fsync did not become $fsync" >&2; exit 1; }
  for clients in 1 8; do
    psql -X -q -c "CHECKPOINT" >/dev/null
    plain=$(tps plain $clients)
    floor=$(tps floor $clients)
    issuing=$(tps issuing $clients)
    run="pgbench $clients client$([ $clients = 1 ] || echo s), fsync $fsync"
    echo "1.$n $run, ${secs} s each, one INSERT per transaction$([ $clients = 1 ] || echo ", 4 authorities")"
    printf '   %-32s %10.1f INSERTs/s\n' "without trigger:" "$plain"
    ratio "floor (same writes, no checks):" "$floor" "$plain"
    ratio "with issuing trigger:" "$issuing" "$plain"
    base="insert without trigger ($run)"
    rows+=("('issue_trigger', '$base', round($plain * $secs), $secs, $plain, NULL)"
           "('issue_trigger', 'insert with floor trigger ($run)', round($floor * $secs), $secs, $floor, '$base')"
           "('issue_trigger', 'insert with trigger ($run)', round($issuing * $secs), $secs, $issuing, '$base')")
    if [ $clients = 1 ]; then
      printf '   goal: <= 1.5x; per licence %.0f us of writes, %.0f us of checks\n' \
        "$(echo "(1 / $floor - 1 / $plain) * 1000000" | bc -l)" "$(echo "(1 / $issuing - 1 / $floor) * 1000000" | bc -l)"
    else
      psql -X -q -d "$db" -c "ALTER TABLE elicense.certificate ADD CONSTRAINT bench_type_code_fkey
                                FOREIGN KEY (type_code) REFERENCES elicense.licence_type"
      with_fk=$(tps issuing $clients)
      psql -X -q -d "$db" -c "ALTER TABLE elicense.certificate DROP CONSTRAINT bench_type_code_fkey"
      ratio "same, with 0.1.0's type FK:" "$with_fk" "$plain"
      rows+=("('issue_trigger', 'insert with trigger and 0.1.0 type FK ($run)', round($with_fk * $secs), $secs, $with_fk, '$base')")
    fi
    n=$((n + 1))
  done
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
