-- Sharing functions for departments that use licences (70_sharing.sql): each
-- function, refusals (no grant, revoked grant, expired code, other holder,
-- type outside the grant, code of another application), masking of resident
-- ID numbers, the append-only audit including refusals, and verification of
-- files (valid, changed, revoked, expired, tampered, unknown).
--
-- Unlike the other pgTAP files, the extension is created and COMMITTED first:
-- audit rows are written by the database's audit writer, a background worker
-- with its own transactions, which cannot see an uncommitted extension. The
-- file drops the extension at its end; everything else runs in one
-- transaction that is rolled back.
CREATE EXTENSION elicense;

-- A refusal in a transaction the caller rolls back stays in the audit. (The
-- error is expected: psql goes on.)
\set ON_ERROR_STOP 0
BEGIN;
SELECT elicense.licence_search('rollback-probe');
ROLLBACK;
\set ON_ERROR_STOP 1

BEGIN;
SELECT plan(111);

SELECT results_eq($$SELECT function, scenario, result, sqlstate, recorded_by, db_user FROM elicense.usage_audit$$,
                  $$VALUES ('licence_search', 'rollback-probe', 'refused', '42704', 'writer', session_user::text COLLATE "default")$$,
                  'a refused call in a transaction that was rolled back left its audit row (written by the audit writer)');

-- Department applications: login roles, members of elicense_consumer and of
-- the role their grant names.
CREATE ROLE dept_market NOLOGIN;
CREATE ROLE market_app LOGIN IN ROLE elicense_consumer, dept_market;
CREATE ROLE tax_app LOGIN IN ROLE elicense_consumer;
CREATE ROLE stranger_app LOGIN IN ROLE elicense_consumer;
CREATE ROLE court_app LOGIN IN ROLE elicense_consumer;

-- Runs a query as a login role (session_user changes, as for a real
-- connection) and returns its rows as jsonb. When the query fails, the
-- subtransaction of throws_ok undoes the change of session user.
CREATE FUNCTION pg_temp.as_app(r text, q text) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET SESSION AUTHORIZATION %I', r);
  RETURN QUERY EXECUTE format('SELECT to_jsonb(t) FROM (%s) t', q);
  RESET SESSION AUTHORIZATION;
