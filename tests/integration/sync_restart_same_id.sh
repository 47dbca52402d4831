#!/usr/bin/env bash
# Leases belong to a process, not a name: a worker killed with SIGKILL and
# restarted at once under the same worker_id (systemd with worker_id in the
# config) must not renew the dead process's leases. Its orphaned steps lapse
# after lease_seconds and are taken over (asked first, then finished) while
# the queue is still busy, not when it runs dry; every step exactly once.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5
faults '{"latency_ms": 200}'  # 8 in flight / 0.2 s: the batch takes well over the lease
issue_licences 80
start_worker w1
victim=${pids[-1]}
wait_for 30 "EXISTS (SELECT FROM elicense.outbox WHERE status = 'done') AND EXISTS (SELECT FROM elicense.outbox WHERE status = 'in_flight')"
kill_hard "$victim"
killed_at=$(date +%s.%N)
orphans=$(sql -c "SELECT string_agg(id::text, ',') FROM elicense.outbox WHERE status = 'in_flight'")
dead_owner=$(sql -c "SELECT DISTINCT lease_owner FROM elicense.outbox WHERE status = 'in_flight'")
[ -n "$orphans" ] || fail "nothing was in flight at the kill"
[[ "$dead_owner" == w1#* ]] || fail "the lease owner is not w1's process: $dead_owner"
echo "killed w1 ($dead_owner) with $(tr ',' '\n' <<<"$orphans" | wc -l) steps leased"
start_worker w1  # the same name, at once
# The orphans are done once their leases lapse (5 s) and the new process has
# asked the platform about them: well before the queue runs dry.
wait_for 40 "NOT EXISTS (SELECT FROM elicense.outbox WHERE id IN ($orphans) AND status <> 'done')"
took=$(python3 -c "import time; print(round(time.time() - $killed_at, 1))")
still_open=$(sql -c "SELECT count(*) FROM elicense.outbox WHERE status <> 'done'")
echo "orphans done ${took} s after the kill, with $still_open steps still open"
[ "$still_open" -gt 0 ] || fail "the orphans waited until the queue ran dry"
python3 -c "import sys; sys.exit(0 if $took < 20 else 1)" || fail "the orphans took ${took} s (lease 5 s)"
new_owner=$(sql -c "SELECT DISTINCT actor FROM elicense.delivery_event WHERE detail = 'lease of $dead_owner lapsed'")
[ -n "$new_owner" ] || fail "no lease of the dead process was taken over"
[[ "$new_owner" == w1#* && "$new_owner" != "$dead_owner" ]] || fail "taken over by $new_owner"
wait_for 120 "$(all_delivered)"
check_exactly_once
echo "restart under the same worker_id: orphans taken over after the lease, exactly once"
