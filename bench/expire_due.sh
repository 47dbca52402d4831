#!/usr/bin/env bash
# One run of elicense.expire_due over 100,000 licences that expired the same
# day: the time it takes to queue every expiry (version, status_history row,
# status_update step each), printed with the rate. Not a timed test: it
# fails only if the run did not queue each licence exactly once.
#   bench/run expire_due     (or bench/expire_due.sh; EXPIRE_LICENCES overrides the count)
# Data: W050 licences loaded set-based as bench/sharing.sh does (valid
# identifiers, CHECK constraints run), valid until yesterday.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PGHOST:-}" ] || exec bench/run expire_due
n=${EXPIRE_LICENCES:-100000}
db=elicense_bench_expire
trap 'dropdb --force --if-exists "$db" >/dev/null 2>&1 || true' EXIT
dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

sql -c "CREATE EXTENSION elicense" -f tests/fixtures/holder_ids.sql >/dev/null
sql -v n="$n" <<'SQL'
INSERT INTO elicense.certificate (identifier, original_identifier, type_code, sequence, version, licence_number, holder_name,
    holder_id_type, holder_id, authority_name, authority_uscc, authority_division, issue_date, valid_from, valid_to,
    operate_type, business_data, created_by, qr_url, assigned_code)
SELECT id, id, '11100000000013338W050', seq, 1, '(闽)JZ安许证字[2023]' || lpad(g::text, 6, '0'), '福建测试建设工程有限公司' || g,
       'USCC', uscc(g), '福建省住房和城乡建设厅', '11350000003591037R', '350000', current_date - 1096,
       current_date - 1096, current_date - 1, '01',
       jsonb_build_object('principal', '张三', 'principal_id', '350102199001011238', 'address', '福州市鼓楼区' || g || '号',
                          'economic_type', '有限责任公司', 'permit_scope', '建筑施工'),
       'bench', 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || g, '2022350000' || lpad(g::text, 8, '0')
  FROM generate_series(1, :n) g,
       LATERAL (SELECT '2023' || lpad(g::text, 6, '0') AS seq) s,
       LATERAL (SELECT elicense.build_identifier('11100000000013338W050', '11350000003591037R', s.seq, 1) AS id) i;
VACUUM ANALYZE elicense.certificate;
SQL

started=$(date +%s.%N)
result=$(sql -c "SELECT expired || ' ' || lifted FROM elicense.expire_due()")
ended=$(date +%s.%N)
secs=$(echo "$ended - $started" | bc -l)
read -r expired lifted <<<"$result"
printf 'expire_due: %s licences expired the same day: %s queued (%s lifted) in %.2f s, %.0f expiries/s\n' \
  "$n" "$expired" "$lifted" "$secs" "$(echo "$expired / $secs" | bc -l)"
check=$(sql -c "SELECT (SELECT count(*) FROM elicense.certificate WHERE status = '06' AND superseded_at IS NULL)
                    || ' ' || (SELECT count(*) FROM elicense.outbox WHERE step = 'status_update' AND operate_type = '04')
                    || ' ' || (SELECT count(*) FROM elicense.expire_due())")
read -r current steps again _ <<<"$check"
echo "current expired versions: $current, status_update steps: $steps, a second run: $(sql -c "SELECT expired FROM elicense.expire_due()")"
if [ "$expired" != "$n" ] || [ "$current" != "$n" ] || [ "$steps" != "$n" ]; then
  echo "expire_due did not queue each of the $n licences exactly once" >&2
  exit 1
fi
psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
  IF pg_catalog.to_regclass('bench.result') IS NOT NULL THEN
    INSERT INTO bench.result VALUES ('expire_due', 'expire_due(): licences expired per second', $expired, $secs, $expired / $secs, NULL);
  END IF;
END
\$\$;
SQL