END
$$;
CREATE FUNCTION pg_temp.one(r text, q text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT x FROM pg_temp.as_app(r, q) x LIMIT 1
$$;
CREATE FUNCTION pg_temp.ctx(business_id text DEFAULT 'YW-2026-0001') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('applicant', '李四', 'business_id', business_id, 'step', '受理', 'office', '鼓楼区政务服务中心',
                            'department', '福州市市场监督管理局', 'officer', '王五')
$$;
CREATE FUNCTION pg_temp.audit_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM elicense.usage_audit $$;
CREATE FUNCTION pg_temp.last_audit() RETURNS elicense.usage_audit LANGUAGE sql AS $$
  SELECT * FROM elicense.usage_audit ORDER BY id DESC LIMIT 1
$$;

-- Licences: a company (W050) and two people (W032), issued by an authority
-- whose seal is configured, with QR URLs as the worker would store them.
\i tests/fixtures/sharing_seal.sql
SELECT elicense.issue('11100000000013338W050', jsonb_build_object(
  'enterprise_name', '福建示范建设工程有限公司', 'uscc', '91350100M000100Y43', 'principal', '张三', 'principal_id', '350102199001011238',
  'address', '福州市鼓楼区五四路1号', 'economic_type', '有限责任公司', 'permit_scope', '建筑施工',
  'licence_number', '(闽)JZ安许证字[2025]000001', 'valid_from', '2025-03-01', 'valid_to', '2028-02-28',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', '350000', 'issue_date', '2025-03-01'), 'clerk') AS company_licence \gset
SELECT elicense.issue('11100000000013338W032', jsonb_build_object(
  'name', '李四', 'gender', '男', 'id_number', '350102199001011238', 'category', '建筑电工',
  'licence_number', '闽A012025000001', 'valid_from', '2025-01-01', 'valid_to', '2029-01-01',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', '350000', 'issue_date', '2025-01-01'), 'clerk') AS person_licence \gset
SELECT elicense.issue('11100000000013338W032', jsonb_build_object(
  'name', '赵六', 'gender', '女', 'id_number', '440304198506121230', 'category', '建筑架子工',
  'licence_number', '闽A012025000002', 'valid_from', '2024-01-01', 'valid_to', '2026-01-01',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', '350000', 'issue_date', '2024-01-01'), 'clerk') AS expired_licence \gset
UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || md5(identifier);

-- 1. Privileges: consumers execute the sharing functions and read no table.
SELECT function_privs_are('elicense', f, args, 'elicense_consumer', '{EXECUTE}', 'consumer: EXECUTE ' || f)
  FROM (VALUES ('create_usage_code', ARRAY['text', 'text', 'text[]', 'jsonb', 'integer']), ('usage_code_info', ARRAY['text']),
               ('licence_info', ARRAY['text', 'text']), ('licence_info_by_holder', ARRAY['text', 'text']),
               ('licence_file', ARRAY['text', 'text']), ('licence_file_by_holder', ARRAY['text', 'text']),
               ('licence_search', ARRAY['text', 'text', 'text', 'text', 'text', 'text', 'date', 'date', 'text', 'integer']),
               ('licence_verify', ARRAY['text', 'bytea'])) f(f, args);
SELECT function_privs_are('elicense', 'licence_info', ARRAY['text', 'text'], 'public', '{}', 'PUBLIC: no EXECUTE on licence_info');
SELECT function_privs_are('elicense', '_audit_autonomous', ARRAY['text'], 'elicense_consumer', '{}', 'consumer: no EXECUTE on the audit writer');
SELECT table_privs_are('elicense', t, 'elicense_consumer', '{}', 'consumer: no privilege on ' || t)
  FROM unnest(ARRAY['certificate', 'usage_code', 'usage_grant', 'usage_audit']) t;
SELECT table_privs_are('elicense', 'usage_audit', 'elicense_admin', '{SELECT}', 'admin: reads the audit, cannot change it');
SELECT table_privs_are('elicense', 'usage_audit', 'elicense_analyst', '{}', 'analyst: no access to the unmasked audit');
SELECT table_privs_are('elicense', 'analyst_usage_audit', 'elicense_analyst', '{SELECT}', 'analyst: reads the masked audit view');

-- 2. Scenarios and grants.
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes, copy_valid_days, max_code_minutes)
VALUES ('bidding', '招投标资格审查', '招投标资格审查', '{11100000000013338W050,11100000000013338W032}', 30, 30),
       ('tax', '税务登记核验', '税务登记核验', '{11100000000013338W050,11100000000013338W032}', 10, 15);
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes)
VALUES ('dept_market', '福州市市场监督管理局', 'bidding', '{11100000000013338W050,11100000000013338W032}');
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes, may_see_id_numbers)
VALUES ('tax_app', '福州市税务局', 'tax', '{11100000000013338W032}', true);
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes)
VALUES ('court_app', '福州市中级人民法院', 'bidding', '{11100000000013338W032}');
SELECT throws_ok($$INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes) VALUES ('tax_app', 'x', 'tax', '{11100000000013338W051}')$$,
                 '42704', 'unknown licence type "11100000000013338W051" in usage_grant.type_codes', 'a grant names known types only');

-- 3. Usage codes.
SELECT pg_temp.one('market_app', $$SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx()) AS c$$) ->> 'c' AS person_code \gset
SELECT pg_temp.one('market_app', $$SELECT elicense.create_usage_code('bidding', '91350100M000100Y43', '{11100000000013338W050}', pg_temp.ctx()) AS c$$) ->> 'c' AS company_code \gset
SELECT pg_temp.one('market_app', $$SELECT elicense.create_usage_code('bidding', '91350100M000100Y43', '{11100000000013338W032}', pg_temp.ctx()) AS c$$) ->> 'c' AS company_w032_code \gset
SELECT pg_temp.one('tax_app', $$SELECT elicense.create_usage_code('tax', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx('SW-1'), 5) AS c$$) ->> 'c' AS tax_code \gset
SELECT matches(:'person_code'::text, '^UC[0-9A-F]{64}$', 'a usage code is UC + 64 hex digits');
SELECT ok(NOT EXISTS (SELECT FROM elicense.usage_code WHERE context::text LIKE '%' || :'person_code' || '%')
          AND (SELECT code_sha256 FROM elicense.usage_code WHERE holder_ref = elicense._holder_ref('350102199001011238') AND grant_id = 1) = sha256(convert_to(:'person_code', 'UTF8')),
          'only the SHA-256 of a code is stored');
SELECT results_eq($$SELECT holder_id, elicense._ids_open(id_box)::jsonb ->> 'holder_id' FROM elicense.usage_code WHERE grant_id = 1 AND holder_ref IS NOT NULL$$,
                  $$VALUES ('350102********1238', '350102199001011238')$$,
                  'a usage code keeps its resident ID holder masked, found by blind index, the full number sealed (issue 19)');
SELECT results_eq($$SELECT holder_id, holder_ref, id_box FROM elicense.usage_code WHERE code_sha256 = sha256(convert_to('$$ || :'company_code' || $$', 'UTF8'))$$,
                  $$VALUES ('91350100M000100Y43', NULL::bytea, NULL::bytea)$$, 'a USCC holder is kept as it is (a public register''s number)');
SELECT is((SELECT expires_at - created_at FROM elicense.usage_code WHERE context ->> 'business_id' = 'SW-1'), interval '5 minutes', 'valid_minutes sets the expiry');
SELECT is((SELECT context - 'time' FROM elicense.usage_code ORDER BY id LIMIT 1),
          pg_temp.ctx() || '{"purpose": "招投标资格审查"}', 'the context is stored, purpose defaulting to the scenario''s');
SELECT throws_ok($$SELECT pg_temp.as_app('market_app', $q$SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx(), 31)$q$)$$,
                 '22023', 'valid_minutes 31 is outside 1-30 (scenario "bidding")', 'code lifetime capped by the scenario');
