#!/usr/bin/env bash
# A worker whose lease waits for the database sleeps until the answer comes
# (the session's socket wakes it). Before, once its poll timer was past due,
# the loop turned 30,000-70,000 times a second until the lease came back:
# most of a core for nothing, and with 4 workers 0.5-1.5 ms of CPU per request.
# Here another session holds the outbox in EXCLUSIVE mode (reads pass, the
# lease's FOR UPDATE waits); the worker's CPU time over 3 s of that wait must
# stay under a tenth of it. Then the lock goes and everything is delivered once.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 30
# No progress line while the lease waits: its count would wait for the lease
# on the same session, and a loop blocked there cannot spin.
config_set '"summary_interval_ms": 600000'
issue_licences 5
sql -c "BEGIN" -c "LOCK TABLE elicense.outbox IN EXCLUSIVE MODE" -c "SELECT pg_sleep(8)" -c "COMMIT" >/dev/null &
pids+=($!)
wait_for 10 "EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                      WHERE c.relname = 'outbox' AND l.mode = 'ExclusiveLock' AND l.granted)"
start_worker w1
worker=${pids[-1]}
wait_for 10 "EXISTS (SELECT FROM pg_stat_activity WHERE application_name LIKE 'elicense-sync/%' AND wait_event_type = 'Lock')"
sleep 0.5  # the poll timer (200 ms) is past due now
ticks() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
before=$(ticks)
sleep 3
after=$(ticks)
hz=$(getconf CLK_TCK)
echo "worker CPU while its lease waited 3 s: $((after - before)) ticks of $hz a second"
[ $((after - before)) -le $((hz * 3 / 10)) ] || fail "the worker spun while its lease waited: $((after - before)) ticks in 3 s"
wait_for 60 "$(all_delivered)"
check_exactly_once
echo "no busy loop while a lease waits; all delivered once when the lock went"
