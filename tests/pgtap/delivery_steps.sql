-- The delivery functions: lease_steps hands out each step's
-- request items and eCertID (kept across resends, lapsed leases and
-- replays); a step whose request cannot be built goes dead while the others
-- are leased; step_succeeded takes only the assignment for the step's
-- eCertID; step_queried decides done / send / retry from a query answer;
-- step_failed 'hold' and replay of held steps; decrypt_assignment accepts
-- only an assigned code or a QR URL; privileges of the worker.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(85);

INSERT INTO elicense.delivery_config (preview_url_template) VALUES ('https://preview.example/p/{identifier}');
SELECT elicense.load_province_secret('350000', 'des', '12345678');
INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('350000', '-----BEGIN RSA PUBLIC KEY-----
MEgCQQC0pJ/XZLbAYfwviof09oCm3bagxwZrNzAXsoUIY5wkGPvEud9Kijs4fq9k
anmp2soNnUuIgIqhoyZPWSU0z04lAgMBAAE=
-----END RSA PUBLIC KEY-----');
CREATE FUNCTION pg_temp.w032(no text, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "valid_from": "2023-06-01", "valid_to": "2025-05-31", "authority_name": "福建省住房和城乡建设厅",
    "authority_uscc": "11350000003591037R", "authority_division": "350000", "issue_date": "2023-06-01"}'::jsonb
    || jsonb_build_object('licence_number', no) || changes
$$;
CREATE TEMP TABLE lic (name text PRIMARY KEY, id text);
CREATE TEMP TABLE leased AS SELECT * FROM elicense.lease_steps('nobody', 0, 60);
-- Leases for worker w and keeps the rows in leased (replacing the last ones).
CREATE FUNCTION pg_temp.lease(w text, n integer DEFAULT 10) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM leased;
  INSERT INTO leased SELECT * FROM elicense.lease_steps(w, n, 60);
  RETURN (SELECT count(*) FROM leased);
END
$$;
CREATE FUNCTION pg_temp.one(p_step text) RETURNS leased LANGUAGE sql AS $$ SELECT * FROM leased WHERE step = p_step $$;
CREATE FUNCTION pg_temp.row(p_id text, p_step text) RETURNS elicense.outbox LANGUAGE sql AS $$
  SELECT * FROM elicense.outbox WHERE identifier = p_id AND step = p_step
$$;

INSERT INTO lic VALUES ('a', elicense.issue('11100000000013338W032', pg_temp.w032('闽A012023000001'), 'tester'));

-- 1. lease_steps: the request items and the eCertID.
SELECT is(pg_temp.lease('w1'), 1, 'one step due: validate');
SELECT is((pg_temp.one('validate')).type_code, '11100000000013338W032', 'type_code comes with it');
SELECT is((pg_temp.one('validate')).authority_division, '350000', '... and the authority''s division');
SELECT matches((pg_temp.one('validate')).ecert_id, '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$', 'the eCertID is a GUID');
SELECT is((pg_temp.one('validate')).request,
          elicense.platform_request((SELECT id FROM lic WHERE name = 'a'), 'validate', (pg_temp.one('validate')).ecert_id::uuid),
          'request = platform_request of the step with that eCertID');
SELECT is((pg_temp.one('validate')).request ->> 'eCertID', (pg_temp.one('validate')).ecert_id, '... which it carries');
SELECT is((pg_temp.one('validate')).query_request, NULL,
          'no query item for a step that will not query (built only for confirm and needs_query)');
SELECT is((pg_temp.row((SELECT id FROM lic WHERE name = 'a'), 'validate')).ecert_id::text, (pg_temp.one('validate')).ecert_id,
          'the outbox keeps the eCertID');
SELECT is((pg_temp.row((SELECT id FROM lic WHERE name = 'a'), 'validate')).request,
          (pg_temp.one('validate')).request || '{"identityCard": "350102********1238"}',
          '... and the request sent, its resident ID number masked (issue 19)');
SELECT is((pg_temp.one('validate')).request ->> 'identityCard', '350102199001011238',
          'the request leased for sending carries the full number');
SELECT lives_ok(format($$SELECT elicense.record_attempt(%s, %L, 'validate', '/check', 200, '1', 'ok', 12, 'w1', 'done', %L)$$,
                       (pg_temp.one('validate')).outbox_id, (SELECT id FROM lic WHERE name = 'a'), upper(replace((pg_temp.one('validate')).ecert_id, '-', ''))),
                'record_attempt takes the eCertID (any case, with or without dashes)');
SELECT is((SELECT ecert_id::text FROM elicense.delivery_attempt ORDER BY id DESC LIMIT 1), (pg_temp.one('validate')).ecert_id,
          '... and stores it as a uuid');
SELECT lives_ok(format($$SELECT elicense.record_attempt(%s, %L, 'validate', '/check', NULL, NULL, 'no path', 0, 'w1', 'held', NULL)$$,
                       (pg_temp.one('validate')).outbox_id, (SELECT id FROM lic WHERE name = 'a')), 'an attempt may be held, without eCertID');

-- 2. The eCertID stays across a retry, a lapsed lease, a hold and a replay.
CREATE TEMP TABLE first_ecert AS SELECT (pg_temp.one('validate')).ecert_id AS e, (pg_temp.one('validate')).outbox_id AS oid;
SELECT is(elicense.step_failed((SELECT oid FROM first_ecert), 'w1', 'retry', 'HTTP 503', 0, 5), 'pending', 'retry: pending');
SELECT is(pg_temp.lease('w1'), 1, 'leased again');
SELECT is((pg_temp.one('validate')).ecert_id, (SELECT e FROM first_ecert), '... with the same eCertID');
UPDATE elicense.outbox SET lease_expires_at = now() - interval '1 second' WHERE id = (SELECT oid FROM first_ecert);
SELECT is(pg_temp.lease('w2'), 1, 'a lapsed lease is taken over');
SELECT is((pg_temp.one('validate')).ecert_id, (SELECT e FROM first_ecert), '... with the same eCertID');
SELECT ok((pg_temp.one('validate')).needs_query, '... and needs_query');
SELECT is(elicense.step_failed((SELECT oid FROM first_ecert), 'w2', 'hold', 'no validate path for 11100000000013338W032', NULL, NULL),
          'held', 'hold: held');
SELECT is((SELECT status FROM elicense.outbox WHERE id = (SELECT oid FROM first_ecert)), 'held', '... in the outbox');
SELECT is((SELECT detail FROM elicense.delivery_event WHERE outbox_id = (SELECT oid FROM first_ecert) ORDER BY id DESC LIMIT 1),
          'hold: no validate path for 11100000000013338W032', '... and the event says why');
SELECT is(pg_temp.lease('w1'), 0, 'a held step is not leased');
SELECT is((SELECT held FROM elicense.delivery_metrics WHERE step = 'validate'), 1::bigint, 'delivery_metrics counts it');
SELECT ok(elicense.replay((SELECT oid FROM first_ecert), 'operator'), 'replay puts a held step back');
SELECT is((SELECT from_status || '->' || to_status FROM elicense.delivery_event WHERE outbox_id = (SELECT oid FROM first_ecert) ORDER BY id DESC LIMIT 1),
          'held->pending', '... recorded');
SELECT is(pg_temp.lease('w1'), 1, 'leased again after the replay');
SELECT is((pg_temp.one('validate')).ecert_id, (SELECT e FROM first_ecert), '... with the same eCertID');
SELECT ok(NOT (pg_temp.one('validate')).needs_query, '... and sent, not queried: an operator released it');
SELECT throws_ok($$SELECT elicense.step_failed(1, 'w1', 'later', 'x', 0, 5)$$, '22023', 'invalid failure kind "later"', 'an unknown kind');
-- not_sent: the request never reached the platform; the attempt is given back.
SELECT is(elicense.step_failed((SELECT oid FROM first_ecert), 'w1', 'not_sent', 'connection refused (not sent)', 0, 1),
          'pending', 'not_sent: pending even with max_attempts used up');
SELECT is((SELECT attempts FROM elicense.outbox WHERE id = (SELECT oid FROM first_ecert)), 0, '... the attempt given back');
SELECT ok(NOT (SELECT needs_query FROM elicense.outbox WHERE id = (SELECT oid FROM first_ecert)), '... nothing to ask the platform');
SELECT lives_ok($$SELECT elicense.record_attempt(NULL, 'x', 'validate', 'http://platform.invalid/check', NULL, NULL,
                  'transport: connection refused (not sent)', 0, 'w1#0', 'not_sent', NULL)$$, 'record_attempt takes outcome not_sent');
SELECT is(pg_temp.lease('w1'), 1, 'leased again at once');

-- 3. step_queried on validate: a check changes nothing, send it.
SELECT is(elicense.step_queried((SELECT oid FROM first_ecert), 'w1', '{"return_code": "1", "success_data": []}'), 'send', 'validate: send');
SELECT is(elicense.step_queried((SELECT oid FROM first_ecert), 'w9', '{"return_code": "1"}'), NULL, 'another worker: NULL (lease lost)');
SELECT is((SELECT status FROM elicense.outbox WHERE id = (SELECT oid FROM first_ecert)), 'in_flight', 'send keeps the lease');
SELECT ok(elicense.step_succeeded((SELECT oid FROM first_ecert), 'w1', '{"return_code": "2", "message": "ok", "warnings": ["证书编号格式"]}'),
          'validate done');
SELECT is((SELECT detail FROM elicense.delivery_event WHERE outbox_id = (SELECT oid FROM first_ecert) ORDER BY id DESC LIMIT 1),
          '2 ok warnings: 证书编号格式', 'the warning is recorded');

-- 4. assign_code: only the assignment for the step's eCertID.
SELECT is(pg_temp.lease('w1'), 1, 'assign_code leased');
CREATE TEMP TABLE assign AS SELECT (pg_temp.one('assign_code')).ecert_id AS e, (pg_temp.one('assign_code')).outbox_id AS oid;
SELECT isnt((SELECT e FROM assign), (SELECT e FROM first_ecert), 'each step has its own eCertID');
SELECT is((pg_temp.one('assign_code')).query_request, NULL, 'a first lease comes without the query item');
SELECT ok(elicense.step_succeeded((SELECT oid FROM assign), 'w1', jsonb_build_object('return_code', '1', 'assignments', jsonb_build_array(
            jsonb_build_object('encry_certid', elicense.des_encrypt_hex('202232000001000001', '12345678'), 'encry_key', '',
                               'ecert_id', '0f8fad5b-d9cb-469f-a165-70867728950e')))), 'an answer for another eCertID');
SELECT is((SELECT status FROM elicense.outbox WHERE id = (SELECT oid FROM assign)), 'dead', '... makes the step dead');
SELECT matches((SELECT last_error FROM elicense.outbox WHERE id = (SELECT oid FROM assign)),
               '^none of the 1 assignment\(s\) in the answer is for eCertID ' || (SELECT e FROM assign) || ' \(they are for 0f8fad5b-d9cb-469f-a165-70867728950e\)$',
               '... saying which eCertIDs came');
SELECT is((SELECT assigned_code FROM elicense.certificate WHERE identifier = (SELECT id FROM lic WHERE name = 'a')), NULL, '... and stores no code');
SELECT is(elicense.replay((SELECT id FROM lic WHERE name = 'a'), 'operator'), 1, 'replay of the licence''s dead step');
SELECT is(pg_temp.lease('w1'), 1, 'assign_code leased again');
SELECT is((pg_temp.one('assign_code')).ecert_id, (SELECT e FROM assign), '... with the same eCertID');
SELECT is((pg_temp.one('assign_code')).query_request,
          jsonb_build_object('eCertID', (SELECT e FROM assign), 'zzeCertID', (SELECT id FROM lic WHERE name = 'a')),
          '... and, as it was tried (needs_query), the query item with it');
SELECT is(elicense.step_queried((SELECT oid FROM assign), 'w1', '{"return_code": "0", "message": "未找到"}'), 'send',
          'query: no assignment shown (ReturnCode 0) -> send');
SELECT is(elicense.step_queried((SELECT oid FROM assign), 'w1', jsonb_build_object('return_code', '1', 'assignments', jsonb_build_array(
            jsonb_build_object('encry_certid', elicense.des_encrypt_hex('202232000001000001', '12345678'), 'encry_key', '',
                               'ecert_id', upper(replace((SELECT e FROM assign), '-', '')))))), 'done',
          'query: the assignment for the eCertID (upper case, no dashes) -> done');
SELECT is((SELECT assigned_code FROM elicense.certificate WHERE identifier = (SELECT id FROM lic WHERE name = 'a')), '202232000001000001',
          '... the code is stored');
SELECT is((SELECT step || ' ' || status FROM elicense.outbox WHERE identifier = (SELECT id FROM lic WHERE name = 'a') AND step_order = 3), 'collect pending',
          '... and collect is queued');

-- 5. collect and confirm: the url of what collect sent.
SELECT is(pg_temp.lease('w1'), 1, 'collect leased');
CREATE TEMP TABLE coll AS SELECT (pg_temp.one('collect')).ecert_id AS e, (pg_temp.one('collect')).outbox_id AS oid,
                                 (pg_temp.one('collect')).request AS r;
SELECT is((SELECT r FROM coll), jsonb_build_object('ID', '202232000001000001', 'zzeCertID', (SELECT id FROM lic WHERE name = 'a'),
                                                 'url', 'https://preview.example/p/' || (SELECT id FROM lic WHERE name = 'a')),
          'collect carries ID, zzeCertID and url');
SELECT is(elicense.step_queried((SELECT oid FROM coll), 'w1', jsonb_build_object('return_code', '1', 'success_data', jsonb_build_array(
            jsonb_build_object('zzeCertID', (SELECT id FROM lic WHERE name = 'a'), 'url', 'https://elsewhere.example/')))), 'send',
          'query: another url -> send');
SELECT is(elicense.step_queried((SELECT oid FROM coll), 'w1', jsonb_build_object('return_code', '1', 'success_data', jsonb_build_array(
            'not an object', jsonb_build_object('eCertID', '{' || upper((SELECT e FROM coll)) || '}', 'url', (SELECT r ->> 'url' FROM coll))))), 'done',
          'query: the url under the step''s eCertID -> done');
SELECT is(pg_temp.lease('w1'), 1, 'confirm leased');
SELECT is((pg_temp.one('confirm')).request, NULL, 'confirm sends no request item');
SELECT isnt((pg_temp.one('confirm')).query_request, NULL, '... only the query item');
SELECT is(elicense.step_queried((pg_temp.one('confirm')).outbox_id, 'w1', '{"return_code": "1", "success_data": []}'), 'retry',
          'confirm: not shown yet -> retry');
SELECT is((SELECT status FROM elicense.outbox WHERE id = (pg_temp.one('confirm')).outbox_id), 'in_flight', '... the lease stays');
SELECT is(elicense.step_queried((pg_temp.one('confirm')).outbox_id, 'w1', jsonb_build_object('return_code', '1', 'success_data', jsonb_build_array(
            jsonb_build_object('zzeCertID', (SELECT id FROM lic WHERE name = 'a'), 'url', (SELECT r ->> 'url' FROM coll))))), 'done',
          'confirm: shown -> done');

-- 6. status_update: the certState sent.
INSERT INTO lic VALUES ('a2', elicense.revoke((SELECT id FROM lic WHERE name = 'a'), '吊销', 'tester'));
SELECT is(pg_temp.lease('w1'), 1, 'status_update leased');
SELECT is((pg_temp.one('status_update')).request ->> 'certState', '03', 'it sends certState 03');
SELECT is(elicense.step_queried((pg_temp.one('status_update')).outbox_id, 'w1', jsonb_build_object('return_code', '1', 'success_data', jsonb_build_array(
            jsonb_build_object('zzeCertID', (SELECT id FROM lic WHERE name = 'a'), 'certState', '01')))), 'send', 'query: certState 01 -> send');
SELECT is(elicense.step_queried((pg_temp.one('status_update')).outbox_id, 'w1', jsonb_build_object('return_code', '1', 'success_data', jsonb_build_array(
            jsonb_build_object('zzeCertID', (SELECT id FROM lic WHERE name = 'a2'), 'certState', '03')))), 'send',
          'query: certState 03 under the local identifier of the revocation, which the platform never got -> send');
SELECT is(elicense.step_queried((pg_temp.one('status_update')).outbox_id, 'w1', jsonb_build_object('return_code', '1', 'success_data', jsonb_build_array(
            jsonb_build_object('zzeCertID', (SELECT id FROM lic WHERE name = 'a'), 'certState', '03')))), 'done',
          'query: certState 03 under the identifier the platform holds -> done');

-- 7. A request that cannot be built: that step dead with the reason, the others leased.
INSERT INTO lic VALUES ('b', elicense.issue('11100000000013338W032', pg_temp.w032('闽A012023000002'), 'tester'));
INSERT INTO lic VALUES ('c', elicense.issue('11100000000013338W032', pg_temp.w032('闽A012023000003'), 'tester'));
UPDATE elicense.certificate SET business_data = business_data - 'category' WHERE identifier = (SELECT id FROM lic WHERE name = 'b');
SELECT is(pg_temp.lease('w1'), 1, 'of two due steps one is leased');
SELECT is((SELECT identifier FROM leased), (SELECT id FROM lic WHERE name = 'c'), '... the buildable one');
SELECT is((pg_temp.row((SELECT id FROM lic WHERE name = 'b'), 'validate')).status, 'dead', 'the other is dead');
SELECT is((pg_temp.row((SELECT id FROM lic WHERE name = 'b'), 'validate')).last_error,
          format('cannot build the request: licence %s, step validate: required field "operationCategory" has no value (computed operation_category)',
                 (SELECT id FROM lic WHERE name = 'b')), '... with the reason');
SELECT is((SELECT to_status FROM elicense.delivery_event WHERE identifier = (SELECT id FROM lic WHERE name = 'b') ORDER BY id DESC LIMIT 1), 'dead',
          '... recorded as an event');

-- 8. decrypt_assignment: an assigned code or a QR URL, nothing else (22023, never the key).
SELECT throws_ok($$SELECT elicense.decrypt_assignment(elicense.des_encrypt_hex('123456789012', '12345678'), NULL, '350000')$$, '22023',
                 'the decrypted assignment is not an assigned code: its 12 characters do not match ^[0-9]{18}$', 'a 12-digit code is refused');
SELECT throws_ok($$SELECT elicense.decrypt_assignment(elicense.des_encrypt_hex('https://evil.example/q?ID=ABC123', '12345678'), NULL, '350000')$$, '22023',
                 'the decrypted assignment is a URL that does not start with the QR prefix https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?',
                 'a URL on another host is refused');
SELECT is((elicense.decrypt_assignment(elicense.des_encrypt_hex('https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=ABC123&k=x', '12345678'), NULL, '350000')).kind,
          'url', 'a URL with the QR prefix passes');
UPDATE elicense.delivery_config SET assigned_code_pattern = '^[0-9]{12}$';
SELECT is((elicense.decrypt_assignment(elicense.des_encrypt_hex('123456789012', '12345678'), NULL, '350000')).code, '123456789012',
          'the pattern is configuration');
SELECT throws_ok($$UPDATE elicense.delivery_config SET assigned_code_pattern = '(['$$, '2201B', NULL, 'an invalid pattern is refused when set');

-- 9. Privileges: the worker gets the new functions, the old signatures are gone.
SELECT function_privs_are('elicense', 'step_queried', ARRAY['bigint', 'text', 'jsonb'], 'elicense_worker', ARRAY['EXECUTE'], 'the worker may call step_queried');
SELECT function_privs_are('elicense', 'record_attempt', ARRAY['bigint', 'text', 'text', 'text', 'integer', 'text', 'text', 'integer', 'text', 'text', 'text'],
                          'elicense_worker', ARRAY['EXECUTE'], '... and the new record_attempt');
SELECT function_privs_are('elicense', 'step_queried', ARRAY['bigint', 'text', 'jsonb'], 'elicense_analyst', ARRAY[]::text[], 'the analyst may not');
SELECT hasnt_function('elicense', 'record_attempt', ARRAY['bigint', 'text', 'text', 'text', 'integer', 'text', 'text', 'integer', 'text', 'text'],
                      'the old record_attempt is gone');
SELECT hasnt_function('elicense', '_delivery_licence', ARRAY['text'], '_delivery_licence is gone');

SELECT * FROM finish();
ROLLBACK;
