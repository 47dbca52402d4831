#!/usr/bin/env bash
# The happy path, kill -9 with takeover, and the fault storm again in the
# relay-sm4 profile: every body SM4-encrypted with a citynum, the relay's own
# token endpoint and credentials (a direct token is refused there, and the
# relay's pair is unknown to the direct endpoints), answers wrapped in
# {"custom": …}, and unknown outcomes resolved by resending the same eCertID.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp}/sync_relay_profile
rm -rf "$out" && mkdir -p "$out"
failed=0
for test in sync_happy_path sync_kill_restart sync_faults; do
  if SYNC_PROFILE=relay-sm4 bash "$here/$test.sh" "$out" >"$out/$test.log" 2>&1; then
    echo "ok: $test in the relay-sm4 profile ($(tail -n 1 "$out/$test.log"))"
  else
    echo "FAIL: $test in the relay-sm4 profile"
    tail -n 20 "$out/$test.log"
    failed=1
  fi
done
exit "$failed"
