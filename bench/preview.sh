#!/usr/bin/env bash
# Preview service: pages served from the render cache and cold
# renders (cache off: every request draws the OFD page: preview_ofd in the
# database, OFD -> SVG, librsvg -> PNG), per second with p50/p99 latency,
# measured with wrk against elicense-preview. Baselines in the same run on
# the same server: GET /healthz (HTTP alone) and a revoked licence's status
# page (HTTP + the preview_open lookup, no picture). Rows also go to
# bench.result (suite "preview").
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PGHOST:-}" ] || exec bench/run preview
set -- build/bench
source tests/sync/lib.sh
[ -x "$bin/elicense-preview" ] || fail "build elicense-preview first"
command -v wrk >/dev/null || fail "wrk is missing (scripts/install-deps)"
setup_database
seconds=${PREVIEW_BENCH_SECONDS:-10}
licences=${PREVIEW_BENCH_LICENCES:-50}

create_preview_login

# Licences valid today with their QR URL as the worker would store it (the
# platform is not part of this benchmark), and a few revoked ones.
sql -v n="$licences" <<'SQL' >/dev/null
SELECT count(elicense.issue('11100000000013338W050', jsonb_build_object(
         'enterprise_name', '闽江预览建设有限公司' || g, 'uscc', '91350100M000100Y43', 'principal', '王五', 'principal_id', '350102199001011238',
         'address', '福州市仓山区' || g || '号', 'economic_type', '有限责任公司', 'permit_scope', '建筑施工',
         'licence_number', '(闽)JZ安许证字[2026]' || lpad(g::text, 6, '0'),
         'valid_from', '2026-01-01', 'valid_to', '2099-12-31', 'authority_name', '福建省住房和城乡建设厅',
         'authority_uscc', '11350000003591037R', 'authority_division', '350000', 'issue_date', '2026-01-01'), 'bench'))
  FROM generate_series(1, :n + 5) g;
UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || upper(md5(identifier))
       || '&k=bench&certype=11100000000013338W050&province=350000';
SELECT count(elicense.revoke(identifier, '违法违规', 'bench'))
  FROM (SELECT identifier FROM elicense.certificate ORDER BY identifier DESC LIMIT 5) r;
UPDATE elicense.delivery_config SET preview_url_template = '/p/{token}';
SQL
sql -c "SELECT elicense.preview_url(identifier) FROM elicense.certificate
         WHERE superseded_at IS NULL AND status = '01'" >"$out/valid.paths"
sql -c "SELECT elicense.preview_url(identifier) FROM elicense.certificate
         WHERE superseded_at IS NOT NULL" >"$out/revoked.paths"
echo /healthz >"$out/healthz.paths"

# Every access recorded (the per-token access-row budget out of the way),
# so that each request calls preview_open as before the budget existed; the
# row "previews from cache, access budget" uses the default budget.
preview_config() {  # CACHE-BYTES [BUDGET-JSON]
  printf '{"threads": 8, "max_concurrent_renders": 2, "render_wait_ms": 30000, "cache_bytes": %s%s}' "$1" \
    "${2-, \"access_rows_per_minute\": 1000000, \"access_rows_burst\": 1000000}"
}

printf '\n%-44s %10s %10s %10s %10s %8s\n' "preview ($(nproc) cores)" "requests" "req/s" "p50 ms" "p99 ms" "non-2xx"
measure() {  # LABEL PATHS CONNECTIONS [BASELINE]
  local label=$1 paths=$2 connections=$3 baseline=${4:-}
  PREVIEW_PATHS=$paths wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/preview_wrk.lua "$preview" \
    >"$out/wrk.txt" 2>&1 || fail "wrk: $(tail -3 "$out/wrk.txt")"
  read -r _ requests secs rps p50 p99 non2xx errors <<<"$(grep '^RESULT' "$out/wrk.txt")"
  printf '%-44s %10s %10s %10s %10s %8s\n' "$label" "$requests" "$rps" "$p50" "$p99" "$((non2xx + errors))"
  if [ "$(psql -XAtc "SELECT to_regclass('bench.result') IS NOT NULL")" = t ]; then
    psql -Xqc "INSERT INTO bench.result VALUES ('preview', '$label', $requests, $secs, $rps,
               $([ -n "$baseline" ] && echo "'$baseline'" || echo NULL))"
  fi
}

start_preview cached "$(preview_config $((512 << 20)))"
measure "baseline: GET /healthz (HTTP only)" "$out/healthz.paths" 8
measure "baseline: status page (HTTP + preview_open)" "$out/revoked.paths" 8
# Warm the cache: one request per licence.
while read -r p; do curl -s -o /dev/null "$preview$p"; done <"$out/valid.paths"
measure "previews from cache ($licences licences)" "$out/valid.paths" 8 "baseline: status page (HTTP + preview_open)"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# The default access budget (12 rows a minute per token, burst 6): past the
# burst a hammered token is answered without the database.
start_preview budget "$(preview_config $((512 << 20)) '')"
while read -r p; do curl -s -o /dev/null "$preview$p"; done <"$out/valid.paths"
measure "previews from cache, access budget 12/min" "$out/valid.paths" 8 "baseline: status page (HTTP + preview_open)"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

start_preview cold "$(preview_config 0)"
measure "cold renders (cache off, 2 render slots)" "$out/valid.paths" 2 "baseline: status page (HTTP + preview_open)"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
[ "$(sql -c "SELECT count(*) FROM elicense.preview_access")" -gt 0 ] || fail "no access rows were written"
