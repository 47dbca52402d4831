-- The preview functions: least privilege of elicense_preview, the
-- preview URL from the template ({token} and {identifier}), and what
-- preview_open / preview_ofd answer for valid, tampered, expired, revoked
-- and superseded versions, with one access row per genuine token only.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(44);

CREATE FUNCTION pg_temp.w032(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "licence_number": "闽A012026000123", "valid_from": "2026-01-01", "valid_to": "2099-05-31",
    "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
    "issue_date": "2026-01-01"}'::jsonb || changes
$$;
-- preview_open as the preview role (the server's rights).
CREATE FUNCTION pg_temp.open(token text) RETURNS TABLE (code integer, status text, content_hash text)
LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL ROLE elicense_preview;
  RETURN QUERY SELECT o.code, o.status, o.content_hash FROM elicense.preview_open(token, '192.0.2.7') o;
  RESET ROLE;
END
$$;
CREATE FUNCTION pg_temp.ofd(token text) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
  file bytea;
BEGIN
  SET LOCAL ROLE elicense_preview;
  file := elicense.preview_ofd(token);
  RESET ROLE;
  RETURN file;
END
$$;
\ir ../support/pgtap_as_role.sql
CREATE FUNCTION pg_temp.token_of(url text) RETURNS text LANGUAGE sql AS $$ SELECT substring(url FROM '/p/(.*)$') $$;

-- Privileges.
SELECT table_privs_are('elicense', 'certificate', 'elicense_preview', '{}', 'preview: no privilege on certificate');
SELECT table_privs_are('elicense', 'preview_key', 'elicense_preview', '{}', 'preview: cannot read the token keys');
SELECT table_privs_are('elicense', 'preview_key', 'elicense_analyst', '{}', 'analyst: cannot read the token keys');
SELECT table_privs_are('elicense', 'preview_key', 'elicense_worker', '{}', 'worker: cannot read the token keys');
SELECT table_privs_are('elicense', 'preview_access', 'elicense_preview', '{}', 'preview: writes access rows only through preview_open');
SELECT table_privs_are('elicense', 'seal', 'elicense_preview', '{}', 'preview: no privilege on seal');
SELECT function_privs_are('elicense', 'preview_open', ARRAY['text', 'text'], 'elicense_preview', '{EXECUTE}', 'preview: EXECUTE preview_open');
SELECT function_privs_are('elicense', 'preview_ofd', ARRAY['text'], 'elicense_preview', '{EXECUTE}', 'preview: EXECUTE preview_ofd');
SELECT function_privs_are('elicense', 'render_certificate_ofd', ARRAY['text', 'boolean', 'text', 'text'], 'elicense_preview', '{}',
                          'preview: cannot render files itself (no original)');
SELECT function_privs_are('elicense', 'preview_url', ARRAY['text'], 'elicense_preview', '{}', 'preview: cannot make URLs');
SELECT function_privs_are('elicense', '_preview_token', ARRAY['bytea', 'integer', 'text', 'bigint'], 'public', '{}', 'PUBLIC: no token making');
SELECT function_privs_are('elicense', 'preview_open', ARRAY['text', 'text'], 'public', '{}', 'PUBLIC: no preview_open');
SELECT ok((SELECT bool_and(p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])
             FROM pg_proc p WHERE p.pronamespace = 'elicense'::regnamespace
              AND p.proname IN ('preview_open', 'preview_ofd', 'preview_url', 'rotate_preview_key')),
          'preview functions are SECURITY DEFINER with search_path = pg_catalog, pg_temp');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_preview', 'SELECT secret_box FROM elicense.preview_key')$$,
                 '42501', NULL, 'preview role cannot read preview_key');
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_preview', 'SELECT elicense.render_certificate_ofd(''x'', false)')$$,
                 '42501', NULL, 'preview role cannot fetch an original');

-- URLs.
SELECT is((SELECT count(*) FROM elicense.preview_key), 0::bigint, 'no key ships');
CREATE TEMP TABLE lic AS SELECT elicense.issue('11100000000013338W032', pg_temp.w032(), 'issuer') AS id;
CREATE TEMP TABLE url AS SELECT elicense.preview_url(id) AS url FROM lic;
SELECT matches((SELECT url FROM url), '^https://licence-preview\.invalid/p/[A-Za-z0-9_-]{100,}$', 'default template: /p/{token}');
SELECT is((SELECT count(*) FROM elicense.preview_key), 1::bigint, 'the first URL made the first key');
SELECT is((SELECT elicense._secret_key_id(secret_box) FROM elicense.preview_key), elicense.master_key_id(),
          'the preview key is stored only encrypted under the master key');
INSERT INTO elicense.delivery_config (preview_url_template) VALUES ('https://preview.example/{identifier}');
SELECT is(elicense.preview_url(id), 'https://preview.example/' || id, '{identifier} alone still works') FROM lic;
SELECT throws_ok($$UPDATE elicense.delivery_config SET preview_url_template = 'https://preview.example/'$$,
                 '23514', NULL, 'a template needs {token} or {identifier}');
UPDATE elicense.delivery_config SET preview_url_template = 'https://p.example/p/{token}', preview_token_lifetime = '1 day';
SELECT is((SELECT to_timestamp(('x' || encode(substring(decode(translate(pg_temp.token_of(elicense.preview_url(id)), '-_', '+/') || '==', 'base64')
                                                   FROM 3 FOR 4), 'hex'))::bit(32)::bigint) FROM lic)::date,
          (now() + interval '1 day')::date, 'token lifetime follows preview_token_lifetime');

