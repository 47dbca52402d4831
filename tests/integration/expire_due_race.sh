#!/usr/bin/env bash
# elicense.expire_due from two sessions at once queues each expiry exactly
# once: one expiry version (certState 06) and one status_update
# step per licence past valid_to, however the callers interleave.
#   1. Session a expires 100 licences and keeps its transaction open; b
#      calls expire_due meanwhile (it skips the rows a holds: 0) and again
#      after a commits (the rows are no longer current: 0).
#   2. Both start together on 3000 licences; whatever each takes, the two
#      counts add up to 3000 and no licence has two expiry versions.
#   3. An approval suspending a licence holds its row: expire_due skips it,
#      and the next run expires the suspended licence (02 -> 06).
# The order of 1 and 3 does not depend on timing: a session waits for a flag
# the other commits. Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
out=${1:-/tmp}
db=elicense_expire_race
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION elicense;
CREATE TABLE flag (name text PRIMARY KEY);
-- Waits (at most 60 s) until another session has committed the flag.
CREATE PROCEDURE await_flag(f text) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 600 LOOP
    IF EXISTS (SELECT FROM flag WHERE name = f) THEN
      RETURN;
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RAISE EXCEPTION 'flag % never came', f;
END
$$;
-- n licences of W050 valid until yesterday, numbers from first.
CREATE FUNCTION issue_due(first integer, n integer) RETURNS void LANGUAGE sql AS $$
  SELECT count(elicense.issue('11100000000013338W050', jsonb_build_object('enterprise_name', '山东某建筑工程有限公司' || g,
    'uscc', '91350100M000100Y43', 'principal', '张三', 'principal_id', '350102199001011238', 'address', '济南市历下区某路1号',
    'economic_type', '有限责任公司', 'permit_scope', '建筑施工', 'licence_number', format('(鲁)JZ安许证字[2020]%s', lpad(g::text, 6, '0')),
    'valid_from', '2020-06-01', 'valid_to', to_char(current_date - 1, 'YYYY-MM-DD'), 'authority_name', '山东省住房和城乡建设厅',
    'authority_uscc', '113700000045030270', 'authority_division', '370000', 'issue_date', '2020-06-01'), 'clerk'))
    FROM generate_series(first, first + n - 1) g
$$;
SQL

failed=0
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
check() {  # check NAME SQL-that-returns-true
  if [ "$(q "$2")" = t ]; then echo "ok - $1"; else echo "not ok - $1"; failed=1; fi
}
# Every licence of the range has exactly one expiry version and one status
# update for it, and its current version is that one.
exactly_once() {  # exactly_once NAME FIRST LAST
  check "$1" "SELECT bool_and(n = 1 AND cur = '06') AND count(*) = $3 - $2 + 1 FROM (
      SELECT v1.identifier, (SELECT count(*) FROM elicense.certificate e JOIN elicense.outbox o ON o.identifier = e.identifier
                              WHERE e.original_identifier = v1.identifier AND e.status = '06' AND o.step = 'status_update') AS n,
             (SELECT c.status FROM elicense.certificate c WHERE c.original_identifier = v1.identifier AND c.superseded_at IS NULL) AS cur
        FROM elicense.certificate v1
       WHERE v1.version = 1 AND substring(v1.licence_number FROM '\](\d+)$')::integer BETWEEN $2 AND $3) s"
}

echo "# 1. a holds 100 expiries uncommitted while b runs, and b runs again after"
q "SELECT issue_due(1001, 100)" >/dev/null
PGAPPNAME=a psql -X -At -v ON_ERROR_STOP=1 -d "$db" >"$out/expire_race_a2.log" 2>&1 <<'SQL' &
BEGIN;
SELECT 'a', expired FROM elicense.expire_due();
SELECT pg_advisory_lock(1604);
CALL await_flag('b2_done');
COMMIT;
SQL
a=$!
# b starts once a holds its rows (it takes advisory lock 1604 after expire_due).
for _ in $(seq 300); do
  [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 1604 AND granted")" = 1 ] && break
  sleep 0.1
done
b_during=$(q "SELECT expired FROM elicense.expire_due()")
q "INSERT INTO flag VALUES ('b2_done')" >/dev/null
wait "$a" || { echo "not ok - session a failed"; cat "$out/expire_race_a2.log"; failed=1; }
b_after=$(q "SELECT expired FROM elicense.expire_due()")
if [ "$b_during" = 0 ] && [ "$b_after" = 0 ]; then echo "ok - b queued nothing during a's transaction (rows skipped) nor after it (0 and 0)"
else echo "not ok - b queued $b_during during and $b_after after a's transaction"; failed=1; fi
grep -q "^a|100$" "$out/expire_race_a2.log" && echo "ok - a queued the 100" || { echo "not ok - a: $(cat "$out/expire_race_a2.log")"; failed=1; }
exactly_once "each of the 100 licences has one expiry version and one status update" 1001 1100

echo "# 2. two sessions at once on 3000 licences"
q "SELECT issue_due(10001, 3000)" >/dev/null
for s in a b; do
  PGAPPNAME=$s psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "SELECT expired FROM elicense.expire_due()" >"$out/expire_race_2$s.log" 2>&1 &
  eval "pid_$s=$!"
done
wait "$pid_a" || failed=1
wait "$pid_b" || failed=1
sum=$(( $(cat "$out/expire_race_2a.log") + $(cat "$out/expire_race_2b.log") ))
if [ "$sum" = 3000 ]; then echo "ok - the two runs queued 3000 together ($(cat "$out/expire_race_2a.log") + $(cat "$out/expire_race_2b.log"))"
else echo "not ok - the two runs queued $sum"; failed=1; fi
exactly_once "each of the 3000 licences has one expiry version and one status update" 10001 13000

echo "# 3. an approval holds a licence: skipped, then expired from suspended"
q "SELECT issue_due(20001, 1)" >/dev/null
target=$(q "SELECT identifier FROM elicense.certificate WHERE licence_number = '(鲁)JZ安许证字[2020]020001'")
PGAPPNAME=approval psql -X -At -v ON_ERROR_STOP=1 -d "$db" >"$out/expire_race_3.log" 2>&1 <<SQL &
BEGIN;
SELECT elicense.suspend('$target', '暂扣', 'clerk');
INSERT INTO flag VALUES ('suspending');
SELECT pg_advisory_lock(1605);
CALL await_flag('expired_meanwhile');
COMMIT;
SQL
a=$!
for _ in $(seq 300); do
  [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 1605 AND granted")" = 1 ] && break
  sleep 0.1
done
during=$(q "SELECT expired FROM elicense.expire_due()")
q "INSERT INTO flag VALUES ('expired_meanwhile')" >/dev/null
wait "$a" || { echo "not ok - the approval failed"; cat "$out/expire_race_3.log"; failed=1; }
after=$(q "SELECT expired FROM elicense.expire_due()")
if [ "$during" = 0 ] && [ "$after" = 1 ]; then echo "ok - skipped while the approval held it, expired by the next run"
else echo "not ok - during $during, after $after"; failed=1; fi
check "the licence went valid -> suspended -> expired" \
  "SELECT array_agg(to_status ORDER BY id) = '{01,02,06}' FROM elicense.status_history WHERE original_identifier = '$target'"
exit $failed
