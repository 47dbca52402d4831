#!/usr/bin/env bash
# PostgreSQL restarts while the worker delivers: the worker reconnects with
# backoff, answers it could not record are recovered by asking the platform
# after the lease lapses, and every licence is delivered exactly once; the
# worker's log stays one JSON object per line through the restart.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5
faults '{"latency_ms": 30}'
issue_licences 60
start_worker w1
worker=${pids[-1]}
wait_for 30 "EXISTS (SELECT FROM elicense.outbox WHERE status = 'done')"
cluster=$(pg_lsclusters -h | awk -v port="$PGPORT" '$3 == port {print $1 " " $2}')
[ -n "$cluster" ] || fail "cannot find the cluster on port $PGPORT"
# shellcheck disable=SC2086
pg_ctlcluster $cluster restart -m fast
echo "restarted cluster $cluster"
wait_for 120 "$(all_delivered)"
kill -0 "$worker" || fail "the worker died with the database"
grep -q '"event":"db_reconnected"' "$out/w1.log" || fail "the worker did not reconnect"
check_exactly_once
check_json_log "$out/w1.log"
echo "database restart survived: $(grep -c result_dropped "$out/w1.log" || true) answers recovered through queries"
