#!/usr/bin/env bash
# Sharing functions across real sessions (what pgTAP, inside one transaction,
# cannot show):
#   1. a successful read and a refusal, each in a transaction the caller rolls
#      back, are in the usage audit as seen from another session;
#   2. a copy handed out verifies as valid, and the same copy with one byte of
#      Content.xml changed (tests/ofd/flip_byte.py: a well-formed ZIP) is tampered;
#   3. more idle sessions than worker slots share one audit writer;
#   4. a call cancelled by statement_timeout is audited (refused 57014);
#   5. a 10 KB identifier is refused (22001), audited shortened, and the writer lives;
#   6. the audited department is the grant's, not the one the caller wrote;
#   7. a call whose audit row cannot be committed is refused (55000, fail closed);
#   8. 16 sessions making 25 calls each at once: 400 rows, no call refused;
#   9. the writer exits when idle, so DROP DATABASE (without --force) works;
#  10. when no worker slot is free for the writer, the call is refused (55000).
# Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
out=${1:-/tmp}/sharing_audit
root=$(cd "$(dirname "$0")/../.." && pwd)
db=elicense_sharing
mkdir -p "$out"
holders=()
cleanup() {
  for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
  # --force ends the backends of this test's database (the sleeping holders, the writers).
  dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
sql -c "CREATE EXTENSION elicense" -f "$root/tests/fixtures/sharing_seal.sql" >/dev/null
sql -v app=sharing_test_app -f "$root/tests/fixtures/shared_w032_licence.sql" >/dev/null
id=$(sql -c "SELECT identifier FROM elicense.certificate")
ctx='{"applicant": "李四", "business_id": "YW-1", "step": "受理", "office": "鼓楼", "department": "市场监管", "officer": "王五"}'
code=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" \
           -c "SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', '$ctx')")

# 1. Rolled-back transactions leave their audit rows.
sql >/dev/null <<SQL
BEGIN;
SET SESSION AUTHORIZATION sharing_test_app;
SELECT * FROM elicense.licence_info('$code', '$id');
ROLLBACK;
SQL
psql -X -q -d "$db" >"$out/refusal.log" 2>&1 <<SQL || true
BEGIN;
SET SESSION AUTHORIZATION sharing_test_app;
SELECT * FROM elicense.licence_info('UC0000', '$id');
ROLLBACK;
SQL
grep -q 'unknown usage code' "$out/refusal.log" || fail "the refused call did not fail: $(cat "$out/refusal.log")"
got=$(sql -c "SELECT string_agg(concat_ws(' ', function, result, coalesce(sqlstate, '-'), db_user, recorded_by), '; ' ORDER BY id)
                FROM elicense.usage_audit WHERE function = 'licence_info'")
[ "$got" = "licence_info ok - sharing_test_app writer; licence_info refused 28000 sharing_test_app writer" ] \
  || fail "audit after two rolled-back transactions: $got"
echo "ok: a read and a refusal in rolled-back transactions are both in the audit"

# 2. Verification of a copy and of the copy with one byte of Content.xml changed.
sql -c "SET SESSION AUTHORIZATION sharing_test_app" \
    -c "SELECT encode(elicense.licence_file('$code', '$id'), 'base64')" | base64 -d >"$out/copy.ofd"
python3 "$root/tests/ofd/flip_byte.py" "$out/copy.ofd" Doc_0/Pages/Page_0/Content.xml "$out/tampered.ofd"
unzip -tq "$out/tampered.ofd" >/dev/null || fail "flip_byte.py did not write a valid ZIP"
verify() {
  sql -v f="$(od -An -v -tx1 "$1" | tr -d ' \n')" <<'SQL'
SET SESSION AUTHORIZATION sharing_test_app;
SELECT verdict || ' ' || signature_status FROM elicense.licence_verify('bidding', decode(:'f', 'hex'));
SQL
}
[ "$(verify "$out/copy.ofd")" = "valid ok" ] || fail "the copy does not verify as valid: $(verify "$out/copy.ofd")"
[ "$(verify "$out/tampered.ofd")" = "tampered digest_mismatch" ] || fail "the tampered copy: $(verify "$out/tampered.ofd")"
echo "ok: the copy is valid, the copy with one changed byte in Content.xml is tampered (digest_mismatch)"

# 3. Idle sessions do not spend workers: more sessions than worker slots, each
# having made a call and staying open, share one audit writer.
slots=$(sql -c "SHOW max_worker_processes")
before=$(sql -c "SELECT count(*) FROM elicense.usage_audit")
sessions=$((slots + 2))
for i in $(seq 1 "$sessions"); do
  psql -X -q -d "$db" -c "SET SESSION AUTHORIZATION sharing_test_app" \
       -c "SELECT count(*) FROM elicense.licence_search('bidding')" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
  holders+=($!)
done
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT count(*) FROM elicense.usage_audit")" -ge $((before + sessions)) ] && break
  sleep 0.1
done
[ "$(sql -c "SELECT count(*) FROM elicense.usage_audit")" -ge $((before + sessions)) ] \
  || fail "the $sessions sessions' calls are not all in the audit"
writers=$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")
[ "$writers" -le 1 ] || fail "$sessions idle sessions hold $writers audit writers (one per database expected)"
got=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" \
          -c "SELECT count(*) FROM elicense.licence_search('bidding')" \
          -c "RESET SESSION AUTHORIZATION" \
          -c "SELECT result || ' ' || recorded_by FROM elicense.usage_audit ORDER BY id DESC LIMIT 1")
[ "$got" = "$(printf '1\nok writer')" ] || fail "with $sessions idle sessions: $got"
writers=$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")
[ "$writers" = 1 ] || fail "after the call: $writers audit writers"
echo "ok: $sessions idle sessions (max_worker_processes $slots) share $writers audit writer; calls are still written by it"
for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
holders=()

# 4. A call cancelled by statement_timeout leaves its audit row: the licence
# table is locked by another session, so licence_info waits until the timeout.
# The session calls licence_info once before the lock: compiling it opens the
# licence table too, and a call cancelled before its body starts cannot be
# audited (it has not begun).
psql -X -q -d "$db" -v VERBOSITY=verbose >"$out/cancelled.log" 2>&1 <<SQL || true
SET SESSION AUTHORIZATION sharing_test_app;
SELECT identifier FROM elicense.licence_info('$code', '$id');
\! PGAPPNAME=sharing_audit_locker psql -X -q -d "$db" -c "BEGIN" -c "LOCK TABLE elicense.certificate IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(60)" -c "COMMIT" >/dev/null 2>&1 &
-- Until the locker holds its lock (however slowly it starts on a loaded machine).
RESET SESSION AUTHORIZATION;
DO \$\$
BEGIN
  FOR i IN 1..600 LOOP
    EXIT WHEN EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                       WHERE a.application_name = 'sharing_audit_locker' AND l.granted
                         AND l.relation = 'elicense.certificate'::regclass AND l.mode = 'AccessExclusiveLock');
    PERFORM pg_sleep(0.05);
  END LOOP;
