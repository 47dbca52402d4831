#!/usr/bin/env bash
# The worker's group commit when elicense.record_results cannot take a group:
#   1. the database has no record_results (a 0.3.0 install older than it):
#      the worker says extension_lacks and records its groups as the
#      one-by-one calls in one pipeline;
#   2. record_results is there, but one statement of its set-based path fails
#      for a while (a trigger made to refuse attempt rows whose endpoint
#      names the confirm step): each group that meets it is recorded element by
#      element in the same call, the refused attempt rows are reported
#      (attempt_not_recorded), every other result is recorded.
# Either way every licence is delivered, each step took effect once on the
# platform and is done once in the outbox (one done event per step).
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5

# 1. Without record_results.
sql -c "ALTER EXTENSION elicense DROP FUNCTION elicense.record_results(text, jsonb)" -c "DROP FUNCTION elicense.record_results(text, jsonb)"
issue_licences 10
start_worker w1
worker=${pids[-1]}
wait_for 60 "$(all_delivered)"
kill -TERM "$worker"
wait "$worker" 2>/dev/null || true
grep -q '"event":"extension_lacks".*elicense.record_results' "$out/w1.log" || fail "the worker did not say record_results is missing"
[ "$(grep -c '"event":"step_done"' "$out/w1.log")" -ge 80 ] || fail "fewer than 80 steps done without record_results"
check_exactly_once

# 2. record_results back (a new database); its set-based path fails on
# confirm's attempt rows, the one-by-one path records the others. A double of
# its own: the new database's identifiers are the first database's again.
setup_database
start_double
write_config 8 5
make_group_path_fail() {
  sql <<'SQL'
CREATE FUNCTION public.refuse_confirm_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.step = 'query' THEN
    RAISE EXCEPTION 'test: confirm''s attempt rows refused' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER refuse_confirm_attempts BEFORE INSERT ON elicense.delivery_attempt_default
  FOR EACH ROW EXECUTE FUNCTION public.refuse_confirm_attempts();
SQL
}
make_group_path_fail
issue_licences 10 100
start_worker w2
worker=${pids[-1]}
wait_for 60 "$(all_delivered)"
kill -TERM "$worker"
wait "$worker" 2>/dev/null || true
grep -q '"event":"db_notice".*recorded element by element' "$out/w2.log" \
  || fail "no group went element by element (the trigger never fired?)"
grep -q '"event":"attempt_not_recorded"' "$out/w2.log" || fail "the refused attempt rows were not reported"
[ "$(sql -c "SELECT count(*) FROM elicense.delivery_attempt WHERE step = 'query'")" = 0 ] \
  || fail "an attempt row the trigger refuses was recorded"
[ "$(sql -c "SELECT count(*) FROM elicense.delivery_attempt WHERE step <> 'query'")" -ge 60 ] \
  || fail "the other attempt rows of the groups were not recorded"
[ "$(sql -c "SELECT count(*) FROM (SELECT outbox_id FROM elicense.delivery_event WHERE to_status = 'done'
                                   GROUP BY outbox_id HAVING count(*) > 1) d")" = 0 ] || fail "a step was done twice"
[ "$(sql -c "SELECT count(*) FROM elicense.outbox o WHERE NOT EXISTS (SELECT FROM elicense.delivery_event d
                                   WHERE d.outbox_id = o.id AND d.to_status = 'done')")" = 0 ] || fail "a step was done without its event"
check_exactly_once
echo "ok: groups recorded without record_results and element by element"
