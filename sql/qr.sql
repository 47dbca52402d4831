-- QR code: DES vectors, QR URL built from the configured platform key and
-- decrypted back, code assignment decryption in both schemes, the PNG, the
-- configuration checks, and that errors never show key material.
CREATE EXTENSION elicense;

-- A 512-bit test key pair (openssl genpkey), used both as the platform key
-- and as the province key, so that elicense.decrypt_assignment can decrypt
-- our own URLs: ID and k are made exactly as an assignment's encryCertid
-- and encryKey.
CREATE TEMP TABLE test_key (name text PRIMARY KEY, pem text);
INSERT INTO test_key VALUES ('private', $pem$-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAtKSf12S2wGH8L4qH
9PaApt22oMcGazcwF7KFCGOcJBj7xLnfSoo7OH6vZGp5qdrKDZ1LiICKoaMmT1kl
NM9OJQIDAQABAkAKsR/A2PY0JtiNW862QgzVU5QmqgEIQYj4LhnPqE2qmTJ7oyWZ
4sJispXmPVicyT15Str18c4vKn1ByTl5Wr8BAiEA38XLGW0WNK2d717sEfdOEdsX
TzkwCWuoVEyau8p96OUCIQDOqLMplVyDT79AIco+o5QHKO6jn7aonNLdWAucQqO8
QQIgK7f1Ci6p2/jfllixPoFWm152m1/M5spFxNKCmJXjK5ECIQC//JGVTCEKDIgM
OFf/IVBf5nLsp2+17Rsobqc6n94lAQIhALbd8fOSMN03tSGYeW/2ZfJ3N1lrIEz4
fvCnDfloHTAw
-----END PRIVATE KEY-----
$pem$), ('public', $pem$-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALSkn9dktsBh/C+Kh/T2gKbdtqDHBms3
MBeyhQhjnCQY+8S530qKOzh+r2Rqeanayg2dS4iAiqGjJk9ZJTTPTiUCAwEAAQ==
-----END PUBLIC KEY-----
$pem$),
-- 256-bit public key crafted with openssl asn1parse -genconf (OpenSSL 3
-- will not generate one).
('public256', $pem$-----BEGIN RSA PUBLIC KEY-----
MCgCIQDHo/HZ4mtIBaHzyW0LLoT3xdGjueYPKEfTwbWp5/INYwIDAQAB
-----END RSA PUBLIC KEY-----
$pem$);

-- PLATFORM.md DES vectors, both directions; lower-case hex is read too.
SELECT elicense.des_encrypt_hex('202232000001000001', '12345678') AS key_12345678,
       elicense.des_encrypt_hex('202232000001000001', '86037418') AS key_86037418;
SELECT elicense.des_decrypt_hex('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', '12345678') AS plain,
       elicense.des_decrypt_hex(lower('34E1DB6526F03BCF94A15AAA6984819F92F7500ADF71863C'), '86037418') AS plain_lower;

-- Our DES runs in a private OpenSSL context: the server's default context,
-- which pgcrypto uses, still has no DES after the calls above.
CREATE EXTENSION pgcrypto;
SELECT code, message FROM regress.error_of($$SELECT encrypt(convert_to('202232000001000001', 'UTF8'), '12345678'::bytea, 'des')$$);
DROP EXTENSION pgcrypto;

-- A fresh random key per call: 8 characters of [0-9A-Za-z], 48 hex digits
-- for an 18-digit code, and the ID decrypts under its key.
SELECT length(id) AS id_length, id ~ '^[0-9A-F]{48}$' AS upper_hex, des_key ~ '^[0-9A-Za-z]{8}$' AS key_alphabet,
       elicense.des_decrypt_hex(id, des_key) AS decrypted
FROM elicense.encrypt_qr_id('202232000001000001');
SELECT count(DISTINCT (elicense.encrypt_qr_id('202232000001000001')).des_key) AS distinct_keys_of_50
FROM generate_series(1, 50);

-- Configuration: the platform public key (Sichuan) and the province secrets.
INSERT INTO elicense.platform_key (province, public_key_pem) SELECT '510000', pem FROM test_key WHERE name = 'public';
-- (elicense-admin load-province-secret binds the secret; these are test keys.)
SELECT elicense.load_province_secret('510000', 'rsa-des', pem::elicense.secret) FROM test_key WHERE name = 'private';
SELECT elicense.load_province_secret('350000', 'des', '12345678');
SELECT province, elicense.rsa_public_key_bits(public_key_pem) AS bits, k_format, base_url, percent_encode_k
FROM elicense.platform_key;
SELECT province, assignment_scheme, elicense._secret_key_id(secret_box) = elicense.master_key_id() AS encrypted,
       position(convert_to('PRIVATE', 'UTF8') IN secret_box) = 0 AND position(convert_to('12345678', 'UTF8') IN secret_box) = 0 AS no_clear_text