END
\$\$;
SET SESSION AUTHORIZATION sharing_test_app;
SET statement_timeout = '500ms';
SELECT * FROM elicense.licence_info('$code', '$id');
RESET statement_timeout;
RESET SESSION AUTHORIZATION;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sharing_audit_locker';
SQL
grep -q "57014" "$out/cancelled.log" || fail "the call was not cancelled: $(cat "$out/cancelled.log")"
got=$(sql -c "SELECT concat_ws(' ', function, result, sqlstate, identifier, recorded_by) FROM elicense.usage_audit ORDER BY id DESC LIMIT 1")
[ "$got" = "licence_info refused 57014 $id writer" ] || fail "audit of the cancelled call: $got"
echo "ok: a call cancelled by statement_timeout is in the audit (refused 57014)"

# 5. A 10 KB identifier is refused (22001) before it reaches the writer; the
# refusal is audited with the value shortened; the writer lives on.
writer_pid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")
err=$(psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "SET SESSION AUTHORIZATION sharing_test_app" \
        -c "SELECT * FROM elicense.licence_info('$code', repeat(md5('x'), 320))" 2>&1 >/dev/null | sed -n 's/^ERROR:  //p' || true)
[[ "$err" == 22001:* ]] || fail "10 KB identifier: $err"
got=$(sql -c "SELECT concat_ws(' ', result, sqlstate, length(identifier) < 300, recorded_by) FROM elicense.usage_audit ORDER BY id DESC LIMIT 1")
[ "$got" = "refused 22001 t writer" ] || fail "audit of the 10 KB identifier: $got"
got=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" -c "SELECT identifier FROM elicense.licence_info('$code', '$id')")
[ "$got" = "$id" ] || fail "the call after the 10 KB identifier: $got"
[ -z "$writer_pid" ] || [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE pid = $writer_pid")" = 1 ] \
  || fail "the audit writer $writer_pid died"
