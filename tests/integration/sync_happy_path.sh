#!/usr/bin/env bash
# The worker delivers licences of both types to the platform test double:
# 20 W050 and 20 W032 issued, one changed (a new version with a new code) and
# one revoked (a status update under the latest code). Every step is done,
# each took effect on the platform exactly once, every new version has its QR
# URL, attempts are recorded without tokens, analysts see them, and SIGTERM
# stops the worker cleanly.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5
issue_licences 20
changed=$(sql -c "SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338W050' ORDER BY sequence LIMIT 1")
revoked=$(sql -c "SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338W032' ORDER BY sequence LIMIT 1")
sql -c "SELECT elicense.change('$changed', '{\"address\": \"福州市台江区1号\"}', '地址变更', 'approval-test')" >/dev/null
sql -c "SELECT elicense.revoke('$revoked', '违法违规', 'approval-test')" >/dev/null

start_worker w1
worker=${pids[-1]}
wait_for 60 "$(all_delivered)"
check_exactly_once

[ "$(sql -c "SELECT count(DISTINCT type_code) FROM elicense.certificate c JOIN elicense.code_assignment a USING (identifier)")" = 2 ] \
  || fail "not both licence types got codes"
[ "$(sql -c "SELECT count(*) FROM elicense.code_assignment a JOIN elicense.certificate c USING (identifier)
              WHERE c.original_identifier = '$changed'")" = 2 ] || fail "the changed licence did not get a second code"
[ "$(sql -c "SELECT count(*) FROM elicense.outbox WHERE step = 'status_update' AND status = 'done'")" = 1 ] \
  || fail "the revocation was not delivered"
[ "$(sql -c "SELECT count(*) FROM elicense.delivery_attempt WHERE outcome <> 'done'")" = 0 ] \
  || fail "the happy path needed retries"
[ "$(sql -c "SET ROLE elicense_analyst; SELECT count(*) > 0 FROM elicense.analyst_delivery_attempts")" = t ] \
  || fail "analysts cannot see the attempts"
# The code decrypted from the assignment is the one the double handed out.
python3 - "$out/double_state.json" <(sql -F' ' -c "SELECT identifier, assigned_code FROM elicense.certificate WHERE assigned_code IS NOT NULL AND superseded_at IS NULL OR identifier = '$changed'") <<'PY' || fail "assigned codes differ from the platform's"
import json, sys
state = json.load(open(sys.argv[1]))["licences"]
rows = [l.split() for l in open(sys.argv[2]) if l.strip()]
bad = [r for r in rows if state[r[0]]["assignedCode"] != r[1]]
print(f"{len(rows)} codes compared with the platform's, {len(bad)} differ")
sys.exit(1 if bad else 0)
PY

kill -TERM "$worker"
wait "$worker" || fail "the worker did not exit cleanly on SIGTERM"
grep -q '"event":"stop"' "$out/w1.log" || fail "no stop event logged"
echo "happy path: $(sql -c "SELECT count(*) FROM elicense.outbox") steps delivered exactly once"