FROM elicense.province_secret ORDER BY province;

-- The URL of the seed's shape, k raw (88 base64 characters), fresh every
-- time, and ID/k decrypt back to the code.
CREATE TEMP TABLE made AS
SELECT n, elicense.qr_url('2022510000010000' || lpad(n::text, 2, '0'), '11100000000013338W050', '510000') AS url
FROM generate_series(1, 5) AS n;
SELECT n, made.url ~ '^https://zlaq\.mohurd\.gov\.cn/fwmh/middlepage\.html\?ID=[0-9A-F]{48}&k=[A-Za-z0-9+/]{86}==&certype=11100000000013338W050&province=510000$' AS seed_shape,
       d.kind, d.code
FROM made, LATERAL elicense.decrypt_assignment(substring(made.url FROM 'ID=([^&]*)'), substring(made.url FROM '&k=([^&]*)'), '510000') AS d
ORDER BY n;
SELECT count(DISTINCT elicense.qr_url('202251000001000001', '11100000000013338W032', '510000')) AS distinct_urls_of_20
FROM generate_series(1, 20);

-- Options: k in hex (128 digits for 512 bits) and percent-encoding.
UPDATE elicense.platform_key SET k_format = 'hex', base_url = 'http://localhost:8080/qr';
SELECT url ~ '^http://localhost:8080/qr\?ID=[0-9A-F]{48}&k=[0-9A-F]{128}&certype=11100000000013338W032&province=510000$' AS hex_shape,
       (elicense._decrypt_assignment(substring(url FROM 'ID=([^&]*)'), encode(decode(substring(url FROM '&k=([^&]*)'), 'hex'), 'base64'),
                                    'rsa-des', (SELECT secret_box FROM elicense.province_secret WHERE province = '510000'))).code AS decrypted
FROM (SELECT elicense.qr_url('202251000001000002', '11100000000013338W032', '510000') AS url) AS t;
UPDATE elicense.platform_key SET k_format = 'base64', percent_encode_k = true, base_url = DEFAULT;
SELECT url ~ '^https://zlaq\.mohurd\.gov\.cn/fwmh/middlepage\.html\?ID=[0-9A-F]{48}&k=([A-Za-z0-9]|%2B|%2F)+%3D%3D&certype=11100000000013338W050&province=510000$' AS percent_shape,
       (elicense.decrypt_assignment(substring(url FROM 'ID=([^&]*)'),
                                    replace(replace(replace(substring(url FROM '&k=([^&]*)'), '%2B', '+'), '%2F', '/'), '%3D', '='),
                                    '510000')).code AS decrypted
FROM (SELECT elicense.qr_url('202251000001000003', '11100000000013338W050', '510000') AS url) AS t;
UPDATE elicense.platform_key SET percent_encode_k = false;

-- Scheme des (Fujian): the vector decrypts; encryKey is not needed. An
-- answer that decrypts to a finished QR URL comes back unchanged, with its
-- ID as the code.
SELECT * FROM elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', NULL, '350000');
SELECT * FROM elicense.decrypt_assignment(elicense.des_encrypt_hex(
    'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=8B9704DDABA730072E5546FD5B8F61E4890FE52BAB2E71B8&k=XX8U+FFI3yRWEZ0UQ1qJxS+gsdth779BypvXY5MKfNRELdegoHfCoymJUNG4Q/rTco69eBZ1TYEK+rCNrCbVAg==&certype=11100000000013338W050&province=510000',
    '12345678'), NULL, '350000');

-- The PNG: signature, IHDR of a square 1-bit grayscale image whose side is
-- (modules + 8) * module_px, deterministic.
SELECT substring(png FROM 1 FOR 8) = '\x89504e470d0a1a0a'::bytea AS png_signature,
       substring(png FROM 13 FOR 4) = 'IHDR'::bytea AS ihdr,
       get_byte(png, 24) AS bit_depth, get_byte(png, 25) AS colour_type,
       (get_byte(png, 18) << 8 | get_byte(png, 19)) AS width,
       (get_byte(png, 22) << 8 | get_byte(png, 23)) AS height,
       (get_byte(png, 18) << 8 | get_byte(png, 19)) % px = 0 AS whole_modules,
       png = elicense.qr_png(content, ec, px) AS deterministic
