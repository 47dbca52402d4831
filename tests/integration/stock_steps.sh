#!/usr/bin/env bash
# Stock conversion in steps (elicense.convert_stock_in_steps) does not starve
# live approvals. A W032 batch of generated rows (a few bad ones) for one
# authority is converted by CALL convert_stock_in_steps in the background;
# once the conversion holds the sequence counter of (W032, that authority)
# locked (a NOWAIT probe fails), a live licence of the same type and authority
# is issued through the approval trigger. Checks:
#  - the live licence commits before the conversion ends: the procedure is
#    still running when the live INSERT has returned (pg_stat_activity), and
#    some steps of the conversion started after the live commit
#    (stock_converted.at, each step's start, against the live session's
#    clock_timestamp() after its COMMIT); its sequence is no converted licence's;
#  - the totals, the converted rows and the rejected rows (row, SQLSTATE,
#    field, message) equal those of one convert_stock of the same data in another
#    database; a second CALL converts nothing new;
#  - a conversion cancelled mid-way (pg_cancel_backend) and called again ends
#    with every good row converted once.
# With STOCK_STEPS_ONE_TRANSACTION=1 the first conversion is SELECT
# convert_stock(batch) instead, and the ordering check must fail (the live
# licence waits for the whole batch): that shows the check can fail.
# Runs inside a throwaway cluster (PG* set); $1 is the output directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp}/stock_steps
rm -rf "$out" && mkdir -p "$out"
db=elicense_stock_steps
ref=elicense_stock_steps_ref
rows=20000
step=1000
authority=11350000003591037R
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  dropdb --if-exists "$db" >/dev/null 2>&1 || true
  dropdb --if-exists "$ref" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -At -v ON_ERROR_STOP=1 -d "${DB:-$db}" "$@"; }
