-- Who may read the QR keys and call the QR functions: keys only for
-- elicense_admin; the worker neither reads them nor calls the QR functions
-- (its SECURITY DEFINER delivery functions build URLs and decrypt
-- assignments), the analyst gets nothing, and the configuration tables are
-- kept by pg_dump.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(31);

SELECT has_table('elicense', 'platform_key', 'platform_key exists');
SELECT has_table('elicense', 'province_secret', 'province_secret exists');
SELECT table_privs_are('elicense', 'platform_key', 'elicense_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'admin manages platform keys');
SELECT table_privs_are('elicense', 'province_secret', 'elicense_admin', ARRAY['SELECT', 'DELETE'],
                       'admin reads (ciphertext) and deletes province secrets; they are written by load_province_secret');
SELECT table_privs_are('elicense', 'platform_key', r, ARRAY[]::text[], r || ' has no right on platform_key')
FROM unnest(ARRAY['elicense_analyst', 'elicense_issuer', 'elicense_worker']) AS r;
SELECT table_privs_are('elicense', 'province_secret', r, ARRAY[]::text[], r || ' has no right on province_secret')
FROM unnest(ARRAY['elicense_analyst', 'elicense_issuer', 'elicense_worker']) AS r;
SELECT table_privs_are('elicense', 'province_secret', 'public', ARRAY[]::text[], 'PUBLIC has no right on province_secret');

SELECT function_privs_are('elicense', 'qr_url', ARRAY['text', 'text', 'text'], r, ARRAY['EXECUTE'],
                          r || ' may build QR URLs')
FROM unnest(ARRAY['elicense_issuer', 'elicense_admin']) AS r;
SELECT function_privs_are('elicense', 'qr_url', ARRAY['text', 'text', 'text'], r, ARRAY[]::text[],
                          r || ' may not build QR URLs')
FROM unnest(ARRAY['elicense_analyst', 'elicense_worker']) AS r;
SELECT function_privs_are('elicense', 'decrypt_assignment', ARRAY['text', 'text', 'text'], 'elicense_worker',
                          ARRAY[]::text[], 'the worker does not call decrypt_assignment (step_succeeded does, as its owner)');
SELECT function_privs_are('elicense', 'decrypt_assignment', ARRAY['text', 'text', 'text'], 'elicense_analyst',
                          ARRAY[]::text[], 'the analyst does not decrypt assignments');
SELECT function_privs_are('elicense', '_decrypt_assignment', ARRAY['text', 'text', 'text', 'bytea'], 'elicense_worker',
                          ARRAY[]::text[], 'nobody calls the internal decryption');
SELECT function_privs_are('elicense', 'load_province_secret', ARRAY['elicense.province_code', 'text', 'elicense.secret'], r,
                          ARRAY[]::text[], r || ' may not load a province secret')
FROM unnest(ARRAY['elicense_analyst', 'elicense_issuer', 'elicense_worker']) AS r;
SELECT is((SELECT bool_and(p.prosecdef) FROM pg_proc p
           WHERE p.oid IN ('elicense.qr_url(text, text, text)'::regprocedure,
                           'elicense.decrypt_assignment(text, text, text)'::regprocedure)),
          true, 'qr_url and decrypt_assignment are SECURITY DEFINER');
SELECT is((SELECT count(*) FROM pg_proc p
           WHERE p.oid IN ('elicense.qr_url(text, text, text)'::regprocedure,
                           'elicense.decrypt_assignment(text, text, text)'::regprocedure)
             AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']), 2::bigint,
          'and pin search_path');
SELECT set_has($$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS t(oid) JOIN pg_class c ON c.oid = t.oid
                 WHERE e.extname = 'elicense'$$,
               $$VALUES ('platform_key'), ('province_secret')$$, 'pg_dump keeps both configuration tables');

-- The admin configures the platform key through its table, the province's
-- secret through load_province_secret (elicense-admin binds it; a literal
-- here is a test key), which stores it only encrypted.
SET LOCAL ROLE elicense_admin;
SELECT lives_ok($$SELECT elicense.load_province_secret('350000', 'des', '12345678')$$,
                'the admin loads a province secret');
SELECT throws_ok($$INSERT INTO elicense.province_secret (province, assignment_scheme, secret_box) VALUES ('440000', 'des', '\x3132333435363738')$$,
                 '42501', NULL, 'the admin cannot write a province secret around load_province_secret');
SELECT lives_ok($$INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('350000', '-----BEGIN RSA PUBLIC KEY-----
MEgCQQC0pJ/XZLbAYfwviof09oCm3bagxwZrNzAXsoUIY5wkGPvEud9Kijs4fq9k
anmp2soNnUuIgIqhoyZPWSU0z04lAgMBAAE=
-----END RSA PUBLIC KEY-----')$$, 'the admin inserts a platform key (PKCS#1 form)');
SELECT lives_ok($$UPDATE elicense.platform_key SET k_format = 'hex' WHERE province = '350000'$$,
                'the admin updates a platform key');
RESET ROLE;
SELECT throws_ok($$INSERT INTO elicense.province_secret (province, assignment_scheme, secret_box) VALUES ('440000', 'des', '\x3132333435363738')$$,
                 '22023', 'elicense.province_secret.secret_box is not an encrypted secret',
                 'even a superuser cannot store a province secret in clear');
SELECT is((SELECT elicense._secret_key_id(secret_box) FROM elicense.province_secret WHERE province = '350000'),
          elicense.master_key_id(), 'the stored province secret is encrypted under the master key');

-- The owner's function decrypts with the stored key.
SELECT is((elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', NULL, '350000')).code,
          '202232000001000001', 'decrypt_assignment gets the code with the stored key');

SELECT * FROM finish();
ROLLBACK;
