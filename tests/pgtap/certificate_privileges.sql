-- Least privilege on the certificate objects: analysts read only the
-- analyst_* views (masked, no secrets) and write nothing; issuers write only
-- through the functions; the worker writes nothing directly.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(51);

\ir ../support/pgtap_as_role.sql
CREATE FUNCTION pg_temp.w032(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "licence_number": "闽A012023000123", "valid_from": "2023-06-01", "valid_to": "2025-05-31",
    "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
    "issue_date": "2023-06-01"}'::jsonb || changes
$$;

-- Catalogue-level privileges.
SELECT table_privs_are('elicense', 'certificate', 'elicense_analyst', '{}', 'analyst: no privilege on certificate');
SELECT table_privs_are('elicense', 'status_history', 'elicense_analyst', '{}', 'analyst: no privilege on status_history');
SELECT table_privs_are('elicense', 'outbox', 'elicense_analyst', '{}', 'analyst: no privilege on outbox');
SELECT table_privs_are('elicense', 'delivery_attempt', 'elicense_analyst', '{}', 'analyst: no privilege on delivery_attempt');
SELECT table_privs_are('elicense', 'sequence_counter', 'elicense_analyst', '{}', 'analyst: no privilege on sequence_counter');
SELECT table_privs_are('elicense', 'certificate_current', 'elicense_analyst', '{}', 'analyst: no privilege on certificate_current (unmasked IDs)');
SELECT table_privs_are('elicense', 'licence_type', 'elicense_analyst', '{SELECT}', 'analyst: reads the catalogue only');
SELECT table_privs_are('elicense', 'licence_item', 'elicense_analyst', '{SELECT}', 'analyst: reads the item catalogue only');
SELECT table_privs_are('elicense', 'analyst_holder_history', 'elicense_analyst', '{SELECT}', 'analyst: SELECT on analyst_holder_history');
SELECT table_privs_are('elicense', 'analyst_status_timeline', 'elicense_analyst', '{SELECT}', 'analyst: SELECT on analyst_status_timeline');
SELECT table_privs_are('elicense', 'analyst_outbox_backlog', 'elicense_analyst', '{SELECT}', 'analyst: SELECT on analyst_outbox_backlog');
SELECT table_privs_are('elicense', 'analyst_issuance_monthly', 'elicense_analyst', '{SELECT}', 'analyst: SELECT on analyst_issuance_monthly');
SELECT table_privs_are('elicense', 'certificate', 'public', '{}', 'PUBLIC: no privilege on certificate');
SELECT table_privs_are('elicense', 'outbox', 'public', '{}', 'PUBLIC: no privilege on outbox');
SELECT table_privs_are('elicense', 'certificate', 'elicense_issuer', '{SELECT}', 'issuer: reads certificate, writes only through functions');
SELECT table_privs_are('elicense', 'status_history', 'elicense_issuer', '{SELECT}', 'issuer: reads status_history');
SELECT table_privs_are('elicense', 'status_history', 'elicense_admin', '{SELECT}', 'admin: cannot rewrite status_history either');
SELECT table_privs_are('elicense', 'licence_item', 'elicense_admin', '{SELECT,INSERT,UPDATE,DELETE}', 'admin: maintains the item catalogue');
SELECT function_privs_are('elicense', 'issue', ARRAY['text', 'jsonb', 'text'], 'elicense_issuer', '{EXECUTE}', 'issuer: EXECUTE issue');
SELECT function_privs_are('elicense', 'issue', ARRAY['text', 'jsonb', 'text'], 'elicense_analyst', '{}', 'analyst: no EXECUTE on issue');
SELECT function_privs_are('elicense', 'issue', ARRAY['text', 'jsonb', 'text'], 'public', '{}', 'PUBLIC: no EXECUTE on issue');
SELECT function_privs_are('elicense', 'revoke', ARRAY['text', 'text', 'text', 'text'], 'elicense_worker', '{}', 'worker: no EXECUTE on revoke');
SELECT function_privs_are('elicense', '_licence_from_data', ARRAY['text', 'jsonb'], 'public', '{}', 'PUBLIC: no EXECUTE on internal functions');
SELECT ok((SELECT bool_and(p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])
             FROM pg_proc p WHERE p.pronamespace = 'elicense'::regnamespace AND p.proname IN ('issue', 'change', 'revoke', 'cancel')),
          'issue/change/revoke/cancel are SECURITY DEFINER with search_path = pg_catalog, pg_temp');