# wait_for WHAT SQL: until SQL returns t, 120 s at most
wait_for() {
  local deadline=$((SECONDS + 120))
  until [ "$(q -c "$2")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for $1"
    sleep 0.05
  done
}

# load BATCH PREFIX: ROWS generated W032 rows; every 4001st has no such date
# (2024-02-30), every 6007th repeats row 1's certificate number.
load() {
  q -q <<SQL
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES ($1, '11100000000013338W032', 'steps $1');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT $1, i, jsonb_build_object('name', '李四' || (i % 1000), 'gender', '男', 'id_number', '350102199001011238',
         'category', '建筑电工', 'valid_from', '2024-01-01', 'valid_to', '2029-01-01',
         'licence_number', '$2' || lpad(CASE WHEN i % 6007 = 0 THEN 1 ELSE i END::text, 8, '0'),
         'issue_date', CASE WHEN i % 4001 = 0 THEN '2024-02-30' ELSE '2024-01-01' END,
         'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '$authority', 'authority_division', '350000')
  FROM generate_series(1, $rows) i;
SQL
}
approve() {  # approve CERT_NO: one live W032 licence of the same authority through the approval trigger
  q -c "INSERT INTO approval (approved, authority, person, sex, idno, work, cert_no, start_date, end_date, decided, clerk)
        VALUES ('yes', '$authority', '张三', '男', '350102199001011238', '建筑电工', '$1', '2024-01-01', '2026-01-01', '2024-01-01', 'clerk')" \
    -c "SELECT clock_timestamp()"
}

for d in "$db" "$ref"; do
  dropdb --if-exists "$d" >/dev/null 2>&1 || true
  createdb "$d"
  psql -X -q -v ON_ERROR_STOP=1 -v cert_prefix=L -d "$d" -f "$root/tests/fixtures/w032_approval.sql"
done
load 1 S
DB=$ref load 1 S
# A live licence before: the counter row of (W032, authority) exists, so the probe below can lock it.
approve L00000001 >/dev/null

# 1. The live licence during the conversion.
if [ "${STOCK_STEPS_ONE_TRANSACTION:-}" = 1 ]; then
  convert_sql="SELECT converted, rejected, skipped FROM elicense.convert_stock(1)"
else
  convert_sql="CALL elicense.convert_stock_in_steps(1, $step)"
fi
started=$SECONDS
PGAPPNAME=stock_steps_convert psql -X -At -v ON_ERROR_STOP=1 -F ' ' -d "$db" -c "$convert_sql" >"$out/convert.txt" 2>&1 &
convert_client=$!
pids+=("$convert_client")
wait_for "the conversion's backend" "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'stock_steps_convert' AND state = 'active')"
convert_pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'stock_steps_convert'")
# The conversion holds the counter: a NOWAIT lock of it fails (each attempt its own transaction).
q -q <<SQL
DO \$\$
DECLARE
  deadline constant timestamptz := clock_timestamp() + interval '120 seconds';
  held boolean := false;
BEGIN
  WHILE NOT held LOOP
    BEGIN
      PERFORM FROM elicense.sequence_counter
        WHERE type_code = '11100000000013338W032' AND authority_uscc = '$authority' FOR UPDATE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
      held := true;
    END;
    COMMIT;
    IF NOT held THEN
      IF clock_timestamp() > deadline THEN
        RAISE EXCEPTION 'the conversion never held the sequence counter';
      END IF;
      PERFORM pg_sleep(0.01);
    END IF;
  END LOOP;
END
\$\$;
SQL
echo "the conversion (pid $convert_pid) holds the counter after $((SECONDS - started)) s; issuing a live licence"
live_done=$(approve L00000002 | tail -n 1)
still_running=$(q -c "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $convert_pid AND state = 'active')")
echo "live licence committed at $live_done (after $((SECONDS - started)) s); conversion still running: $still_running"
wait "$convert_client" || { cat "$out/convert.txt"; fail "the conversion failed"; }
pids=()
echo "conversion of $rows rows: $(cat "$out/convert.txt") in $((SECONDS - started)) s"
later_steps=$(q -c "SELECT count(DISTINCT at) FROM elicense.stock_converted WHERE batch_id = 1 AND at > '$live_done'")
echo "steps started after the live commit: $later_steps"
if [ "$still_running" != t ] || [ "$later_steps" -eq 0 ]; then
  fail "the live licence did not commit before the conversion ended (it waited for the batch's counter lock)"
fi
live_seq=$(q -c "SELECT sequence FROM elicense.certificate WHERE licence_number = 'L00000002'")
[ -n "$live_seq" ] || fail "no live licence L00000002"
clash=$(q -c "SELECT count(*) FROM elicense.certificate c JOIN elicense.stock_converted s ON s.identifier = c.identifier
               WHERE s.batch_id = 1 AND c.authority_uscc = '$authority' AND c.sequence = '$live_seq'")
[ "$clash" = 0 ] || fail "a converted licence has the live licence's sequence $live_seq"
echo "ok: the live licence (sequence $live_seq) committed while the conversion ran, and no converted licence has its sequence"

# 2. The same totals, rows and errors as one transaction; a rerun converts nothing.
read -r converted rejected skipped <"$out/convert.txt"
read -r ref_converted ref_rejected ref_skipped < <(DB=$ref q -F ' ' -c "SELECT converted, rejected, skipped FROM elicense.convert_stock(1)")
echo "in steps: $converted converted, $rejected rejected, $skipped skipped; one transaction: $ref_converted, $ref_rejected, $ref_skipped"
[ "$converted $rejected $skipped" = "$ref_converted $ref_rejected $ref_skipped" ] || fail "the totals differ from one transaction's"
[ "$rejected" -gt 0 ] || fail "no row was rejected (the generator's bad rows)"
summary="SELECT (SELECT md5(string_agg(row_no || ' ' || sqlstate || ' ' || field || ' ' || message, ',' ORDER BY row_no))
                   FROM elicense.stock_error WHERE batch_id = 1),
                (SELECT md5(string_agg(s.row_no || ' ' || c.licence_number, ',' ORDER BY s.row_no))
                   FROM elicense.stock_converted s JOIN elicense.certificate c USING (identifier) WHERE s.batch_id = 1),
                (SELECT count(*) FROM elicense.stock_error WHERE batch_id = 1)"
[ "$(q -c "$summary")" = "$(DB=$ref q -c "$summary")" ] || fail "the rows converted or rejected (row, SQLSTATE, field, message) differ from one transaction's"
dupes=$(q -c "SELECT count(*) FROM (SELECT licence_number FROM elicense.certificate WHERE superseded_at IS NULL
                                     GROUP BY type_code, licence_number HAVING count(*) > 1) d")
[ "$dupes" = 0 ] || fail "$dupes certificate numbers are licences twice"
again=$(q -F ' ' -c "CALL elicense.convert_stock_in_steps(1, $step)")
[ "$again" = "0 $rejected $converted" ] || fail "a second CALL gave '$again', not '0 $rejected $converted'"
echo "ok: the same rows converted and rejected as one transaction; a second CALL converts nothing ($again)"

# 3. Cancelled mid-way, then called again.
load 2 C
PGAPPNAME=stock_steps_cancel psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "CALL elicense.convert_stock_in_steps(2, $step)" \
  >"$out/cancel.txt" 2>&1 &
cancel_client=$!
pids+=("$cancel_client")
wait_for "two steps of batch 2" "SELECT count(*) >= 2 * $step FROM elicense.stock_converted WHERE batch_id = 2"
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'stock_steps_cancel'" >/dev/null
if wait "$cancel_client"; then
  fail "the conversion of batch 2 ended before it was cancelled (make the batch larger)"
fi
pids=()
grep -E "canceling statement" "$out/cancel.txt" || fail "the conversion did not end with a cancel: $(cat "$out/cancel.txt")"
partial=$(q -c "SELECT count(*) FROM elicense.stock_converted WHERE batch_id = 2")
echo "cancelled after $partial rows converted"
rest=$(q -F ' ' -c "CALL elicense.convert_stock_in_steps(2, $step)")
read -r rest_converted rest_rejected rest_skipped <<<"$rest"
[ "$rest_skipped" = "$partial" ] || fail "the second CALL skipped $rest_skipped rows, not the $partial converted before"
if [ $((partial + rest_converted)) != "$converted" ] || [ "$rest_rejected" != "$rejected" ]; then
  fail "cancelled and called again: $partial + $rest_converted converted, $rest_rejected rejected; one go: $converted, $rejected"
fi
check=$(q -c "SELECT count(*) || ' ' || count(DISTINCT s.row_no) || ' ' || count(DISTINCT c.licence_number)
                FROM elicense.stock_converted s JOIN elicense.certificate c USING (identifier) WHERE s.batch_id = 2")
[ "$check" = "$converted $converted $converted" ] || fail "batch 2's licences (rows, distinct rows, distinct numbers): $check"
echo "ok: cancelled after $partial rows and called again: $rest_converted more, every row converted once ($converted)"
