#!/usr/bin/env bash
# Answers never stop the worker. One worker process delivers while the
# double answers a third of the requests, after acting, with each oddity a
# platform or a proxy in front of it has been seen to send: an empty body, no
# ReturnCode, nulls in every field, a \u0000 in a string, an HTML error page,
# an 8 MB body, numbers for strings, wrong JSON types, the seed's simple shape,
# a warning (ReturnCode 2). Then the faults stop, and every step is done
# exactly once: none stays in flight, and the same process is still running.
# Last, a worker whose token endpoint refuses it spends almost no CPU and
# exits on SIGTERM within its grace period.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5
issue_licences 30
start_worker w1
worker=${pids[-1]}
for odd in empty no_return_code nulls nul html huge numbers wrong_types simple warning; do
  faults "{\"rate_odd\": 0.35, \"odd_answer\": \"$odd\", \"odd_bytes\": 8388608}"
  sleep 1.5
  kill -0 "$worker" 2>/dev/null || fail "the worker exited on answers of the kind '$odd': $(tail -n 5 "$out/w1.log")"
done
faults '{}'
wait_for 120 "$(all_delivered)"
kill -0 "$worker" 2>/dev/null || fail "the worker exited"
check_exactly_once
double_state >"$out/state.json"
python3 - "$out/state.json" <<'PY' || fail "the double sent too few odd answers"
import json, sys
odd = json.load(open(sys.argv[1]))["faults"].get("odd", 0)
print(f"{odd} odd answers sent")
sys.exit(0 if odd >= 20 else 1)
PY
echo "odd answers: $(sql -c "SELECT string_agg(outcome || ' ' || n, ', ' ORDER BY outcome) FROM (SELECT outcome, count(*) n FROM elicense.delivery_attempt GROUP BY 1) s")"
kill -TERM "$worker"
wait "$worker" || fail "the worker did not exit cleanly on SIGTERM"

# A token endpoint that refuses (a wrong secret): paced retries, no busy loop.
printf 'wrong-secret\n' >"$out/wrong_secret" && chmod 600 "$out/wrong_secret"
sed -e "s|$out/client_secret|$out/wrong_secret|" -e 's|"in_flight"|"stop_grace_ms": 2000, "in_flight"|' \
  "$out/worker.json" >"$out/refused.json"
issue_licences 2 500
"$bin/elicense-sync" --config "$out/refused.json" --conninfo "dbname=$db user=elicense_worker_test" --worker-id refused 2>>"$out/refused.log" &
refused=$!
pids+=("$refused")
sleep 6
read -r utime stime < <(awk '{print $14, $15}' "/proc/$refused/stat")
cpu_ms=$(( (utime + stime) * 1000 / $(getconf CLK_TCK) ))
[ "$cpu_ms" -lt 600 ] || fail "a refused worker used $cpu_ms ms of CPU in 6 s"
t0=$(date +%s%3N)
kill -TERM "$refused"
wait "$refused" || fail "the refused worker did not exit cleanly"
stop_ms=$(( $(date +%s%3N) - t0 ))
[ "$stop_ms" -lt 3000 ] || fail "the refused worker took $stop_ms ms to stop"
[ "$(grep -c '"event":"token_failed"' "$out/refused.log")" -ge 1 ] || fail "no token failure logged"
echo "refused token: $cpu_ms ms CPU in 6 s, stopped $stop_ms ms after SIGTERM"