SELECT throws_ok($$SELECT pg_temp.as_app('market_app', $q$SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx() - 'officer')$q$)$$,
                 '22023', 'usage context lacks "officer"', 'the context must name the officer');
SELECT throws_ok($$SELECT pg_temp.as_app('market_app', $q$SELECT elicense.create_usage_code('bidding', '350102199001011239', '{11100000000013338W032}', pg_temp.ctx())$q$)$$,
                 '22P02', 'holder_id is neither a valid USCC nor a valid resident ID number', 'a holder ID must be valid (and is not repeated in the message)');
SELECT throws_ok($$SELECT pg_temp.as_app('tax_app', $q$SELECT elicense.create_usage_code('tax', '91350100M000100Y43', '{11100000000013338W050}', pg_temp.ctx())$q$)$$,
                 '42501', 'licence types 11100000000013338W050 are outside the grant of role "tax_app" for scenario "tax" (11100000000013338W032)',
                 'refused: a code for a type outside the grant');
SELECT throws_ok($$SELECT pg_temp.as_app('stranger_app', $q$SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx())$q$)$$,
                 '42501', 'role "stranger_app" has no usage grant for scenario "bidding"', 'refused: no grant');
SELECT throws_ok($$SELECT pg_temp.as_app('market_app', $q$SELECT elicense.create_usage_code('tax', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx())$q$)$$,
                 '42501', 'role "market_app" has no usage grant for scenario "tax"', 'refused: a grant for another scenario does not count');
SELECT throws_ok($$SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx())$$,
                 '42501', format('role "%s" has no usage grant for scenario "bidding"', session_user), 'refused: a superuser is not a member of a grantee by being superuser');

-- 4. Info by identifier and by holder; masking.
SELECT is(pg_temp.one('market_app', format($$SELECT * FROM elicense.licence_info(%L, %L)$$, :'person_code', :'person_licence')) - 'business_data',
          jsonb_build_object('identifier', :'person_licence', 'original_identifier', :'person_licence', 'version', 1, 'is_current', true,
            'type_code', '11100000000013338W032', 'type_name', '建筑施工特种作业人员操作资格证书', 'licence_number', '闽A012025000001',
            'holder_name', '李四', 'holder_id_type', 'RESIDENT_ID', 'holder_id', '350102********1238', 'authority_name', '福建省住房和城乡建设厅',
            'authority_uscc', '11350000003591037R', 'authority_division', '350000', 'issue_date', '2025-01-01', 'valid_from', '2025-01-01',
            'valid_to', '2029-01-01', 'status', '01', 'effective_status', '01'),
          'licence_info: metadata, resident ID masked for a grant without may_see_id_numbers');
SELECT is(pg_temp.one('market_app', format($$SELECT business_data FROM elicense.licence_info(%L, %L)$$, :'person_code', :'person_licence')) -> 'business_data' ->> 'category',
          '建筑电工', 'licence_info: business data');
SELECT is(pg_temp.one('tax_app', format($$SELECT holder_id FROM elicense.licence_info(%L, %L)$$, :'tax_code', :'person_licence')) ->> 'holder_id',
          '350102199001011238', 'licence_info: full resident ID for a grant with may_see_id_numbers');
SELECT is(pg_temp.one('market_app', format($$SELECT holder_id FROM elicense.licence_info(%L, %L)$$, :'company_code', :'company_licence')) ->> 'holder_id',
          '91350100M000100Y43', 'licence_info: a USCC is never masked');
SELECT is(pg_temp.one('market_app', format($$SELECT business_data FROM elicense.licence_info(%L, %L)$$, :'company_code', :'company_licence')) -> 'business_data' ->> 'principal_id',
          '350102********1238', 'licence_info: a resident ID item (W050 principal_id) is masked too');
SELECT results_eq(format($$SELECT x ->> 'identifier', x ->> 'holder_id' FROM pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info_by_holder(''%s'', ''%s'')') x$$,
                         :'person_code', '350102199001011238'),
                  format($$VALUES (%L, '350102********1238')$$, :'person_licence'), 'licence_info_by_holder: the holder''s licences of the code''s types, masked');
