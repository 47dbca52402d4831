#!/usr/bin/env bash
# Licence OFD files rendered per second (W050 template, watermark on, 1x1 QR
# PNG), unsigned and sealed, with the C++ core directly (tests/tools/
# ofd_bench.cpp; fastest of 3 runs). Goal: at most 2 ms per licence.
# Prints its own table; inside bench/run it also records rows in bench.result.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${OFD_BENCH_COUNT:-500}
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/cmake -j2 --target ofd_bench >/dev/null
results=$(build/cmake/ofd_bench "$n")

printf '%-26s %9s %9s %12s %8s\n' "ofd: case" licences seconds "licences/s" "ms each"
while IFS=$'\t' read -r label calls seconds; do
  awk -v l="$label" -v c="$calls" -v s="$seconds" \
    'BEGIN { printf "%-26s %9d %9.3f %12.0f %8.3f%s\n", l, c, s, c / s, 1000 * s / c, (1000 * s / c <= 2 ? "" : "  > 2 ms goal") }'
  if [ -n "${PGHOST:-}" ]; then
    baseline=unsigned
    [ "$label" = unsigned ] && baseline=
    psql -qX -v ON_ERROR_STOP=1 -v label="$label" -v calls="$calls" -v seconds="$seconds" -v baseline="$baseline" <<'SQL'
INSERT INTO bench.result VALUES ('ofd', :'label', :calls, :seconds, :calls / :seconds::float8, nullif(:'baseline', ''));
SQL
  fi
done <<<"$results"
