-- The HTTP gateway's part of the database (71_gateway.sql) and the caller
-- identity it relies on (70_sharing.sql): a NOINHERIT login that is a
-- member of an application's role holds none of its grants until SET ROLE
-- (then it is that application); secrets, tokens and download links by
-- hash, rotation and expiry; least privilege of elicense_gateway and
-- elicense_consumer.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(21);

CREATE ROLE pgtap_dept NOLOGIN IN ROLE elicense_consumer;
CREATE ROLE pgtap_gw LOGIN NOINHERIT IN ROLE elicense_gateway;
GRANT pgtap_dept TO pgtap_gw;
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes)
VALUES ('bidding', '招投标资格审查', '招投标资格审查', '{11100000000013338W032,11100000000013338W050}');
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes)
VALUES ('pgtap_dept', '福州市市场监督管理局', 'bidding', '{11100000000013338W032}');

-- Caller identity: the gateway's login alone has no grant; after SET ROLE it is the application.
SET SESSION AUTHORIZATION pgtap_gw;
SELECT throws_ok($$SELECT * FROM elicense.licence_type_schema('11100000000013338W032')$$, '42501', NULL,
                 'a NOINHERIT login holds none of its application roles'' grants without SET ROLE');
SET ROLE pgtap_dept;
SELECT ok((SELECT count(*) FROM elicense.licence_type_schema('11100000000013338W032')) > 3,
          'after SET ROLE the login is the application: the schema of a granted type');
SELECT throws_ok($$SELECT * FROM elicense.licence_type_schema('11100000000013338W050')$$, '42501', NULL,
                 'the schema of a type outside the grant is refused');
SELECT throws_ok($$SELECT * FROM elicense.licence_type_schema('nope')$$, '42704', NULL, 'an unknown type: 42704');
SELECT throws_ok($$SELECT elicense._caller_role()$$, '42501', NULL, 'elicense._caller_role is internal');
RESET ROLE;
SELECT throws_ok($$SET ROLE elicense_admin$$, '42501', NULL, 'the login cannot SET ROLE to a role it is not a member of');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT rolinherit FROM pg_roles WHERE rolname = 'pgtap_gw'), false, 'the test login is NOINHERIT');

-- Applications, secrets, tokens.
INSERT INTO elicense.gateway_application (app_id, db_role, name) VALUES ('market_app', 'pgtap_dept', '市场监管');
SELECT throws_ok($$INSERT INTO elicense.gateway_secret (app_id, secret_hash) VALUES ('market_app', 'plain-secret')$$,
                 '23514', NULL, 'a secret that is not a PBKDF2 hash is refused');
INSERT INTO elicense.gateway_secret (app_id, secret_hash)
VALUES ('market_app', 'pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$' || repeat('A', 43) || '=');
SET SESSION AUTHORIZATION pgtap_gw;
SET ROLE elicense_gateway;
SELECT is((SELECT count(*)::int FROM elicense.gateway_secrets('market_app')), 1, 'gateway_secrets: the live secret');
SELECT is((SELECT count(*)::int FROM elicense.gateway_secrets('nobody')), 0, 'gateway_secrets: none for an unknown application');
SELECT ok(elicense.gateway_issue_token('market_app', (SELECT secret_id FROM elicense.gateway_secrets('market_app')),
                                       sha256('tok-1'), 900) > now(), 'gateway_issue_token records a token');
SELECT results_eq($$SELECT app_id, db_role FROM elicense.gateway_token_app(sha256('tok-1'))$$,
                  $$VALUES ('market_app'::text, 'pgtap_dept'::text)$$, 'gateway_token_app: the application and its role');
SELECT is((SELECT count(*)::int FROM elicense.gateway_token_app(sha256('tok-2'))), 0, 'an unknown token: no row');
SELECT throws_ok($$SELECT elicense.gateway_issue_token('market_app', 1, sha256('x'), 10)$$, '22023', NULL,
                 'a token lifetime under 60 s is refused');
SELECT throws_ok($$SELECT * FROM elicense.gateway_secret$$, '42501', NULL, 'elicense_gateway cannot read the secret table');
-- Download links.
SELECT ok(elicense.gateway_put_download('market_app', sha256('link-1'), 'x.ofd', '\x504b0304', 60) > now(),
          'gateway_put_download keeps a file');
SELECT is((SELECT file FROM elicense.gateway_get_download(sha256('link-1'))), '\x504b0304'::bytea, 'gateway_get_download: the file');
RESET ROLE;
RESET SESSION AUTHORIZATION;
UPDATE elicense.gateway_download SET expires_at = now() - interval '1 second';
SELECT is((SELECT count(*)::int FROM elicense.gateway_get_download(sha256('link-1'))), 0, 'an expired link: no file');
-- Rotation with no grace: the old secret and its tokens stop.
SELECT ok(elicense.gateway_rotate_secret('market_app', 'pbkdf2-sha256$100000$BBBBBBBBBBBBBBBBBBBBBB==$' || repeat('B', 43) || '=',
                                         interval '0') > 0, 'gateway_rotate_secret adds a secret');
SELECT is((SELECT count(*)::int FROM elicense.gateway_token_app(sha256('tok-1'))), 0, 'a token of a retired secret: no row');
-- Least privilege.
SELECT ok(NOT has_function_privilege('elicense_consumer', 'elicense.gateway_token_app(bytea)', 'EXECUTE'),
          'applications cannot look tokens up');

SELECT * FROM finish();
ROLLBACK;
