#!/usr/bin/env bash
# Throughput of the QR functions, in one run, next to pgcrypto's
# encrypt(convert_to(code, 'UTF8'), '12345678'::bytea, 'des') of the same
# 18-byte codes as a baseline:
#   qr_url      full URL: random key, DES, RSA (512- and 2048-bit platform
#               keys), key lookup in elicense.platform_key, URL
#   qr_png      QR symbol + PNG of a real URL (EC level M, 4 px/module)
#   des         elicense.des_encrypt_hex with the same key as the baseline
# pgcrypto's DES needs OpenSSL's legacy provider in the server's default
# context, which PostgreSQL 15 does not load; if it fails the baseline falls
# back to 'bf', then 'aes', and the output says which one ran.
#
# Runs in the cluster given by PG* (with elicense installed), or wraps
# itself in scripts/throwaway-cluster when PGHOST is unset. N calls per measurement
# (default 2000); each measurement is the best of ROUNDS (default 3).
set -euo pipefail
if [ -z "${PGHOST:-}" ]; then
  exec "$(dirname "$0")/../scripts/throwaway-cluster" bash "$0" "$@"
fi
n=${N:-2000}
rounds=${ROUNDS:-3}
db=elicense_bench_qr
work=$(mktemp -d)
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
trap 'dropdb --if-exists "$db"; rm -rf "$work"' EXIT
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$work/k512.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/k2048.pem" 2>/dev/null
sql -v pub512="$(openssl pkey -in "$work/k512.pem" -pubout)" -v pub2048="$(openssl pkey -in "$work/k2048.pem" -pubout)" \
  -v n="$n" <<'EOF'
CREATE EXTENSION elicense;
CREATE EXTENSION pgcrypto;
INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('510000', :'pub512'), ('350000', :'pub2048');
CREATE TABLE code AS
  SELECT g, '2022320000' || lpad(g::text, 8, '0') AS code FROM generate_series(1, :n) AS g;
CREATE TABLE url AS
  SELECT g, elicense.qr_url(code, '11100000000013338W050', '510000') AS url FROM code;
ANALYZE code, url;
EOF

baseline=
for cipher in des bf aes; do
  if sql -c "SELECT encrypt(convert_to('202232000001000001', 'UTF8'), '12345678'::bytea, '$cipher')" >/dev/null 2>"$work/err"; then
    baseline=$cipher
    break
  fi
  echo "pgcrypto '$cipher' unavailable: $(head -n1 "$work/err")"
done
[ -n "$baseline" ] || { echo "no pgcrypto cipher works"; exit 1; }

# All measurements in one session: pg_temp.rate lives as long as it.
sql -v rounds="$rounds" -v baseline="$baseline" >"$work/rates" <<'EOF'
-- calls/s of `expr` evaluated once per row of `tab`, best of `rounds`.
CREATE FUNCTION pg_temp.rate(expr text, tab text, rounds int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  best interval;
  rows bigint;
BEGIN
  FOR i IN 1 .. rounds LOOP
    t0 := clock_timestamp();
    EXECUTE format('SELECT count(%s) FROM %I', expr, tab) INTO rows;
    IF best IS NULL OR clock_timestamp() - t0 < best THEN
      best := clock_timestamp() - t0;
    END IF;
  END LOOP;
  RETURN round(rows / extract(epoch FROM best));
END $$;
SELECT 'qr_url_512', pg_temp.rate($$elicense.qr_url(code, '11100000000013338W050', '510000')$$, 'code', :rounds);
SELECT 'qr_url_2048', pg_temp.rate($$elicense.qr_url(code, '11100000000013338W050', '350000')$$, 'code', :rounds);
SELECT 'qr_png', pg_temp.rate($$elicense.qr_png(url, 'M', 4)$$, 'url', :rounds);
SELECT 'des', pg_temp.rate($$elicense.des_encrypt_hex(code, '12345678')$$, 'code', :rounds);
SELECT 'pgcrypto', pg_temp.rate(format($$encrypt(convert_to(code, 'UTF8'), '12345678'::bytea, %L)$$, :'baseline'), 'code', :rounds);
EOF

declare -A r
while IFS='|' read -r name value; do r[$name]=$value; done <"$work/rates"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
base=${r[pgcrypto]}
printf '%-44s %12s %16s\n' "function (N=$n, best of $rounds)" "calls/s" "vs pgcrypto $baseline"
printf '%-44s %12s %16s\n' "elicense.qr_url, RSA-512 (DES+RSA+URL)" "${r[qr_url_512]}" "$(ratio "${r[qr_url_512]}" "$base")"
printf '%-44s %12s %16s\n' "elicense.qr_url, RSA-2048 (DES+RSA+URL)" "${r[qr_url_2048]}" "$(ratio "${r[qr_url_2048]}" "$base")"
printf '%-44s %12s %16s\n' "elicense.qr_png (M, 4 px/module)" "${r[qr_png]}" "$(ratio "${r[qr_png]}" "$base")"
printf '%-44s %12s %16s\n' "elicense.des_encrypt_hex (DES only)" "${r[des]}" "$(ratio "${r[des]}" "$base")"
printf '%-44s %12s %16s\n' "pgcrypto encrypt(..., '$baseline') (baseline)" "$base" "1.000"

# Under bench/run the rows also go to bench.result (default database), with
# pgcrypto as the baseline.
psql -X -q -v ON_ERROR_STOP=1 -v n="$n" -v cipher="$baseline" \
  -v url512="${r[qr_url_512]}" -v url2048="${r[qr_url_2048]}" -v png="${r[qr_png]}" -v des="${r[des]}" -v base="$base" <<'EOF2'
SELECT pg_catalog.to_regclass('bench.result') IS NOT NULL AS has_bench \gset
\if :has_bench
INSERT INTO bench.result
SELECT 'qr', label, :n, :n / rate, rate, CASE WHEN label NOT LIKE 'pgcrypto%' THEN 'pgcrypto encrypt ' || :'cipher' END
  FROM (VALUES ('pgcrypto encrypt ' || :'cipher', :base::float8), ('qr_url RSA-512', :url512), ('qr_url RSA-2048', :url2048),
               ('qr_png M 4px', :png), ('des_encrypt_hex', :des)) AS m (label, rate);
\endif
EOF2
