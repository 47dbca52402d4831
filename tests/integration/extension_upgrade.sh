#!/usr/bin/env bash
# ALTER EXTENSION elicense UPDATE from every released version to the current
# one, in a database with licences half-way through delivery:
#   1. each release installed from its frozen script (extension/sql/released/),
#      20 licences issued (0.1.0 queues all four steps at once), delivery left
#      half-way by that release's own delivery functions: ten steps done, the
#      other leases held by a worker that died;
#   2. ALTER EXTENSION ... UPDATE: every object, privilege, comment, extension
#      member and catalogue row equals a fresh install of the current version
#      (tests/support/schema_fingerprint.sql); the province's private key,
#      in clear in the table's files before, is encrypted under the master
#      key and no longer in those files;
#   3. a worker finishes the old licences (W050 ones given the principal_id
#      0.3.0 requires) and new ones issued after the update, every step
#      exactly once (tests/sync/lib.sh check_exactly_once).
source "$(dirname "$0")/../sync/lib.sh"
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/extension/elicense.control")
fingerprint() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -f "$root/tests/support/schema_fingerprint.sql"; }

for released in "$root"/extension/sql/released/elicense--*.sql; do
  from=$(basename "$released" .sql); from=${from#elicense--}
  case $from in *--*) continue ;; esac  # an update script (elicense--A--B.sql), not an install script
  echo "== $from -> $current"
  EXTENSION_VERSION=$from setup_database
  [ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'elicense'")" = "$from" ] || fail "not installed as $from"
  start_double
  write_config 4 5
  issue_licences 10
  sql -c "SELECT elicense.revoke(identifier, '测试吊销', 'tester') FROM elicense.certificate
           WHERE type_code = '11100000000013338W032' ORDER BY identifier LIMIT 1" >/dev/null
  # Half-way through delivery, as that release's worker left it when it was
  # killed: the release's own delivery functions lease every due step, ten
  # checks are answered, the other leases stay behind, held by a dead worker.
  # (The worker binary of this tree speaks only the current functions.)
  sql >/dev/null <<'SQL'
CREATE TEMP TABLE leased AS SELECT outbox_id, step FROM elicense.lease_steps('before', 100, 5);
SELECT elicense.step_succeeded(outbox_id, 'before', '{"return_code": "1", "message": "校验通过"}')
  FROM (SELECT outbox_id FROM leased WHERE step = 'validate' ORDER BY outbox_id LIMIT 10) done;
