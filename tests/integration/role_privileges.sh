#!/usr/bin/env bash
# Every privilege the extension's roles and PUBLIC hold on its objects, read
# from the catalog of a fresh install (tests/support/role_privileges.sql), is
# the table in docs/privileges.md: a grant added or removed without the table
# changing fails here, with the difference.
# Runs inside a throwaway cluster (PG* set); $1 is the output directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp}/role_privileges
rm -rf "$out" && mkdir -p "$out"
db=elicense_role_privileges
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION elicense"
psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -f "$root/tests/support/role_privileges.sql" >"$out/catalog.txt"
sed -n '/<!-- privileges:begin -->/,/<!-- privileges:end -->/p' "$root/docs/privileges.md" \
  | sed -nE 's/^\| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/\1 | \2 | \3/p' | sed '1d' >"$out/documented.txt"  # less the header row
[ -s "$out/catalog.txt" ] || { echo "FAIL: the catalog lists no privilege"; exit 1; }
if ! diff -u "$out/documented.txt" "$out/catalog.txt" >"$out/diff.txt"; then
  echo "FAIL: privileges differ from docs/privileges.md (- documented, + in the catalog):"
  grep -E '^[-+][^-+]' "$out/diff.txt" || true
  exit 1
fi
echo "ok: $(wc -l <"$out/catalog.txt") privileges of the extension's roles and PUBLIC, each as docs/privileges.md lists it"
