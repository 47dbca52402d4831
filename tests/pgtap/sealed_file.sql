-- The archive of issued files (elicense.sealed_file) at rest: each file is
-- kept only as a box under the master key, bound to its row (sha256,
-- identifier). Round trip (the box opens to the very bytes, through
-- licence_verify too), no clear file or ID number in the row, a clear file
-- refused by the table, and a box that was altered or moved to another row
-- refused with XX001 by licence_verify. Master key rotation needs a reload
-- (tests/integration/sealed_file_at_rest.sh).
-- As in sharing.sql, the extension is created and committed first (the audit
-- writer of licence_verify cannot see an uncommitted one) and dropped at the
-- end; the rest runs in one transaction that is rolled back.
CREATE EXTENSION elicense;
BEGIN;
SELECT plan(16);

\i tests/fixtures/sharing_seal.sql
\set app sealed_file_test_app
\o /dev/null
\i tests/fixtures/shared_w032_licence.sql
\o
SELECT identifier AS id FROM elicense.certificate \gset
SELECT elicense.render_certificate_ofd(:'id', false) AS original \gset
-- A copy for a department, archived as licence_file archives one.
SELECT elicense.render_certificate_ofd(:'id', false, '招投标资格审查', '2099-12-31') AS copy \gset
SELECT elicense._archive_file(:'id', :'copy', '2099-12-31');
-- licence_verify as the department's application calls it (its session user).
CREATE FUNCTION pg_temp.verify(file bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v text;
BEGIN
  SET SESSION AUTHORIZATION sealed_file_test_app;
  SELECT x.verdict INTO v FROM elicense.licence_verify('bidding', file) x;
  RESET SESSION AUTHORIZATION;
  RETURN v;
END
$$;

-- 1. What the table holds.
SELECT is((SELECT count(*) FROM elicense.sealed_file WHERE identifier = :'id'), 2::bigint,
          'the original and a copy are archived');
SELECT is((SELECT sha256 FROM elicense.sealed_file WHERE kind = 'original'), encode(sha256(:'original'::bytea), 'hex'),
          'the original is archived under the SHA-256 of its clear bytes');
SELECT is((SELECT count(*) FROM elicense.sealed_file
            WHERE elicense._secret_key_id(file_box) = elicense.master_key_id()), 2::bigint,
          'each archived file is a box under the current master key');
SELECT is((SELECT count(*) FROM elicense.sealed_file
            WHERE position('\x504b0304'::bytea IN file_box) > 0 OR position(convert_to('350102199001011238', 'UTF8') IN file_box) > 0
               OR file_box = :'original'::bytea OR file_box = :'copy'::bytea), 0::bigint,
          'no row holds a clear file (no ZIP header) or the holder''s ID number');
SELECT is(length((SELECT file_box FROM elicense.sealed_file WHERE kind = 'original')), length(:'original'::bytea) + 40,
          'a box is the file plus 40 bytes (magic, key ID, nonce, tag): the file is not compressed or cut');

-- 2. Round trip.
SELECT ok((SELECT elicense._sealed_file_matches(file_box, sha256, identifier, :'original') FROM elicense.sealed_file
            WHERE kind = 'original'), 'the original''s box opens to the original''s bytes');
SELECT ok(NOT (SELECT elicense._sealed_file_matches(file_box, sha256, identifier, :'copy') FROM elicense.sealed_file
                WHERE kind = 'original'), 'the original''s box is not the copy');
SELECT is(pg_temp.verify(:'original'), 'valid', 'licence_verify: the archived original is valid');
SELECT is(pg_temp.verify(:'copy'), 'valid', 'licence_verify: the archived copy is valid');
SELECT is((SELECT elicense._sealed_file_reencrypt(file_box, sha256, identifier) = file_box FROM elicense.sealed_file
            WHERE kind = 'original'), true, 'a box already under the current master key is kept as is by re-encryption');

-- 3. Writing the archive.
SELECT throws_ok($$SELECT elicense._sealed_file_box('\x504b0304'::bytea, repeat('0', 64), 'X')$$, '22023',
                 'sha256 "' || repeat('0', 64) || '" is not the SHA-256 of the file to archive',
                 'a file is archived only under its own SHA-256');
SELECT throws_ok(format($$INSERT INTO elicense.sealed_file (sha256, file_box, identifier, kind)
                          VALUES (%L, %L::bytea, %L, 'original')$$,
                        encode(sha256(:'copy'::bytea), 'hex') || 'x', :'copy', :'id'), '23514', NULL,
                 'the table refuses a file in clear (sealed_file_boxed, sealed_file_sha256_hex)');
SELECT throws_ok(format($$INSERT INTO elicense.sealed_file (sha256, file_box, identifier, kind)
                          VALUES (%L, %L::bytea, %L, 'original')$$,
                        repeat('a', 64), :'copy', :'id'), '23514',
                 'new row for relation "sealed_file" violates check constraint "sealed_file_boxed"',
                 'a row whose file_box is a clear file violates sealed_file_boxed');

-- 4. A box altered, or moved from another row: licence_verify refuses (XX001).
UPDATE elicense.sealed_file SET file_box = set_byte(file_box, length(file_box) / 2, get_byte(file_box, length(file_box) / 2) # 1)
 WHERE kind = 'original';
SELECT throws_ok(format('SELECT pg_temp.verify(%L::bytea)', :'original'), 'XX001',
                 format('the archived file %s of licence %s does not authenticate (altered, or moved from another row)',
                        encode(sha256(:'original'::bytea), 'hex'), :'id'),
                 'licence_verify: a flipped byte in the archived box is refused with XX001');
UPDATE elicense.sealed_file o SET file_box = c.file_box FROM elicense.sealed_file c WHERE o.kind = 'original' AND c.kind = 'copy';
SELECT throws_ok(format('SELECT pg_temp.verify(%L::bytea)', :'original'), 'XX001', NULL,
                 'licence_verify: the copy''s box moved onto the original''s row is refused with XX001');
SELECT is((SELECT result || ' ' || sqlstate FROM elicense.usage_audit WHERE function = 'licence_verify' ORDER BY id DESC LIMIT 1),
          'refused XX001',
          'the refused verification is audited with its SQLSTATE');

SELECT * FROM finish();
ROLLBACK;
DROP EXTENSION elicense;