FROM (VALUES ('L', 1), ('M', 4), ('Q', 4), ('H', 8)) AS o(ec, px),
     LATERAL (SELECT 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=8B9704DDABA730072E5546FD5B8F61E4890FE52BAB2E71B8&k=XX8U+FFI3yRWEZ0UQ1qJxS+gsdth779BypvXY5MKfNRELdegoHfCoymJUNG4Q/rTco69eBZ1TYEK+rCNrCbVAg==&certype=11100000000013338W050&province=510000'::text AS content) AS c,
     LATERAL elicense.qr_png(content, ec, px) AS png;
SELECT length(elicense.qr_png('202232000001000001')) > 0 AS default_options;

-- Errors: a stable SQLSTATE, the field named, a hint, and never the key
-- ('12345678', 'MII', 'MFw', 'MCg' are the starts of the keys above).
\x on
SELECT * FROM regress.error_of($$SELECT elicense.qr_url('202232000001000001', '11100000000013338W011', '510000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.qr_url('202232000001000001', '11100000000013338w050', '510000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.qr_url('202232000001000001', '11100000000013338W050', '510100')$$);
SELECT * FROM regress.error_of($$SELECT elicense.qr_url('202232000001000001', '11100000000013338W050', '440000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.qr_url('2022-32', '11100000000013338W050', '510000')$$);
SELECT * FROM regress.error_of($$INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('440000', 'MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALSkn9dktsBh')$$);
SELECT * FROM regress.error_of($$INSERT INTO elicense.platform_key (province, public_key_pem) SELECT '440000', pem FROM test_key WHERE name = 'public256'$$);
SELECT * FROM regress.error_of($$INSERT INTO elicense.platform_key (province, public_key_pem) SELECT '440000', pem FROM test_key WHERE name = 'private'$$);
SELECT * FROM regress.error_of($$INSERT INTO elicense.platform_key (province, public_key_pem, k_format) SELECT '440000', pem, 'HEX' FROM test_key WHERE name = 'public'$$);
SELECT * FROM regress.error_of($$INSERT INTO elicense.platform_key (province, public_key_pem, base_url) SELECT '440000', pem, 'https://x.cn/p?a=1' FROM test_key WHERE name = 'public'$$);
SELECT * FROM regress.error_of($$SELECT elicense.load_province_secret('440000', 'des', '1234567')$$);
SELECT * FROM regress.error_of($$SELECT elicense.load_province_secret('440000', 'rsa-des', 'MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAtKSf12S2wGH8L4qH')$$);
SELECT * FROM regress.error_of($$SELECT elicense.load_province_secret(NULL, 'rsa-des', pem::elicense.secret) FROM test_key WHERE name = 'private'$$);
SELECT * FROM regress.error_of($$SELECT elicense.load_province_secret('440000', 'aes', '12345678')$$);
SELECT * FROM regress.error_of($$UPDATE elicense.province_secret SET secret_box = convert_to('12345678', 'UTF8') WHERE province = '350000'$$);
SELECT * FROM regress.error_of($$INSERT INTO elicense.province_secret (province, assignment_scheme, secret_box) VALUES ('440000', 'des', NULL)$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment('5353694DE19F08G4', NULL, '350000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment('5353694DE19F084', NULL, '350000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment(elicense.des_encrypt_hex('202232000001000001', '87654321'), NULL, '350000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment(elicense.des_encrypt_hex('not a code!', '12345678'), NULL, '350000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', 'not*base64', '510000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', 'AAAA', '510000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', NULL, '510000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', NULL, '440000')$$);
SELECT * FROM regress.error_of($$SELECT elicense.des_encrypt_hex('202232000001000001', '1234567')$$);
SELECT * FROM regress.error_of($$SELECT elicense.qr_png('x', 'X')$$);
SELECT * FROM regress.error_of($$SELECT elicense.qr_png('x', 'M', 0)$$);
SELECT * FROM regress.error_of($$SELECT elicense.qr_png(repeat('a', 3000), 'H', 1)$$);
\x off

-- Privileges: only elicense_admin reads or writes the keys; the analyst
-- gets neither the tables nor the functions that read them; the worker
-- neither (its delivery functions build URLs and decrypt as their owner).
SELECT r AS role,
       has_table_privilege(r, 'elicense.platform_key', 'SELECT') AS platform_key,
       has_table_privilege(r, 'elicense.province_secret', 'SELECT') AS province_secret,
       has_function_privilege(r, 'elicense.qr_url(text, text, text)', 'EXECUTE') AS qr_url,
       has_function_privilege(r, 'elicense.decrypt_assignment(text, text, text)', 'EXECUTE') AS decrypt_assignment,
       has_function_privilege(r, 'elicense._decrypt_assignment(text, text, text, bytea)', 'EXECUTE') AS internal_decrypt,
       has_function_privilege(r, 'elicense.load_province_secret(elicense.province_code, text, elicense.secret)', 'EXECUTE') AS load_secret,
       has_function_privilege(r, 'elicense.des_encrypt_hex(text, text)', 'EXECUTE') AS des_encrypt_hex
FROM unnest(ARRAY['elicense_admin', 'elicense_issuer', 'elicense_worker', 'elicense_analyst', 'public']) AS r;
SET ROLE elicense_analyst;
SELECT secret_box FROM elicense.province_secret;
SELECT public_key_pem FROM elicense.platform_key;
RESET ROLE;
SELECT code FROM elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', NULL, '350000');

DROP EXTENSION elicense;
