#!/usr/bin/env bash
# Crashes and company: a worker killed with SIGKILL mid-batch leaves leased
# rows; after their leases lapse a restarted worker takes them over, asks the
# platform what happened and finishes: every licence exactly once. Then two
# workers drain a new batch together, sharing rows through SKIP LOCKED
# leases, and still no step takes effect twice.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5
faults '{"latency_ms": 40}'
issue_licences 60
start_worker w1
victim=${pids[-1]}
wait_for 30 "EXISTS (SELECT FROM elicense.outbox WHERE status = 'done') AND EXISTS (SELECT FROM elicense.outbox WHERE status = 'in_flight')"
kill_hard "$victim"
leased=$(sql -c "SELECT count(*) FROM elicense.outbox WHERE status = 'in_flight'")
echo "killed w1 with $leased steps leased"
[ "$leased" -gt 0 ] || fail "nothing was in flight at the kill"
start_worker w2
wait_for 90 "$(all_delivered)"
[ "$(sql -c "SELECT count(*) FROM elicense.delivery_event WHERE detail LIKE 'lease of w1#% lapsed'")" -gt 0 ] \
  || fail "w2 did not take over w1's leases"
check_exactly_once

# Two workers at once on a new batch.
faults '{"latency_ms": 10}'
mark=$(sql -c "SELECT max(id) FROM elicense.outbox")
issue_licences 60 1001
start_worker w3
wait_for 90 "$(all_delivered)"
[ "$(sql -c "SELECT count(DISTINCT worker_id) FROM elicense.delivery_attempt WHERE outbox_id > $mark")" = 2 ] \
  || fail "the two workers did not share the batch"
check_exactly_once
echo "kill -9, takeover and two workers: exactly once"