echo "ok: a 10 KB identifier is refused with 22001 (${err:0:80}…), audited shortened, the writer lives on"

# 6. The department is the grant's, whatever the caller writes in its context.
spoof='{"applicant": "李四", "business_id": "YW-2", "step": "受理", "office": "鼓楼", "department": "国务院办公厅", "officer": "王五"}'
code2=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" \
            -c "SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', '$spoof')")
sql -c "SET SESSION AUTHORIZATION sharing_test_app" -c "SELECT * FROM elicense.licence_info('$code2', '$id')" >/dev/null
got=$(sql -c "SELECT string_agg(DISTINCT department, ',') FROM elicense.usage_audit WHERE business_id = 'YW-2'")
[ "$got" = "福州市市场监督管理局" ] || fail "department of the spoofing calls: $got"
got=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" -c "SELECT department FROM elicense.usage_code_info('$code2')")
[ "$got" = "福州市市场监督管理局" ] || fail "usage_code_info department: $got"
echo "ok: a context claiming another department is audited under the grant's department"

# 7. Fail closed: when the writer cannot commit the row, the call is refused
# (55000) and hands out nothing; the writer survives the failed INSERT.
# Other sessions call at the same time: their rows share the writer's
# batches with the failing one, and must still be written (the writer retries
# a failed batch record by record).
sql -c "ALTER TABLE elicense.usage_audit ADD CONSTRAINT test_block_info CHECK (function <> 'licence_info') NOT VALID"
before=$(sql -c "SELECT count(*) FROM elicense.usage_audit WHERE function = 'licence_search'")
burst=()
for i in $(seq 1 6); do
  (for _ in $(seq 1 10); do echo "SELECT count(*) FROM elicense.licence_search('bidding');"; done) \
    | psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "SET SESSION AUTHORIZATION sharing_test_app" -f - \
      >/dev/null 2>"$out/closed-burst-$i.err" &
  burst+=($!)
done
psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "SET SESSION AUTHORIZATION sharing_test_app" \
     -c "SELECT identifier FROM elicense.licence_info('$code', '$id')" >"$out/closed.out" 2>"$out/closed.err" || true
failed=0
for p in "${burst[@]}"; do wait "$p" || failed=$((failed + 1)); done
sql -c "ALTER TABLE elicense.usage_audit DROP CONSTRAINT test_block_info"
[ "$failed" = 0 ] || fail "calls alongside the failing one were refused: $(sed -n 1,3p "$out"/closed-burst-*.err)"
got=$(( $(sql -c "SELECT count(*) FROM elicense.usage_audit WHERE function = 'licence_search'") - before ))
[ "$got" = 60 ] || fail "calls alongside the failing one left $got rows, not 60"
grep -q "^ERROR:  55000: the usage audit row could not be made durable" "$out/closed.err" \
  || fail "not refused when the audit row fails: $(cat "$out/closed.err")"
