-- elicense.record_results, the worker's group commit in one call: a group
-- with mixed outcomes records exactly the rows the one-by-one calls record
-- (set-based, without falling back); a step whose lease was lost inside a
-- group; an element the database refuses (a bad call, a bad attempt row)
-- loses no other element's result and doubles none.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(36);

INSERT INTO elicense.delivery_config (preview_url_template) VALUES ('https://preview.example/p/{identifier}');
SELECT elicense.load_province_secret('350000', 'des', '12345678');
INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('350000', '-----BEGIN RSA PUBLIC KEY-----
MEgCQQC0pJ/XZLbAYfwviof09oCm3bagxwZrNzAXsoUIY5wkGPvEud9Kijs4fq9k
anmp2soNnUuIgIqhoyZPWSU0z04lAgMBAAE=
-----END RSA PUBLIC KEY-----');
CREATE FUNCTION pg_temp.w032(no text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "valid_from": "2023-06-01", "valid_to": "2025-05-31", "authority_name": "福建省住房和城乡建设厅",
    "authority_uscc": "11350000003591037R", "authority_division": "350000", "issue_date": "2023-06-01"}'::jsonb
    || jsonb_build_object('licence_number', no)
$$;

-- Scenarios, each on two licences: path 'one' records its result with the
-- one-by-one functions, path 'set' in one group through _record_results_set
-- (the set-based path alone: an error there fails the test instead of
-- falling back).
CREATE TEMP TABLE lic (scenario text, path text, id text, PRIMARY KEY (scenario, path));
INSERT INTO lic
SELECT s.scenario, p.path,
       elicense.issue('11100000000013338W032', pg_temp.w032(format('闽A012023000%s%s', lpad(s.n::text, 2, '0'), p.n)), 'tester')
  FROM unnest(ARRAY['done', 'done_warning', 'retry', 'dead_budget', 'not_sent', 'business_error', 'hold', 'unknown',
                    'queried_send', 'attempt_only', 'lost_done', 'lost_failed', 'assign_code', 'assign_bad'])
       WITH ORDINALITY s(scenario, n),
       (VALUES ('one', 1), ('set', 2)) p(path, n);
CREATE FUNCTION pg_temp.oid(p_scenario text, p_path text) RETURNS bigint LANGUAGE sql AS $$
  SELECT o.id FROM elicense.outbox o JOIN lic ON lic.id = o.identifier
   WHERE lic.scenario = p_scenario AND lic.path = p_path AND o.status = 'in_flight'
$$;
-- The assign_code scenarios first pass their validate step.
SELECT is((SELECT count(*) FROM elicense.lease_steps('w1#a', 100, 60)), 28::bigint, 'the validate steps leased');
SELECT is((SELECT count(*) FILTER (WHERE elicense.step_succeeded(o.id, 'w1#a', '{"return_code": "1"}'))
             FROM elicense.outbox o JOIN lic ON lic.id = o.identifier
            WHERE lic.scenario LIKE 'assign%' AND o.step = 'validate'), 4::bigint, '... four of them done');
UPDATE elicense.outbox SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, attempts = 0
 WHERE status = 'in_flight';
SELECT is((SELECT count(*) FROM elicense.lease_steps('w1#a', 100, 60)), 28::bigint, 'every scenario''s step leased by w1#a');
UPDATE elicense.outbox SET attempts = 5 WHERE id IN (pg_temp.oid('dead_budget', 'one'), pg_temp.oid('dead_budget', 'set'));
-- Lost leases: another process took them over.
UPDATE elicense.outbox SET lease_owner = 'w2#b'
 WHERE id IN (pg_temp.oid('lost_done', 'one'), pg_temp.oid('lost_done', 'set'),
              pg_temp.oid('lost_failed', 'one'), pg_temp.oid('lost_failed', 'set'));

-- Each scenario's element (attempt row + call) for one of its licences.
CREATE FUNCTION pg_temp.element(p_scenario text, p_path text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('attempt', jsonb_build_object('outbox_id', o.id, 'identifier', o.identifier, 'step', o.step,
             'endpoint', 'http://platform.test/' || o.step, 'http_status', CASE WHEN p_scenario = 'not_sent' THEN NULL ELSE 200 END,
             'return_code', '1', 'return_message', p_scenario, 'duration_ms', 7,
             'outcome', CASE p_scenario WHEN 'not_sent' THEN 'not_sent' WHEN 'business_error' THEN 'business_error'
                                        WHEN 'unknown' THEN 'unknown' WHEN 'hold' THEN 'held'
                                        WHEN 'retry' THEN 'retry' WHEN 'dead_budget' THEN 'retry' ELSE 'done' END,
             'ecert_id', o.ecert_id))
         || CASE
              WHEN p_scenario IN ('done', 'lost_done') THEN jsonb_build_object('call', 'succeeded', 'outbox_id', o.id,
                   'answer', '{"return_code": "1", "message": "ok"}'::jsonb)
              WHEN p_scenario = 'done_warning' THEN jsonb_build_object('call', 'succeeded', 'outbox_id', o.id,
                   'answer', '{"return_code": "2", "message": "", "warnings": ["格式", "日期"]}'::jsonb)
              WHEN p_scenario IN ('assign_code', 'assign_bad') THEN jsonb_build_object('call', 'succeeded', 'outbox_id', o.id,
                   'answer', jsonb_build_object('return_code', '1', 'assignments', jsonb_build_array(jsonb_build_object(
                       'encry_certid', elicense.des_encrypt_hex(CASE p_scenario WHEN 'assign_code' THEN '202232000001000001' ELSE 'x y' END, '12345678'),
                       'encry_key', '', 'ecert_id', o.ecert_id))))
              WHEN p_scenario = 'queried_send' THEN jsonb_build_object('call', 'queried', 'outbox_id', o.id,
                   'answer', '{"return_code": "1", "success_data": []}'::jsonb)
              WHEN p_scenario = 'attempt_only' THEN '{}'::jsonb
              ELSE jsonb_build_object('call', 'failed', 'outbox_id', o.id,
                   'kind', CASE p_scenario WHEN 'dead_budget' THEN 'retry' WHEN 'lost_failed' THEN 'retry' ELSE p_scenario END,
                   'error', 'HTTP 503 for ' || p_scenario, 'retry_in_ms', 1500, 'max_attempts', 5)
            END
    FROM elicense.outbox o JOIN lic ON lic.id = o.identifier
   WHERE lic.scenario = p_scenario AND lic.path = p_path AND o.status = 'in_flight'
$$;
CREATE TEMP TABLE one_values AS
SELECT lic.scenario, e.x,
       CASE WHEN e.x ? 'call' THEN NULL END AS value
  FROM lic CROSS JOIN LATERAL (SELECT pg_temp.element(lic.scenario, 'one') AS x) e
 WHERE lic.path = 'one';
CREATE TEMP TABLE set_group AS
SELECT jsonb_agg(pg_temp.element(lic.scenario, 'set') ORDER BY lic.scenario) AS g, array_agg(lic.scenario ORDER BY lic.scenario) AS scenarios
  FROM lic WHERE lic.path = 'set';

-- The one-by-one path, element by element as the worker called it before.
UPDATE one_values SET value = (
  SELECT CASE WHEN x ? 'call' THEN elicense._record_result_call('w1#a', x) END
    FROM (SELECT elicense.record_attempt((x -> 'attempt' ->> 'outbox_id')::bigint, x -> 'attempt' ->> 'identifier',
                 x -> 'attempt' ->> 'step', x -> 'attempt' ->> 'endpoint', (x -> 'attempt' ->> 'http_status')::integer,
                 x -> 'attempt' ->> 'return_code', x -> 'attempt' ->> 'return_message',
                 (x -> 'attempt' ->> 'duration_ms')::integer, 'w1#a', x -> 'attempt' ->> 'outcome',
                 x -> 'attempt' ->> 'ecert_id')) a);
-- The set-based path, the whole group in one call.
CREATE TEMP TABLE set_values AS
SELECT s.scenarios[v.n] AS scenario, v.value
  FROM set_group s CROSS JOIN LATERAL elicense._record_results_set('w1#a', s.g) v;

SELECT is((SELECT count(*) FROM set_values), 13::bigint, 'the set-based path answers for every element with a call');
SELECT is((SELECT jsonb_object_agg(scenario, value) FROM set_values),
          (SELECT jsonb_object_agg(scenario, value) FROM one_values WHERE x ? 'call'),
          'each element''s value is the one-by-one call''s');
SELECT is((SELECT jsonb_object_agg(scenario, value) FROM set_values),
          '{"done": "t", "done_warning": "t", "retry": "pending", "dead_budget": "dead", "not_sent": "pending",
            "business_error": "dead", "hold": "held", "unknown": "pending", "queried_send": "send", "lost_done": "f",
            "lost_failed": null, "assign_code": "t", "assign_bad": "t"}'::jsonb,
          '... which are the expected ones');

-- What a licence's delivery looks like, without ids, times and eCertIDs.
CREATE FUNCTION pg_temp.trace(p_scenario text, p_path text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'outbox', (SELECT jsonb_agg(jsonb_build_object('step', o.step, 'status', o.status, 'attempts', o.attempts,
                 'needs_query', o.needs_query, 'last_error', o.last_error, 'lease_owner', o.lease_owner,
                 'leased', o.lease_expires_at IS NOT NULL, 'due_in_s', round(extract(epoch FROM o.next_attempt_at - now())))
                 ORDER BY o.step_order) FROM elicense.outbox o WHERE o.identifier = lic.id),
    'events', (SELECT jsonb_agg(jsonb_build_object('step', d.step, 'from', d.from_status, 'to', d.to_status,
                 'detail', d.detail, 'actor', d.actor) ORDER BY d.id) FROM elicense.delivery_event d WHERE d.identifier = lic.id),
    'attempts', (SELECT jsonb_agg(jsonb_build_object('step', a.step, 'endpoint', a.endpoint, 'http_status', a.http_status,
                 'return_code', a.return_code, 'return_message', a.return_message, 'duration_ms', a.duration_ms,
                 'worker_id', a.worker_id, 'outcome', a.outcome,
                 'ecert_is_the_steps', a.ecert_id = (SELECT o.ecert_id FROM elicense.outbox o WHERE o.id = a.outbox_id)) ORDER BY a.id)
                 FROM elicense.delivery_attempt a WHERE a.identifier = lic.id),
    'code', (SELECT c.assigned_code FROM elicense.certificate c WHERE c.identifier = lic.id),
    'qr_url', (SELECT c.qr_url IS NOT NULL FROM elicense.certificate c WHERE c.identifier = lic.id),
    'code_assignments', (SELECT count(*) FROM elicense.code_assignment ca WHERE ca.identifier = lic.id))
  FROM lic WHERE lic.scenario = p_scenario AND lic.path = p_path
$$;
SELECT is(pg_temp.trace(s, 'set'), pg_temp.trace(s, 'one'), 'same rows, one by one and set-based: ' || s)
  FROM unnest(ARRAY['done', 'done_warning', 'retry', 'dead_budget', 'not_sent', 'business_error', 'hold', 'unknown',
                    'queried_send', 'attempt_only', 'lost_done', 'lost_failed', 'assign_code', 'assign_bad']) s;
SELECT is(pg_temp.trace('done', 'set') -> 'outbox' -> 1 ->> 'step', 'assign_code', 'a success queues the next step');
SELECT is(pg_temp.trace('lost_done', 'set') -> 'outbox' -> 0 ->> 'lease_owner', 'w2#b',
          'a lost lease inside a group: the other owner keeps the step');
SELECT is(pg_temp.trace('lost_failed', 'set') -> 'events', 'null'::jsonb, '... and no event is recorded for it');
SELECT is(jsonb_array_length(pg_temp.trace('lost_failed', 'set') -> 'attempts'), 1, '... only its attempt row');
SELECT is(pg_temp.trace('assign_code', 'set') ->> 'code', '202232000001000001', 'the assigned code is stored');
SELECT matches(pg_temp.trace('assign_bad', 'set') -> 'outbox' -> 1 ->> 'last_error', '^cannot use the assigned code',
               'an unusable assignment makes the step dead');

-- record_results: a refused element alone is not recorded; the others are,
-- once. Three fresh licences, their validate steps leased.
CREATE TEMP TABLE lic2 AS
SELECT n, elicense.issue('11100000000013338W032', pg_temp.w032(format('闽A01202300090%s', n)), 'tester') AS id
  FROM generate_series(1, 3) n;
SELECT is((SELECT count(*) FROM elicense.lease_steps('w3#c', 10, 60) l JOIN lic2 ON lic2.id = l.identifier), 3::bigint,
          'three more steps leased');
CREATE TEMP TABLE g2 AS
SELECT jsonb_build_array(
  jsonb_build_object('call', 'succeeded', 'outbox_id', o1.id, 'answer', '{"return_code": "1"}'::jsonb,
                     'attempt', jsonb_build_object('outbox_id', o1.id, 'identifier', o1.identifier, 'step', 'validate',
                                                   'endpoint', '/check', 'http_status', 200, 'duration_ms', 3, 'outcome', 'done')),
  jsonb_build_object('call', 'failed', 'outbox_id', o2.id, 'kind', 'later', 'error', 'x', 'retry_in_ms', 0, 'max_attempts', 5,
                     'attempt', jsonb_build_object('outbox_id', o2.id, 'identifier', o2.identifier, 'step', 'validate',
                                                   'endpoint', '/check', 'http_status', 503, 'duration_ms', 3, 'outcome', 'retry')),
  jsonb_build_object('call', 'failed', 'outbox_id', o3.id, 'kind', 'retry', 'error', 'HTTP 503', 'retry_in_ms', 0, 'max_attempts', 5,
                     'attempt', jsonb_build_object('outbox_id', o3.id, 'identifier', o3.identifier, 'step', 'validate',
                                                   'endpoint', '/check', 'http_status', 99, 'duration_ms', 3, 'outcome', 'retry'))) AS g
  FROM (SELECT o.* FROM elicense.outbox o JOIN lic2 ON lic2.id = o.identifier WHERE lic2.n = 1) o1,
       (SELECT o.* FROM elicense.outbox o JOIN lic2 ON lic2.id = o.identifier WHERE lic2.n = 2) o2,
       (SELECT o.* FROM elicense.outbox o JOIN lic2 ON lic2.id = o.identifier WHERE lic2.n = 3) o3;
SELECT throws_ok($$SELECT * FROM elicense._record_results_set('w3#c', (SELECT g FROM g2))$$, '22023', NULL,
                 'the set-based path refuses the whole group (an unknown failure kind)');
SET client_min_messages = error;  -- its WARNING that the group went element by element
CREATE TEMP TABLE r2 AS SELECT * FROM elicense.record_results('w3#c', (SELECT g FROM g2));
RESET client_min_messages;
SELECT results_eq($$SELECT n, value, error IS NOT NULL, attempt_error IS NOT NULL FROM r2 ORDER BY n$$,
                  $$VALUES (1, 't', false, false), (2, NULL, true, false), (3, 'pending', false, true)$$,
                  'record_results: the good elements recorded, the refused call and the refused attempt row reported');
SELECT is((SELECT error FROM r2 WHERE n = 2), '22023: invalid failure kind "later"', '... with SQLSTATE and message');
SELECT results_eq($$SELECT lic2.n, o.status, (SELECT count(*) FROM elicense.delivery_event d WHERE d.outbox_id = o.id),
                           (SELECT count(*) FROM elicense.delivery_attempt a WHERE a.outbox_id = o.id)
                      FROM elicense.outbox o JOIN lic2 ON lic2.id = o.identifier WHERE o.step = 'validate' ORDER BY lic2.n$$,
                  $$VALUES (1, 'done', 1::bigint, 1::bigint), (2, 'in_flight', 0::bigint, 1::bigint), (3, 'pending', 1::bigint, 0::bigint)$$,
                  '... each once: the done step, the refused one still leased (attempt kept), the retried one (its attempt row refused)');
SELECT is((SELECT count(*) FROM elicense.outbox o JOIN lic2 ON lic2.id = o.identifier WHERE o.step = 'assign_code'), 1::bigint,
          '... and one next step queued');
SELECT throws_ok($$SELECT * FROM elicense.record_results('w3#c', '{"call": "failed"}')$$, '22023',
                 'results must be a JSON array, not object', 'the group must be an array');
SELECT is((SELECT count(*) FROM elicense.record_results('w3#c', '[]')), 0::bigint, 'an empty group records nothing');

-- The worker's role may call it; others may not.
SELECT ok(has_function_privilege('elicense_worker', 'elicense.record_results(text, jsonb)', 'EXECUTE'), 'elicense_worker may call it');
SELECT ok(NOT has_function_privilege('elicense_analyst', 'elicense.record_results(text, jsonb)', 'EXECUTE'), 'an analyst may not');

SELECT * FROM finish();
ROLLBACK;