SQL
  [ "$(sql -c "SELECT count(*) FROM elicense.outbox WHERE status = 'done'")" -ge 10 ] || fail "nothing delivered before the update"
  [ "$(sql -c "SELECT count(*) FROM elicense.outbox WHERE status = 'in_flight'")" -gt 0 ] || fail "no lease left before the update"
  echo "before the update: $(sql -c "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) n FROM elicense.outbox GROUP BY 1) s")"

  # The province's private key is in clear in the table's files before the
  # update (the needle works) and nowhere in them after (encrypted, the
  # clear column dropped and the table rewritten).
  key_line=$(sed -n 3p "$out/province.key")
  clear_in_files() {
    sql -c "CHECKPOINT" >/dev/null
    local data f
    data=$(sql -c "SHOW data_directory")
    for f in $(sql -c "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = 'elicense.province_secret'::regclass
                        OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'elicense.province_secret'::regclass)"); do
      grep -qaF -- "$key_line" "$data/$f"* && return 0
    done
    return 1
  }
  clear_in_files || fail "the province's key is not in clear in $from's table files: the check below would prove nothing"
  # Likewise the holders' resident ID number (issue 19): in clear in the
  # files of the certificate table (heap, TOAST, indexes) before, in none
  # of the tables that held it after (sealed and masked, tables rewritten).
  person=350102199001011238
  id_in_files() {  # TABLE...
    sql -c "CHECKPOINT" >/dev/null
    local data f t
    data=$(sql -c "SHOW data_directory")
    for t in "$@"; do
      for f in $(sql -c "SELECT pg_relation_filepath(r) FROM (SELECT '$t'::regclass AS r UNION ALL
                            SELECT reltoastrelid FROM pg_class WHERE oid = '$t'::regclass AND reltoastrelid <> 0 UNION ALL
                            SELECT indexrelid FROM pg_index WHERE indrelid = '$t'::regclass) x"); do
        grep -qaF -- "$person" "$data/$f"* && { echo "$t"; return 0; }
      done
    done
    return 1
  }
  id_in_files elicense.certificate >/dev/null || fail "the holders' resident ID number is not in clear in $from's certificate files: the check below would prove nothing"
  sql -c "ALTER EXTENSION elicense UPDATE"
  [ "$(sql -c "SELECT count(*) FROM elicense.province_secret WHERE elicense._secret_key_id(secret_box) = elicense.master_key_id()")" = 1 ] \
    || fail "the update did not encrypt the province's key under the master key"
  ! clear_in_files || fail "the province's key is still in clear in the table's files after the update"
  if where=$(id_in_files elicense.certificate elicense.outbox); then
    fail "a full resident ID number is still in clear in the files of $where after the update"
  fi
  [ "$(sql -c "SELECT count(*) FROM elicense.certificate WHERE holder_id_type = 'RESIDENT_ID'
                 AND holder_id = '350102********1238' AND (elicense._reveal_ids(certificate)).holder_id = '$person'")" \
    = "$(sql -c "SELECT count(*) FROM elicense.certificate WHERE type_code = '11100000000013338W032'")" ] \
    || fail "the update did not seal and mask every W032 holder's number"
  [ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'elicense'")" = "$current" ] || fail "not updated to $current"
  fresh=elicense_fresh_$$
  dropdb --if-exists "$fresh" >/dev/null 2>&1 || true
  createdb "$fresh"
  psql -X -q -d "$fresh" -c "CREATE EXTENSION elicense"
  fingerprint "$db" >"$out/updated-from-$from.txt"
  fingerprint "$fresh" >"$out/fresh.txt"
  dropdb "$fresh"
  if ! diff -u "$out/fresh.txt" "$out/updated-from-$from.txt" >"$out/diff-$from.txt"; then
    head -n 60 "$out/diff-$from.txt"
    fail "$from updated to $current differs from a fresh $current (lines: - fresh, + updated)"
  fi
  echo "$(wc -l <"$out/fresh.txt") facts of a fresh $current equal after the update"
  # The history rows the update put in the DEFAULT partitions move to month
  # partitions, ids kept; the worker below then records into those.
  before=$(sql -c "SELECT count(*) || ' ' || md5(string_agg(id || ' ' || at, ',' ORDER BY id)) FROM elicense.status_history")
  sql -c "SELECT count(*) FROM elicense.create_history_partitions(1)" >/dev/null
  [ "$(sql -c "SELECT count(*) FROM elicense.status_history")" -gt 0 ] || fail "no status history after the update"
  [ "$(sql -c "SELECT count(*) FROM elicense.status_history_default")" = 0 ] || fail "status history left in DEFAULT"
  [ "$(sql -c "SELECT count(*) || ' ' || md5(string_agg(id || ' ' || at, ',' ORDER BY id)) FROM elicense.status_history")" = "$before" ] \
    || fail "status history changed moving into month partitions"

  # W050 licences issued before 0.3.0 lack principal_id, which their assign
  # request needs (responsiblePersonID): an operator adds it from the
  # approval records, else those steps go dead with that reason.
  # Added in clear, it is then sealed and masked like the update's own rows.
  sql -c "UPDATE elicense.certificate SET business_data = business_data || '{\"principal_id\": \"350102199001011238\"}'
           WHERE type_code = '11100000000013338W050' AND NOT business_data ? 'principal_id'" \
      -c "SELECT elicense._protect_stored_ids()" >/dev/null
  [ "$(sql -c "SELECT count(*) FROM elicense.certificate WHERE business_data ->> 'principal_id' = '350102199001011238'")" = 0 ] \
    || fail "a principal_id added after the update stayed in clear"
  issue_licences 5 100
  start_worker after
  wait_for 120 "$(all_delivered)"
  check_exactly_once
  echo "$(sql -c "SELECT count(*) FROM elicense.certificate") licence versions delivered across the update"
  kill_hard "${pids[-1]}"
  kill_hard "${pids[-2]}"  # the double
done
