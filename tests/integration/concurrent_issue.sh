#!/usr/bin/env bash
# Concurrency: 8 pgbench clients insert 1,000 approved rows each into an
# approval table whose trigger (elicense.issue_from_trigger) issues a W032
# licence per row, spread over 4 issuing authorities. Then checks: 8,000
# licences, unique and valid identifiers, and sequence numbers 1..n without
# gaps or duplicates for each authority (the counter row is locked in the
# issuing transaction). Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
out=${1:-/tmp}
db=elicense_concurrent
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT

dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -v cert_prefix=T -d "$db" -f "$(dirname "$0")/../fixtures/w032_approval.sql"

cat >"$work/issue.sql" <<'SQL'
\set auth random(1, 4)
INSERT INTO approval (approved, authority, person, sex, idno, work, start_date, end_date, decided, clerk)
VALUES ('yes', (ARRAY['12350000MB0000019K', '12350000MB0000027E', '12350000MB00000359', '12350000MB00000434'])[:auth],
        '李四', '男', '350102199001011238', '建筑电工', '2024-01-01', '2026-01-01', '2024-01-01', 'client ' || :client_id);
SQL

start=$(date +%s)
pgbench -n -c 8 -j 2 -t 1000 -f "$work/issue.sql" "$db" 2>&1 | tee "$out/concurrent_issue.pgbench.log"
status=${PIPESTATUS[0]}
echo "pgbench exit status $status, $(( $(date +%s) - start )) s"
[ "$status" -eq 0 ] || { echo "FAIL: pgbench reported errors"; exit 1; }
grep -q "number of failed transactions: 0 " "$out/concurrent_issue.pgbench.log" || grep -q "number of transactions actually processed: 8000/8000" "$out/concurrent_issue.pgbench.log" \
  || { echo "FAIL: not every transaction succeeded"; exit 1; }

# Each check prints one row: name, ok, details.
psql -X -v ON_ERROR_STOP=1 -At -F ' | ' -d "$db" <<'SQL' | tee "$out/concurrent_issue.checks.log"
SELECT 'licences', count(*) = 8000, count(*) FROM elicense.certificate;
SELECT 'unique identifiers', count(DISTINCT identifier) = 8000, count(DISTINCT identifier) FROM elicense.certificate;
SELECT 'valid identifiers', bool_and(elicense.is_valid_identifier(identifier)), count(*) FILTER (WHERE NOT elicense.is_valid_identifier(identifier)) FROM elicense.certificate;
SELECT 'gap-free per authority',
       bool_and(n = max_seq AND n = distinct_seq AND min_seq = 1),
       string_agg(format('%s: n=%s min=%s max=%s distinct=%s', authority_uscc, n, min_seq, max_seq, distinct_seq), '; ' ORDER BY authority_uscc)
  FROM (SELECT authority_uscc, count(*) AS n, min(sequence::bigint) AS min_seq, max(sequence::bigint) AS max_seq,
               count(DISTINCT sequence) AS distinct_seq
          FROM elicense.certificate GROUP BY authority_uscc) s;
SELECT 'counters match', bool_and(c.last_value = (SELECT count(*) FROM elicense.certificate x WHERE x.authority_uscc = c.authority_uscc)), count(*)
  FROM elicense.sequence_counter c;
SELECT 'four authorities used', count(DISTINCT authority_uscc) = 4, count(DISTINCT authority_uscc) FROM elicense.certificate;
SELECT 'history rows', count(*) = 8000, count(*) FROM elicense.status_history;
SELECT 'outbox rows (first step of each)', count(*) = 8000, count(*) FROM elicense.outbox;
SELECT 'approval rows', count(*) = 8000, count(*) FROM approval;
SQL
if grep -q ' | f | ' "$out/concurrent_issue.checks.log" || [ "$(grep -c ' | t | ' "$out/concurrent_issue.checks.log")" -ne 9 ]; then
  echo "FAIL: see the checks above"
  exit 1
fi
echo "PASS: $(( $(date +%s) - start )) s"