SELECT is(pg_temp.audit_count() - (SELECT count(*) FROM elicense.usage_audit WHERE function = 'create_usage_code') - 1, 6::bigint,
          'one audit row per info call');
SELECT results_eq($$SELECT db_user, grantee, department, officer, function, identifier, holder_id, scenario, purpose, business_id, result, rows_returned, recorded_by
                      FROM elicense.usage_audit WHERE function = 'licence_info_by_holder'$$,
                  $$VALUES ('market_app', 'dept_market', '福州市市场监督管理局', '王五', 'licence_info_by_holder', NULL::text, '350102********1238',
                            'bidding', '招投标资格审查', 'YW-2026-0001', 'ok', 1, 'writer')$$,
                  'audit: who (login role, grantee, department, officer), what, why (scenario, purpose, business id), result, rows');

-- 5. Refusals of codes.
SELECT throws_ok(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, :'person_code', :'expired_licence'),
                 '42501', format('licence "%s" belongs to another holder than usage code 1', :'expired_licence'), 'refused: licence of another holder');
SELECT throws_ok(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info_by_holder(''%s'', ''%s'')')$$, :'person_code', '440304198506121230'),
                 '42501', 'usage code 1 was made for another holder', 'refused: by_holder for another holder');
SELECT throws_ok(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_file_by_holder(''%s'', ''%s'')')$$, :'person_code', '440304198506121230'),
                 '42501', 'usage code 1 was made for another holder', 'refused: files of another holder');
SELECT throws_ok(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, :'company_w032_code', :'company_licence'),
                 '42501', format('licence type 11100000000013338W050 of "%s" is not among the types of usage code 3 (11100000000013338W032)', :'company_licence'),
                 'refused: licence type outside the code');
SELECT throws_ok(format($$SELECT pg_temp.as_app('court_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, :'person_code', :'person_licence'),
                 '42501', 'usage code 1 was made under another grant than role "court_app" holds', 'refused: a code made by another application');
SELECT throws_ok(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, 'UC' || repeat('0', 64), :'person_licence'),
                 '28000', 'unknown usage code', 'refused: unknown code');
SELECT throws_ok(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, :'person_code', '1.2.156.3005.2.11100000000013338W032.11350000003591037R.0000099.001.0'),
                 'P0002', 'no licence with identifier "1.2.156.3005.2.11100000000013338W032.11350000003591037R.0000099.001.0"', 'unknown identifier: P0002');
SELECT results_eq($$SELECT function, result, sqlstate, message, holder_id FROM elicense.usage_audit WHERE function = 'licence_info' AND result = 'refused' ORDER BY id LIMIT 1$$,
                  format($$VALUES ('licence_info', 'refused', '42501', 'licence "%s" belongs to another holder than usage code 1', '350102********1238')$$, :'expired_licence'),
                  'audit: a refusal with its SQLSTATE and message, though the caller''s (sub)transaction rolled back');
SELECT is((SELECT count(*) FROM elicense.usage_audit WHERE result = 'refused' AND recorded_by = 'writer'),
          (SELECT count(*) FROM elicense.usage_audit WHERE result = 'refused'), 'every refusal recorded by the audit writer');
SELECT is((SELECT count(*) FROM elicense.usage_audit WHERE result = 'refused' AND function <> 'licence_search'), 14::bigint, 'each refused call so far has its row');

-- usage_code_info (用证码验证) and expiry.
SELECT is(pg_temp.one('market_app', format($$SELECT valid, scenario, holder_id, licence_types FROM elicense.usage_code_info(%L)$$, :'person_code')),
          '{"valid": true, "scenario": "bidding", "holder_id": "350102********1238", "licence_types": ["11100000000013338W032"]}',
          'usage_code_info: valid, scenario, masked holder, types');
UPDATE elicense.usage_code SET expires_at = now() - interval '1 second' WHERE id = 1;
SELECT is(pg_temp.one('market_app', format($$SELECT valid FROM elicense.usage_code_info(%L)$$, :'person_code')) ->> 'valid', 'false', 'usage_code_info: an expired code is not valid');
SELECT throws_like(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, :'person_code', :'person_licence'),
                   'usage code 1 expired at %', 'refused: expired code');
SELECT is((pg_temp.last_audit()).sqlstate, '28000', 'audit: the expired code''s refusal, 28000');
SELECT throws_ok(format($$SELECT pg_temp.as_app('tax_app', 'SELECT * FROM elicense.usage_code_info(''%s'')')$$, :'company_code'),
                 '42501', 'role "tax_app" has no usage grant for scenario "bidding"', 'usage_code_info: only for applications with a grant');

-- 6. Search.
SELECT results_eq($$SELECT x ->> 'identifier', x ->> 'holder_id', x -> 'business_data' FROM pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'')') x$$,
                  format($$VALUES (%L, '350102********1238', 'null'::jsonb), (%L, '440304********1230', 'null'), (%L, '91350100M000100Y43', 'null')$$,
                         :'person_licence', :'expired_licence', :'company_licence'),
                  'search: current versions ordered by identifier, masked, metadata only');
