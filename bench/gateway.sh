#!/usr/bin/env bash
# The HTTP gateway against SQL: info by identifier (licence_info with a usage
# code) per second with p50/p99 latency at 1, 8 and 32 concurrent clients,
# over HTTP (wrk -> elicense-gateway, 8 threads and 8 database connections,
# SET LOCAL ROLE per request) and over SQL (pgbench, prepared statements,
# one connection per client, logged in as the application's role) in the
# same run. Both paths run the same function and write the same audit row
# through the audit writer. Goal: HTTP >= 70% of SQL at 32 clients.
#   bench/run gateway    (or bench/gateway.sh; GATEWAY_SECONDS overrides 10)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PGHOST:-}" ] || exec bench/run gateway
command -v wrk >/dev/null || { echo "wrk is missing (scripts/install-deps)"; exit 1; }
secs=${GATEWAY_SECONDS:-10}
out=build/bench/gateway
db=elicense_bench_gateway
mkdir -p "$out"
source tests/gateway/lib.sh
trap gw_cleanup EXIT
gw_setup_database
sql -v pw="$PGPASSWORD" >/dev/null <<<"ALTER ROLE dept_app PASSWORD :'pw'"
gw_register dept_app dept_app 100000 100000
gw_start gateway '{"threads": 8, "max_connections_per_client": 128}'
token=$(token_for dept_app "$secret")
ctx='{"applicant": "李四", "business_id": "BENCH", "step": "受理", "office": "鼓楼", "department": "市场监管", "officer": "王五"}'
code=$(as_app -c "SELECT elicense.create_usage_code('bidding', '$person_a', '{$w032}', '$ctx', 240)")
jq -nc --arg t "$token" --arg c "$code" --arg i "$id_a" '{accessToken: $t, data: {usageCode: $c, certIdentifier: $i}}' >"$out/body.json"
curl -sS -H 'Content-Type: application/json' --data-binary @"$out/body.json" "$gw/api/v1/licences/info" |
  jq -e '.head.status == 0' >/dev/null || fail "the HTTP call does not answer"
echo "SELECT * FROM elicense.licence_info(:code, :id);" >"$out/info.sql"

record() {  # LABEL REQUESTS SECONDS RPS [BASELINE]
  if [ "$(psql -XAtc "SELECT to_regclass('bench.result') IS NOT NULL")" = t ]; then
    psql -Xqc "INSERT INTO bench.result VALUES ('gateway', '$1', $2, $3, $4, $([ -n "${5:-}" ] && echo "'$5'" || echo NULL))"
  fi
}
sql_run() {  # CLIENTS -> "requests seconds rps p50 p99 failed"
  rm -f "$out"/pgbench_log.*
  (cd "$out" && PGPASSWORD=$PGPASSWORD pgbench -n -U dept_app -d "$db" -M prepared -c "$1" -j "$(( $1 < 2 ? $1 : 2 ))" \
     -T "$secs" -D code="$code" -D id="$id_a" -f info.sql -l --log-prefix=pgbench_log >pgbench.txt 2>&1) \
    || fail "pgbench: $(tail -3 "$out/pgbench.txt")"
  local n failed
  n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$out/pgbench.txt")
  failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$out/pgbench.txt")
  cat "$out"/pgbench_log.* | awk '{print $3}' | sort -n >"$out/latencies"
  local count p50 p99
  count=$(wc -l <"$out/latencies")
  p50=$(awk -v n="$count" 'NR == int(n * 0.50) + 1 {printf "%.2f", $1 / 1000}' "$out/latencies")
  p99=$(awk -v n="$count" 'NR == int(n * 0.99) + 1 {printf "%.2f", $1 / 1000}' "$out/latencies")
  echo "$n $secs $(echo "scale=1; $n / $secs" | bc) $p50 $p99 ${failed:-0}"
}
http_run() {  # CLIENTS -> "requests seconds rps p50 p99 failed"
  GATEWAY_BODY=$out/body.json GATEWAY_PATH=/api/v1/licences/info \
    wrk -t"$(( $1 < 2 ? $1 : 2 ))" -c"$1" -d"${secs}s" --latency -s bench/gateway_wrk.lua "$gw" >"$out/wrk.txt" 2>&1 \
    || fail "wrk: $(tail -3 "$out/wrk.txt")"
  read -r _ requests s rps p50 p99 non2xx errors <<<"$(grep '^RESULT' "$out/wrk.txt")"
  echo "$requests $s $rps $p50 $p99 $((non2xx + errors))"
}

printf '\n%-40s %9s %9s %8s %8s %7s %9s\n' "gateway: info by identifier ($(nproc) cores)" requests "req/s" "p50 ms" "p99 ms" failed "HTTP/SQL"
for c in 1 8 32; do
  read -r n s rps p50 p99 bad <<<"$(sql_run "$c")"
  printf '%-40s %9s %9s %8s %8s %7s %9s\n' "SQL licence_info, $c clients" "$n" "$rps" "$p50" "$p99" "$bad" ""
  record "SQL licence_info, $c clients" "$n" "$s" "$rps"
  sql_rps=$rps
  read -r n s rps p50 p99 bad <<<"$(http_run "$c")"
  ratio=$(echo "scale=2; $rps / $sql_rps" | bc)
  printf '%-40s %9s %9s %8s %8s %7s %9s\n' "HTTP /api/v1/licences/info, $c clients" "$n" "$rps" "$p50" "$p99" "$bad" "$ratio"
  record "HTTP licences/info, $c clients" "$n" "$s" "$rps" "SQL licence_info, $c clients"
done
rows=$(sql -c "SELECT count(*) FROM elicense.usage_audit WHERE function = 'licence_info' AND result = 'ok' AND db_user = 'dept_app'")
echo "audit rows of the run: $rows (both paths, db_user dept_app)"
