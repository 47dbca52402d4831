#!/usr/bin/env bash
# The preview server shares only common/ with the sync worker: its binary
# must not load libcurl (ldd) nor carry any of the worker's code (symbols in
# namespace elicense::worker, from a static link of elicense_worker).
#   bash tests/deps/preview_links.sh build/cmake/elicense-preview
set -euo pipefail
bin=${1:?usage: preview_links.sh PATH-TO-elicense-preview}
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }

# Whole outputs are captured first: no reader leaves a pipe early.
libraries=$(ldd "$bin")
symbols=$(nm -C "$bin")
status=0
curl_lines=$(grep -i 'libcurl' <<<"$libraries" || true)
if [ -n "$curl_lines" ]; then
	echo "FAIL: $bin loads libcurl:"
	echo "$curl_lines"
	status=1
fi
worker_count=$(grep -c 'elicense::worker::' <<<"$symbols" || true)
if [ "$worker_count" -ne 0 ]; then
	echo "FAIL: $bin carries $worker_count symbols of elicense::worker, e.g.:"
	grep -m 3 'elicense::worker::' <<<"$symbols" || true
	status=1
fi
# The check can see what it looks for: the binary does carry common's code.
if ! grep 'elicense::common::LogEvent' <<<"$symbols" >/dev/null; then
	echo "FAIL: no elicense::common::LogEvent symbol in $bin: is it stripped? (the check would see nothing)"
	status=1
fi
[ "$status" -eq 0 ] && echo "ok: $bin links no libcurl and no worker code"
exit "$status"