SELECT results_eq($$SELECT x ->> 'identifier' FROM pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', type_code => ''11100000000013338W032'', status => ''06'')') x$$,
                  format($$VALUES (%L)$$, :'expired_licence'), 'search: by type and effective status (06: past valid_to)');
SELECT results_eq($$SELECT x ->> 'identifier' FROM pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', holder_name => ''李四'', issued_from => ''2025-01-01'', issued_to => ''2025-01-31'', authority_uscc => ''11350000003591037R'')') x$$,
                  format($$VALUES (%L)$$, :'person_licence'), 'search: by holder name, authority and issue dates');
-- By holder ID: a USCC always; a resident ID number only with the right to
-- see ID numbers or a live usage code for that holder, and at most the
-- grant's id_searches_per_minute (the ID-recovery search of the masked form).
SELECT throws_ok($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', holder_id => ''440304198506121230'')')$$,
                 '42501', 'role "dept_market" may not search scenario "bidding" by resident ID number',
                 'refused: search by resident ID without the right to see ID numbers or a usage code for the holder');
SELECT pg_temp.one('market_app', $$SELECT elicense.create_usage_code('bidding', '440304198506121230', '{11100000000013338W032}', pg_temp.ctx('YW-ID')) AS c$$) IS NOT NULL;
SELECT results_eq($$SELECT x ->> 'identifier' FROM pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', holder_id => ''440304198506121230'')') x$$,
                  format($$VALUES (%L)$$, :'expired_licence'), 'search: by resident ID with a live usage code for that holder');
SELECT results_eq($$SELECT x ->> 'identifier' FROM pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', holder_id => ''91350100M000100Y43'')') x$$,
                  format($$VALUES (%L)$$, :'company_licence'), 'search: by USCC (a public register''s number) without a code');
-- (The budget counts the grantee's lookups by resident ID number of the last
-- minute: searches and usage codes.)
UPDATE elicense.usage_grant SET id_searches_per_minute = 1 + (SELECT count(*) FROM elicense.usage_audit
   WHERE function IN ('licence_search', 'create_usage_code') AND grantee = 'dept_market' AND at > now() - interval '60 seconds'
     AND holder_id IS NOT NULL AND NOT elicense.is_valid_uscc(holder_id))
 WHERE grantee = 'dept_market'::regrole;
SELECT lives_ok($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', holder_id => ''440304198506121230'')')$$,
                'search by resident ID: the last one the minute allows');
SELECT throws_ok($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', holder_id => ''440304198506121230'')')$$,
                 '53400', NULL, 'refused: one search by resident ID more than the grant''s id_searches_per_minute');
SELECT is((pg_temp.last_audit()).sqlstate, '53400', 'audit: the throttled search, 53400');
-- A usage code per candidate number would answer the same yes/no through
-- licence_info_by_holder: under a grant that may not see ID numbers, codes by
-- resident ID share the budget; codes by USCC do not count.
SELECT throws_ok($$SELECT pg_temp.one('market_app', $q$SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx('YW-GUESS')) AS c$q$)$$,
                 '53400', NULL, 'refused: a usage code by resident ID once the minute''s lookups by resident ID are spent');
SELECT is((pg_temp.last_audit()).function, 'create_usage_code', 'audit: the throttled usage code');
SELECT ok(pg_temp.one('market_app', $$SELECT elicense.create_usage_code('bidding', '91350100M000100Y43', '{11100000000013338W050}', pg_temp.ctx('YW-USCC')) AS c$$) IS NOT NULL,
          'a usage code by USCC is not throttled');
UPDATE elicense.usage_grant SET id_searches_per_minute = DEFAULT WHERE grantee = 'dept_market'::regrole;
SELECT results_eq(format($$SELECT x ->> 'identifier' FROM pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', after_identifier => ''%s'', page_size => 1)') x$$, :'person_licence'),
                  format($$VALUES (%L)$$, :'expired_licence'), 'search: keyset pagination (after_identifier, page_size)');
SELECT results_eq($$SELECT x ->> 'holder_id' FROM pg_temp.as_app('tax_app', 'SELECT * FROM elicense.licence_search(''tax'')') x$$,
                  $$VALUES ('350102199001011238'), ('440304198506121230')$$, 'search: only the grant''s types (W032), unmasked for this grant');
SELECT results_eq($$SELECT x ->> 'holder_id' FROM pg_temp.as_app('tax_app', 'SELECT * FROM elicense.licence_search(''tax'', holder_id => ''440304198506121230'')') x$$,
                  $$VALUES ('440304198506121230')$$, 'search by resident ID (its blind index): that holder''s licence only, unmasked for this grant');
