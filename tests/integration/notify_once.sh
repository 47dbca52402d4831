#!/usr/bin/env bash
# The issuing functions wake the worker with NOTIFY elicense_outbox: one
# notification per transaction however many licences it issues (empty
# payload, so PostgreSQL folds them), and none for a rolled-back one.
# Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
out=${1:-/tmp}
db=elicense_notify
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION elicense;
CREATE FUNCTION w032(no text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "valid_from": "2023-06-01", "valid_to": "2025-05-31", "authority_name": "福建省住房和城乡建设厅",
    "authority_uscc": "11350000003591037R", "authority_division": "350000", "issue_date": "2023-06-01"}'::jsonb
    || jsonb_build_object('licence_number', no)
$$;
SQL
# psql reports each notification it receives after the command that brought it.
psql -X -v ON_ERROR_STOP=1 -d "$db" >"$out/notify_once.log" 2>&1 <<'SQL'
LISTEN elicense_outbox;
BEGIN;
SELECT elicense.issue('11100000000013338W032', w032('N' || lpad(i::text, 7, '0')), 'tester') FROM generate_series(1, 3) i;
SELECT elicense.cancel(elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000001', 1), 'r', 'tester');
COMMIT;
SELECT 'after commit';
BEGIN;
SELECT elicense.issue('11100000000013338W032', w032('N0000009'), 'tester');
ROLLBACK;
SELECT 'after rollback';
SQL
cat "$out/notify_once.log"
n=$(grep -c 'Asynchronous notification "elicense_outbox"' "$out/notify_once.log" || true)
if [ "$n" -ne 1 ]; then
  echo "FAIL: expected 1 notification (4 calls in one committed transaction, 1 rolled back), got $n"
  exit 1
fi
# The one notification arrives with the COMMIT, before 'after commit' and nothing after it.
if grep -q 'Asynchronous notification' <<<"$(sed -n '/after commit/,$p' "$out/notify_once.log")"; then
  echo "FAIL: a notification arrived after the commit (from the rolled-back transaction?)"
  exit 1
fi
echo "PASS: one notification for the committed transaction, none for the rolled-back one"
