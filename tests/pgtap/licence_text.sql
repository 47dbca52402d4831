-- Text that goes on a licence: items refuse C0/C1 control
-- characters and bidi overrides/isolates (22021, naming the item and the
-- character), the actor is bounded (22001) and clean (22021), creation dates
-- are real dates (22023), and load_seal accepts only keys and certificates
-- that parse (22023, the message never quoting the value).
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(21);

CREATE FUNCTION pg_temp.w032(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "licence_number": "闽A012023000123", "valid_from": "2023-06-01", "valid_to": "2025-05-31",
    "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
    "issue_date": "2023-06-01"}'::jsonb || changes
$$;

SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(jsonb_build_object('name', '李' || chr(8238) || '四')), 't')$$,
                 '22021', 'item "name" (姓名) contains U+202E at character 2, a control or bidirectional-override character',
                 'U+202E (right-to-left override) in the holder name is refused, naming item and character');
SELECT throws_ok(format($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(jsonb_build_object('category', %L)), 't')$$, '建筑' || chr(c) || '电工'),
                 '22021', NULL, format('U+%s in an item is refused', to_hex(c)))
  FROM unnest(ARRAY[1, 9, 10, 27, 127, 133, 155, 8234, 8237, 8294, 8297]) c;
SELECT lives_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(jsonb_build_object('name', '李' || chr(8206) || '四·Ñ')), 't')$$,
                'ordinary text (a middle dot, an accented letter, U+200E) is accepted');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"licence_number": "X2"}'), repeat('a', 201))$$,
                 '22001', 'actor is 201 characters long, over the limit of 200', 'an actor over 200 characters is refused');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"licence_number": "X3"}'), 'clerk' || chr(8238))$$,
                 '22021', NULL, 'an actor with U+202E is refused');
SELECT throws_ok($$SELECT elicense.render_licence_ofd(template, '{"name":"李四","gender":"男","id_no":"350102199001011238","category":"建筑电工",
                     "cert_no":"闽A042023000123","first_issue_date":"2023-05-06","valid_period":"2023-05-06至2025-05-05","issuer":"福建省住房和城乡建设厅"}',
                     '\x89504e470d0a1a0a', false, '', '', '00112233445566778899aabbccddeeff', d)
                     FROM elicense.ofd_template, unnest(ARRAY['2025-13-45']) d WHERE type_code = '11100000000013338W032'$$,
                 '22023', 'creation_date is not a date YYYY-MM-DD', 'creation_date 2025-13-45 is refused');
SELECT lives_ok($$SELECT elicense.render_licence_ofd(template, '{"name":"李四","gender":"男","id_no":"350102199001011238","category":"建筑电工",
                     "cert_no":"闽A042023000123","first_issue_date":"2023-05-06","valid_period":"2023-05-06至2025-05-05","issuer":"福建省住房和城乡建设厅"}',
                     '\x89504e470d0a1a0a', false, '', '', '00112233445566778899aabbccddeeff', '2024-02-29')
                     FROM elicense.ofd_template WHERE type_code = '11100000000013338W032'$$,
                'creation_date 2024-02-29 (a leap day) is accepted');
SELECT is(elicense.pem_problem('certificate', 'not a cert'), 'is not a PEM X.509 certificate', 'pem_problem: not a cert');
\ir ../fixtures/sharing_seal.sql
SELECT throws_ok($$SELECT elicense.load_seal('11350000003591037R', '', 'x', 'seal', 'key', '{}',
                   ('-----BEGIN ENCRYPTED PRIVATE KEY-----' || chr(10) || 'MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI' || chr(10)
                           || '-----END ENCRYPTED PRIVATE KEY-----')::elicense.secret, (SELECT certificate_pem FROM elicense.seal LIMIT 1), '\x00')$$,
                 '22023', 'the seal''s private key is an encrypted PEM private key, not an unencrypted PEM private key',
                 'an encrypted seal key is refused, naming the column, not the value');
SELECT is((SELECT count(*) FROM elicense.seal), 1::bigint, 'a real key and certificate are accepted');
SELECT throws_ok($$UPDATE elicense.seal SET certificate_pem = 'not a cert'$$,
                 '22023', 'elicense.seal.certificate_pem is not a PEM X.509 certificate',
                 '''not a cert'' as the seal certificate is refused');
SELECT * FROM finish();
ROLLBACK;
