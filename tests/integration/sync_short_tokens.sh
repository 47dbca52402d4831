#!/usr/bin/env bash
# Tokens that live 3 s: the worker renews each in the background before it
# expires (never in the request's path, at most one fetch a second), so a run
# of several lifetimes needs a handful of logins, not one per request, and no
# step takes effect twice.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double --token-ttl 3
write_config 4 5
faults '{"latency_ms": 50}'  # 4 in flight / 50 ms: the batch outlasts several tokens
issue_licences 50
started=$(date +%s.%N)
start_worker w1
wait_for 120 "$(all_delivered)"
elapsed=$(python3 -c "import time; print(round(time.time() - $started, 1))")
check_exactly_once
double_state >"$out/state.json"
python3 - "$out/state.json" "$elapsed" <<'PY' || fail "token renewal"
import json, sys
s = json.load(open(sys.argv[1]))
tokens, requests, elapsed = s["tokens_issued"], s["requests"], float(sys.argv[2])
print(f"{requests} requests in {elapsed} s with {tokens} tokens of 3 s")
# Renewed at all (the run outlasts a token), at most about one a second (the
# floor), and far fewer than the requests.
ok = elapsed > 4 and 2 <= tokens <= elapsed + 3 and requests >= 10 * tokens
sys.exit(0 if ok else 1)
PY
[ "$(sql -c "SELECT count(*) FROM elicense.delivery_attempt WHERE http_status IN (401, 403)")" -le 2 ] \
  || fail "requests went out with expired tokens"
echo "3 s tokens: renewed ahead, no login per request, exactly once"
