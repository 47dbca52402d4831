#!/usr/bin/env bash
# Reliability: 2,000 licences (1,000 of each type, 8,000 delivery steps)
# delivered by two workers while a chaos loop strikes at random points
# (seeded): SIGKILL a worker and start it again, restart PostgreSQL, and
# switch the platform between 5xx/429 storms, answers that time out after
# acting, dropped connections, slowness and calm. At the end every licence is
# delivered exactly once and its histories are complete; prints the faults
# survived and the items lost (must be 0). Bounded: fails after 6 minutes.
source "$(dirname "$0")/../sync/lib.sh"
RANDOM=20261123
setup_database
start_double
write_config 16 5
issue_licences 1000
start_worker r1; w1=${pids[-1]}
start_worker r2; w2=${pids[-1]}
cluster=$(pg_lsclusters -h | awk -v port="$PGPORT" '$3 == port {print $1 " " $2}')

storms=('{"rate_5xx": 0.3, "rate_429": 0.1}' '{"rate_timeout": 0.05, "timeout_ms": 2000}' '{"rate_drop": 0.15}'
        '{"latency_ms": 50}' '{"rate_5xx": 0.1, "rate_drop": 0.05, "latency_ms": 10, "expire_tokens": true}' '{}')
kills=0 restarts=0 platform_faults=0
deadline=$(( $(date +%s) + 360 ))
while [ "$(sql -c "SELECT $(all_delivered)" 2>/dev/null || echo f)" != t ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "not delivered within 6 minutes"
  sleep "0.$(( RANDOM % 9 + 1 ))"
  case $(( RANDOM % 6 )) in
    0) victim=$(( RANDOM % 2 ))
       if [ $victim = 0 ]; then kill_hard "$w1"; start_worker r1; w1=${pids[-1]}; else kill_hard "$w2"; start_worker r2; w2=${pids[-1]}; fi
       kills=$((kills + 1)) ;;
    1) [ $restarts -lt 3 ] && { pg_ctlcluster $cluster restart -m fast; restarts=$((restarts + 1)); } ;;
    *) faults "${storms[$(( RANDOM % ${#storms[@]} ))]}"; platform_faults=$((platform_faults + 1)) ;;
  esac
done
faults '{}'
double_state >"$out/state.json"
injected=$(python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["faults"]; print(sum(v for k, v in f.items() if k != "none"))' "$out/state.json")

check_exactly_once
# Complete histories: one status change per version, one "done" event per
# step, one recorded attempt at least per step, one code per assignment.
sql <<'SQL' >"$out/history_checks.txt"
SELECT 'versions without exactly one status change', count(*) FROM elicense.certificate c
 WHERE (SELECT count(*) FROM elicense.status_history h WHERE h.identifier = c.identifier) <> 1;
SELECT 'steps without exactly one done event', count(*) FROM elicense.outbox o
 WHERE (SELECT count(*) FROM elicense.delivery_event e WHERE e.outbox_id = o.id AND e.to_status = 'done') <> 1;
SELECT 'steps without a recorded attempt', count(*) FROM elicense.outbox o
 WHERE NOT EXISTS (SELECT FROM elicense.delivery_attempt a WHERE a.outbox_id = o.id);
SELECT 'licences without their code', count(*) FROM elicense.certificate c
 WHERE c.operate_type = '01' AND c.assigned_code IS NULL;
SQL
cat "$out/history_checks.txt"
lost=$(awk -F'|' '{s += $2} END {print s + 0}' "$out/history_checks.txt")
echo "faults survived: $kills worker kills, $restarts PostgreSQL restarts, $platform_faults platform fault switches ($injected faulty answers); items lost: $lost"
[ "$lost" = 0 ] || fail "incomplete histories"
