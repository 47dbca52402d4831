#!/usr/bin/env bash
# Delivery throughput and commit-to-delivery latency of elicense-sync against
# the platform test double with 0 ms and 5 ms added latency per request, at
# 1, 8 and 32 requests in flight. Each run issues 100 W050 + 100 W032
# licences (4 requests each) in one transaction while the worker waits, and
# measures until the last confirm step is done. The ideal is in_flight /
# latency requests per second (unbounded at 0 ms). Rows also go to
# bench.result (suite "sync"), so bench/run puts them in its CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PGHOST:-}" ] || exec bench/run sync
set -- build/bench
source tests/sync/lib.sh
setup_database
start_double --threads 64

printf '\n%-10s %-9s %12s %12s %14s %12s %12s\n' latency in_flight "requests/s" "licences/s" "ideal req/s" "p50 ms" "p99 ms"
for latency in 0 5; do
  faults "{\"latency_ms\": $latency}"
  for in_flight in 1 8 32; do
    setup_database  # a fresh database per run: history tables are append-only
    write_config "$in_flight" 30
    start_worker "bench_${latency}_${in_flight}"
    worker=${pids[-1]}
    sleep 0.5
    issue_licences 100
    wait_for 300 "$(all_delivered)"
    kill -TERM "$worker"; wait "$worker" || true
    read -r requests seconds p50 p99 <<<"$(sql -F' ' -c "
      WITH lat AS (
        SELECT extract(epoch FROM e.at - c.created_at) * 1000 AS ms
          FROM elicense.delivery_event e JOIN elicense.outbox o ON o.id = e.outbox_id
          JOIN elicense.certificate c ON c.identifier = o.identifier
         WHERE o.step = 'confirm' AND e.to_status = 'done')
      SELECT (SELECT count(*) FROM elicense.delivery_attempt),
             (SELECT extract(epoch FROM max(e.at) - min(c.created_at)) FROM elicense.delivery_event e, elicense.certificate c),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))
        FROM lat")"
    rps=$(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.0f", r / s}')
    lps=$(awk -v s="$seconds" 'BEGIN {printf "%.0f", 200 / s}')
    ideal=$([ "$latency" = 0 ] && echo "unbounded" || awk -v f="$in_flight" -v l="$latency" 'BEGIN {printf "%.0f", f * 1000 / l}')
    printf '%-10s %-9s %12s %12s %14s %12s %12s\n' "${latency} ms" "$in_flight" "$rps" "$lps" "$ideal" "$p50" "$p99"
    if [ "$(psql -XAtc "SELECT to_regclass('bench.result') IS NOT NULL")" = t ]; then
      psql -Xqc "INSERT INTO bench.result VALUES ('sync', 'latency ${latency} ms, in flight ${in_flight}', $requests, $seconds, $requests / $seconds,
                 $([ "$latency" = 0 ] && echo NULL || echo "'ideal ${ideal} req/s'"))"
    fi
  done
done
