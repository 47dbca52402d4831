#!/usr/bin/env bash
# One version everywhere: the control file (the source), META.json (both
# places), the installed extension and the worker binary agree.
set -euo pipefail
cd "$(dirname "$0")/../.."
control=$(sed -n "s/^default_version = '\(.*\)'/\1/p" extension/elicense.control)
meta=$(python3 -c 'import json; m = json.load(open("META.json")); print(m["version"], m["provides"]["elicense"]["version"])')
[ "$meta" = "$control $control" ] || { echo "META.json says $meta, control file $control"; exit 1; }
[ "$(psql -XAtc "SELECT default_version FROM pg_available_extensions WHERE name = 'elicense'")" = "$control" ] ||
  { echo "installed extension is not $control"; exit 1; }
if [ -x build/cmake/elicense-sync ]; then
  [ "$(build/cmake/elicense-sync --version)" = "elicense-sync $control" ] || { echo "worker version differs"; exit 1; }
fi
echo "version $control everywhere"
