#!/usr/bin/env bash
# Delivery throughput and commit-to-confirm latency of elicense-sync against
# the platform test double with 0 ms and 5 ms added latency per request, for
# 1 and 4 workers (in_flight 32 each, the worker's default), before and after
# batching, in the same run (BENCH_SYNC_MODES, default "calls set"):
#   off    no group commit (result_batch_ms 0): one call and one commit per
#          attempt row and per result
#   calls  group commit (5 ms) of one call per attempt row and per result,
#          pipelined (result_set_based false: the way before record_results)
#   set    group commit (5 ms) of one elicense.record_results call per group,
#          set-based in the database (the default)
#   burst: BENCH_SYNC_LICENCES W050 + as many W032 licences (default 1,000:
#          8,000 requests; 4 each) issued in one transaction while the workers wait;
#          a burst of 800 lasted about a second, mostly the ramp of each
#          licence's four steps one after the other and the last ones' tail,
#          and one run's rate differed from the next by up to 2.5 times;
#          requests/s from the first to the last recorded attempt, and over the
#          first 95% of the attempts (the sustained rate, without the tail of a
#          retried unknown outcome).
#   idle:  then 20 licence pairs issued one by one, 100 ms apart, into idle
#          workers: p50/p99 from the issuing commit to the confirm step done.
#   db trips/req: the workers' database round trips (each a transaction:
#          leases, renewals, results, polls) per request sent, burst and idle.
#   db/worker cpu ms/req: CPU time of the workers' database backends and of
#          the worker processes during the burst, per request: the cost per
#          step whatever else the machine is doing.
# The ideal is workers × in_flight / latency requests per second (unbounded
# at 0 ms). Rows also go to bench.result (suite "sync") when it exists.
# Quick runs: BENCH_SYNC_LATENCIES="5" BENCH_SYNC_WORKERS="1" BENCH_SYNC_MODES="set"
# pick rows, BENCH_SYNC_IN_FLIGHT sets in_flight, BENCH_SYNC_RESULT_MS the
# group commit's result_batch_ms (default 5), BENCH_SYNC_PROFILE=1 also
# prints the backends' time per function (track_functions) and the requests
# per 100 ms of the burst, to stderr; BENCH_SYNC_PERF=1 records the workers'
# backends with perf during the burst (the file is named on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PGHOST:-}" ] || exec bench/run sync
set -- build/bench
source tests/sync/lib.sh
n=${BENCH_SYNC_LICENCES:-1000}
latencies=${BENCH_SYNC_LATENCIES:-0 5}
worker_counts=${BENCH_SYNC_WORKERS:-1 4}
modes=${BENCH_SYNC_MODES:-calls set}
# CPU seconds (user + system) the given processes have used so far.
cpu_s() { for p in "$@"; do cut -d' ' -f14,15 "/proc/$p/stat"; done | awk -v hz="$(getconf CLK_TCK)" '{s += $1 + $2} END {printf "%.3f", s / hz}'; }
in_flight=${BENCH_SYNC_IN_FLIGHT:-32}
setup_database  # the keys and client secret the double needs
# A thread per keep-alive connection in the double: every worker's in_flight
# connections and their token fetches, with room to spare (64 threads for 4 x 16
# connections left new connections queued until an idle one timed out).
max_workers=$(printf '%s\n' $worker_counts | sort -n | tail -n 1)
start_double --threads $((max_workers * in_flight * 2 + 16))

