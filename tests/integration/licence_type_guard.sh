#!/usr/bin/env bash
# certificate.type_code has no foreign key (its row lock cost every approval);
# elicense._keep_used_licence_type keeps a used type instead. This races a
# DBA deleting a type against an approval issuing a licence of it, in both
# orders, and checks that no licence is left without its type:
#   1. the licence is issued first and not yet committed: the DELETE waits
#      for it, then fails with 23503;
#   2. the DELETE comes first and is not yet committed: the issue waits for
#      it, then fails with 42704 (unknown licence type).
# The second session starts once the first has made its step, and the first
# holds its transaction open until it sees the second waiting for a lock
# (pg_stat_activity), so the order does not depend on timing.
# Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
out=${1:-/tmp}
db=elicense_type_guard
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION elicense;
-- Two test types with the metadata items of 安许证 and their data. The
-- sequence comes from the number, so no sequence_counter row (whose foreign
-- key would lock the type's row) takes part.
INSERT INTO elicense.licence_type (type_code, name, holder_id_type, number_pattern, number_example, sequence_pattern)
SELECT '11100000000013338W09' || n, '测试证' || n, 'USCC', '^T[0-9]{4}$', 'T0001', '^T([0-9]{4})$' FROM generate_series(8, 9) n;
INSERT INTO elicense.licence_item (type_code, position, item, label, data_type, required, max_length, metadata_column)
SELECT t.type_code, i.position, i.item, i.label, i.data_type, i.required, i.max_length, i.metadata_column
  FROM elicense.licence_item i, elicense.licence_type t
 WHERE i.type_code = '11100000000013338W050' AND i.metadata_column IS NOT NULL AND t.type_code LIKE '%W09_';
CREATE FUNCTION data() RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"enterprise_name": "山东某建筑工程有限公司", "uscc": "91350100M000100Y43", "licence_number": "T0001",
    "valid_from": "2023-06-01", "valid_to": "2026-05-31", "authority_name": "山东省住房和城乡建设厅",
    "authority_uscc": "113700000045030270", "authority_division": "370000", "issue_date": "2023-06-01"}'::jsonb
$$;
-- Waits (at most 30 s) until the session named app waits for a lock.
CREATE PROCEDURE await_lock_wait(app text) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 300 LOOP
    IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = app AND wait_event_type = 'Lock') THEN
      RETURN;
    END IF;
    PERFORM pg_sleep(0.1);
    PERFORM pg_stat_clear_snapshot();  -- else pg_stat_activity stays as first read
  END LOOP;
  RAISE EXCEPTION '% never waited for a lock', app;
END
$$;
SQL

failed=0
await_holding() {  # await_holding APP: APP's session has made its first step and now awaits the other
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "DO \$\$ BEGIN
    FOR i IN 1 .. 300 LOOP
      IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '$1' AND query LIKE 'CALL await_lock_wait%') THEN
        RETURN;
      END IF;
      PERFORM pg_sleep(0.1);
      PERFORM pg_stat_clear_snapshot();
    END LOOP;
    RAISE EXCEPTION '$1 never made its first step';
  END \$\$"
}
check() {  # check NAME SQL-that-returns-true
  if [ "$(psql -X -At -d "$db" -c "$2")" = t ]; then echo "ok - $1"; else echo "not ok - $1"; failed=1; fi
}
expect_error() {  # expect_error NAME LOG SQLSTATE TEXT
  if grep -q "$3" "$2" && grep -qF "$4" "$2"; then echo "ok - $1"; else echo "not ok - $1"; cat "$2"; failed=1; fi
}

# race N FIRST FIRST-SQL SECOND SECOND-SQL: session FIRST runs FIRST-SQL in an
# open transaction, then SECOND runs SECOND-SQL, which must wait for FIRST's
# commit; SECOND's output goes to $out/type_guard_SECOND_N.log.
race() {
  PGAPPNAME=$2 psql -X -q -v ON_ERROR_STOP=1 -d "$db" >"$out/type_guard_$2_$1.log" 2>&1 <<SQL &
BEGIN;
$3;
CALL await_lock_wait('$4');
COMMIT;
SQL
  local first=$!
  await_holding "$2"
  PGAPPNAME=$4 psql -X -q -v VERBOSITY=verbose -d "$db" -c "$5" >"$out/type_guard_$4_$1.log" 2>&1 || true
  wait "$first" || { echo "not ok - the $2 session failed"; cat "$out/type_guard_$2_$1.log"; failed=1; }
}

echo "# 1. issue first, DELETE waits"
race 1 issuer "SELECT elicense.issue('11100000000013338W099', data(), 'clerk')" \
  dba "DELETE FROM elicense.licence_type WHERE type_code = '11100000000013338W099'"
expect_error "the DELETE fails with 23503" "$out/type_guard_dba_1.log" 23503 "licence type 11100000000013338W099 cannot be deleted: licences of it exist"
check "the licence and its type are both there" \
  "SELECT count(*) = 1 FROM elicense.certificate c JOIN elicense.licence_type t USING (type_code) WHERE t.type_code = '11100000000013338W099'"

echo "# 2. DELETE first, the issue waits"
race 2 dba "DELETE FROM elicense.licence_type WHERE type_code = '11100000000013338W098'" \
  issuer "SELECT elicense.issue('11100000000013338W098', data(), 'clerk')"
expect_error "the issue fails with 42704" "$out/type_guard_issuer_2.log" 42704 'unknown licence type "11100000000013338W098"'
check "no licence of the deleted type" "SELECT count(*) = 0 FROM elicense.certificate WHERE type_code = '11100000000013338W098'"
check "every licence has its type" \
  "SELECT NOT EXISTS (SELECT 1 FROM elicense.certificate c WHERE NOT EXISTS (SELECT 1 FROM elicense.licence_type t WHERE t.type_code = c.type_code))"
exit $failed
