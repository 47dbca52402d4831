#!/usr/bin/env bash
# A live approval's delay while stock is delivered: commit to assigned code
# (certificate.created_at to code_assignment.at) of APPROVALS licences issued
# at a steady pace while the worker delivers to the platform double, first
# with an empty queue, then with STOCK converted licences queued (one step
# each, the worker draining them meanwhile), same worker, same run.
# Printed figures, not a timed test:
#   [STOCK=100000] [APPROVALS=200] [PER_S=10] scripts/throwaway-cluster bash bench/stock_latency.sh [OUT]
#     STOCK      stock steps queued (converted licences, one step each)
#     APPROVALS  live approvals per phase, issued at PER_S a second
#     OUT        where tests/sync/lib.sh keeps logs (default /tmp)
# The worker has a rate limit (rate_per_s below) that both lanes share
# (stock_share: stock's part while live steps wait, worker/src/lane_share.hpp).
source "$(dirname "$0")/../tests/sync/lib.sh"
stock=${STOCK:-100000}
approvals=${APPROVALS:-200}
per_s=${PER_S:-10}
rate_per_s=100
stock_share=0.2

setup_database
start_double
write_config 16 30
python3 - "$out/worker.json" "$rate_per_s" "$stock_share" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(rate_per_s=float(sys.argv[2]), burst=10, stock_share=float(sys.argv[3]), poll_interval_ms=200)
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
start_worker latency-worker

# approve PHASE N: N W032 licences through elicense.issue, each in its own
# transaction, at per_s a second.
approve() {
  sql <<SQL
DO \$\$
BEGIN
  FOR g IN 1 .. $2 LOOP
    PERFORM elicense.issue('11100000000013338W032', jsonb_build_object(
      'name', '李四', 'gender', '男', 'id_number', '350102199001011238', 'category', '建筑电工',
      'licence_number', 'L$1' || lpad(g::text, 8, '0'), 'valid_from', '2025-01-01', 'valid_to', '2029-01-01',
      'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
      'authority_division', '350000', 'issue_date', '2025-01-01'), 'clerk');
    COMMIT;
    PERFORM pg_sleep(1.0 / $per_s);
  END LOOP;
END
\$\$;
SQL
}
wait_assigned() {  # PHASE
  wait_for 600 "(SELECT count(*) FROM elicense.code_assignment a JOIN elicense.certificate c ON c.identifier = a.identifier
                  WHERE c.licence_number LIKE 'L$1%') = $approvals"
}
figures() {  # PHASE -> p50 p99 max (ms)
  sql -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)),
                        round(max(ms))
                   FROM (SELECT extract(epoch FROM a.at - c.created_at) * 1000 AS ms
                           FROM elicense.code_assignment a JOIN elicense.certificate c ON c.identifier = a.identifier
                          WHERE c.licence_number LIKE 'L$1%') x"
}
stock_done() { sql -c "SELECT count(*) FROM elicense.outbox WHERE lane = 'stock' AND status = 'done'"; }

# Phase 1: an empty queue.
approve A "$approvals"
wait_assigned A
read -r a50 a99 amax <<<"$(figures A)"

# Phase 2: STOCK converted licences queued (their first step each), then the
# same approvals while the worker drains them.
sql <<SQL
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (1, '11100000000013338W032', 'latency bench');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT 1, i, jsonb_build_object('name', '陈' || (i % 1000), 'gender', '男', 'id_number', '350102199001011238',
         'category', '建筑电工', 'licence_number', 'S' || lpad(i::text, 9, '0'), 'valid_from', '2024-01-01',
         'valid_to', '2029-01-01', 'issue_date', '2024-01-01', 'authority_name', '福建省住房和城乡建设厅',
         'authority_uscc', '11350000003591037R', 'authority_division', '350000')
  FROM generate_series(1, $stock) i;
SELECT converted FROM elicense.convert_stock(1) \g /dev/null
SQL
queued=$(sql -c "SELECT count(*) FROM elicense.outbox WHERE lane = 'stock' AND status IN ('pending', 'in_flight')")
wait_for 60 "EXISTS (SELECT FROM elicense.outbox WHERE lane = 'stock' AND status = 'done')"  # the worker is on it
before=$(stock_done)
t0=$(date +%s.%N)
approve B "$approvals"
wait_assigned B
t1=$(date +%s.%N)
after=$(stock_done)
left=$(sql -c "SELECT count(*) FROM elicense.outbox WHERE lane = 'stock' AND status IN ('pending', 'in_flight')")
read -r b50 b99 bmax <<<"$(figures B)"

echo "live approval, commit to assigned code: $approvals W032 approvals at $per_s/s, worker in_flight 16, rate_per_s $rate_per_s, stock_share $stock_share; $(nproc) cores"
printf '   %-44s p50 %6s ms   p99 %6s ms   max %6s ms\n' "empty queue:" "$a50" "$a99" "$amax"
printf '   %-44s p50 %6s ms   p99 %6s ms   max %6s ms\n' "$queued stock steps queued:" "$b50" "$b99" "$bmax"
printf '   stock steps done meanwhile: %s (%.0f/s); %s still queued\n' "$((after - before))" \
  "$(echo "($after - $before) / ($t1 - $t0)" | bc -l)" "$left"
printf '   with stock / empty queue: p50 %.2fx, p99 %.2fx (goal: within 1.5x)\n' "$(echo "$b50 / $a50" | bc -l)" "$(echo "$b99 / $a99" | bc -l)"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES
      ('stock_latency', 'live p99 ms, empty queue', $approvals, $a99 / 1000.0, NULL, NULL),
      ('stock_latency', 'live p99 ms, $queued stock steps queued', $approvals, $b99 / 1000.0, NULL, 'live p99 ms, empty queue');
  END IF;
END
\$\$;
SQL
