#!/usr/bin/env bash
# The core is plain C++: no file under core/ includes a PostgreSQL header.
set -euo pipefail
cd "$(dirname "$0")/../.."
if grep -rnE '#\s*include\s*[<"](postgres|fmgr|funcapi|utils/|access/|catalog/|executor/|nodes/|libpq-fe)' core/; then
  echo "core/ must not include PostgreSQL headers"
  exit 1
fi
echo "core/ includes no PostgreSQL header"