-- The same, exercised under SET ROLE.
SELECT lives_ok($$SELECT pg_temp.as_role('elicense_issuer', $q$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(), 'issuer')$q$)$$,
                'issuer issues through elicense.issue');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_issuer', 'INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type) SELECT identifier, 1, ''collect'', 9, ''01'' FROM elicense.certificate')$$,
                 '42501', 'permission denied for table outbox', 'issuer cannot write the outbox directly');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_issuer', 'UPDATE elicense.certificate SET status = ''05''')$$,
                 '42501', 'permission denied for table certificate', 'issuer cannot update a certificate directly');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', 'SELECT holder_id FROM elicense.certificate')$$,
                 '42501', 'permission denied for table certificate', 'analyst cannot read certificate');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', 'SELECT holder_id FROM elicense.certificate_current')$$,
                 '42501', 'permission denied for view certificate_current', 'analyst cannot read certificate_current');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', 'SELECT * FROM elicense.status_history')$$,
                 '42501', 'permission denied for table status_history', 'analyst cannot read status_history');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', 'SELECT * FROM elicense.outbox')$$,
                 '42501', 'permission denied for table outbox', 'analyst cannot read the outbox (errors may quote data)');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', $q$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"licence_number": "X2"}'), 'analyst')$q$)$$,
                 '42501', 'permission denied for function issue', 'analyst cannot issue');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', $q$SELECT elicense.cancel((SELECT 'x'), 'r', 'a')$q$)$$,
                 '42501', 'permission denied for function cancel', 'analyst cannot cancel');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', 'SELECT * FROM elicense.licence_versions(''x'')')$$,
                 '42501', 'permission denied for function licence_versions', 'analyst cannot list versions (unmasked IDs)');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', $q$INSERT INTO elicense.licence_type VALUES ('11100000000013338W098', 'x', NULL, 'USCC', '^x$', 'x')$q$)$$,
                 '42501', 'permission denied for table licence_type', 'analyst cannot change the catalogue');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_analyst', $q$INSERT INTO elicense.delivery_attempt (identifier, step, endpoint, worker_id) VALUES ('x', 'collect', 'e', 'w')$q$)$$,
                 '42501', 'permission denied for table delivery_attempt', 'analyst cannot record delivery attempts');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_worker', 'UPDATE elicense.certificate SET holder_id = ''x''')$$,
                 '42501', 'permission denied for table certificate', 'worker cannot change licence data');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_worker', 'UPDATE elicense.certificate SET assigned_code = ''202232000001000001''')$$,
                 '42501', 'permission denied for table certificate', 'worker cannot write the code either (step_succeeded does, as its owner)');
-- Issue 19: with UPDATE (file_sha256) the worker could make a forged file's
-- digest the "stored original" and licence_verify call it valid.
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_worker', 'UPDATE elicense.certificate SET file_sha256 = repeat(''0'', 64)')$$,
                 '42501', 'permission denied for table certificate', 'worker cannot set the digest of the original');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_worker', $q$INSERT INTO elicense.trust_anchor (name, certificate_pem) VALUES ('x', 'y')$q$)$$,
                 '42501', 'permission denied for table trust_anchor', 'worker cannot add a trust anchor');

-- What analysts see: masked resident IDs, no business data.
CREATE TEMP TABLE seen AS SELECT * FROM elicense.analyst_holder_history;
SELECT lives_ok($$SELECT pg_temp.as_role('elicense_analyst', 'SELECT count(*) FROM elicense.analyst_holder_history, elicense.analyst_status_timeline, elicense.analyst_outbox_backlog, elicense.analyst_issuance_monthly')$$,
                'analyst reads every analyst view');
SELECT is((SELECT holder_id_masked FROM seen), '350102********1238', 'resident ID masked: first 6 and last 4 characters kept');
SELECT hasnt_column('elicense', 'analyst_holder_history', 'business_data', 'no business data in the analyst view');
SELECT hasnt_column('elicense', 'analyst_holder_history', 'holder_id', 'no unmasked holder_id in the analyst view');
SELECT results_eq($$SELECT step, status, steps FROM elicense.analyst_outbox_backlog ORDER BY step$$,
                  $$VALUES ('validate', 'pending', 1::bigint)$$,
                  'outbox backlog by step');
SELECT results_eq($$SELECT authority_uscc::text, month, issued, valid_now, delivered, electronic_rate FROM elicense.analyst_issuance_monthly$$,
                  $$VALUES ('11350000003591037R'::text, '2023-06-01'::date, 1::bigint, 0::bigint, 0::bigint, 0.0000::numeric)$$,
                  'monthly counts: the 2023 licence has expired (valid_to 2025-05-31), nothing delivered yet');

-- Every table and view a role may SELECT can be read by it: a view also
-- needs EXECUTE on the functions it calls, for the role reading it
-- (analyst_usage_audit once called a masking function analysts could not).
CREATE FUNCTION pg_temp.unreadable(r text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
  rel text;
  bad text[] := '{}';
BEGIN
  FOR rel IN SELECT DISTINCT format('%I.%I', table_schema, table_name) FROM information_schema.role_table_grants
              WHERE grantee = r AND privilege_type = 'SELECT' AND table_schema = 'elicense' ORDER BY 1 LOOP
    BEGIN
      EXECUTE format('SET LOCAL ROLE %I', r);
      EXECUTE format('SELECT * FROM %s LIMIT 1', rel);  -- every column: its functions run
      RESET ROLE;
    EXCEPTION WHEN OTHERS THEN
      bad := bad || (rel || ': ' || SQLERRM);
    END;
  END LOOP;
  RETURN bad;
END
$$;
SELECT is(pg_temp.unreadable('elicense_analyst'), '{}', 'analyst reads every relation granted to it');
SELECT is(pg_temp.unreadable('elicense_admin'), '{}', 'admin reads every relation granted to it');
SELECT is(pg_temp.unreadable('elicense_issuer'), '{}', 'issuer reads every relation granted to it');
SELECT is(pg_temp.unreadable('elicense_worker'), '{}', 'worker reads every relation granted to it');
SELECT is(pg_temp.unreadable('elicense_preview'), '{}', 'preview server reads every relation granted to it');

SELECT * FROM finish();
ROLLBACK;