-- preview_open / preview_ofd.
CREATE TEMP TABLE tok AS SELECT pg_temp.token_of(elicense.preview_url(id)) AS token FROM lic;
SELECT results_eq($$SELECT code, status FROM pg_temp.open((SELECT token FROM tok))$$,
                  $$VALUES (200, 'not_ready')$$, 'no QR code yet: not_ready');
UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=AB&k=x&certype=11100000000013338W032&province=350000';
SELECT results_eq($$SELECT code, status FROM pg_temp.open((SELECT token FROM tok))$$,
                  $$VALUES (200, 'valid')$$, 'valid token, valid licence');
SELECT matches((SELECT content_hash FROM pg_temp.open((SELECT token FROM tok))), '^[0-9a-f]{64}$', 'a valid page has a content hash');
SELECT is((SELECT content_hash FROM pg_temp.open((SELECT token FROM tok))),
          (SELECT content_hash FROM pg_temp.open((SELECT elicense._preview_token(k.secret_box, k.id, lic.id, 4000000000)
                                                    FROM elicense.preview_key k, lic))),
          'the hash is of the page, not of the token');
SELECT is((SELECT pg_temp.token_of(elicense.preview_url(id)) FROM lic), (SELECT token FROM tok),
          'a version always gets the same URL (the confirm step compares it)');
SELECT is((SELECT substring(pg_temp.ofd((SELECT token FROM tok)) FROM 1 FOR 2)), '\x504b'::bytea, 'preview_ofd returns a ZIP (OFD)');
SELECT ok(position(convert_to('仅供全国工程质量安全监管信息平台信息公开使用', 'UTF8') IN pg_temp.ofd((SELECT token FROM tok))) > 0,
          'the file preview_ofd returns carries the platform watermark');
SELECT is((SELECT count(*) FROM elicense.preview_access WHERE client = '192.0.2.7' AND code = 200), 5::bigint,
          'one access row per preview_open');

CREATE TEMP TABLE rows_before AS SELECT count(*) AS n FROM elicense.preview_access;
SELECT results_eq($$SELECT code, status FROM pg_temp.open(overlay((SELECT token FROM tok) PLACING
                      CASE WHEN substring((SELECT token FROM tok) FROM 40 FOR 1) = 'A' THEN 'B' ELSE 'A' END FROM 40 FOR 1))$$,
                  $$VALUES (404, 'unknown')$$, 'tampered token: 404');
SELECT results_eq($$SELECT code, status FROM pg_temp.open('not-a-token')$$, $$VALUES (404, 'unknown')$$, 'garbage: 404');
SELECT is((SELECT count(*) FROM elicense.preview_access), (SELECT n FROM rows_before), 'tokens not ours leave no row');
SELECT throws_ok($$SELECT pg_temp.ofd(overlay((SELECT token FROM tok) PLACING 'zz' FROM 50 FOR 2))$$, '42501', NULL,
                 'preview_ofd refuses a tampered token');

CREATE TEMP TABLE expired AS
  SELECT elicense._preview_token(k.secret_box, k.id, lic.id, extract(epoch FROM now())::bigint - 1) AS token
    FROM elicense.preview_key k, lic;
SELECT results_eq($$SELECT code, status FROM pg_temp.open((SELECT token FROM expired))$$,
                  $$VALUES (410, 'token_expired')$$, 'expired token: 410');
SELECT throws_ok($$SELECT pg_temp.ofd((SELECT token FROM expired))$$, '42501', NULL, 'preview_ofd refuses an expired token');
SELECT is((SELECT count(*) FROM elicense.preview_access WHERE code = 410), 1::bigint, 'the expired token''s access is logged');

-- Another key signs from now on; tokens of the first stay valid until it is deleted.
SELECT is(elicense.rotate_preview_key(), 2, 'rotate_preview_key adds key 2');
SELECT results_eq($$SELECT code FROM pg_temp.open((SELECT token FROM tok))$$, $$VALUES (200)$$, 'a key-1 token still opens');
SELECT is((SELECT pg_temp.token_of(elicense.preview_url(id)) FROM lic), (SELECT token FROM tok),
          'rotation does not change the URL of an existing version');
DELETE FROM elicense.preview_key WHERE id = 1;
SELECT results_eq($$SELECT code FROM pg_temp.open((SELECT token FROM tok))$$, $$VALUES (404)$$, 'deleting key 1 invalidates its tokens');
UPDATE tok SET token = (SELECT pg_temp.token_of(elicense.preview_url(id)) FROM lic);

-- Status instead of a licence.
SELECT elicense.revoke(id, '违法违规', 'issuer') FROM lic;
SELECT results_eq($$SELECT code, status, content_hash FROM pg_temp.open((SELECT token FROM tok))$$,
                  $$VALUES (200, 'revoked', NULL::text)$$, 'revoked: status, no hash');
SELECT throws_ok($$SELECT pg_temp.ofd((SELECT token FROM tok))$$, '42501', NULL, 'no file of a revoked licence');
SELECT throws_ok($$UPDATE elicense.preview_access SET client = 'x'$$, '42501', 'elicense.preview_access is append-only: UPDATE is not allowed', 'preview_access is append-only');

SELECT * FROM finish();
ROLLBACK;