SELECT is(pg_temp.one('tax_app', format($$SELECT holder_id FROM elicense.usage_code_info(%L)$$, :'tax_code')) ->> 'holder_id',
          '350102199001011238', 'usage_code_info: the full holder ID (opened from the code''s box) for a grant that may see ID numbers');
SELECT throws_ok($$SELECT pg_temp.as_app('tax_app', 'SELECT * FROM elicense.licence_search(''tax'', type_code => ''11100000000013338W050'')')$$,
                 '42501', 'licence type 11100000000013338W050 is outside the grant of role "tax_app" for scenario "tax" (11100000000013338W032)', 'refused: search for a type outside the grant');
SELECT throws_ok($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_search(''bidding'', page_size => 201)')$$,
                 '22023', 'page_size 201 is outside 1-200', 'refused: page size over the cap');
SELECT throws_ok($$SELECT pg_temp.as_app('stranger_app', 'SELECT * FROM elicense.licence_search(''bidding'')')$$,
                 '42501', 'role "stranger_app" has no usage grant for scenario "bidding"', 'refused: search without a grant');
SELECT is((SELECT rows_returned FROM elicense.usage_audit WHERE function = 'licence_search' AND result = 'ok' AND db_user = 'market_app' ORDER BY id LIMIT 1), 3,
          'audit: rows returned by a search');

-- 7. Files: a copy with the purpose note, resident ID masked on the face.
SELECT pg_temp.one('market_app', format($$SELECT encode(elicense.licence_file(%L, %L), 'base64') AS f$$, :'company_code', :'company_licence')) ->> 'f' AS company_copy \gset
SELECT pg_temp.one('market_app', $$SELECT elicense.create_usage_code('bidding', '350102199001011238', '{11100000000013338W032}', pg_temp.ctx()) AS c$$) ->> 'c' AS person_code2 \gset
SELECT pg_temp.one('market_app', format($$SELECT encode(file, 'base64') AS f FROM elicense.licence_file_by_holder(%L, '350102199001011238')$$, :'person_code2')) ->> 'f' AS person_copy \gset
SELECT pg_temp.one('tax_app', format($$SELECT encode(elicense.licence_file(%L, %L), 'base64') AS f$$, :'tax_code', :'person_licence')) ->> 'f' AS person_copy_unmasked \gset
SELECT is(substr(decode(:'company_copy', 'base64'), 1, 2), '\x504b'::bytea, 'licence_file: an OFD (ZIP) package');
SELECT ok(position(convert_to('用途：招投标资格审查', 'UTF8') IN decode(:'company_copy', 'base64')) > 0
          AND position(convert_to('有效期至：' || (current_date + 30)::text, 'UTF8') IN decode(:'company_copy', 'base64')) > 0,
          'licence_file: the copy carries 用途 and 有效期至 (today + the scenario''s copy_valid_days)');
SELECT ok(position(convert_to('仅供全国工程质量安全监管信息平台信息公开使用', 'UTF8') IN decode(:'company_copy', 'base64')) = 0,
          'licence_file: no platform watermark on a department''s copy');
SELECT ok(position(convert_to('350102199001011238', 'UTF8') IN decode(:'person_copy', 'base64')) = 0
          AND position(convert_to('350102********1238', 'UTF8') IN decode(:'person_copy', 'base64')) > 0,
          'licence_file_by_holder: the face shows the resident ID masked for a grant without may_see_id_numbers');
SELECT ok(position(convert_to('350102199001011238', 'UTF8') IN decode(:'person_copy_unmasked', 'base64')) > 0,
          'licence_file: the full resident ID for a grant that may see it');
SELECT is((SELECT status FROM elicense.verify_licence_ofd(decode(:'company_copy', 'base64'),
                                                          (SELECT certificate_pem FROM elicense.seal))), 'ok', 'the copy is sealed by the authority');
SELECT results_eq(format($$SELECT function, identifier, file_sha256, copy_valid_until FROM elicense.usage_audit WHERE file_sha256 = %L$$,
                         encode(sha256(decode(:'person_copy', 'base64')), 'hex')),
                  format($$VALUES ('licence_file_by_holder', %L, %L, current_date + 30)$$, :'person_licence', encode(sha256(decode(:'person_copy', 'base64')), 'hex')),
                  'audit: the digest and validity of each copy handed out');

-- 8. Verification.
CREATE FUNCTION pg_temp.verify(file bytea) RETURNS jsonb LANGUAGE sql AS $$
  SELECT x - 'detail' - 'signature_status' - 'copy_valid_until'
    FROM pg_temp.as_app('market_app', format('SELECT * FROM elicense.licence_verify(''bidding'', %L::bytea)', file)) x