[ ! -s "$out/closed.out" ] || fail "data handed out although its audit row failed: $(cat "$out/closed.out")"
got=$(sql -c "SET SESSION AUTHORIZATION sharing_test_app" -c "SELECT identifier FROM elicense.licence_info('$code', '$id')")
[ "$got" = "$id" ] || fail "the writer did not survive the failed INSERT: $got"
echo "ok: a call whose audit row cannot be committed is refused with 55000 and returns nothing; 60 calls alongside it are written; the writer survives"

# 8. Many sessions at once through the one writer: every row, no refusal.
before=$(sql -c "SELECT count(*) FROM elicense.usage_audit")
burst=()
for i in $(seq 1 16); do
  (for _ in $(seq 1 25); do echo "SELECT count(*) FROM elicense.licence_search('bidding');"; done) \
    | psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "SET SESSION AUTHORIZATION sharing_test_app" -f - \
      >"$out/burst-$i.out" 2>"$out/burst-$i.err" &
  burst+=($!)
done
failed=0
for p in "${burst[@]}"; do wait "$p" || failed=$((failed + 1)); done
[ "$failed" = 0 ] || fail "$failed of 16 concurrent sessions failed: $(sort "$out"/burst-*.err | uniq -c | sed -n 1,5p)"
got=$(( $(sql -c "SELECT count(*) FROM elicense.usage_audit") - before ))
[ "$got" = 400 ] || fail "16 x 25 concurrent calls left $got audit rows"
echo "ok: 16 sessions x 25 calls at once: 400 audit rows, none refused"

# 9. Idle, the writer exits (3 s): DROP DATABASE needs no --force.
for _ in $(seq 1 60); do
  [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")" = 0 ] && break
  sleep 0.1
done
[ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")" = 0 ] \
  || fail "the audit writer is still running after 6 s idle"
# The sleeping sessions of step 3 outlive their killed clients: end them, so
# that only a writer could still hold the database.
sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'" >/dev/null
for _ in $(seq 1 50); do
  [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")" = 0 ] && break
  sleep 0.1
done
echo "ok: the idle writer exits"

# 10. No worker slot for the writer: the call is refused (55000) at once.
# Copies of this database keep every max_worker_processes slot busy with
# their own writers (one per database), by calling in a loop.
copies=()
for i in $(seq 1 "$slots"); do
  createdb -T "$db" "${db}_$i"
  copies+=("${db}_$i")
done
for c in "${copies[@]}"; do
  (for _ in $(seq 1 150); do echo "SELECT count(*) FROM elicense.licence_search('bidding');"; echo "SELECT pg_sleep(0.02);"; done) \
    | psql -X -q -At -d "$c" -c "SET SESSION AUTHORIZATION sharing_test_app" -f - >/dev/null 2>&1 &
  holders+=($!)
done
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")" -ge $((slots - 1)) ] && break
  sleep 0.05
done
busy=$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")
t0=$(date +%s%3N)
psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "SET SESSION AUTHORIZATION sharing_test_app" \
     -c "SELECT identifier FROM elicense.licence_info('$code', '$id')" >"$out/noslot.out" 2>"$out/noslot.err" || true
ms=$(( $(date +%s%3N) - t0 ))
grep -q "^ERROR:  55000: the usage audit row could not be made durable" "$out/noslot.err" \
  || fail "with $busy writers of other databases holding the slots: $(cat "$out/noslot.err") $(cat "$out/noslot.out")"
grep -q "max_worker_processes" "$out/noslot.err" || fail "the refusal does not say why: $(cat "$out/noslot.err")"
[ ! -s "$out/noslot.out" ] || fail "data handed out without an audit row: $(cat "$out/noslot.out")"
[ "$ms" -le 2000 ] || fail "the refusal took $ms ms"
echo "ok: with every worker slot held ($busy writers of other databases), a call is refused with 55000 in $ms ms"
for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
holders=()
for c in "${copies[@]}"; do dropdb --force "$c"; done

dropdb "$db" || fail "DROP DATABASE failed after the writer's idle exit"
echo "ok: DROP DATABASE works without --force"
