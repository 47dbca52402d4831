#!/usr/bin/env bash
# ALTER EXTENSION elicense UPDATE from every released version to the current
# one, in a database with licences half-way through delivery:
#   1. 0.1.0 installed from its frozen script (extension/sql/released/), 20
#      licences issued (0.1.0 queues all four steps at once), a worker killed
#      with kill -9 in the middle of delivering them;
#   2. ALTER EXTENSION ... UPDATE: every object, privilege, comment, extension
#      member and catalogue row equals a fresh install of the current version
#      (tests/support/schema_fingerprint.sql);
#   3. a worker finishes the old licences and new ones issued after the
#      update, every step exactly once (tests/sync/lib.sh check_exactly_once).
source "$(dirname "$0")/../sync/lib.sh"
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/extension/elicense.control")
fingerprint() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -f "$root/tests/support/schema_fingerprint.sql"; }

for released in "$root"/extension/sql/released/elicense--*.sql; do
  from=$(basename "$released" .sql); from=${from#elicense--}
  [[ $from == *--* ]] && continue  # a frozen update script, not a version to install
  echo "== $from -> $current"
  EXTENSION_VERSION=$from setup_database
  [ "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'elicense'")" = "$from" ] || fail "not installed as $from"
  start_double
  write_config 4 5
  issue_licences 10
  sql -c "SELECT elicense.revoke(identifier, '测试吊销', 'tester') FROM elicense.certificate
           WHERE type_code = '11100000000013338W032' ORDER BY identifier LIMIT 1" >/dev/null
  faults '{"latency_ms": 100}'  # slow enough to stop the worker half-way
  start_worker before
  wait_for 60 "(SELECT count(*) FROM elicense.outbox WHERE status = 'done') >= 10"
  kill_hard "${pids[-1]}"
  faults '{}'
  echo "before the update: $(sql -c "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) n FROM elicense.outbox GROUP BY 1) s")"

  sql -c "ALTER EXTENSION elicense UPDATE"
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

  issue_licences 5 100
  start_worker after
  wait_for 120 "$(all_delivered)"
  check_exactly_once
  echo "$(sql -c "SELECT count(*) FROM elicense.certificate") licence versions delivered across the update"
  kill_hard "${pids[-1]}"
  kill_hard "${pids[-2]}"  # the double
done