$$;
SELECT is(pg_temp.verify(decode(:'company_copy', 'base64')),
          jsonb_build_object('verdict', 'valid', 'identifier', :'company_licence', 'current_identifier', :'company_licence', 'effective_status', '01'),
          'verify: a copy handed out is valid');
SELECT is(pg_temp.verify(set_byte(decode(:'company_copy', 'base64'), length(decode(:'company_copy', 'base64')) / 2,
                                  get_byte(decode(:'company_copy', 'base64'), length(decode(:'company_copy', 'base64')) / 2) # 1)) ->> 'verdict',
          'tampered', 'verify: one flipped byte in the middle: tampered');
SELECT is(pg_temp.verify(convert_to('not an OFD file', 'UTF8')) ->> 'verdict', 'malformed', 'verify: garbage: malformed');
SELECT is(pg_temp.verify(elicense.render_certificate_ofd(:'company_licence')) ->> 'verdict', 'unknown',
          'verify: a sealed file this store did not record (platform copy, rendered again): unknown');
SELECT elicense.render_certificate_ofd(:'person_licence', false) AS original \gset
SELECT is(pg_temp.verify(:'original') ->> 'verdict', 'valid', 'verify: the stored original (file_sha256) is valid');
SELECT elicense.change(:'person_licence', '{"category": "建筑焊工"}', '工种变更', 'clerk') AS changed_licence \gset
SELECT is(pg_temp.verify(:'original'),
          jsonb_build_object('verdict', 'changed', 'identifier', :'person_licence', 'current_identifier', :'changed_licence', 'effective_status', '01'),
          'verify: after a change the old file is "changed" and names the current version');
SELECT elicense.revoke(:'changed_licence', '违规操作', 'clerk') AS revoked_licence \gset
SELECT is(pg_temp.verify(:'original') ->> 'verdict', 'revoked', 'verify: after revocation: revoked');
SELECT is(pg_temp.verify(elicense.render_certificate_ofd(:'expired_licence', false)) ->> 'verdict', 'expired', 'verify: a licence past valid_to: expired');
SELECT is((pg_temp.last_audit()).message, 'expired', 'audit: the verdict of a verification');
-- The life of a licence: the file of the version the platform
-- holds stays that licence's file through status changes.
SELECT elicense.issue('11100000000013338W050', jsonb_build_object(
  'enterprise_name', '福建暂扣测试建设有限公司', 'uscc', '91350100M000100Y43', 'principal', '张三', 'principal_id', '350102199001011238',
  'address', '福州市鼓楼区五四路9号', 'economic_type', '有限责任公司', 'permit_scope', '建筑施工',
  'licence_number', '(闽)JZ安许证字[2025]000009', 'valid_from', '2025-03-01', 'valid_to', '2028-02-28',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', '350000', 'issue_date', '2025-03-01'), 'clerk') AS life_licence \gset
UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || md5(identifier) WHERE identifier = :'life_licence';
SELECT elicense.render_certificate_ofd(:'life_licence', false) AS life_original \gset
SELECT elicense.suspend(:'life_licence', '安全事故暂扣', 'clerk') AS life_suspended \gset
SELECT is(pg_temp.verify(:'life_original'),
          jsonb_build_object('verdict', 'suspended', 'identifier', :'life_licence', 'current_identifier', :'life_suspended', 'effective_status', '02'),
          'verify: a suspended licence: suspended');
SELECT elicense.lift_suspension(:'life_licence', '暂扣发还', 'clerk') AS life_lifted \gset
SELECT is(pg_temp.verify(:'life_original') ->> 'verdict', 'valid', 'verify: the suspension lifted: valid again (a status change supersedes no file)');
SELECT elicense.other(:'life_licence', '停业整顿', '其他', 'clerk') AS life_other \gset
SELECT is(pg_temp.verify(:'life_original') ->> 'verdict', 'other', 'verify: certState 99: other (not valid)');
SELECT cmp_ok((SELECT expired FROM elicense.expire_due()), '>=', 1, 'expire_due records the expiry of the licence past valid_to');
SELECT is(pg_temp.verify(elicense.render_certificate_ofd(:'expired_licence', false)) - 'current_identifier',
          jsonb_build_object('verdict', 'expired', 'identifier', :'expired_licence', 'effective_status', '06'),
          'verify: an expiry recorded by expire_due: expired');
SELECT throws_ok($$SELECT pg_temp.as_app('stranger_app', 'SELECT * FROM elicense.licence_verify(''bidding'', ''\x00''::bytea)')$$,
                 '42501', 'role "stranger_app" has no usage grant for scenario "bidding"', 'refused: verification without a grant');

-- 9. Grants end: revoked or expired.
UPDATE elicense.usage_grant SET revoked_at = now(), revoked_reason = '合作终止' WHERE grantee = 'dept_market'::regrole;
SELECT throws_like(format($$SELECT pg_temp.as_app('market_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, :'company_code', :'company_licence'),
                   'usage grant 1 of role "dept_market" for scenario "bidding" was revoked at % 合作终止', 'refused: revoked grant');
UPDATE elicense.usage_grant SET valid_from = now() - interval '2 days', valid_to = now() - interval '1 day' WHERE grantee = 'tax_app'::regrole;
SELECT throws_like(format($$SELECT pg_temp.as_app('tax_app', 'SELECT * FROM elicense.licence_info(''%s'', ''%s'')')$$, :'tax_code', :'person_licence'),
                   'usage grant 2 of role "tax_app" for scenario "tax" is valid from % to %, not now', 'refused: grant past its period');

-- 10. The audit is append-only, even for its owner; analysts see it masked.
SELECT throws_ok($$UPDATE elicense.usage_audit SET result = 'ok'$$, '42501', 'elicense.usage_audit is append-only: UPDATE is not allowed', 'audit: no UPDATE');
SELECT throws_ok($$DELETE FROM elicense.usage_audit$$, '42501', 'elicense.usage_audit is append-only: DELETE is not allowed', 'audit: no DELETE');
SELECT throws_ok($$TRUNCATE elicense.usage_audit$$, '42501', 'elicense.usage_audit is append-only: TRUNCATE is not allowed', 'audit: no TRUNCATE');
SELECT is((SELECT count(*) FROM elicense.analyst_usage_audit WHERE holder_id_masked = '350102********1238'),
          (SELECT count(*) FROM elicense.usage_audit WHERE holder_id = '350102********1238'), 'analyst_usage_audit masks resident IDs');
SELECT ok((SELECT count(*) FROM elicense.usage_audit WHERE holder_id = '350102********1238') > 0
          AND NOT EXISTS (SELECT FROM elicense.usage_audit WHERE holder_id ~ '^[0-9]{17}[0-9X]$' AND NOT elicense.is_valid_uscc(holder_id)),
          'the audit itself keeps resident IDs masked (issue 19)');
SELECT is((SELECT count(*) FROM elicense.analyst_usage_audit WHERE holder_id_masked LIKE '%19900101%'), 0::bigint, 'analyst_usage_audit shows no full resident ID');
-- Read as the roles it is for, not as superuser: a view checks EXECUTE on its
-- functions (here the masking) for the role reading it.
CREATE FUNCTION pg_temp.count_as(r text, query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', r);
  EXECUTE query INTO n;
  RESET ROLE;
  RETURN n;
END
$$;
SELECT is(pg_temp.count_as('elicense_analyst', 'SELECT count(holder_id_masked) FROM elicense.analyst_usage_audit'),
          (SELECT count(holder_id) FROM elicense.usage_audit), 'an analyst reads analyst_usage_audit');
SELECT is(pg_temp.count_as('elicense_admin', 'SELECT count(holder_id_masked) FROM elicense.analyst_usage_audit'),
          (SELECT count(holder_id) FROM elicense.usage_audit), 'an admin reads analyst_usage_audit');

-- 9. The department is the grant's, whatever the context says;
-- arguments longer than any real value are refused before any work.
CREATE ROLE spoof_app LOGIN IN ROLE elicense_consumer;
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes) VALUES ('spoof_app', '福州市公安局', 'tax', '{11100000000013338W032}');
SELECT pg_temp.one('spoof_app', format($$SELECT elicense.create_usage_code('tax', '350102199001011238', '{11100000000013338W032}', %L) AS code$$,
                   pg_temp.ctx('YW-SPOOF') || '{"department": "国务院办公厅"}')) ->> 'code' AS spoof_code \gset
SELECT is(pg_temp.one('spoof_app', format($$SELECT department FROM elicense.usage_code_info(%L)$$, :'spoof_code')) ->> 'department',
          '福州市公安局', 'usage_code_info: the department is the grant''s, not the one the context claims');
SELECT is((SELECT array_agg(DISTINCT department) FROM elicense.usage_audit WHERE business_id = 'YW-SPOOF'), ARRAY['福州市公安局'],
          'audit: calls with a context claiming another department carry the grant''s department');
SELECT throws_ok(format($$SELECT pg_temp.as_app('spoof_app', 'SELECT * FROM elicense.licence_info(''%s'', repeat(''x'', 10240))')$$, :'spoof_code'),
                 '22001', 'argument identifier is 10240 characters long, over the limit of 256 characters',
                 'a 10 KB identifier is refused before any work');
SELECT is((SELECT concat_ws(' ', result, sqlstate, length(identifier)) FROM elicense.usage_audit ORDER BY id DESC LIMIT 1),
          'refused 22001 276', 'audit: the 10 KB identifier''s refusal, the value shortened to 256 characters and its length');

SELECT * FROM finish();
ROLLBACK;
DROP EXTENSION elicense;
