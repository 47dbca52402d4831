#!/usr/bin/env bash
# A business error (ReturnCode 0) stops that licence and only that licence:
# its step is dead with the platform's message, visible to analysts, while
# every other licence is delivered. Once the cause is fixed an admin replays
# it and it goes through, exactly once.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5
issue_licences 10
bad=$(sql -c "SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338W050' ORDER BY sequence DESC LIMIT 1")
# The platform knows a licence by what its items carry; the check item of a
# W050 licence names it by its certificate number (certNum).
bad_number=$(sql -c "SELECT substring(licence_number FROM '\[.*') FROM elicense.certificate WHERE identifier = '$bad'")
faults "{\"business_error_for\": \"$bad_number\"}"
start_worker w1
wait_for 60 "EXISTS (SELECT FROM elicense.outbox WHERE identifier = '$bad' AND status = 'dead')
             AND NOT EXISTS (SELECT FROM elicense.outbox WHERE identifier <> '$bad' AND status <> 'done')"

[ "$(sql -c "SELECT step || ': ' || last_error FROM elicense.outbox WHERE status = 'dead'")" = \
  "validate: 0 数据校验不通过: 证书编号不符合规则(injected)" ] || fail "the dead step does not carry the platform's message"
[ "$(sql -c "SELECT count(*) FROM elicense.outbox WHERE identifier = '$bad' AND step <> 'validate'")" = 0 ] \
  || fail "a later step of the refused licence was queued"
[ "$(sql -c "SELECT attempts FROM elicense.outbox WHERE identifier = '$bad' AND step = 'validate'")" = 1 ] \
  || fail "a business error was retried"
analyst=$(sql -c "SET ROLE elicense_analyst;
  SELECT (SELECT steps FROM elicense.analyst_outbox_backlog WHERE status = 'dead') || ' dead; ' ||
         (SELECT return_message FROM elicense.analyst_delivery_attempts WHERE outcome = 'business_error')")
[ "$analyst" = "1 dead; 0 数据校验不通过: 证书编号不符合规则(injected)" ] || fail "analysts see: $analyst"

faults '{}'
[ "$(sql -c "SELECT elicense.replay('$bad')")" = 1 ] || fail "replay did not take the dead step"
wait_for 60 "$(all_delivered)"
check_exactly_once
[ "$(sql -c "SELECT string_agg(from_status || '>' || to_status, ',' ORDER BY e.id) FROM elicense.delivery_event e
              JOIN elicense.outbox o ON o.id = e.outbox_id WHERE o.identifier = '$bad' AND o.step = 'validate'")" = \
  "in_flight>dead,dead>pending,in_flight>done" ] || fail "the step's history is incomplete"
echo "business error recorded, visible to analysts, replayed and delivered"