printf '\n%-8s %-8s %-10s %11s %11s %12s %13s %13s %14s %15s %15s\n' latency workers recording "requests/s" "95% req/s" "ideal req/s" "idle p50 ms" "idle p99 ms" "db trips/req" "db cpu ms/req" "worker cpu ms/req"
for latency in $latencies; do
  faults "{\"latency_ms\": $latency}"
  for workers in $worker_counts; do
    for mode in $modes; do
      setup_database  # a fresh database per run: history tables are append-only
      [ -z "${BENCH_SYNC_PROFILE:-}" ] || sql -c "ALTER DATABASE $db SET track_functions = 'all'"
      write_config "$in_flight" 30
      case $mode in off | calls | set) ;; *) fail "BENCH_SYNC_MODES: off, calls or set, not $mode" ;; esac
      config_set "\"result_batch_ms\": $([ "$mode" = off ] && echo 0 || echo "${BENCH_SYNC_RESULT_MS:-5}"),
                  \"result_set_based\": $([ "$mode" = set ] && echo true || echo false)"
      first=${#pids[@]}
      for w in $(seq "$workers"); do start_worker "bench_${latency}_${workers}_${mode}_$w"; done
      sleep 0.5
      worker_pids=("${pids[@]:$first}")
      backend_pids=($(sql -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'elicense-sync/%'"))
      cpu_before=$(cpu_s "${worker_pids[@]}" "${backend_pids[@]}")
      db_before=$(cpu_s "${backend_pids[@]}")
      if [ -n "${BENCH_SYNC_PERF:-}" ]; then  # a CPU profile of the workers' backends during the burst
        perf record -q -g -o "$out/perf_${latency}_${workers}_${mode}.data" -p "$(IFS=,; echo "${backend_pids[*]}")" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 0.2
      fi
      issue_licences "$n"
      wait_for 600 "$(all_delivered)"
      if [ -n "${BENCH_SYNC_PERF:-}" ]; then
        kill -INT "$perf_pid"; wait "$perf_pid" || true
        echo "perf profile: $out/perf_${latency}_${workers}_${mode}.data" >&2
      fi
      cpu_after=$(cpu_s "${worker_pids[@]}" "${backend_pids[@]}")
      db_after=$(cpu_s "${backend_pids[@]}")
      mark=$(sql -c "SELECT now()")
      [ -z "${BENCH_SYNC_PROFILE:-}" ] || sql -F' ' -c "
        SELECT d, count(*) FROM (SELECT (extract(epoch FROM at - min(at) OVER ()) * 10)::int AS d FROM elicense.delivery_attempt) a
         GROUP BY 1 ORDER BY 1" | tr '\n' ',' >&2; [ -z "${BENCH_SYNC_PROFILE:-}" ] || echo >&2
      [ -z "${BENCH_SYNC_PROFILE:-}" ] || sql -F' ' -c "
        SELECT d, string_agg(k || ':' || n, ' ' ORDER BY k) FROM (
          SELECT d, k, count(*) AS n FROM (
            SELECT (extract(epoch FROM at - min(at) OVER ()) * 2)::int AS d, step || '/' || coalesce(outcome, '-') AS k
              FROM elicense.delivery_attempt) a GROUP BY 1, 2) b GROUP BY 1 ORDER BY 1" >&2
      [ -z "${BENCH_SYNC_PROFILE:-}" ] || sql -F' ' -c "
        SELECT step, count(*), round(avg(duration_ms), 1), percentile_disc(0.9) WITHIN GROUP (ORDER BY duration_ms)
          FROM elicense.delivery_attempt GROUP BY 1" >&2

      read -r requests seconds <<<"$(sql -F' ' -c "
        SELECT count(*), extract(epoch FROM max(at) - min(at)) FROM elicense.delivery_attempt")"
      # The sustained rate: 95% of the burst's attempts over the time they took. One
      # unknown outcome (a kept-alive connection the double closed as a request
      # went out) is asked about and resent after its backoff, up to a second
      # later: alone, it can halve the rate from the first to the last attempt.
      rps95=$(sql -c "
        WITH a AS (SELECT at, row_number() OVER (ORDER BY at) AS n, count(*) OVER () AS total FROM elicense.delivery_attempt)
        SELECT round(max(n) / nullif(extract(epoch FROM max(at) - min(at)), 0)) FROM a WHERE n <= ceil(total * 0.95)")
      # Idle: one licence pair per transaction; created_at is its commit to within a millisecond.
      for i in $(seq 20); do
        issue_licences 1 $((n + i))
        sleep 0.1
      done
      wait_for 120 "$(all_delivered)"
      read -r p50 p99 <<<"$(sql -F' ' -c "
        WITH lat AS (
          SELECT extract(epoch FROM e.at - c.created_at) * 1000 AS ms
            FROM elicense.delivery_event e JOIN elicense.outbox o ON o.id = e.outbox_id
            JOIN elicense.certificate c ON c.identifier = o.identifier
           WHERE o.step = 'confirm' AND e.to_status = 'done' AND c.created_at > '$mark')
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))
          FROM lat")"
      for p in "${pids[@]:$first}"; do kill -TERM "$p" 2>/dev/null || true; done
      for p in "${pids[@]:$first}"; do wait "$p" 2>/dev/null || true; done
      if [ -n "${BENCH_SYNC_PROFILE:-}" ]; then  # the workers' backends' time per function, per request
        sleep 1.5  # exited backends' statistics reach the shared counters
        sql -c "SELECT funcname, calls, round((total_time / $requests)::numeric, 3) AS total_ms_per_req,
                       round((self_time / $requests)::numeric, 3) AS self_ms_per_req
                  FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT 15" -F' | ' >&2
      fi
      # The workers' own count of database round trips (= transactions), burst and idle.
      trips=$(for w in $(seq "$workers"); do
                grep '"event":"progress"' "$out/bench_${latency}_${workers}_${mode}_$w.log" | tail -n 1
              done | python3 -c "import json, sys; print(sum(json.loads(l)['db_round_trips'] for l in sys.stdin if l.strip()))")
      burst_requests=$requests
      db_ms=$(awk -v a="$db_after" -v b="$db_before" -v r="$burst_requests" 'BEGIN {printf "%.2f", (a - b) * 1000 / r}')
      worker_ms=$(awk -v a="$cpu_after" -v b="$cpu_before" -v d="$db_ms" -v r="$burst_requests" 'BEGIN {printf "%.2f", (a - b) * 1000 / r - d}')
      trips_per=$(awk -v t="$trips" -v r="$(sql -c "SELECT count(*) FROM elicense.delivery_attempt")" 'BEGIN {printf "%.2f", t / r}')
      rps=$(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.0f", r / s}')
      ideal=$([ "$latency" = 0 ] && echo "unbounded" || awk -v f="$((workers * in_flight))" -v l="$latency" 'BEGIN {printf "%.0f", f * 1000 / l}')
      label=$(case $mode in off) echo "off" ;; calls) echo "per call" ;; set) echo "set-based" ;; esac)
      printf '%-8s %-8s %-10s %11s %11s %12s %13s %13s %14s %15s %15s\n' "${latency} ms" "$workers" "$label" "$rps" "$rps95" "$ideal" "$p50" "$p99" "$trips_per" "$db_ms" "$worker_ms"
      if [ "$(psql -XAtc "SELECT to_regclass('bench.result') IS NOT NULL")" = t ]; then
        psql -Xqc "INSERT INTO bench.result VALUES ('sync', 'latency ${latency} ms, ${workers} worker(s), results ${label}', $requests, $seconds, $requests / $seconds,
                   $([ "$mode" = calls ] && echo NULL || echo "'latency ${latency} ms, ${workers} worker(s), results per call'"))"
      fi
    done
  done
done
