-- elicense install script, part 00. `make` joins extension/sql/parts/*.sql in
-- name order into elicense--<version>.sql. Each part holds one subject. A
-- released version's script is never edited (extension/sql/released/): a
-- change to an object of version A also goes into extension/sql/updates/A--B.sql,
-- and a new part into the Makefile's PARTS_ADDED_IN_B.
\echo Use "CREATE EXTENSION elicense" to load this file. \quit

-- The extension owns its schema (no IF NOT EXISTS): DROP EXTENSION removes it.
CREATE SCHEMA elicense;
COMMENT ON SCHEMA elicense IS 'Electronic licences (电子证照) for the national construction quality and safety platform';
GRANT USAGE ON SCHEMA elicense TO PUBLIC;
--------------------------------------------------------------------------------
-- Roles (cluster-wide, so created only if missing; never dropped by DROP
-- EXTENSION). Members get rights through these, never through PUBLIC:
--   elicense_admin    configuration: keys, endpoints, licence-type catalogue
--   elicense_issuer   approval systems: issue, change, revoke, cancel
--   elicense_worker   the sync worker: lease outbox rows, record results
--   elicense_analyst  read-only views; no secrets, no private keys
--   elicense_consumer department applications using licences: the sharing
--                     functions of 70_sharing.sql only, no table access
--   elicense_preview  the preview server: preview_open and preview_ofd only
--------------------------------------------------------------------------------
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['elicense_admin', 'elicense_issuer', 'elicense_worker', 'elicense_analyst', 'elicense_consumer',
                           'elicense_preview'] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$roles$;
--------------------------------------------------------------------------------
-- Licence identifier (电子证照标识, GB/T 36904-2018)
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.build_identifier(type_code text, issuer text, sequence text, version integer)
RETURNS text
AS 'MODULE_PATHNAME', 'elicense_build_identifier'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.build_identifier(text, text, text, integer) IS
'Licence identifier 1.2.156.3005.2.<type>.<issuer USCC>.<sequence>.<version>.<check> with its ISO/IEC 7064 MOD 37,36 check character';

CREATE FUNCTION elicense.parse_identifier(identifier text,
    OUT type_code text, OUT issuer text, OUT sequence text, OUT version integer, OUT check_character text)
RETURNS record
AS 'MODULE_PATHNAME', 'elicense_parse_identifier'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.parse_identifier(text) IS
'Parts of a licence identifier; raises 22P02 naming what is wrong if any part or the check character is';
--------------------------------------------------------------------------------
-- Validators: is_valid_<kind> (boolean, never raises), <kind>_problem (why
-- not, NULL when valid), check_<kind> (true or a 22P02 error naming the field)
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.is_valid_identifier(text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_is_valid_identifier' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.identifier_problem(text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_identifier_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.check_identifier(value text, field text DEFAULT 'identifier') RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_identifier' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION elicense.is_valid_uscc(text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_is_valid_uscc' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.uscc_problem(text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_uscc_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.check_uscc(value text, field text DEFAULT 'uscc') RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_uscc' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION elicense.is_valid_resident_id(text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_is_valid_resident_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.resident_id_problem(text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_resident_id_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.check_resident_id(value text, field text DEFAULT 'resident_id') RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_resident_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.resident_id_birth_date(text) RETURNS date
AS 'MODULE_PATHNAME', 'elicense_resident_id_birth_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION elicense.is_valid_division(text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_is_valid_division' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.division_problem(text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_division_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.check_division(value text, field text DEFAULT 'division_code') RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_division' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION elicense.is_valid_province_code(text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_is_valid_province_code' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.province_code_problem(text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_province_code_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.check_province_code(value text, field text DEFAULT 'province_code') RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_province_code' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION elicense.is_valid_identifier(text) IS 'True if the text is a licence identifier (GB/T 36904) with a right check character';
COMMENT ON FUNCTION elicense.identifier_problem(text) IS 'Why the text is not a valid licence identifier; NULL if it is';
COMMENT ON FUNCTION elicense.check_identifier(text, text) IS 'True, or raises 22P02 saying why the licence identifier is invalid';
COMMENT ON FUNCTION elicense.is_valid_uscc(text) IS 'True if the text is a unified social credit code (GB 32100-2015) with right check characters';
COMMENT ON FUNCTION elicense.uscc_problem(text) IS 'Why the text is not a valid USCC; NULL if it is';
COMMENT ON FUNCTION elicense.check_uscc(text, text) IS 'True, or raises 22P02 naming the field and value and saying why the USCC is invalid';
COMMENT ON FUNCTION elicense.is_valid_resident_id(text) IS 'True if the text is a resident identity number (GB 11643-1999) with a real birth date and right check character';
COMMENT ON FUNCTION elicense.resident_id_problem(text) IS 'Why the text is not a valid resident identity number; NULL if it is';
COMMENT ON FUNCTION elicense.check_resident_id(text, text) IS 'True, or raises 22P02 naming the field and value and saying why the ID number is invalid';
COMMENT ON FUNCTION elicense.resident_id_birth_date(text) IS 'Birth date in a valid resident identity number; NULL if the number is invalid';
COMMENT ON FUNCTION elicense.is_valid_division(text) IS 'True if the text is a six-digit administrative division code (GB/T 2260) under a known province';
COMMENT ON FUNCTION elicense.division_problem(text) IS 'Why the text is not a valid division code; NULL if it is';
COMMENT ON FUNCTION elicense.check_division(text, text) IS 'True, or raises 22P02 naming the field and value and saying why the division code is invalid';
COMMENT ON FUNCTION elicense.is_valid_province_code(text) IS 'True if the text is a province-level division code (ends in 0000)';
COMMENT ON FUNCTION elicense.province_code_problem(text) IS 'Why the text is not a province-level division code; NULL if it is';
COMMENT ON FUNCTION elicense.check_province_code(text, text) IS 'True, or raises 22P02 naming the field and value and saying why the province code is invalid';

--------------------------------------------------------------------------------
-- Domains: a column of one of these types rejects bad values with the same
-- clear 22P02 error as check_<kind>.
--------------------------------------------------------------------------------

CREATE DOMAIN elicense.licence_identifier AS text
    CONSTRAINT licence_identifier_valid CHECK (elicense.check_identifier(VALUE, 'licence_identifier'));
CREATE DOMAIN elicense.uscc AS text
    CONSTRAINT uscc_valid CHECK (elicense.check_uscc(VALUE, 'uscc'));
CREATE DOMAIN elicense.resident_id AS text
    CONSTRAINT resident_id_valid CHECK (elicense.check_resident_id(VALUE, 'resident_id'));
CREATE DOMAIN elicense.division_code AS text
    CONSTRAINT division_code_valid CHECK (elicense.check_division(VALUE, 'division_code'));
CREATE DOMAIN elicense.province_code AS text
    CONSTRAINT province_code_valid CHECK (elicense.check_province_code(VALUE, 'province_code'));

COMMENT ON DOMAIN elicense.licence_identifier IS 'Licence identifier (电子证照标识, GB/T 36904-2018)';
COMMENT ON DOMAIN elicense.uscc IS 'Unified social credit code (统一社会信用代码, GB 32100-2015)';
COMMENT ON DOMAIN elicense.resident_id IS 'Resident identity number (公民身份号码, GB 11643-1999)';
COMMENT ON DOMAIN elicense.division_code IS 'Administrative division code (行政区划代码, GB/T 2260)';
COMMENT ON DOMAIN elicense.province_code IS 'Province-level administrative division code (GB/T 2260, ends in 0000)';
--------------------------------------------------------------------------------
-- Licence QR code (seed 000 §6.8, PLATFORM.md "Crypto"):
--   <base>?ID=<UPPERHEX(DES(code, key8))>&k=<RSA(platform key, key8)>&certype=..&province=..
-- and decryption of the platform's code assignments (赋码).
--
-- Keys live in two admin-only tables and are read by SECURITY DEFINER
-- functions, so no normal call passes a key as an argument (log_statement
-- would print it). elicense_analyst gets nothing here.
--------------------------------------------------------------------------------

-- Validators of the licence types that carry a platform QR code.
CREATE FUNCTION elicense.is_valid_licence_type(text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_is_valid_licence_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.licence_type_problem(text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_licence_type_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.check_licence_type(value text, field text DEFAULT 'certype') RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_licence_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.is_valid_licence_type(text) IS
'True if the text is a licence type code with a platform QR code: 11100000000013338W050 or 11100000000013338W032';
COMMENT ON FUNCTION elicense.licence_type_problem(text) IS 'Why the text is not such a licence type code; NULL if it is';
COMMENT ON FUNCTION elicense.check_licence_type(text, text) IS 'True, or raises 22P02 naming the field and value';

-- Checks used by the configuration tables; they raise with a clear message
-- that never contains the key, so a bad row never reaches PostgreSQL's
-- "Failing row contains (...)" detail.
CREATE FUNCTION elicense.rsa_public_key_bits(public_key_pem text) RETURNS integer
AS 'MODULE_PATHNAME', 'elicense_rsa_public_key_bits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.rsa_public_key_bits(text) IS
'Size of an RSA public key in PEM (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY); raises 22023 for anything else or below 512 bits';

CREATE FUNCTION elicense.check_platform_key(public_key_pem text, k_format text, base_url text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_platform_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.check_platform_key(text, text, text) IS
'True, or raises 22023 saying which of the public key (PEM RSA >= 512 bits), k_format (base64|hex) or base URL is wrong';

CREATE FUNCTION elicense.verify_province_secret(assignment_scheme text, private_key_pem text, des_key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_verify_province_secret' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION elicense.verify_province_secret(text, text, text) IS
'True, or raises saying what is wrong (never showing the key): rsa-des needs a PEM RSA private key >= 512 bits, des an 8-character key';

--------------------------------------------------------------------------------
-- Configuration
--------------------------------------------------------------------------------

CREATE TABLE elicense.platform_key (
    province elicense.province_code PRIMARY KEY,
    public_key_pem text NOT NULL,
    k_format text NOT NULL DEFAULT 'base64',
    base_url text NOT NULL DEFAULT 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html',
    -- The platform's own URLs carry k raw (+ / = unescaped); PLATFORM.md asks
    -- to match them byte for byte, so raw is the default.
    percent_encode_k boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by name NOT NULL DEFAULT CURRENT_USER,
    CONSTRAINT platform_key_valid CHECK (elicense.check_platform_key(public_key_pem, k_format, base_url))
);
COMMENT ON TABLE elicense.platform_key IS
'Per province: the national platform''s RSA public key that encrypts k of the QR URL, and how the URL is written';
COMMENT ON COLUMN elicense.platform_key.k_format IS 'base64 (default, as the platform''s own URLs) or hex (upper-case)';
COMMENT ON COLUMN elicense.platform_key.percent_encode_k IS
'false (default): query values raw, byte for byte as the platform writes them; true: percent-encoded (RFC 3986)';

CREATE FUNCTION elicense.platform_key_touch() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.updated_at := pg_catalog.now();
  NEW.updated_by := CURRENT_USER;
  RETURN NEW;
END
$$;
CREATE TRIGGER platform_key_touch BEFORE UPDATE ON elicense.platform_key
    FOR EACH ROW EXECUTE FUNCTION elicense.platform_key_touch();
COMMENT ON FUNCTION elicense.platform_key_touch() IS 'Trigger: records when and by whom a platform key row changed';
REVOKE ALL ON FUNCTION elicense.platform_key_touch() FROM PUBLIC;

CREATE TABLE elicense.province_secret (
    province elicense.province_code PRIMARY KEY,
    assignment_scheme text DEFAULT 'rsa-des',
    private_key_pem text,
    des_key text,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE elicense.province_secret IS
'Per province: the secret that decrypts code assignments (赋码). Admin only; read by elicense.decrypt_assignment';
COMMENT ON COLUMN elicense.province_secret.assignment_scheme IS
'rsa-des (PLATFORM.md: RSA-decrypt encryKey with private_key_pem, then DES) or des (DES with des_key, encryKey unused)';
COMMENT ON COLUMN elicense.province_secret.private_key_pem IS 'Province RSA private key, PEM PKCS#8 or PKCS#1, unencrypted';
COMMENT ON COLUMN elicense.province_secret.des_key IS 'Eight-character DES key agreed with the platform (scheme des)';

-- Validates a secret row in a BEFORE trigger, which runs before the
-- table's own NOT NULL and CHECK constraints: their errors print the whole
-- row ("Failing row contains (...)"), key included.
CREATE FUNCTION elicense.province_secret_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.province IS NULL THEN
    RAISE EXCEPTION 'column "province" of elicense.province_secret is NULL'
      USING ERRCODE = 'not_null_violation', HINT = 'Give the six-digit province code, e.g. 350000.';
  END IF;
  PERFORM elicense.verify_province_secret(NEW.assignment_scheme, NEW.private_key_pem, NEW.des_key);
  NEW.updated_at := pg_catalog.now();
  NEW.updated_by := CURRENT_USER;
  RETURN NEW;
END
$$;
CREATE TRIGGER province_secret_check BEFORE INSERT OR UPDATE ON elicense.province_secret
    FOR EACH ROW EXECUTE FUNCTION elicense.province_secret_check();
COMMENT ON FUNCTION elicense.province_secret_check() IS
'Trigger: validates a province_secret row with errors that never show the key';

REVOKE ALL ON TABLE elicense.platform_key, elicense.province_secret FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE elicense.platform_key, elicense.province_secret TO elicense_admin;
REVOKE ALL ON FUNCTION elicense.province_secret_check() FROM PUBLIC;

-- pg_dump keeps the configuration (extension tables are not dumped otherwise).
SELECT pg_catalog.pg_extension_config_dump('elicense.platform_key', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.province_secret', '');

--------------------------------------------------------------------------------
-- DES with an explicit key: for the PLATFORM.md vectors and tests only
-- (a key in a literal is visible to log_statement). Admin only.
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.des_encrypt_hex(plain text, des_key text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_des_encrypt_hex' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.des_decrypt_hex(cipher_hex text, des_key text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_des_decrypt_hex' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.encrypt_qr_id(code text, OUT id text, OUT des_key text) RETURNS record
AS 'MODULE_PATHNAME', 'elicense_encrypt_qr_id' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION elicense.des_encrypt_hex(text, text), elicense.des_decrypt_hex(text, text),
    elicense.encrypt_qr_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.des_encrypt_hex(text, text), elicense.des_decrypt_hex(text, text),
    elicense.encrypt_qr_id(text) TO elicense_admin;
COMMENT ON FUNCTION elicense.des_encrypt_hex(text, text) IS
'UPPERHEX(DES-ECB-PKCS5(plain, 8-character key)); for vectors and tests, since the key is an argument';
COMMENT ON FUNCTION elicense.des_decrypt_hex(text, text) IS 'Inverse of des_encrypt_hex; for vectors and tests';
COMMENT ON FUNCTION elicense.encrypt_qr_id(text) IS
'The ID of a QR URL for an assigned code under a fresh random 8-character key, and that key; for tests';

--------------------------------------------------------------------------------
-- QR URL and image
--------------------------------------------------------------------------------

-- Internal: the URL with the key and options as arguments. Only the
-- SECURITY DEFINER wrapper below calls it.
CREATE FUNCTION elicense._qr_url(code text, certype text, province text, public_key_pem text, k_format text,
    base_url text, percent_encode_k boolean) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_qr_url_with_key' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION elicense._qr_url(text, text, text, text, text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION elicense._qr_url(text, text, text, text, text, text, boolean) IS
'Internal: QR URL with explicit platform key and options; use elicense.qr_url';

CREATE FUNCTION elicense.qr_url(code text, certype text, province text) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cfg elicense.platform_key;
BEGIN
  -- Validate before the lookup, so a bad value is named as such rather
  -- than reported as a missing key.
  PERFORM elicense.check_licence_type(certype, 'certype');
  PERFORM elicense.check_province_code(province, 'province');
  SELECT * INTO cfg FROM elicense.platform_key AS p WHERE p.province OPERATOR(pg_catalog.=) qr_url.province;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no platform public key is configured for province %', province
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'An elicense_admin inserts the national platform''s RSA public key into elicense.platform_key.';
  END IF;
  RETURN elicense._qr_url(code, certype, province, cfg.public_key_pem, cfg.k_format, cfg.base_url,
                          cfg.percent_encode_k);
END
$$;
REVOKE ALL ON FUNCTION elicense.qr_url(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.qr_url(text, text, text) TO elicense_issuer, elicense_worker, elicense_admin;
COMMENT ON FUNCTION elicense.qr_url(text, text, text) IS
'QR URL of an assigned code: ID = DES under a fresh random key, k = that key under the province''s platform public key (elicense.platform_key)';

CREATE FUNCTION elicense.qr_png(content text, ec_level text DEFAULT 'M', module_px integer DEFAULT 4) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_qr_png' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.qr_png(text, text, integer) IS
'QR code of the text (8-bit mode) as a 1-bit black-and-white PNG: error correction L/M/Q/H, module_px pixels per module (1-64), 4-module quiet zone';

--------------------------------------------------------------------------------
-- Code assignment (赋码) answers
--------------------------------------------------------------------------------

CREATE FUNCTION elicense._decrypt_assignment(encry_certid text, encry_key text, assignment_scheme text,
    private_key_pem text, des_key text, OUT kind text, OUT code text, OUT url text) RETURNS record
AS 'MODULE_PATHNAME', 'elicense_decrypt_assignment_with_key' LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION elicense._decrypt_assignment(text, text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._decrypt_assignment(text, text, text, text, text) IS
'Internal: decrypts an assignment with an explicit secret; use elicense.decrypt_assignment';

CREATE FUNCTION elicense.decrypt_assignment(encry_certid text, encry_key text, province text,
    OUT kind text, OUT code text, OUT url text)
RETURNS record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s elicense.province_secret;
BEGIN
  IF encry_certid IS NULL OR province IS NULL THEN
    RAISE EXCEPTION 'encryCertid and province must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM elicense.check_province_code(province, 'province');
  SELECT * INTO s FROM elicense.province_secret AS p
  WHERE p.province OPERATOR(pg_catalog.=) decrypt_assignment.province;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no assignment secret is configured for province %', province
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'An elicense_admin inserts the province''s private key or DES key into elicense.province_secret.';
  END IF;
  IF s.assignment_scheme OPERATOR(pg_catalog.=) 'rsa-des' AND encry_key IS NULL THEN
    RAISE EXCEPTION 'encryKey is NULL but province % decrypts assignments with rsa-des', province
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the encryKey of the platform''s answer.';
  END IF;
  SELECT d.kind, d.code, d.url INTO kind, code, url
  FROM elicense._decrypt_assignment(encry_certid, encry_key, s.assignment_scheme, s.private_key_pem, s.des_key) AS d;
END
$$;
REVOKE ALL ON FUNCTION elicense.decrypt_assignment(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.decrypt_assignment(text, text, text) TO elicense_worker;
COMMENT ON FUNCTION elicense.decrypt_assignment(text, text, text) IS
'Decrypts a code assignment (encryCertid, encryKey) with the province''s secret (elicense.province_secret). kind = code: code is the bare assigned code; kind = url: the platform sent a finished QR URL, returned in url unchanged (put it in the QR image as it is), and code is its ID parameter';
--------------------------------------------------------------------------------
-- Licence-type catalogue: which licence types exist and which information
-- items (信息项) each carries. Data-driven: a DBA (elicense_admin) adds types
-- and items with INSERT; issuing reads the catalogue on every call.
--
-- Items whose metadata_column is set fill that metadata column of
-- elicense.certificate (licence number, holder, authority, dates); all other
-- items go into certificate.business_data (jsonb).
--
-- The item lists of the two shipped types are DERIVED from the seeds and from
-- public descriptions of C0292-2022 / C0304-2022, not copied from the
-- standards' text (see README-certificates.md).
--------------------------------------------------------------------------------

CREATE TABLE elicense.licence_type (
    type_code         text PRIMARY KEY
                      CONSTRAINT licence_type_code_format CHECK (type_code OPERATOR(pg_catalog.~) '^[0-9A-HJ-NP-RTUW-Y]{18}[0-9]{3}$'),
    name              text NOT NULL CONSTRAINT licence_type_name_present CHECK (name OPERATOR(pg_catalog.<>) ''),
    standard          text,
    holder_id_type    text NOT NULL CONSTRAINT licence_type_holder_id_type CHECK (holder_id_type OPERATOR(pg_catalog.=) ANY (ARRAY['USCC', 'RESIDENT_ID'])),
    -- Every certificate number of this type must match number_pattern.
    number_pattern    text NOT NULL,
    number_example    text NOT NULL,
    -- When set and the number matches it, the identifier's sequence is the
    -- concatenation of its capture groups (MOHURD: year + 6 digits); when
    -- NULL or not matching, the sequence comes from elicense.sequence_counter.
    sequence_pattern  text,
    min_holder_age    integer CONSTRAINT licence_type_min_holder_age CHECK (min_holder_age BETWEEN 0 AND 100),
    shipped           boolean NOT NULL DEFAULT false,
    CONSTRAINT licence_type_example_matches CHECK (number_example OPERATOR(pg_catalog.~) number_pattern)
);
COMMENT ON TABLE elicense.licence_type IS
'Licence types (证照类型) that can be issued; a DBA may add rows. Rows with shipped = true come with the extension and are not dumped by pg_dump';
COMMENT ON COLUMN elicense.licence_type.type_code IS 'Licence type code (证照类型代码): defining authority USCC + 3 digits';
COMMENT ON COLUMN elicense.licence_type.holder_id_type IS 'USCC for licences held by organisations, RESIDENT_ID for licences held by people';
COMMENT ON COLUMN elicense.licence_type.number_pattern IS 'POSIX regular expression every certificate number (证书编号) of the type must match';
COMMENT ON COLUMN elicense.licence_type.number_example IS 'A certificate number that matches number_pattern, shown in error hints';
COMMENT ON COLUMN elicense.licence_type.sequence_pattern IS 'If set and matching the number, the identifier sequence is the concatenation of its capture groups; otherwise a gap-free counter per (type, authority)';
COMMENT ON COLUMN elicense.licence_type.min_holder_age IS 'Minimum age in years of a person holder on the issue date (from the resident ID birth date); NULL: no check';
COMMENT ON COLUMN elicense.licence_type.shipped IS 'True for rows installed by the extension (left out of pg_dump, recreated by CREATE EXTENSION)';

CREATE TABLE elicense.licence_item (
    type_code         text NOT NULL REFERENCES elicense.licence_type ON UPDATE CASCADE ON DELETE CASCADE,
    item              text NOT NULL CONSTRAINT licence_item_name_format CHECK (item OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    label             text NOT NULL CONSTRAINT licence_item_label_present CHECK (label OPERATOR(pg_catalog.<>) ''),
    data_type         text NOT NULL CONSTRAINT licence_item_data_type CHECK (data_type OPERATOR(pg_catalog.=) ANY (ARRAY['text', 'date', 'uscc', 'resident_id', 'division_code'])),
    required          boolean NOT NULL DEFAULT false,
    max_length        integer CONSTRAINT licence_item_max_length CHECK (max_length BETWEEN 1 AND 10000),
    allowed_values    text[],
    metadata_column   text CONSTRAINT licence_item_metadata_column CHECK (metadata_column OPERATOR(pg_catalog.=) ANY (ARRAY[
                          'licence_number', 'holder_name', 'holder_id', 'authority_name', 'authority_uscc',
                          'authority_division', 'issue_date', 'valid_from', 'valid_to'])),
    position          integer NOT NULL,
    shipped           boolean NOT NULL DEFAULT false,
    PRIMARY KEY (type_code, item),
    CONSTRAINT licence_item_position_unique UNIQUE (type_code, position),
    CONSTRAINT licence_item_metadata_once UNIQUE (type_code, metadata_column),
    -- Metadata columns are NOT NULL in elicense.certificate (valid_to aside).
    CONSTRAINT licence_item_metadata_required CHECK (metadata_column IS NULL OR metadata_column OPERATOR(pg_catalog.=) 'valid_to' OR required),
    CONSTRAINT licence_item_metadata_type CHECK (
        metadata_column IS NULL
        OR (metadata_column OPERATOR(pg_catalog.=) ANY (ARRAY['issue_date', 'valid_from', 'valid_to'])) OPERATOR(pg_catalog.=) (data_type OPERATOR(pg_catalog.=) 'date'))
);
COMMENT ON TABLE elicense.licence_item IS
'Information items (信息项) of each licence type; issuing validates the licence data against them. A DBA may add rows';
COMMENT ON COLUMN elicense.licence_item.item IS 'Key of the item in the licence data (jsonb) passed to elicense.issue/change and in issue_from_trigger mappings';
COMMENT ON COLUMN elicense.licence_item.label IS 'Chinese label as printed on the licence';
COMMENT ON COLUMN elicense.licence_item.data_type IS 'text, date (YYYY-MM-DD), uscc, resident_id or division_code; the last three are checked with the check_* validators';
COMMENT ON COLUMN elicense.licence_item.max_length IS 'Maximum length in characters (NULL: no limit)';
COMMENT ON COLUMN elicense.licence_item.allowed_values IS 'If set, the only values the item may take';
COMMENT ON COLUMN elicense.licence_item.metadata_column IS 'Metadata column of elicense.certificate this item fills; NULL: stored in business_data';
COMMENT ON COLUMN elicense.licence_item.position IS 'Display and validation order';
COMMENT ON COLUMN elicense.licence_item.shipped IS 'True for rows installed by the extension (left out of pg_dump, recreated by CREATE EXTENSION)';

-- Shipped types. Certificate numbers:
--  W050 安许证: the national form (省简称)JZ安许证字[year]serial, e.g.
--       (闽)JZ安许证字[2023]087974; brackets [] ［］ 〔〕 【】 and half- or
--       full-width parentheses accepted. Sequence = year + 6-digit serial.
--  W032 特种作业: numbers differ by province (e.g. 闽A012023000123, Jilin's
--       sequence 2430599); accepted: an optional province character then
--       6-24 digits/upper-case letters. Serials restart per work category in
--       some provinces, so the sequence is NOT derived from the number: it is
--       allocated by the gap-free counter (7 digits, zero-padded).
INSERT INTO elicense.licence_type (type_code, name, standard, holder_id_type, number_pattern, number_example, sequence_pattern, min_holder_age, shipped) VALUES
('11100000000013338W050', '建筑施工企业安全生产许可证', 'C0292-2022', 'USCC',
 '^[(（][\u4e00-\u9fa5][)）]JZ安许证字[[［〔【][0-9]{4}[]］〕】][0-9]{6}$', '(闽)JZ安许证字[2023]087974',
 '^[(（][\u4e00-\u9fa5][)）]JZ安许证字[[［〔【]([0-9]{4})[]］〕】]([0-9]{6})$', NULL, true),
('11100000000013338W032', '建筑施工特种作业人员操作资格证书', 'C0304-2022', 'RESIDENT_ID',
 '^[\u4e00-\u9fa5]?[0-9A-Z]{6,24}$', '闽A012023000123',
 NULL, 18, true);

INSERT INTO elicense.licence_item (type_code, position, item, label, data_type, required, max_length, allowed_values, metadata_column, shipped) VALUES
('11100000000013338W050',  1, 'enterprise_name',    '企业名称',                 'text',          true, 200, NULL, 'holder_name', true),
('11100000000013338W050',  2, 'uscc',               '统一社会信用代码',         'uscc',          true,  18, NULL, 'holder_id', true),
('11100000000013338W050',  3, 'principal',          '主要负责人',               'text',          true,  50, NULL, NULL, true),
('11100000000013338W050',  4, 'address',            '单位地址',                 'text',          true, 200, NULL, NULL, true),
('11100000000013338W050',  5, 'economic_type',      '经济类型',                 'text',          true,  50, NULL, NULL, true),
('11100000000013338W050',  6, 'permit_scope',       '许可范围',                 'text',          true, 200, NULL, NULL, true),
('11100000000013338W050',  7, 'licence_number',     '证书编号',                 'text',          true,  50, NULL, 'licence_number', true),
('11100000000013338W050',  8, 'valid_from',         '有效期起',                 'date',          true, NULL, NULL, 'valid_from', true),
('11100000000013338W050',  9, 'valid_to',           '有效期止',                 'date',          true, NULL, NULL, 'valid_to', true),
('11100000000013338W050', 10, 'authority_name',     '发证机关',                 'text',          true, 100, NULL, 'authority_name', true),
('11100000000013338W050', 11, 'authority_uscc',     '发证机关统一社会信用代码', 'uscc',          true,  18, NULL, 'authority_uscc', true),
('11100000000013338W050', 12, 'authority_division', '发证机关行政区划代码',     'division_code', true,   6, NULL, 'authority_division', true),
('11100000000013338W050', 13, 'issue_date',         '发证日期',                 'date',          true, NULL, NULL, 'issue_date', true),
('11100000000013338W032',  1, 'name',               '姓名',                     'text',          true,  50, NULL, 'holder_name', true),
('11100000000013338W032',  2, 'gender',             '性别',                     'text',          true,   1, ARRAY['男', '女'], NULL, true),
('11100000000013338W032',  3, 'id_number',          '身份证号',                 'resident_id',   true,  18, NULL, 'holder_id', true),
('11100000000013338W032',  4, 'category',           '操作类别',                 'text',          true, 100, NULL, NULL, true),
('11100000000013338W032',  5, 'category_code',      '操作类别代码',             'text',          false, 10, NULL, NULL, true),
('11100000000013338W032',  6, 'employer',           '聘用单位',                 'text',          false, 200, NULL, NULL, true),
('11100000000013338W032',  7, 'licence_number',     '证书编号',                 'text',          true,  50, NULL, 'licence_number', true),
('11100000000013338W032',  8, 'first_issue_date',   '初次领证日期',             'date',          false, NULL, NULL, NULL, true),
('11100000000013338W032',  9, 'valid_from',         '有效期起',                 'date',          true, NULL, NULL, 'valid_from', true),
('11100000000013338W032', 10, 'valid_to',           '有效期止',                 'date',          true, NULL, NULL, 'valid_to', true),
('11100000000013338W032', 11, 'authority_name',     '发证机关',                 'text',          true, 100, NULL, 'authority_name', true),
('11100000000013338W032', 12, 'authority_uscc',     '发证机关统一社会信用代码', 'uscc',          true,  18, NULL, 'authority_uscc', true),
('11100000000013338W032', 13, 'authority_division', '发证机关行政区划代码',     'division_code', true,   6, NULL, 'authority_division', true),
('11100000000013338W032', 14, 'issue_date',         '发证日期',                 'date',          true, NULL, NULL, 'issue_date', true);

-- pg_dump keeps what a DBA added; shipped rows come back with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('elicense.licence_type', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('elicense.licence_item', 'WHERE NOT shipped');

REVOKE ALL ON elicense.licence_type, elicense.licence_item FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.licence_type, elicense.licence_item TO elicense_admin;
GRANT SELECT ON elicense.licence_type, elicense.licence_item TO elicense_issuer, elicense_worker, elicense_analyst;

COMMENT ON COLUMN elicense.licence_type.name IS 'Licence name (证照名称)';
COMMENT ON COLUMN elicense.licence_type.standard IS 'National standard defining the type, e.g. C0292-2022';
COMMENT ON COLUMN elicense.licence_item.type_code IS 'Licence type the item belongs to';
COMMENT ON COLUMN elicense.licence_item.required IS 'True if every licence of the type must give a non-empty value';
--------------------------------------------------------------------------------
-- Licence files (OFD, GB/T 33190): render from a face template and field
-- values ("data + template"), verify the seal (GB/T 38540 structure).
-- Templates ship as extension/templates/*.json; store the SHA-256 of a
-- rendered file with pg_catalog.sha256(bytea).
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.render_licence_ofd(template jsonb, fields jsonb, qr_png bytea,
    watermark boolean DEFAULT true, purpose text DEFAULT '', valid_until text DEFAULT '',
    doc_id text DEFAULT '', creation_date text DEFAULT '')
RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_render_licence_ofd'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.render_licence_ofd(jsonb, jsonb, bytea, boolean, text, text, text, text) IS
'Unsigned OFD licence file from a face template, a JSON object of field values and the QR code PNG; with the platform watermark unless watermark is false, and a purpose-and-validity note when purpose and valid_until are given (VOLATILE: a random DocID and today''s date unless doc_id, 32 hex digits, and creation_date, YYYY-MM-DD, are given)';

CREATE FUNCTION elicense.verify_licence_ofd(ofd bytea, certificate text DEFAULT '',
    OUT ok boolean, OUT status text, OUT part text, OUT message text, OUT signer text)
RETURNS record
AS 'MODULE_PATHNAME', 'elicense_verify_licence_ofd'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.verify_licence_ofd(bytea, text) IS
'Checks the seal of an OFD file: every signed part''s digest, the SES signature and, when a PEM certificate is given, the signer; status is ok, unsigned, malformed, missing_part, digest_mismatch, unreferenced_part, bad_signature or wrong_signer, part names the part concerned';
--------------------------------------------------------------------------------
-- Certificates: one row per licence VERSION (seed 000 §4.9: a change makes a
-- new licence that records the original's identifier). Version 001 is the
-- original; every change/revocation/cancellation adds version n+1 with the
-- same type, authority and sequence and marks version n superseded.
-- Rows are written only by the SECURITY DEFINER functions of 55_issue.sql.
--------------------------------------------------------------------------------

CREATE TABLE elicense.certificate (
    identifier          elicense.licence_identifier PRIMARY KEY,
    -- No self-referencing foreign keys: only elicense.issue/_new_version write
    -- rows, from the row they lock, and each RI check was ~20 us of every
    -- approval's trigger (bench/issue_trigger.sh). certificate_version_chain
    -- keeps the form; tests/pgtap/certificates.sql walks the chains.
    original_identifier text NOT NULL,
    previous_identifier text,
    -- No foreign key to licence_type either: see 46_licence_type_guard.sql.
    type_code           text NOT NULL,
    sequence            text NOT NULL CONSTRAINT certificate_sequence_format CHECK (sequence OPERATOR(pg_catalog.~) '^[0-9A-Z]{1,20}$'),
    version             integer NOT NULL CONSTRAINT certificate_version_range CHECK (version BETWEEN 1 AND 999),
    licence_number      text NOT NULL CONSTRAINT certificate_licence_number_present CHECK (licence_number OPERATOR(pg_catalog.<>) ''),
    holder_name         text NOT NULL CONSTRAINT certificate_holder_name_present CHECK (holder_name OPERATOR(pg_catalog.<>) ''),
    holder_id_type      text NOT NULL CONSTRAINT certificate_holder_id_type CHECK (holder_id_type OPERATOR(pg_catalog.=) ANY (ARRAY['USCC', 'RESIDENT_ID'])),
    holder_id           text NOT NULL,
    authority_name      text NOT NULL CONSTRAINT certificate_authority_name_present CHECK (authority_name OPERATOR(pg_catalog.<>) ''),
    authority_uscc      elicense.uscc NOT NULL,
    authority_division  elicense.division_code NOT NULL,
    issue_date          date NOT NULL,
    valid_from          date NOT NULL,
    valid_to            date,
    status              text NOT NULL DEFAULT '01' CONSTRAINT certificate_status_code CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['01', '02', '03', '04', '05', '06', '99'])),
    status_note         text,
    operate_type        text NOT NULL CONSTRAINT certificate_operate_type_code CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    business_data       jsonb NOT NULL DEFAULT '{}' CONSTRAINT certificate_business_data_object CHECK (pg_catalog.jsonb_typeof(business_data) OPERATOR(pg_catalog.=) 'object'),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by          text NOT NULL CONSTRAINT certificate_created_by_present CHECK (created_by OPERATOR(pg_catalog.<>) ''),
    superseded_at       timestamptz,
    qr_url              text,
    assigned_code       text,
    file_sha256         text CONSTRAINT certificate_file_sha256_format CHECK (file_sha256 OPERATOR(pg_catalog.~) '^[0-9a-f]{64}$'),
    CONSTRAINT certificate_holder_id_valid CHECK (CASE holder_id_type
        WHEN 'USCC' THEN elicense.is_valid_uscc(holder_id)
        ELSE elicense.is_valid_resident_id(holder_id) END),
    CONSTRAINT certificate_identifier_parts CHECK (identifier::text OPERATOR(pg_catalog.=)
        elicense.build_identifier(type_code, authority_uscc, sequence, version)),
    CONSTRAINT certificate_version_chain CHECK (CASE WHEN version OPERATOR(pg_catalog.=) 1
        THEN previous_identifier IS NULL AND original_identifier OPERATOR(pg_catalog.=) identifier::text
        ELSE previous_identifier IS NOT NULL AND original_identifier OPERATOR(pg_catalog.<>) identifier::text END),
    CONSTRAINT certificate_valid_range CHECK (valid_to IS NULL OR valid_to OPERATOR(pg_catalog.>) valid_from),
    CONSTRAINT certificate_other_status_note CHECK (status OPERATOR(pg_catalog.<>) '99' OR status_note IS NOT NULL)
);
COMMENT ON TABLE elicense.certificate IS
'Electronic licences (电子证照), one row per version; written only by elicense.issue/change/revoke/cancel. Current version: superseded_at IS NULL';
COMMENT ON COLUMN elicense.certificate.identifier IS 'Licence identifier (电子证照标识) of this version';
COMMENT ON COLUMN elicense.certificate.original_identifier IS 'Identifier of version 001 of the licence: the same for every version (traceability, seed 000 §4.9)';
COMMENT ON COLUMN elicense.certificate.previous_identifier IS 'Identifier of the version this one replaced; NULL for version 001';
COMMENT ON COLUMN elicense.certificate.type_code IS 'Licence type code (证照类型代码), see elicense.licence_type';
COMMENT ON COLUMN elicense.certificate.sequence IS 'Sequence segment of the identifier: same for all versions of a licence';
COMMENT ON COLUMN elicense.certificate.version IS 'Version segment of the identifier (1 = 001)';
COMMENT ON COLUMN elicense.certificate.licence_number IS 'Certificate number (证书编号) printed on the licence';
COMMENT ON COLUMN elicense.certificate.holder_name IS 'Holder name (持证主体名称)';
COMMENT ON COLUMN elicense.certificate.holder_id_type IS 'USCC (organisation) or RESIDENT_ID (person)';
COMMENT ON COLUMN elicense.certificate.holder_id IS 'Holder identity number (USCC or resident ID number): personal data, never shown to analysts unmasked';
COMMENT ON COLUMN elicense.certificate.authority_name IS 'Issuing authority (发证机构)';
COMMENT ON COLUMN elicense.certificate.authority_uscc IS 'Issuing authority USCC: the issuer segment of the identifier';
COMMENT ON COLUMN elicense.certificate.authority_division IS 'Administrative division code of the issuing authority (发证机构行政区划)';
COMMENT ON COLUMN elicense.certificate.issue_date IS 'Issue date (发证日期)';
COMMENT ON COLUMN elicense.certificate.valid_from IS 'Start of validity (有效期起)';
COMMENT ON COLUMN elicense.certificate.valid_to IS 'End of validity (有效期止); NULL means no end. Past it the views show status 06 (expired) without any job';
COMMENT ON COLUMN elicense.certificate.status IS 'certState as stored: 01 valid, 02 suspended, 03 revoked (吊销), 04 withdrawn (撤销), 05 cancelled (注销), 06 expired, 99 other';
COMMENT ON COLUMN elicense.certificate.status_note IS 'Description, required for status 99';
COMMENT ON COLUMN elicense.certificate.operate_type IS 'operateType that created this version: 01 new, 02 renewal, 03 suspension, 04 expiry, 05 cancellation/revocation, 06 suspension lifted, 07 other, 08 change';
COMMENT ON COLUMN elicense.certificate.business_data IS 'Business items (业务数据) of the type that are not metadata columns, validated against elicense.licence_item';
COMMENT ON COLUMN elicense.certificate.created_at IS 'When this version was written (transaction time)';
COMMENT ON COLUMN elicense.certificate.created_by IS 'Actor named by the approval system';
COMMENT ON COLUMN elicense.certificate.superseded_at IS 'When a newer version replaced this one; NULL for the current version';
COMMENT ON COLUMN elicense.certificate.qr_url IS 'QR code URL, filled by the sync worker after code assignment';
COMMENT ON COLUMN elicense.certificate.assigned_code IS 'Code assigned by the national platform (赋码), filled by the sync worker';
COMMENT ON COLUMN elicense.certificate.file_sha256 IS 'SHA-256 (lower-case hex) of the licence file (OFD), filled by the sync worker';

-- One current version per licence. (original_identifier, version) and
-- previous_identifier need no unique index: both follow from the identifier,
-- which holds type, authority, sequence and version.
CREATE UNIQUE INDEX certificate_one_current ON elicense.certificate (original_identifier) WHERE superseded_at IS NULL;
-- A certificate number identifies one licence of a type among current versions.
CREATE UNIQUE INDEX certificate_number_current ON elicense.certificate (type_code, licence_number) WHERE superseded_at IS NULL;
CREATE INDEX certificate_holder ON elicense.certificate (holder_id);
CREATE INDEX certificate_authority_issue_date ON elicense.certificate (authority_uscc, issue_date);
COMMENT ON INDEX elicense.certificate_one_current IS 'At most one current (not superseded) version per licence';
COMMENT ON INDEX elicense.certificate_number_current IS 'Certificate numbers are unique per type among current versions';
COMMENT ON INDEX elicense.certificate_holder IS 'Licences of a holder';
COMMENT ON INDEX elicense.certificate_authority_issue_date IS 'Licences of an authority by issue date (monthly counts)';

--------------------------------------------------------------------------------
-- Sequence counters: one row per (type, authority). elicense.issue takes the
-- next value with INSERT ... ON CONFLICT DO UPDATE ... RETURNING in the
-- issuing transaction: the row stays locked until commit, so concurrent
-- issuers for the same authority queue up, and a rollback returns the value.
-- Numbers are therefore gap-free per (type, authority).
--------------------------------------------------------------------------------

CREATE TABLE elicense.sequence_counter (
    type_code      text NOT NULL REFERENCES elicense.licence_type ON UPDATE CASCADE,
    authority_uscc text NOT NULL,
    last_value     bigint NOT NULL CONSTRAINT sequence_counter_positive CHECK (last_value > 0),
    PRIMARY KEY (type_code, authority_uscc)
);
COMMENT ON TABLE elicense.sequence_counter IS
'Last sequence number allocated per (licence type, issuing authority); gap-free because it is updated in the issuing transaction';
COMMENT ON COLUMN elicense.sequence_counter.last_value IS 'Last allocated value; the next licence gets last_value + 1';

--------------------------------------------------------------------------------
-- Status history: append-only (a trigger rejects UPDATE, DELETE and TRUNCATE;
-- no role has those privileges either).
-- Not yet partitioned by month (DESIGN.md "Lessons"): partitions created at
-- CREATE EXTENSION time depend on the install date and would not survive
-- pg_dump/restore as extension members; a BRIN index keeps time scans cheap.
--------------------------------------------------------------------------------

CREATE TABLE elicense.status_history (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Written with its certificate version by the same functions, hence no
    -- foreign key (its RI check ran in every approval transaction).
    identifier          text NOT NULL,
    original_identifier text NOT NULL,
    from_status         text CONSTRAINT status_history_from_code CHECK (from_status OPERATOR(pg_catalog.~) '^(0[1-6]|99)$'),
    to_status           text NOT NULL CONSTRAINT status_history_to_code CHECK (to_status OPERATOR(pg_catalog.~) '^(0[1-6]|99)$'),
    operate_type        text NOT NULL CONSTRAINT status_history_operate_type CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    reason              text NOT NULL CONSTRAINT status_history_reason_present CHECK (reason OPERATOR(pg_catalog.<>) ''),
    actor               text NOT NULL,
    db_user             text NOT NULL DEFAULT session_user,
    at                  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX status_history_original ON elicense.status_history (original_identifier, at);
CREATE INDEX status_history_at ON elicense.status_history USING brin (at);
COMMENT ON TABLE elicense.status_history IS 'Every status change of every licence: who, when, why. Append-only';
COMMENT ON COLUMN elicense.status_history.identifier IS 'Version created by the change';
COMMENT ON COLUMN elicense.status_history.original_identifier IS 'Version 001 of the licence';
COMMENT ON COLUMN elicense.status_history.from_status IS 'certState before (NULL when issued)';
COMMENT ON COLUMN elicense.status_history.to_status IS 'certState after';
COMMENT ON COLUMN elicense.status_history.operate_type IS 'operateType of the change';
COMMENT ON COLUMN elicense.status_history.reason IS 'Why, as given by the approval system';
COMMENT ON COLUMN elicense.status_history.actor IS 'Who, as named by the approval system';
COMMENT ON COLUMN elicense.status_history.db_user IS 'Database login role of the session that made the change';
COMMENT ON COLUMN elicense.status_history.at IS 'When (transaction time)';
COMMENT ON INDEX elicense.status_history_original IS 'Timeline of one licence';
COMMENT ON INDEX elicense.status_history_at IS 'Time-range scans over the whole history';

-- Keeps a table append-only (status_history, and in 0.2.0 usage_audit and
-- preview_access): the error names the table, the trigger's argument is the HINT.
CREATE FUNCTION elicense.reject_history_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'elicense.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege', HINT = TG_ARGV[0];
END
$$;
REVOKE ALL ON FUNCTION elicense.reject_history_change() FROM PUBLIC;
COMMENT ON FUNCTION elicense.reject_history_change() IS
'Trigger function keeping a table append-only; its argument is the HINT of the error';

CREATE TRIGGER status_history_append_only BEFORE UPDATE OR DELETE ON elicense.status_history
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('Record a new status change with elicense.change, revoke or cancel instead.');
CREATE TRIGGER status_history_no_truncate BEFORE TRUNCATE ON elicense.status_history
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('Record a new status change with elicense.change, revoke or cancel instead.');
COMMENT ON TRIGGER status_history_append_only ON elicense.status_history IS 'Rejects UPDATE and DELETE';
COMMENT ON TRIGGER status_history_no_truncate ON elicense.status_history IS 'Rejects TRUNCATE';

-- These tables hold data the extension creates: without being marked, pg_dump
-- would dump their definitions through CREATE EXTENSION but none of their rows.
SELECT pg_catalog.pg_extension_config_dump('elicense.certificate', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.sequence_counter', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.status_history', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.status_history', 'id'), '');

REVOKE ALL ON elicense.certificate, elicense.sequence_counter, elicense.status_history FROM PUBLIC;
GRANT SELECT ON elicense.certificate, elicense.status_history TO elicense_admin, elicense_issuer;
GRANT SELECT ON elicense.sequence_counter TO elicense_admin;
GRANT SELECT ON elicense.certificate TO elicense_worker;
GRANT UPDATE (qr_url, assigned_code, file_sha256) ON elicense.certificate TO elicense_worker;

COMMENT ON COLUMN elicense.sequence_counter.type_code IS 'Licence type';
COMMENT ON COLUMN elicense.sequence_counter.authority_uscc IS 'Issuing authority USCC (the issuer segment of the identifier)';
COMMENT ON COLUMN elicense.status_history.id IS 'Order of recording';
COMMENT ON SEQUENCE elicense.status_history_id_seq IS 'Identity of elicense.status_history (dumped with the table)';
--------------------------------------------------------------------------------
-- A licence type that licences use cannot be deleted, renamed or truncated.
-- A foreign key from certificate.type_code did this, but its check locked the
-- type's row FOR KEY SHARE in every approval: concurrent approvals can share
-- that lock only through a new MultiXact each time, which cost 8 sessions a
-- third to a half of their issuing rate (docs/certificates.md). The check is
-- made at the rare catalogue change instead. ACCESS EXCLUSIVE on licence_type
-- (taken per statement) waits until no open transaction has read a type, and
-- holds new readers off until this one ends; elicense._licence_from_data
-- reads the type in a VOLATILE function, with a snapshot taken after that
-- wait. So under READ COMMITTED a licence of the type is either seen here or
-- its issue finds the type gone (tests/integration/licence_type_guard.sh).
-- Under REPEATABLE READ an issue whose snapshot predates the DELETE's commit
-- still sees the type: the foreign key caught that case, this does not.
--------------------------------------------------------------------------------
CREATE FUNCTION elicense._keep_used_licence_type() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    -- Before the statement locks any row: an issue waiting for a row lock
    -- (sequence_counter's foreign key) while holding its read lock on the
    -- table would deadlock with a DELETE waiting for that read lock.
    LOCK TABLE elicense.licence_type IN ACCESS EXCLUSIVE MODE;
    IF TG_OP = 'TRUNCATE' AND EXISTS (SELECT 1 FROM elicense.certificate) THEN
      RAISE EXCEPTION 'elicense.licence_type cannot be truncated: licences exist'
        USING ERRCODE = 'foreign_key_violation', HINT = 'A licence keeps its type for good.';
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.type_code = OLD.type_code THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM elicense.certificate c WHERE c.type_code = OLD.type_code) THEN
    RAISE EXCEPTION 'licence type % cannot be %: licences of it exist', OLD.type_code, CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'renamed' END
      USING ERRCODE = 'foreign_key_violation',
            HINT = 'A licence keeps its type for good; add a new type for new licences instead.';
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION elicense._keep_used_licence_type() FROM PUBLIC;
COMMENT ON FUNCTION elicense._keep_used_licence_type() IS
'Trigger function on elicense.licence_type: a type that certificates use cannot be deleted, renamed or truncated (23503)';
CREATE TRIGGER licence_type_lock BEFORE UPDATE OF type_code OR DELETE OR TRUNCATE ON elicense.licence_type
    FOR EACH STATEMENT EXECUTE FUNCTION elicense._keep_used_licence_type();
CREATE TRIGGER licence_type_keep_used BEFORE UPDATE OF type_code OR DELETE ON elicense.licence_type
    FOR EACH ROW EXECUTE FUNCTION elicense._keep_used_licence_type();
COMMENT ON TRIGGER licence_type_lock ON elicense.licence_type IS 'Waits for open issuing transactions; refuses TRUNCATE while any certificate exists';
COMMENT ON TRIGGER licence_type_keep_used ON elicense.licence_type IS 'A type that certificates use cannot be deleted or renamed';
--------------------------------------------------------------------------------
-- Outbox: one row per delivery step of a licence version, written in the
-- issuing transaction (a rolled-back approval leaves none). The sync worker
-- leases pending rows with FOR UPDATE SKIP LOCKED; a row leaves in_flight
-- only on an answer. LOGGED on purpose (DESIGN.md "Lessons"); fillfactor
-- leaves room for HOT updates of the status/lease columns, and autovacuum
-- runs early because every row is updated a few times and then stays.
--------------------------------------------------------------------------------

CREATE TABLE elicense.outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key to elicense.certificate: rows are written only by the
    -- issuing functions, in the transaction that writes the certificate, and
    -- three RI checks per licence were a measurable part of the trigger cost.
    identifier       text NOT NULL,
    version          integer NOT NULL,
    step             text NOT NULL CONSTRAINT outbox_step_name CHECK (step OPERATOR(pg_catalog.=) ANY (ARRAY['validate', 'assign_code', 'collect', 'confirm', 'status_update'])),
    step_order       integer NOT NULL CONSTRAINT outbox_step_order_positive CHECK (step_order > 0),
    operate_type     text NOT NULL CONSTRAINT outbox_operate_type CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    idempotency_key  text NOT NULL GENERATED ALWAYS AS (identifier OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) version::text
                                                   OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) step) STORED,
    status           text NOT NULL DEFAULT 'pending' CONSTRAINT outbox_status_name CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'in_flight', 'done', 'dead'])),
    attempts         integer NOT NULL DEFAULT 0 CONSTRAINT outbox_attempts_nonnegative CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    needs_query      boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- The identifier holds the version, so this also makes idempotency_key unique.
    CONSTRAINT outbox_step_once UNIQUE (identifier, step),
    CONSTRAINT outbox_lease_when_in_flight CHECK (status OPERATOR(pg_catalog.<>) 'in_flight' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
) WITH (fillfactor = 70,
        autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 500,
        autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
-- Only open rows are indexed by time, so the index shrinks as rows finish.
CREATE INDEX outbox_open ON elicense.outbox (next_attempt_at, id) WHERE status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'in_flight']);
COMMENT ON TABLE elicense.outbox IS
'Delivery steps to the national platform, one row per step of a licence version, written in the issuing transaction; leased by the sync worker';
COMMENT ON COLUMN elicense.outbox.identifier IS 'Licence version to deliver';
COMMENT ON COLUMN elicense.outbox.version IS 'Version number of that licence version (part of the idempotency key)';
COMMENT ON COLUMN elicense.outbox.step IS 'validate, assign_code (赋码), collect (归集), confirm (查询: the platform shows it) or status_update';
COMMENT ON COLUMN elicense.outbox.needs_query IS 'An earlier attempt may have taken effect (timeout, dropped connection, 5xx, lapsed lease): the worker asks the platform before sending again';
COMMENT ON COLUMN elicense.outbox.step_order IS 'Steps of one version run in this order';
COMMENT ON COLUMN elicense.outbox.operate_type IS 'operateType sent with the step';
COMMENT ON COLUMN elicense.outbox.idempotency_key IS 'identifier:version:step (generated); stable across retries, unique through outbox_step_once';
COMMENT ON COLUMN elicense.outbox.status IS 'pending, in_flight (leased), done, dead (gave up; replay by setting pending)';
COMMENT ON COLUMN elicense.outbox.attempts IS 'Attempts made so far';
COMMENT ON COLUMN elicense.outbox.next_attempt_at IS 'Earliest time of the next attempt (backoff)';
COMMENT ON COLUMN elicense.outbox.lease_owner IS 'Worker holding the lease while in_flight';
COMMENT ON COLUMN elicense.outbox.lease_expires_at IS 'When the lease lapses and another worker may take the row';
COMMENT ON COLUMN elicense.outbox.last_error IS 'Last error text (also kept per attempt in elicense.delivery_attempt)';
COMMENT ON COLUMN elicense.outbox.created_at IS 'When the step was queued';
COMMENT ON COLUMN elicense.outbox.updated_at IS 'Last change of the row';
COMMENT ON INDEX elicense.outbox_open IS 'Open rows by due time, for leasing';
COMMENT ON CONSTRAINT outbox_step_once ON elicense.outbox IS 'Each step once per licence version; also finds the steps of a version';

--------------------------------------------------------------------------------
-- Delivery attempts: one row per HTTP call the worker made (written by the
-- worker issue; created now so the analysts' views exist).
--------------------------------------------------------------------------------

CREATE TABLE elicense.delivery_attempt (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id      bigint REFERENCES elicense.outbox (id),
    identifier     text NOT NULL,
    step           text NOT NULL,
    endpoint       text NOT NULL,
    http_status    integer CONSTRAINT delivery_attempt_http_status CHECK (http_status BETWEEN 100 AND 599),
    return_code    text,
    return_message text,
    duration_ms    integer CONSTRAINT delivery_attempt_duration CHECK (duration_ms >= 0),
    worker_id      text NOT NULL,
    outcome        text CONSTRAINT delivery_attempt_outcome CHECK (outcome OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'business_error', 'retry', 'unknown'])),
    at             timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX delivery_attempt_outbox ON elicense.delivery_attempt (outbox_id);
CREATE INDEX delivery_attempt_at ON elicense.delivery_attempt USING brin (at);
COMMENT ON TABLE elicense.delivery_attempt IS 'Every call the sync worker made to the national platform and what came back';
COMMENT ON COLUMN elicense.delivery_attempt.outbox_id IS 'Outbox step the call belongs to (NULL for calls outside a step, e.g. token)';
COMMENT ON COLUMN elicense.delivery_attempt.identifier IS 'Licence version concerned';
COMMENT ON COLUMN elicense.delivery_attempt.step IS 'Step name';
COMMENT ON COLUMN elicense.delivery_attempt.endpoint IS 'Endpoint called, with any token masked';
COMMENT ON COLUMN elicense.delivery_attempt.http_status IS 'HTTP status; NULL when no answer came (timeout, network)';
COMMENT ON COLUMN elicense.delivery_attempt.return_code IS 'ReturnCode of the platform answer';
COMMENT ON COLUMN elicense.delivery_attempt.return_message IS 'ReturnMsg / error messages of the platform answer';
COMMENT ON COLUMN elicense.delivery_attempt.duration_ms IS 'Duration of the call in milliseconds';
COMMENT ON COLUMN elicense.delivery_attempt.worker_id IS 'Worker instance that made the call';
COMMENT ON COLUMN elicense.delivery_attempt.outcome IS 'done, business_error (refused, not retried), retry (had no effect), unknown (may have had effect: query before resending)';
COMMENT ON COLUMN elicense.delivery_attempt.at IS 'When the call started';
COMMENT ON INDEX elicense.delivery_attempt_outbox IS 'Attempts of one outbox step';
COMMENT ON INDEX elicense.delivery_attempt_at IS 'Time-range scans';

SELECT pg_catalog.pg_extension_config_dump('elicense.outbox', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.outbox', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_attempt', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.delivery_attempt', 'id'), '');

REVOKE ALL ON elicense.outbox, elicense.delivery_attempt FROM PUBLIC;
GRANT SELECT ON elicense.outbox, elicense.delivery_attempt TO elicense_admin, elicense_worker;
-- The worker changes rows only through the SECURITY DEFINER functions of
-- 60_delivery.sql, and an admin replays dead rows with elicense.replay().

COMMENT ON COLUMN elicense.outbox.id IS 'Queue order';
COMMENT ON COLUMN elicense.delivery_attempt.id IS 'Order of recording';
COMMENT ON SEQUENCE elicense.outbox_id_seq IS 'Identity of elicense.outbox (dumped with the table)';
COMMENT ON SEQUENCE elicense.delivery_attempt_id_seq IS 'Identity of elicense.delivery_attempt (dumped with the table)';
--------------------------------------------------------------------------------
-- Issuing: elicense.issue / change / revoke / cancel and the approval-table
-- trigger elicense.issue_from_trigger. Each call validates everything first,
-- then writes the certificate version, its status_history row and its outbox
-- rows in the caller's transaction and sends one NOTIFY elicense_outbox (an
-- empty payload, so PostgreSQL folds all notifications of a transaction into
-- one). A rolled-back approval leaves no row anywhere.
--
-- Licence data is a flat JSON object: item name (elicense.licence_item.item)
-- -> value as a string (dates YYYY-MM-DD). Errors, each with a HINT:
--   42704 unknown licence type            23502 missing required item / reason / actor
--   22023 unknown item, bad value, bad date range, under-age holder, bad state argument
--   22P02 bad USCC / resident ID / division code / certificate number
--   22007 / 22008 item not a YYYY-MM-DD date / not a calendar date
--   22001 item longer than its max_length
--   23505 certificate number already used by a current licence of the type
--   P0002 no such licence          55000 licence version superseded or not in a state that allows it
--------------------------------------------------------------------------------

-- A date item: strictly YYYY-MM-DD, independent of DateStyle.
CREATE FUNCTION elicense._item_date(value text, item text, label text) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  m text[];
  y integer;
  mo integer;
  d integer;
BEGIN
  m := regexp_match(value, '^([0-9]{4})-([0-9]{2})-([0-9]{2})$');
  IF m IS NULL THEN
    RAISE EXCEPTION 'item "%" (%): "%" is not a date in the form YYYY-MM-DD', item, label, value
      USING ERRCODE = 'invalid_datetime_format', HINT = 'Write dates as YYYY-MM-DD, e.g. 2023-06-30.';
  END IF;
  y := m[1]::integer;
  mo := m[2]::integer;
  d := m[3]::integer;
  IF y < 1900 OR mo NOT BETWEEN 1 AND 12 OR d < 1
     OR d > extract(day FROM make_date(y, mo, 1) + interval '1 month' - interval '1 day') THEN
    RAISE EXCEPTION 'item "%" (%): "%" is not a calendar date', item, label, value
      USING ERRCODE = 'datetime_field_overflow', HINT = 'Check the month and day; years before 1900 are not accepted.';
  END IF;
  RETURN make_date(y, mo, d);
END
$$;
REVOKE ALL ON FUNCTION elicense._item_date(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._item_date(text, text, text) IS
'Internal: parses a YYYY-MM-DD item value or raises 22007/22008 naming the item';

-- Validates licence data against the catalogue of its type. Returns a
-- certificate row with the metadata columns and business_data filled; the
-- identifier, sequence, version and status are left to the caller.
-- VOLATILE, not STABLE: its reads then take a snapshot after waiting for the
-- table locks, which elicense._keep_used_licence_type relies on.
CREATE FUNCTION elicense._licence_from_data(p_type_code text, p_data jsonb) RETURNS elicense.certificate
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t elicense.licence_type;
  it elicense.licence_item;
  c elicense.certificate;
  v jsonb;
  s text;
  d date;
  bad text;
  birth date;
  known text[] := '{}';
BEGIN
  SELECT * INTO t FROM elicense.licence_type lt WHERE lt.type_code = p_type_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown licence type "%"', p_type_code
      USING ERRCODE = 'undefined_object',
            HINT = 'Licence types are the rows of elicense.licence_type, e.g. 11100000000013338W050 (安许证) or 11100000000013338W032 (特种作业).';
  END IF;
  IF p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN
    RAISE EXCEPTION 'licence data must be a JSON object, not %', coalesce(jsonb_typeof(p_data), 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass {"item": "value", ...} with the items of elicense.licence_item for the type.';
  END IF;

  c.type_code := t.type_code;
  c.holder_id_type := t.holder_id_type;
  c.business_data := '{}';
  FOR it IN SELECT * FROM elicense.licence_item li WHERE li.type_code = p_type_code ORDER BY li.position LOOP
    known := known || it.item;
    v := p_data -> it.item;
    s := CASE WHEN jsonb_typeof(v) IN ('string', 'number') THEN btrim(v #>> '{}') END;
    IF v IS NOT NULL AND jsonb_typeof(v) NOT IN ('string', 'number', 'null') THEN
      RAISE EXCEPTION 'item "%" (%) must be a string, not a JSON %', it.item, it.label, jsonb_typeof(v)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Give every item as a JSON string.';
    END IF;
    IF s IS NULL OR s = '' THEN
      IF it.required THEN
        RAISE EXCEPTION 'missing required item "%" (%) of licence type %', it.item, it.label, t.type_code
          USING ERRCODE = 'not_null_violation',
                HINT = pg_catalog.format('Licence type %s (%s) requires a non-empty value for "%s".', t.type_code, t.name, it.item);
      END IF;
      CONTINUE;
    END IF;
    IF it.max_length IS NOT NULL AND length(s) > it.max_length THEN
      RAISE EXCEPTION 'item "%" (%) is % characters long, more than its maximum of %', it.item, it.label, length(s), it.max_length
        USING ERRCODE = 'string_data_right_truncation', HINT = 'Shorten the value; the limit is in elicense.licence_item.max_length.';
    END IF;
    IF it.allowed_values IS NOT NULL AND NOT s = ANY (it.allowed_values) THEN
      RAISE EXCEPTION 'item "%" (%) has value "%", which is not one of %', it.item, it.label, s, array_to_string(it.allowed_values, ', ')
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Use one of the values in elicense.licence_item.allowed_values.';
    END IF;
    d := NULL;
    CASE it.data_type
      WHEN 'date' THEN
        -- Fast path without a function call: days 01-28 exist in every month,
        -- and YYYY-MM-DD input is read the same under every DateStyle.
        IF s ~ '^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$' THEN
          d := s::date;
        ELSE
          d := elicense._item_date(s, it.item, it.label);
          s := to_char(d, 'YYYY-MM-DD');
        END IF;
      WHEN 'uscc' THEN
        PERFORM elicense.check_uscc(s, it.item);
      WHEN 'resident_id' THEN
        PERFORM elicense.check_resident_id(s, it.item);
      WHEN 'division_code' THEN
        PERFORM elicense.check_division(s, it.item);
      ELSE
        NULL;
    END CASE;
    CASE it.metadata_column
      WHEN 'licence_number' THEN c.licence_number := s;
      WHEN 'holder_name' THEN c.holder_name := s;
      WHEN 'holder_id' THEN c.holder_id := s;
      WHEN 'authority_name' THEN c.authority_name := s;
      WHEN 'authority_uscc' THEN c.authority_uscc := s;
      WHEN 'authority_division' THEN c.authority_division := s;
      WHEN 'issue_date' THEN c.issue_date := d;
      WHEN 'valid_from' THEN c.valid_from := d;
      WHEN 'valid_to' THEN c.valid_to := d;
      ELSE c.business_data := c.business_data || jsonb_build_object(it.item, s);
    END CASE;
  END LOOP;

  -- Keys that are no item of the type (a query only when there are some).
  IF (p_data - known) <> '{}'::jsonb THEN
    SELECT string_agg(pg_catalog.format('"%s"', k), ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(p_data - known) AS k;
    RAISE EXCEPTION 'unknown item % for licence type % (%)', bad, t.type_code, t.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The items of each type are listed in elicense.licence_item; a DBA can add items there.';
  END IF;

  -- The catalogue must fill every NOT NULL metadata column.
  bad := concat_ws(', ',
    CASE WHEN c.licence_number IS NULL THEN 'licence_number' END, CASE WHEN c.holder_name IS NULL THEN 'holder_name' END,
    CASE WHEN c.holder_id IS NULL THEN 'holder_id' END, CASE WHEN c.authority_name IS NULL THEN 'authority_name' END,
    CASE WHEN c.authority_uscc IS NULL THEN 'authority_uscc' END, CASE WHEN c.authority_division IS NULL THEN 'authority_division' END,
    CASE WHEN c.issue_date IS NULL THEN 'issue_date' END, CASE WHEN c.valid_from IS NULL THEN 'valid_from' END);
  IF bad <> '' THEN
    RAISE EXCEPTION 'licence type % has no required item for metadata column(s) %', t.type_code, bad
      USING ERRCODE = 'not_null_violation',
            HINT = 'Add required items with these metadata_column values to elicense.licence_item.';
  END IF;

  IF c.licence_number !~ t.number_pattern THEN
    RAISE EXCEPTION 'invalid certificate number "%" for licence type % (%)', c.licence_number, t.type_code, t.name
      USING ERRCODE = 'invalid_text_representation',
            HINT = pg_catalog.format('Certificate numbers of this type look like %s (pattern %s).', t.number_example, t.number_pattern);
  END IF;
  IF c.valid_to IS NOT NULL AND c.valid_to <= c.valid_from THEN
    RAISE EXCEPTION 'valid_to % is not after valid_from %', to_char(c.valid_to, 'YYYY-MM-DD'), to_char(c.valid_from, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The end of validity (有效期止) must be later than its start (有效期起).';
  END IF;
  IF c.issue_date > current_date THEN
    RAISE EXCEPTION 'issue_date % is in the future', to_char(c.issue_date, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A licence is issued on or before the day it is recorded (发证日期 <= today).';
  END IF;
  IF c.holder_id_type = 'RESIDENT_ID' THEN
    birth := elicense.resident_id_birth_date(c.holder_id);
    IF birth > c.issue_date THEN
      RAISE EXCEPTION 'holder_id % gives birth date %, after the issue date %', c.holder_id, to_char(birth, 'YYYY-MM-DD'), to_char(c.issue_date, 'YYYY-MM-DD')
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Check the resident ID number and the issue date.';
    END IF;
    IF t.min_holder_age IS NOT NULL AND birth + make_interval(years => t.min_holder_age) > c.issue_date THEN
      RAISE EXCEPTION 'holder born % is younger than % on the issue date %', to_char(birth, 'YYYY-MM-DD'), t.min_holder_age, to_char(c.issue_date, 'YYYY-MM-DD')
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.format('Licence type %s (%s) requires a holder aged at least %s.', t.type_code, t.name, t.min_holder_age);
    END IF;
  END IF;
  RETURN c;
END
$$;
REVOKE ALL ON FUNCTION elicense._licence_from_data(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._licence_from_data(text, jsonb) IS
'Internal: validates licence data against elicense.licence_item and returns a certificate row with metadata and business_data filled';

-- Sequence segment of a new licence: derived from the certificate number when
-- the type has a sequence_pattern that matches, else the next value of the
-- gap-free counter of (type, authority), at least 7 digits.
CREATE FUNCTION elicense._next_sequence(p_type_code text, p_licence_number text, p_authority_uscc text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  pattern text;
  m text[];
  n bigint;
BEGIN
  SELECT lt.sequence_pattern INTO pattern FROM elicense.licence_type lt WHERE lt.type_code = p_type_code;
  IF pattern IS NOT NULL THEN
    m := regexp_match(p_licence_number, pattern);
    IF m IS NOT NULL THEN
      RETURN array_to_string(m, '');
    END IF;
  END IF;
  UPDATE elicense.sequence_counter sc SET last_value = sc.last_value + 1
   WHERE sc.type_code = p_type_code AND sc.authority_uscc = p_authority_uscc
  RETURNING sc.last_value INTO n;
  IF n IS NULL THEN
    -- First licence of this (type, authority); a concurrent first one waits
    -- on the conflict and then increments.
    INSERT INTO elicense.sequence_counter AS sc (type_code, authority_uscc, last_value)
    VALUES (p_type_code, p_authority_uscc, 1)
    ON CONFLICT ON CONSTRAINT sequence_counter_pkey DO UPDATE SET last_value = sc.last_value + 1
    RETURNING sc.last_value INTO n;
  END IF;
  RETURN lpad(n::text, greatest(7, length(n::text)), '0');
END
$$;
REVOKE ALL ON FUNCTION elicense._next_sequence(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._next_sequence(text, text, text) IS
'Internal: identifier sequence of a new licence (from the certificate number, or the gap-free per-authority counter)';

-- The delivery steps of a version, in order. New versions with operateType
-- 01/02/08 get a new QR code (validate, assign_code, collect, confirm); the
-- others one status_update step.
-- Neither SET nor STRICT, so that the planner inlines it (a call cost ~20 us
-- in the issuing path); the operator is schema-qualified instead.
CREATE FUNCTION elicense._delivery_steps(operate_type text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN operate_type OPERATOR(pg_catalog.=) ANY (ARRAY['01', '02', '08'])
              THEN ARRAY['validate', 'assign_code', 'collect', 'confirm']
              ELSE ARRAY['status_update'] END
$$;
REVOKE ALL ON FUNCTION elicense._delivery_steps(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._delivery_steps(text) IS
'Internal: delivery steps of a version with this operateType, in order (the outbox holds the one due now)';

-- Writes the status_history row and the first outbox step of a new version
-- and wakes the worker. Only the first step is queued here: the worker's
-- elicense.step_succeeded queues the next one in the transaction that
-- records the success, so the approval transaction writes one outbox row
-- instead of four, and no step can exist before the one it follows is done.
CREATE FUNCTION elicense._record_version(c elicense.certificate, p_from_status text, p_reason text, p_actor text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO elicense.status_history (identifier, original_identifier, from_status, to_status, operate_type, reason, actor)
  VALUES (c.identifier, c.original_identifier, p_from_status, c.status, c.operate_type, p_reason, p_actor);
  INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type)
  VALUES (c.identifier, c.version, (elicense._delivery_steps(c.operate_type))[1], 1, c.operate_type);
  PERFORM pg_notify('elicense_outbox', '');
END
$$;
REVOKE ALL ON FUNCTION elicense._record_version(elicense.certificate, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._record_version(elicense.certificate, text, text, text) IS
'Internal: status_history row, first outbox step and NOTIFY elicense_outbox for a new certificate version';

CREATE FUNCTION elicense._require_text(value text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF value IS NULL OR btrim(value) = '' THEN
    RAISE EXCEPTION '% is required', what
      USING ERRCODE = 'not_null_violation', HINT = pg_catalog.format('Pass a non-empty %s; it is kept in elicense.status_history.', what);
  END IF;
  RETURN btrim(value);
END
$$;
REVOKE ALL ON FUNCTION elicense._require_text(text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._require_text(text, text) IS 'Internal: the trimmed text, or 23502 if it is NULL or blank';

CREATE FUNCTION elicense.issue(type_code text, data jsonb, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  who text := elicense._require_text(actor, 'actor');
  other text;
BEGIN
  c := elicense._licence_from_data(type_code, data);
  SELECT x.identifier INTO other FROM elicense.certificate x
   WHERE x.type_code = c.type_code AND x.licence_number = c.licence_number AND x.superseded_at IS NULL;
  IF FOUND THEN
    RAISE EXCEPTION 'certificate number "%" of licence type % is already used by licence %', c.licence_number, c.type_code, other
      USING ERRCODE = 'unique_violation',
            HINT = 'A certificate number identifies one licence; change that licence with elicense.change or choose another number.';
  END IF;
  c.sequence := elicense._next_sequence(c.type_code, c.licence_number, c.authority_uscc);
  c.version := 1;
  c.identifier := elicense.build_identifier(c.type_code, c.authority_uscc, c.sequence, 1);
  c.original_identifier := c.identifier;
  c.status := '01';
  c.operate_type := '01';
  c.created_at := now();
  c.created_by := who;
  INSERT INTO elicense.certificate VALUES (c.*);
  PERFORM elicense._record_version(c, NULL, 'issued', who);
  RETURN c.identifier;
END
$$;
COMMENT ON FUNCTION elicense.issue(text, jsonb, text) IS
'Issues a licence (operateType 01): validates the data against the catalogue, allocates the sequence, writes certificate, status_history and outbox rows, NOTIFY elicense_outbox; returns the identifier';

-- Locks and returns the current version named by p_identifier, or raises.
CREATE FUNCTION elicense._lock_current(p_identifier text, p_action text) RETURNS elicense.certificate
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  cur text;
BEGIN
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = p_identifier FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'licence "%" does not exist', p_identifier
      USING ERRCODE = 'no_data_found', HINT = 'Pass the identifier returned by elicense.issue (or a later version).';
  END IF;
  IF c.superseded_at IS NOT NULL THEN
    SELECT x.identifier INTO cur FROM elicense.certificate x WHERE x.original_identifier = c.original_identifier AND x.superseded_at IS NULL;
    RAISE EXCEPTION 'cannot % licence version %: it was superseded by a later version', p_action, p_identifier
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = pg_catalog.format('The current version is %s.', cur);
  END IF;
  IF c.status NOT IN ('01', '02') THEN
    RAISE EXCEPTION 'cannot % licence %: its status is % (%)', p_action, p_identifier, c.status,
        CASE c.status WHEN '03' THEN 'revoked' WHEN '04' THEN 'withdrawn' WHEN '05' THEN 'cancelled' WHEN '06' THEN 'expired' ELSE 'other' END
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Only valid or suspended licences can be changed, revoked or cancelled.';
  END IF;
  RETURN c;
END
$$;
REVOKE ALL ON FUNCTION elicense._lock_current(text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._lock_current(text, text) IS 'Internal: locks the current version of a licence for a change, or raises P0002/55000';

-- Supersedes version c with n (same type, authority, sequence; version + 1).
CREATE FUNCTION elicense._new_version(c elicense.certificate, n elicense.certificate, p_status text, p_operate_type text,
                                      p_reason text, p_actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF c.version >= 999 THEN
    RAISE EXCEPTION 'licence % already has 999 versions', c.original_identifier
      USING ERRCODE = 'program_limit_exceeded', HINT = 'The identifier has three digits for the version; issue a new licence.';
  END IF;
  UPDATE elicense.certificate x SET superseded_at = now() WHERE x.identifier = c.identifier;
  n.type_code := c.type_code;
  n.holder_id_type := c.holder_id_type;
  n.authority_uscc := c.authority_uscc;
  n.sequence := c.sequence;
  n.version := c.version + 1;
  n.identifier := elicense.build_identifier(n.type_code, n.authority_uscc, n.sequence, n.version);
  n.original_identifier := c.original_identifier;
  n.previous_identifier := c.identifier;
  n.status := p_status;
  n.status_note := NULL;
  n.operate_type := p_operate_type;
  n.created_at := now();
  n.created_by := p_actor;
  n.superseded_at := NULL;
  IF p_operate_type IN ('01', '02', '08') THEN
    -- A new QR code will be assigned and a new file made.
    n.qr_url := NULL;
    n.assigned_code := NULL;
  ELSE
    n.qr_url := c.qr_url;
    n.assigned_code := c.assigned_code;
  END IF;
  n.file_sha256 := NULL;
  INSERT INTO elicense.certificate VALUES (n.*);
  PERFORM elicense._record_version(n, c.status, p_reason, p_actor);
  RETURN n.identifier;
END
$$;
REVOKE ALL ON FUNCTION elicense._new_version(elicense.certificate, elicense.certificate, text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._new_version(elicense.certificate, elicense.certificate, text, text, text, text) IS
'Internal: writes version n+1 of a licence, marks version n superseded, records history and outbox';

CREATE FUNCTION elicense.change(identifier text, data jsonb, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
  n elicense.certificate;
  cur jsonb;
  merged jsonb;
  stored jsonb;
  it record;
BEGIN
  c := elicense._lock_current(identifier, 'change');
  IF data IS NULL OR jsonb_typeof(data) <> 'object' THEN
    RAISE EXCEPTION 'changed licence data must be a JSON object, not %', coalesce(jsonb_typeof(data), 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass {"item": "new value", ...}; a JSON null removes an optional item.';
  END IF;
  -- Items of the current version, metadata columns included.
  stored := to_jsonb(c);
  cur := c.business_data;
  FOR it IN SELECT li.item, li.metadata_column FROM elicense.licence_item li
             WHERE li.type_code = c.type_code AND li.metadata_column IS NOT NULL LOOP
    cur := cur || jsonb_build_object(it.item, stored ->> it.metadata_column);
  END LOOP;
  cur := jsonb_strip_nulls(cur);
  merged := jsonb_strip_nulls(cur || data);
  IF merged = cur THEN
    RAISE EXCEPTION 'the change to licence % changes nothing', c.identifier
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass only the items that change, with their new values.';
  END IF;
  n := elicense._licence_from_data(c.type_code, merged);
  IF n.authority_uscc::text <> c.authority_uscc::text THEN
    RAISE EXCEPTION 'the issuing authority of licence % cannot change (% to %)', c.identifier, c.authority_uscc, n.authority_uscc
      USING ERRCODE = 'invalid_parameter_value', HINT = 'The authority is part of the identifier; issue a new licence instead.';
  END IF;
  IF n.licence_number <> c.licence_number THEN
    RAISE EXCEPTION 'the certificate number of licence % cannot change (% to %)', c.identifier, c.licence_number, n.licence_number
      USING ERRCODE = 'invalid_parameter_value', HINT = 'A licence keeps its number across versions; issue a new licence instead.';
  END IF;
  RETURN elicense._new_version(c, n, c.status, '08', why, who);
END
$$;
COMMENT ON FUNCTION elicense.change(text, jsonb, text, text) IS
'Changes a licence (operateType 08): data holds only the items that change (JSON null removes an optional one); writes version n+1 with a new QR assignment; returns its identifier';

CREATE FUNCTION elicense.revoke(identifier text, reason text, actor text, new_status text DEFAULT '03') RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  IF new_status IS NULL OR new_status NOT IN ('03', '04') THEN
    RAISE EXCEPTION 'revoke needs status 03 (吊销, revoked) or 04 (撤销, withdrawn), not %', coalesce(new_status, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use elicense.cancel for 注销 (05).';
  END IF;
  c := elicense._lock_current(identifier, 'revoke');
  RETURN elicense._new_version(c, c, new_status, '05', why, who);
END
$$;
COMMENT ON FUNCTION elicense.revoke(text, text, text, text) IS
'Revokes (吊销, certState 03, default) or withdraws (撤销, 04) a licence: writes version n+1 with operateType 05 and a status_update step; returns its identifier';

CREATE FUNCTION elicense.cancel(identifier text, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  c := elicense._lock_current(identifier, 'cancel');
  RETURN elicense._new_version(c, c, '05', '05', why, who);
END
$$;
COMMENT ON FUNCTION elicense.cancel(text, text, text) IS
'Cancels (注销, certState 05) a licence: writes version n+1 with operateType 05 and a status_update step; returns its identifier';

CREATE FUNCTION elicense.licence_versions(identifier text) RETURNS SETOF elicense.certificate
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT v.* FROM elicense.certificate v
   WHERE v.original_identifier = (SELECT x.original_identifier FROM elicense.certificate x WHERE x.identifier = licence_versions.identifier)
   ORDER BY v.version
$$;
COMMENT ON FUNCTION elicense.licence_versions(text) IS
'Every version of the licence that the given identifier (any version) belongs to, oldest first';

--------------------------------------------------------------------------------
-- Approval-table trigger. Attach it as
--   CREATE TRIGGER issue_licence AFTER INSERT OR UPDATE ON approval FOR EACH ROW
--   EXECUTE FUNCTION elicense.issue_from_trigger('<type code>', '<argument>', ...);
-- Arguments after the type code:
--   item=column        licence item <- NEW.column (NULL or '' = item absent)
--   const:item=value   licence item <- the constant value (authority name, ...)
--   when:column=value  issue only when NEW.column = value (as text); on UPDATE
--                      only when it becomes so (OLD.column was different)
--   actor:column       actor <- NEW.column (default: session_user)
-- Without when:, every INSERT issues and UPDATEs never do.
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.issue_from_trigger() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_row jsonb;
  arg text;
  prefix text;
  pos integer;
  items text[] := '{}';
  columns text[] := '{}';
  consts jsonb := '{}';
  when_column text;
  when_value text;
  actor_column text;
  data jsonb;
  i integer;
BEGIN
  IF TG_WHEN <> 'AFTER' OR TG_LEVEL <> 'ROW' OR TG_OP NOT IN ('INSERT', 'UPDATE') THEN
    RAISE EXCEPTION 'elicense.issue_from_trigger must run AFTER INSERT OR UPDATE FOR EACH ROW (trigger % on %.%)', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'trigger_protocol_violated';
  END IF;
  IF TG_NARGS < 1 THEN
    RAISE EXCEPTION 'trigger % on %.% gives elicense.issue_from_trigger no licence type code', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'invalid_parameter_value', HINT = 'The first trigger argument is the type code, e.g. 11100000000013338W050.';
  END IF;
  FOR i IN 1 .. TG_NARGS - 1 LOOP
    arg := TG_ARGV[i];
    IF starts_with(arg, 'actor:') THEN
      actor_column := substr(arg, 7);
      pos := CASE WHEN actor_column = '' THEN 0 ELSE 1 END;
    ELSE
      prefix := CASE WHEN starts_with(arg, 'when:') THEN 'when:' WHEN starts_with(arg, 'const:') THEN 'const:' ELSE '' END;
      arg := substr(arg, length(prefix) + 1);
      pos := strpos(arg, '=');
      IF pos > 1 THEN
        CASE prefix
          WHEN 'when:' THEN
            when_column := substr(arg, 1, pos - 1);
            when_value := substr(arg, pos + 1);
          WHEN 'const:' THEN
            consts := consts || jsonb_build_object(substr(arg, 1, pos - 1), substr(arg, pos + 1));
          ELSE
            items := items || substr(arg, 1, pos - 1);
            columns := columns || substr(arg, pos + 1);
            IF substr(arg, pos + 1) = '' THEN
              pos := 0;
            END IF;
        END CASE;
      END IF;
    END IF;
    IF pos < 1 OR (pos = 1 AND NOT starts_with(TG_ARGV[i], 'actor:')) THEN
      RAISE EXCEPTION 'trigger % on %.%: argument "%" is not item=column, const:item=value, when:column=value or actor:column',
          TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[i]
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;

  new_row := to_jsonb(NEW);
  IF when_column IS NULL THEN
    IF TG_OP = 'UPDATE' THEN
      RETURN NULL;
    END IF;
  ELSE
    IF NOT new_row ? when_column THEN
      RAISE EXCEPTION 'trigger % on %.%: column "%" does not exist', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, when_column
        USING ERRCODE = 'undefined_column';
    END IF;
    IF (new_row ->> when_column) IS DISTINCT FROM when_value
       OR (TG_OP = 'UPDATE' AND (to_jsonb(OLD) ->> when_column) IS NOT DISTINCT FROM when_value) THEN
      RETURN NULL;
    END IF;
  END IF;

  data := consts;
  FOR i IN 1 .. coalesce(array_length(columns, 1), 0) LOOP
    IF NOT new_row ? columns[i] THEN
      RAISE EXCEPTION 'trigger % on %.%: column "%" (mapped to item "%") does not exist', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, columns[i], items[i]
        USING ERRCODE = 'undefined_column';
    END IF;
    IF new_row ->> columns[i] IS NOT NULL THEN
      data := data || jsonb_build_object(items[i], new_row ->> columns[i]);
    END IF;
  END LOOP;
  IF actor_column IS NOT NULL AND NOT new_row ? actor_column THEN
    RAISE EXCEPTION 'trigger % on %.%: actor column "%" does not exist', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, actor_column
      USING ERRCODE = 'undefined_column';
  END IF;
  PERFORM elicense.issue(TG_ARGV[0], data,
                         coalesce(nullif(btrim(new_row ->> actor_column), ''), session_user::text));
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION elicense.issue_from_trigger() IS
'Trigger for approval tables: issues a licence from the row. Arguments: type code, then item=column, const:item=value, when:column=value, actor:column';

REVOKE ALL ON FUNCTION elicense.issue(text, jsonb, text), elicense.change(text, jsonb, text, text),
    elicense.revoke(text, text, text, text), elicense.cancel(text, text, text),
    elicense.licence_versions(text), elicense.issue_from_trigger() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.issue(text, jsonb, text), elicense.change(text, jsonb, text, text),
    elicense.revoke(text, text, text, text), elicense.cancel(text, text, text),
    elicense.issue_from_trigger() TO elicense_issuer;
GRANT EXECUTE ON FUNCTION elicense.licence_versions(text) TO elicense_issuer, elicense_admin;
--------------------------------------------------------------------------------
-- Views. Expiry needs no job: effective_status is 06 (expired) once valid_to
-- has passed for a licence stored as 01 (valid).
-- Analysts (elicense_analyst) read only the analyst_* views: no base table,
-- no business data, resident ID numbers masked (issue 7 adds a grant for the
-- unmasked numbers). The views run with the extension owner's rights.
-- Operators in view bodies are not written OPERATOR(pg_catalog.x): CREATE
-- EXTENSION runs this script with search_path = pg_catalog (the control
-- file's schema), and a view binds its operators and functions when created.
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.mask_holder_id(id_type text, id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN id_type = 'USCC' THEN id
              WHEN length(id) > 10 THEN left(id, 6) || repeat('*', length(id) - 10) || right(id, 4)
              ELSE repeat('*', length(id)) END
$$;
COMMENT ON FUNCTION elicense.mask_holder_id(text, text) IS
'Holder ID for people who may not see it: a resident ID keeps its first 6 and last 4 characters; a USCC (public register) is shown as is';

CREATE FUNCTION elicense.effective_status(status text, valid_to date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN status = '01' AND valid_to < current_date THEN '06' ELSE status END
$$;
COMMENT ON FUNCTION elicense.effective_status(text, date) IS
'certState as of today: 06 (expired) for a valid licence past its valid_to, else the stored status';

CREATE VIEW elicense.certificate_current AS
SELECT c.identifier, c.original_identifier, c.type_code, c.sequence, c.version, c.licence_number,
       c.holder_name, c.holder_id_type, c.holder_id, c.authority_name, c.authority_uscc, c.authority_division,
       c.issue_date, c.valid_from, c.valid_to, c.status,
       CASE WHEN c.status = '01' AND c.valid_to < current_date THEN '06' ELSE c.status END AS effective_status,
       c.status_note, c.operate_type, c.business_data, c.created_at, c.created_by, c.qr_url, c.assigned_code, c.file_sha256
  FROM elicense.certificate c
 WHERE c.superseded_at IS NULL;
COMMENT ON VIEW elicense.certificate_current IS
'Latest version of every licence, with effective_status (06 once a valid licence is past valid_to)';
COMMENT ON COLUMN elicense.certificate_current.effective_status IS 'certState as of today: 06 when status is 01 and valid_to has passed';

CREATE VIEW elicense.analyst_holder_history AS
SELECT c.holder_id_type,
       elicense.mask_holder_id(c.holder_id_type, c.holder_id) AS holder_id_masked,
       c.holder_name, c.type_code, t.name AS type_name, c.original_identifier, c.identifier, c.version,
       c.licence_number, c.authority_name, c.authority_uscc, c.issue_date, c.valid_from, c.valid_to, c.status,
       CASE WHEN c.status = '01' AND c.valid_to < current_date THEN '06' ELSE c.status END AS effective_status,
       c.operate_type, c.created_at, c.superseded_at, c.superseded_at IS NULL AS is_current
  FROM elicense.certificate c
  JOIN elicense.licence_type t ON t.type_code = c.type_code;
COMMENT ON VIEW elicense.analyst_holder_history IS
'Every version of every licence by holder, resident ID numbers masked; no business data';
COMMENT ON COLUMN elicense.analyst_holder_history.holder_id_masked IS 'USCC as is; resident ID with only its first 6 and last 4 characters';

CREATE VIEW elicense.analyst_status_timeline AS
SELECT h.original_identifier, h.identifier, c.version, c.type_code, c.authority_uscc,
       h.from_status, h.to_status, h.operate_type, h.reason, h.actor, h.at
  FROM elicense.status_history h
  JOIN elicense.certificate c ON c.identifier = h.identifier;
COMMENT ON VIEW elicense.analyst_status_timeline IS 'Status changes of every licence in time order per original_identifier';

CREATE VIEW elicense.analyst_outbox_backlog AS
SELECT o.step, o.status,
       CASE WHEN now() - o.created_at < interval '1 minute' THEN '1: < 1 min'
            WHEN now() - o.created_at < interval '10 minutes' THEN '2: 1-10 min'
            WHEN now() - o.created_at < interval '1 hour' THEN '3: 10-60 min'
            WHEN now() - o.created_at < interval '1 day' THEN '4: 1-24 h'
            ELSE '5: > 1 day' END AS age_bucket,
       count(*) AS steps,
       count(*) FILTER (WHERE o.next_attempt_at <= now()) AS due_now,
       min(o.created_at) AS oldest_created_at,
       max(o.attempts) AS max_attempts
  FROM elicense.outbox o
 WHERE o.status <> 'done'
 GROUP BY 1, 2, 3;
COMMENT ON VIEW elicense.analyst_outbox_backlog IS 'Undelivered outbox steps (pending, in_flight, dead) by step, status and age';

CREATE VIEW elicense.analyst_issuance_monthly AS
SELECT v1.authority_uscc, max(v1.authority_name) AS authority_name, v1.type_code,
       date_trunc('month', v1.issue_date)::date AS month,
       count(*) AS issued,
       count(*) FILTER (WHERE CASE WHEN cur.status = '01' AND cur.valid_to < current_date THEN '06' ELSE cur.status END = '01') AS valid_now,
       count(*) FILTER (WHERE cur.status = '01' AND cur.valid_to < current_date) AS expired_now,
       count(*) FILTER (WHERE cur.status IN ('03', '04')) AS revoked_or_withdrawn,
       count(*) FILTER (WHERE cur.status = '05') AS cancelled,
       count(*) FILTER (WHERE cur.version > 1) AS with_later_versions,
       count(*) FILTER (WHERE d.delivered) AS delivered,
       round(count(*) FILTER (WHERE d.delivered)::numeric / count(*), 4) AS electronic_rate
  FROM elicense.certificate v1
  JOIN elicense.certificate cur ON cur.original_identifier = v1.original_identifier AND cur.superseded_at IS NULL
  CROSS JOIN LATERAL (
        SELECT EXISTS (SELECT FROM elicense.outbox o JOIN elicense.certificate v ON v.identifier = o.identifier
                        WHERE v.original_identifier = v1.original_identifier AND o.step = 'collect' AND o.status = 'done')
               AS delivered) d
 WHERE v1.version = 1
 GROUP BY v1.authority_uscc, v1.type_code, date_trunc('month', v1.issue_date);
COMMENT ON VIEW elicense.analyst_issuance_monthly IS
'证照电子化率-style counts per authority, type and month of issue: licences issued, their state now, and how many reached the national platform (a collect step done)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.delivered IS 'Licences with at least one version whose collect (归集) step is done';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.electronic_rate IS 'delivered / issued';

COMMENT ON COLUMN elicense.analyst_holder_history.is_current IS 'True for the current version of the licence';
COMMENT ON COLUMN elicense.analyst_holder_history.type_name IS 'Licence name from elicense.licence_type';
COMMENT ON COLUMN elicense.analyst_holder_history.effective_status IS 'certState as of today (06 once a valid licence is past valid_to)';
COMMENT ON COLUMN elicense.analyst_status_timeline.version IS 'Version created by the change';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.age_bucket IS 'Age of the step since it was queued';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.steps IS 'Number of steps';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.due_now IS 'Steps whose next attempt time has come';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.oldest_created_at IS 'When the oldest step was queued';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.max_attempts IS 'Most attempts made for one step';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.month IS 'First day of the month of issue (issue_date of version 001)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.issued IS 'Licences issued (versions 001)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.valid_now IS 'Of these, valid today (current version effective status 01)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.expired_now IS 'Of these, past valid_to today';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.revoked_or_withdrawn IS 'Of these, revoked (03) or withdrawn (04)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.cancelled IS 'Of these, cancelled (05)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.with_later_versions IS 'Of these, licences with more than one version';

REVOKE ALL ON elicense.certificate_current, elicense.analyst_holder_history, elicense.analyst_status_timeline,
    elicense.analyst_outbox_backlog, elicense.analyst_issuance_monthly FROM PUBLIC;
GRANT SELECT ON elicense.certificate_current TO elicense_admin, elicense_issuer, elicense_worker;
GRANT SELECT ON elicense.analyst_holder_history, elicense.analyst_status_timeline,
    elicense.analyst_outbox_backlog, elicense.analyst_issuance_monthly TO elicense_analyst, elicense_admin;
--------------------------------------------------------------------------------
-- Preview URLs (issue 9). The collect step (归集) sends the national platform
-- a link to a watermarked preview, never the file. The link carries a token
-- (core/include/elicense/preview_token.hpp): licence identifier and expiry,
-- HMAC-SHA256 with a key that lives only here, admin-only. The preview server
-- (preview/) holds no secret: it hands tokens to elicense.preview_open.
--------------------------------------------------------------------------------

CREATE TABLE elicense.preview_key (
    id         smallint PRIMARY KEY CONSTRAINT preview_key_id_range CHECK (id BETWEEN 1 AND 255),
    secret     bytea NOT NULL CONSTRAINT preview_key_length CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE elicense.preview_key IS
'HMAC keys of preview tokens; the newest signs, every row verifies (delete a row to invalidate its URLs); admin only';
-- Dumped: a restored database must still accept the URLs the platform holds.
-- No row ships (it would collide with itself on restore): the first
-- preview_url() call makes one.
SELECT pg_catalog.pg_extension_config_dump('elicense.preview_key', '');
REVOKE ALL ON elicense.preview_key FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON elicense.preview_key TO elicense_admin;

CREATE FUNCTION elicense._preview_token(secret bytea, key_id integer, identifier text, expires_at bigint) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_preview_token'
LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION elicense._preview_token_key_id(token text) RETURNS integer
AS 'MODULE_PATHNAME', 'elicense_preview_token_key_id'
LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION elicense._preview_token_check(token text, secret bytea, OUT identifier text, OUT expires_at bigint)
AS 'MODULE_PATHNAME', 'elicense_preview_token_check'
LANGUAGE C IMMUTABLE STRICT;
REVOKE ALL ON FUNCTION elicense._preview_token(bytea, integer, text, bigint),
    elicense._preview_token_key_id(text), elicense._preview_token_check(text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._preview_token(bytea, integer, text, bigint) IS
'Internal: preview token for a licence identifier valid until expires_at (Unix seconds)';
COMMENT ON FUNCTION elicense._preview_token_key_id(text) IS
'Internal: key id of a well-formed preview token, NULL for anything else';
COMMENT ON FUNCTION elicense._preview_token_check(text, bytea) IS
'Internal: identifier and expiry of a token signed with secret; NULLs if it is not';

-- A fresh key: 2 x 122 random bits of gen_random_uuid (pg_strong_random).
CREATE FUNCTION elicense.rotate_preview_key() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_id integer;
BEGIN
  LOCK TABLE elicense.preview_key IN SHARE ROW EXCLUSIVE MODE;
  SELECT coalesce(max(id), 0) + 1 INTO new_id FROM elicense.preview_key;
  IF new_id > 255 THEN
    RAISE EXCEPTION 'preview key ids are used up (255)' USING ERRCODE = 'program_limit_exceeded',
      HINT = 'DELETE old rows of elicense.preview_key (their URLs stop working), then renumber.';
  END IF;
  INSERT INTO elicense.preview_key (id, secret)
  VALUES (new_id, decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION elicense.rotate_preview_key() IS
'Adds a new preview key, which signs the URLs of versions created from now on; URLs signed with older keys stay valid until their row is deleted';
REVOKE ALL ON FUNCTION elicense.rotate_preview_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.rotate_preview_key() TO elicense_admin;

-- The preview URL of a licence version, from delivery_config's template.
-- The same version always gets the same URL (the worker's confirm step
-- compares the URL the platform holds with this one, and a replayed collect
-- step must send the same link): the expiry counts from the version's
-- creation, and the key is the newest one made before the version (else
-- the oldest), so a later key rotation does not change existing URLs.
CREATE FUNCTION elicense.preview_url(identifier text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  template text;
  lifetime interval;
  anchor timestamptz;
  k elicense.preview_key;
  url text;
BEGIN
  SELECT d.preview_url_template, d.preview_token_lifetime INTO template, lifetime FROM elicense.delivery_config d;
  template := coalesce(template, 'https://licence-preview.invalid/p/{token}');
  lifetime := coalesce(lifetime, interval '5 years');
  url := replace(template, '{identifier}', preview_url.identifier);
  IF strpos(url, '{token}') > 0 THEN
    SELECT c.created_at INTO anchor FROM elicense.certificate c WHERE c.identifier = preview_url.identifier;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no licence with identifier "%"', preview_url.identifier USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT FROM elicense.preview_key) THEN
      PERFORM elicense.rotate_preview_key();
    END IF;
    SELECT * INTO k FROM elicense.preview_key p WHERE p.created_at < anchor ORDER BY p.created_at DESC, p.id DESC LIMIT 1;
    IF NOT FOUND THEN
      SELECT * INTO k FROM elicense.preview_key p ORDER BY p.created_at, p.id LIMIT 1;
    END IF;
    url := replace(url, '{token}', elicense._preview_token(k.secret, k.id, preview_url.identifier,
        least(extract(epoch FROM anchor + lifetime)::bigint, 4294967295)));
  END IF;
  RETURN url;
END
$$;
COMMENT ON FUNCTION elicense.preview_url(text) IS
'URL of the watermarked preview of a licence version: delivery_config.preview_url_template with {identifier} and {token} (valid for preview_token_lifetime from the version''s creation) filled in; the same for every call';
REVOKE ALL ON FUNCTION elicense.preview_url(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.preview_url(text) TO elicense_admin, elicense_issuer, elicense_worker;
--------------------------------------------------------------------------------
-- Delivery: what the sync worker (elicense-sync) calls. The worker holds no
-- domain rules; these functions decide which steps are due, in which order,
-- what a returned code means and where everything is recorded:
--   lease_steps      due outbox rows, leased with FOR UPDATE SKIP LOCKED
--   renew_leases     keep leases of work in progress
--   record_attempt   one row per HTTP call (elicense.delivery_attempt)
--   step_succeeded   done; for assign_code decrypt the code, store it and the QR URL
--   step_failed      retry later with backoff, or dead (business error, attempts used up)
--   replay           an admin puts dead rows back
-- Every change of a step's status is kept in elicense.delivery_event; every
-- assigned code in elicense.code_assignment.
--------------------------------------------------------------------------------

-- At most one row; without one the defaults below apply. (No row is shipped:
-- a shipped row would be dumped and then collide with itself on restore.)
CREATE TABLE elicense.delivery_config (
    singleton            boolean PRIMARY KEY DEFAULT true CONSTRAINT delivery_config_one_row CHECK (singleton),
    preview_url_template text NOT NULL DEFAULT 'https://licence-preview.invalid/p/{token}'
        CONSTRAINT delivery_config_preview_placeholder
        CHECK (strpos(preview_url_template, '{identifier}') > 0 OR strpos(preview_url_template, '{token}') > 0),
    preview_token_lifetime interval NOT NULL DEFAULT '5 years'
        CONSTRAINT delivery_config_preview_lifetime CHECK (preview_token_lifetime >= interval '1 minute')
);
COMMENT ON TABLE elicense.delivery_config IS
'Delivery settings (at most one row; none means defaults); the worker''s own settings are in its config file';
COMMENT ON COLUMN elicense.delivery_config.preview_url_template IS
'URL of the watermarked preview sent with the collect step (归集): {token} becomes a signed, expiring preview token (elicense.preview_url), {identifier} the licence identifier';
COMMENT ON COLUMN elicense.delivery_config.preview_token_lifetime IS 'How long a preview URL made for the collect step stays valid';
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_config', '');
REVOKE ALL ON elicense.delivery_config FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.delivery_config TO elicense_admin;

CREATE TABLE elicense.delivery_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES elicense.outbox (id),
    identifier  text NOT NULL,
    step        text NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    detail      text,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX delivery_event_outbox ON elicense.delivery_event (outbox_id);
CREATE INDEX delivery_event_at ON elicense.delivery_event USING brin (at);
COMMENT ON TABLE elicense.delivery_event IS
'Every status change of a delivery step: done, retry scheduled, dead, lease taken over, replayed. Append-only';
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_event', '');

CREATE TABLE elicense.code_assignment (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier    text NOT NULL REFERENCES elicense.certificate (identifier),
    assigned_code text NOT NULL,
    qr_url        text NOT NULL,
    outbox_id     bigint NOT NULL REFERENCES elicense.outbox (id),
    worker_id     text NOT NULL,
    at            timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX code_assignment_identifier ON elicense.code_assignment (identifier);
COMMENT ON TABLE elicense.code_assignment IS 'Every code the national platform assigned (赋码), with the QR URL built from it. Append-only';
SELECT pg_catalog.pg_extension_config_dump('elicense.code_assignment', '');

CREATE TRIGGER delivery_event_append_only BEFORE UPDATE OR DELETE ON elicense.delivery_event
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change();
CREATE TRIGGER code_assignment_append_only BEFORE UPDATE OR DELETE ON elicense.code_assignment
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change();
REVOKE ALL ON elicense.delivery_event, elicense.code_assignment FROM PUBLIC;
GRANT SELECT ON elicense.delivery_event, elicense.code_assignment TO elicense_admin, elicense_worker, elicense_analyst;

-- The licence as the worker sends it (keys: worker/src/platform_mapping.hpp).
-- A status version (revoke, cancel) has no code of its own: the platform
-- knows the licence by the latest code assigned to any of its versions.
-- VOLATILE: elicense.preview_url may create the first preview key.
CREATE FUNCTION elicense._delivery_licence(p_identifier text) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object(
           'identifier', c.identifier, 'original_identifier', c.original_identifier, 'type_code', c.type_code,
           'licence_number', c.licence_number, 'holder_name', c.holder_name, 'holder_id_type', c.holder_id_type,
           'holder_id', c.holder_id, 'authority', c.authority_name, 'authority_uscc', c.authority_uscc,
           'issue_date', c.issue_date, 'valid_from', c.valid_from, 'valid_to', c.valid_to,
           'cert_state', c.status, 'operate_type', c.operate_type, 'items', c.business_data,
           'assigned_code', coalesce(c.assigned_code,
               (SELECT v.assigned_code FROM elicense.certificate v
                 WHERE v.original_identifier = c.original_identifier AND v.assigned_code IS NOT NULL
                 ORDER BY v.version DESC LIMIT 1)),
           'preview_url', elicense.preview_url(c.identifier),
           'reason', (SELECT h.reason FROM elicense.status_history h WHERE h.identifier = c.identifier
                       ORDER BY h.id DESC LIMIT 1))
    FROM elicense.certificate c
   WHERE c.identifier = p_identifier
$$;
REVOKE ALL ON FUNCTION elicense._delivery_licence(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._delivery_licence(text) IS 'Internal: canonical licence JSON the worker maps to the platform''s fields';

CREATE FUNCTION elicense.lease_steps(worker_id text, max_rows integer, lease_seconds integer)
RETURNS TABLE (outbox_id bigint, identifier text, step text, attempts integer, needs_query boolean, licence jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  -- Due rows, and rows whose lease lapsed (their worker died: the outcome of
  -- its request is unknown). A step waits until every earlier step of every
  -- earlier version of the same licence is done.
  RETURN QUERY
  WITH due AS (
    SELECT o.id, o.status AS old_status
      FROM elicense.outbox o
     WHERE ((o.status = 'pending' AND o.next_attempt_at <= now())
            OR (o.status = 'in_flight' AND o.lease_expires_at < now()))
       AND NOT EXISTS (
             SELECT FROM elicense.certificate mine
               JOIN elicense.certificate sib ON sib.original_identifier = mine.original_identifier
               JOIN elicense.outbox e ON e.identifier = sib.identifier
              WHERE mine.identifier = o.identifier
                AND (e.version, e.step_order) < (o.version, o.step_order)
                AND e.status <> 'done'
             OFFSET 0)  -- keeps this a per-row probe: as an anti-join it would scan the whole queue
     ORDER BY o.next_attempt_at, o.id
     LIMIT max_rows
       FOR UPDATE OF o SKIP LOCKED
  ), taken_over AS (
    INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
    SELECT o.id, o.identifier, o.step, 'in_flight', 'in_flight', 'lease of ' || o.lease_owner || ' lapsed', worker_id
      FROM elicense.outbox o JOIN due ON due.id = o.id
     WHERE due.old_status = 'in_flight'
  ), leased AS (
    UPDATE elicense.outbox o
       SET status = 'in_flight', lease_owner = worker_id,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           attempts = o.attempts + 1,
           needs_query = o.needs_query OR due.old_status = 'in_flight',
           updated_at = now()
      FROM due
     WHERE o.id = due.id
    RETURNING o.id, o.identifier, o.step, o.attempts, o.needs_query
  )
  SELECT l.id, l.identifier, l.step, l.attempts, l.needs_query, elicense._delivery_licence(l.identifier)
    FROM leased l;
END
$$;
COMMENT ON FUNCTION elicense.lease_steps(text, integer, integer) IS
'Leases up to max_rows due delivery steps for lease_seconds, in per-licence order, skipping rows other workers hold';

CREATE FUNCTION elicense.renew_leases(worker_id text, lease_seconds integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH renewed AS (
    UPDATE elicense.outbox SET lease_expires_at = now() + make_interval(secs => lease_seconds), updated_at = now()
     WHERE status = 'in_flight' AND lease_owner = worker_id
    RETURNING 1)
  SELECT count(*)::integer FROM renewed
$$;
COMMENT ON FUNCTION elicense.renew_leases(text, integer) IS 'Extends the leases a worker holds while its requests are in flight';

CREATE FUNCTION elicense.record_attempt(outbox_id bigint, identifier text, step text, endpoint text, http_status integer,
    return_code text, return_message text, duration_ms integer, worker_id text, outcome text) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO elicense.delivery_attempt (outbox_id, identifier, step, endpoint, http_status, return_code, return_message,
                                         duration_ms, worker_id, outcome)
  VALUES (outbox_id, identifier, step, endpoint, http_status, return_code, return_message, duration_ms, worker_id, outcome)
$$;
COMMENT ON FUNCTION elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text) IS
'Records one call to the national platform (the endpoint must come without its token)';

-- Stores the code of an assign_code answer: decrypts it with the province's
-- secret, builds the QR URL with the platform's public key, records both.
-- Returns NULL, or why the code could not be stored (never key material).
CREATE FUNCTION elicense._store_assignment(o elicense.outbox, answer jsonb, p_worker text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := answer -> 'assignments' -> 0;
  c elicense.certificate;
  province text;
  plain_kind text;
  code text;
  url text;
BEGIN
  IF a IS NULL THEN
    RETURN 'the platform answered success without an assignment';
  END IF;
  SELECT * INTO c FROM elicense.certificate WHERE identifier = o.identifier;
  province := substr(c.authority_division, 1, 2) || '0000';
  BEGIN
    SELECT d.kind, d.code, d.url INTO plain_kind, code, url
      FROM elicense.decrypt_assignment(a ->> 'encry_certid', a ->> 'encry_key', province) d;
    -- The platform sends either the bare code or a finished QR URL.
    IF plain_kind = 'code' THEN
      url := elicense.qr_url(code, c.type_code, province);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    RETURN 'cannot use the assigned code: ' || SQLERRM;
  END;
  UPDATE elicense.certificate SET assigned_code = code, qr_url = url WHERE identifier = o.identifier;
  INSERT INTO elicense.code_assignment (identifier, assigned_code, qr_url, outbox_id, worker_id)
  VALUES (o.identifier, code, url, o.id, p_worker);
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION elicense._store_assignment(elicense.outbox, jsonb, text) FROM PUBLIC;

CREATE FUNCTION elicense.step_succeeded(outbox_id bigint, worker_id text, answer jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
  problem text;
BEGIN
  SELECT * INTO o FROM elicense.outbox x
   WHERE x.id = step_succeeded.outbox_id AND x.status = 'in_flight' AND x.lease_owner = step_succeeded.worker_id
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;  -- the lease lapsed and another worker owns the row now
  END IF;
  IF o.step = 'assign_code' THEN
    problem := elicense._store_assignment(o, answer, worker_id);
  END IF;
  UPDATE elicense.outbox x
     SET status = CASE WHEN problem IS NULL THEN 'done' ELSE 'dead' END,
         last_error = problem, lease_owner = NULL, lease_expires_at = NULL, needs_query = false, updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'in_flight', CASE WHEN problem IS NULL THEN 'done' ELSE 'dead' END,
          coalesce(problem, (answer ->> 'return_code') || ' ' || coalesce(answer ->> 'message', '')), worker_id);
  IF problem IS NULL THEN
    -- Queue the version's next step, due now (none after the last one;
    -- versions queued by 0.1.0 have all their steps already).
    INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type)
    SELECT o.identifier, o.version, next_step, o.step_order + 1, o.operate_type
      FROM (SELECT (elicense._delivery_steps(o.operate_type))[o.step_order + 1] AS next_step) n
     WHERE next_step IS NOT NULL
    ON CONFLICT ON CONSTRAINT outbox_step_once DO NOTHING;
    PERFORM pg_notify('elicense_outbox', '');  -- the licence's next step is due now
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION elicense.step_succeeded(bigint, text, jsonb) IS
'Marks a leased step done (assign_code: stores the decrypted code and QR URL) and queues the version''s next step; false if the worker no longer holds the lease';

CREATE FUNCTION elicense.step_failed(outbox_id bigint, worker_id text, kind text, error text, retry_in_ms bigint,
    max_attempts integer) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
  next_status text;
BEGIN
  IF kind NOT IN ('retry', 'unknown', 'business_error') THEN
    RAISE EXCEPTION 'invalid failure kind "%"', kind USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Use retry, unknown or business_error.';
  END IF;
  SELECT * INTO o FROM elicense.outbox x
   WHERE x.id = step_failed.outbox_id AND x.status = 'in_flight' AND x.lease_owner = step_failed.worker_id
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  next_status := CASE WHEN kind = 'business_error' OR o.attempts >= max_attempts THEN 'dead' ELSE 'pending' END;
  UPDATE elicense.outbox x
     SET status = next_status, last_error = error, lease_owner = NULL, lease_expires_at = NULL,
         -- once an attempt may have taken effect, every later one asks first
         needs_query = o.needs_query OR kind = 'unknown',
         next_attempt_at = now() + make_interval(secs => retry_in_ms / 1000.0), updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'in_flight', next_status, kind || ': ' || error, worker_id);
  RETURN next_status;
END
$$;
COMMENT ON FUNCTION elicense.step_failed(bigint, text, text, text, bigint, integer) IS
'Records a failed attempt: pending again after retry_in_ms, or dead after a business error or max_attempts';

CREATE FUNCTION elicense.replay(outbox_id bigint, actor text DEFAULT session_user) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
BEGIN
  UPDATE elicense.outbox x
     SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
         needs_query = x.needs_query OR x.attempts > 0, updated_at = now()
   WHERE x.id = replay.outbox_id AND x.status = 'dead'
  RETURNING * INTO o;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'dead', 'pending', 'replayed', actor);
  PERFORM pg_notify('elicense_outbox', '');
  RETURN true;
END
$$;
COMMENT ON FUNCTION elicense.replay(bigint, text) IS 'Puts a dead delivery step back in the queue (it queries the platform first if it was tried)';

CREATE FUNCTION elicense.replay(identifier text, actor text DEFAULT session_user) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT count(*) FILTER (WHERE elicense.replay(o.id, actor))::integer
    FROM elicense.outbox o
   WHERE o.identifier = replay.identifier AND o.status = 'dead'
$$;
COMMENT ON FUNCTION elicense.replay(text, text) IS 'Puts every dead delivery step of a licence version back in the queue';

REVOKE ALL ON FUNCTION elicense.lease_steps(text, integer, integer), elicense.renew_leases(text, integer),
    elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_failed(bigint, text, text, text, bigint, integer),
    elicense.replay(bigint, text), elicense.replay(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.lease_steps(text, integer, integer), elicense.renew_leases(text, integer),
    elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_failed(bigint, text, text, text, bigint, integer)
    TO elicense_worker;
GRANT EXECUTE ON FUNCTION elicense.replay(bigint, text), elicense.replay(text, text) TO elicense_admin;

-- Counters for operators (the worker's own progress goes to its log).
CREATE VIEW elicense.delivery_metrics AS
SELECT o.step,
       count(*) FILTER (WHERE o.status = 'pending') AS pending,
       count(*) FILTER (WHERE o.status = 'in_flight') AS in_flight,
       count(*) FILTER (WHERE o.status = 'done') AS done,
       count(*) FILTER (WHERE o.status = 'dead') AS dead,
       sum(o.attempts) AS attempts,
       count(*) FILTER (WHERE o.needs_query AND o.status <> 'done') AS awaiting_query,
       min(o.created_at) FILTER (WHERE o.status <> 'done') AS oldest_open
  FROM elicense.outbox o
 GROUP BY o.step;
COMMENT ON VIEW elicense.delivery_metrics IS 'Delivery steps per step name and status, attempts made, oldest open step';

CREATE VIEW elicense.analyst_delivery_attempts AS
SELECT a.at, a.identifier, a.step, a.endpoint, a.http_status, a.return_code, a.return_message, a.outcome,
       a.duration_ms, a.worker_id
  FROM elicense.delivery_attempt a;
COMMENT ON VIEW elicense.analyst_delivery_attempts IS 'Every call to the national platform and its answer (tokens never recorded)';

REVOKE ALL ON elicense.delivery_metrics, elicense.analyst_delivery_attempts FROM PUBLIC;
GRANT SELECT ON elicense.delivery_metrics, elicense.analyst_delivery_attempts
    TO elicense_admin, elicense_worker, elicense_analyst;
--------------------------------------------------------------------------------
-- The licence file of a certificate version: its face template (one per
-- licence type, data-driven: a DBA moves fields or changes fonts with an
-- UPDATE, no rebuild), the face values taken from the certificate row, the QR
-- code from the URL the worker stored, rendered by render_licence_ofd.
--------------------------------------------------------------------------------

CREATE TABLE elicense.ofd_template (
    type_code text PRIMARY KEY REFERENCES elicense.licence_type ON UPDATE CASCADE,
    template  jsonb NOT NULL CONSTRAINT ofd_template_object CHECK (jsonb_typeof(template) = 'object'),
    shipped   boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE elicense.ofd_template IS
'Face template of each licence type (format: README, "Licence files"); shipped rows come from extension/templates/*.json';
COMMENT ON COLUMN elicense.ofd_template.shipped IS 'Installed by CREATE EXTENSION (not dumped); rows a DBA adds are dumped';
SELECT pg_catalog.pg_extension_config_dump('elicense.ofd_template', 'WHERE NOT shipped');
REVOKE ALL ON elicense.ofd_template FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.ofd_template TO elicense_admin;
GRANT SELECT ON elicense.ofd_template TO elicense_issuer, elicense_worker;

-- Seal keys per issuing authority (GB/T 38540): without a row files are
-- unsigned. Secrets: admin only, never an argument of a public function.
CREATE TABLE elicense.seal_key (
    authority_uscc  elicense.uscc PRIMARY KEY,
    seal_name       text NOT NULL DEFAULT '电子印章',
    private_key_pem text NOT NULL,
    certificate_pem text NOT NULL,
    seal_png        bytea NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE elicense.seal_key IS
'Seal of each issuing authority: SM2 (SM2-with-SM3) or RSA (SHA-256) private key, its certificate and the seal picture; admin only';
SELECT pg_catalog.pg_extension_config_dump('elicense.seal_key', '');
REVOKE ALL ON elicense.seal_key FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.seal_key TO elicense_admin;

CREATE FUNCTION elicense._seal_ofd(ofd bytea, private_key_pem text, certificate_pem text, seal_png bytea,
    seal_name text, x float8, y float8, size float8) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_seal_ofd'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._seal_ofd(bytea, text, text, bytea, text, float8, float8, float8) FROM PUBLIC;
COMMENT ON FUNCTION elicense._seal_ofd(bytea, text, text, bytea, text, float8, float8, float8) IS
'Internal: signs an OFD file (GB/T 38540 structure) with the seal in a box of size mm at x, y mm';

-- The face values of a version, keyed as its type's template names them.
CREATE FUNCTION elicense.licence_face_fields(c elicense.certificate) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE c.type_code
    WHEN '11100000000013338W050' THEN jsonb_build_object(
      'cert_no', c.licence_number, 'unit_name', c.holder_name, 'uscc', c.holder_id,
      'principal', c.business_data ->> 'principal', 'address', c.business_data ->> 'address',
      'economic_type', c.business_data ->> 'economic_type', 'scope', c.business_data ->> 'permit_scope',
      'valid_period', to_char(c.valid_from, 'YYYY年MM月DD日') || ' 至 ' || coalesce(to_char(c.valid_to, 'YYYY年MM月DD日'), '长期'),
      'issuer', c.authority_name, 'issue_date', to_char(c.issue_date, 'YYYY年MM月DD日'))
    WHEN '11100000000013338W032' THEN jsonb_build_object(
      'name', c.holder_name, 'gender', c.business_data ->> 'gender', 'id_no', c.holder_id,
      'category', c.business_data ->> 'category', 'cert_no', c.licence_number,
      'first_issue_date', to_char(coalesce((c.business_data ->> 'first_issue_date')::date, c.issue_date), 'YYYY年MM月DD日'),
      'valid_period', to_char(c.valid_from, 'YYYY年MM月DD日') || ' 至 ' || coalesce(to_char(c.valid_to, 'YYYY年MM月DD日'), '长期'),
      'issuer', c.authority_name)
    -- A type a DBA added: its items under their own names.
    ELSE c.business_data || jsonb_build_object('licence_number', c.licence_number, 'holder_name', c.holder_name)
  END
$$;
COMMENT ON FUNCTION elicense.licence_face_fields(elicense.certificate) IS
'Face values of a certificate version, keyed as the face template of its type names them';

-- The file of certificate row c as given (the sharing copies pass a row with
-- the holder's ID masked): its type's face template and QR code, sealed when
-- elicense.seal_key has the authority's seal. DocID and date come from the
-- version, so an unsealed version renders to the same bytes every time (an
-- SM2 seal is randomised: keep the original you store).
CREATE FUNCTION elicense._render_version_ofd(c elicense.certificate, watermark boolean, purpose text, valid_until text)
RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tpl jsonb;
  file bytea;
  seal elicense.seal_key;
BEGIN
  SELECT t.template INTO tpl FROM elicense.ofd_template t WHERE t.type_code = c.type_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no face template for licence type %', c.type_code USING ERRCODE = 'undefined_object',
      HINT = 'An elicense_admin inserts one into elicense.ofd_template.';
  END IF;
  file := elicense.render_licence_ofd(tpl, elicense.licence_face_fields(c), elicense.qr_png(c.qr_url), watermark,
                                      purpose, valid_until, md5(c.identifier), c.issue_date::text);
  SELECT * INTO seal FROM elicense.seal_key k WHERE k.authority_uscc = c.authority_uscc;
  IF FOUND THEN
    file := elicense._seal_ofd(file, seal.private_key_pem, seal.certificate_pem, seal.seal_png, seal.seal_name,
                               (tpl #>> '{seal,x}')::float8, (tpl #>> '{seal,y}')::float8, (tpl #>> '{seal,size}')::float8);
  END IF;
  RETURN file;
END
$$;
REVOKE ALL ON FUNCTION elicense._render_version_ofd(elicense.certificate, boolean, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._render_version_ofd(elicense.certificate, boolean, text, text) IS
'Internal: OFD file of a certificate row with its type''s face template and QR code, sealed when the authority has a seal';

CREATE FUNCTION elicense.render_certificate_ofd(identifier text, watermark boolean DEFAULT true,
    purpose text DEFAULT '', valid_until text DEFAULT '') RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  file bytea;
  digest text;
BEGIN
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = render_certificate_ofd.identifier;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no licence with identifier "%"', identifier USING ERRCODE = 'no_data_found';
  END IF;
  IF c.qr_url IS NULL THEN
    RAISE EXCEPTION 'licence % has no QR code yet', identifier USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'The sync worker stores the QR URL once the national platform has assigned a code (赋码).';
  END IF;
  file := elicense._render_version_ofd(c, watermark, purpose, valid_until);
  IF NOT watermark AND purpose = '' THEN  -- the original: remember its digest
    digest := encode(sha256(file), 'hex');
    UPDATE elicense.certificate x SET file_sha256 = digest
     WHERE x.identifier = c.identifier AND x.file_sha256 IS DISTINCT FROM digest;
  END IF;
  RETURN file;
END
$$;
COMMENT ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text) IS
'OFD file of a licence version, sealed when elicense.seal_key has the authority''s seal: the platform watermark by default, a purpose-and-validity note for copies to other departments; rendering the original (no watermark, no purpose) stores its SHA-256 on the certificate row';
REVOKE ALL ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text)
    TO elicense_issuer, elicense_worker, elicense_admin;
-- Generated by make from extension/templates/*.json; edit those files instead.
INSERT INTO elicense.ofd_template (type_code, template, shipped)
SELECT t ->> 'type_code', t, true FROM (SELECT $tpl${
  "type_code": "11100000000013338W032",
  "name": "建筑施工特种作业人员操作资格证书",
  "page": {"width": 210, "height": 297},
  "frame": {"margin": 10, "line_width": 1.2, "color": "32 64 144"},
  "title": {"text": "建筑施工特种作业人员操作资格证书", "y": 66, "font": "黑体", "size": 24},
  "qr": {"x": 164, "y": 18, "size": 30},
  "seal": {"x": 122, "y": 178, "size": 42},
  "label": {"font": "黑体", "size": 14},
  "fields": [
    {"key": "name", "label": "姓名", "x": 30, "y": 92, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "gender", "label": "性别", "x": 30, "y": 106, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "id_no", "label": "身份证号", "x": 30, "y": 120, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "category", "label": "操作类别", "x": 30, "y": 134, "value_x": 75, "width": 105, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "cert_no", "label": "证书编号", "x": 30, "y": 155, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "first_issue_date", "label": "初次领证日期", "x": 30, "y": 169, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "valid_period", "label": "有效期", "x": 30, "y": 183, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "issuer", "label": "发证机关", "x": 30, "y": 197, "value_x": 75, "width": 105, "font": "宋体", "size": 14}
  ]
}$tpl$::jsonb AS t) s;
INSERT INTO elicense.ofd_template (type_code, template, shipped)
SELECT t ->> 'type_code', t, true FROM (SELECT $tpl${
  "type_code": "11100000000013338W050",
  "name": "建筑施工企业安全生产许可证",
  "page": {"width": 210, "height": 297},
  "frame": {"margin": 10, "line_width": 1.2, "color": "176 32 32"},
  "title": {"text": "建筑施工企业安全生产许可证", "y": 66, "font": "黑体", "size": 26},
  "qr": {"x": 164, "y": 18, "size": 30},
  "seal": {"x": 122, "y": 200, "size": 42},
  "label": {"font": "黑体", "size": 14},
  "fields": [
    {"key": "cert_no", "label": "证书编号", "x": 25, "y": 90, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "unit_name", "label": "单位名称", "x": 25, "y": 103, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "uscc", "label": "统一社会信用代码", "x": 25, "y": 123, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "principal", "label": "主要负责人", "x": 25, "y": 136, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "address", "label": "单位地址", "x": 25, "y": 149, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "economic_type", "label": "经济类型", "x": 25, "y": 169, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "scope", "label": "许可范围", "x": 25, "y": 182, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 3},
    {"key": "valid_period", "label": "有效期", "x": 25, "y": 209, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "issuer", "label": "发证机关", "x": 25, "y": 222, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "issue_date", "label": "发证日期", "x": 25, "y": 235, "value_x": 70, "width": 115, "font": "宋体", "size": 14}
  ]
}$tpl$::jsonb AS t) s;
--------------------------------------------------------------------------------
-- What the preview server (preview/, role elicense_preview) may do: open a
-- token (verified here, every access with a genuine token logged) and fetch
-- the watermarked licence file of a valid one. Nothing else: no table, no
-- original file, no key.
--------------------------------------------------------------------------------

CREATE TABLE elicense.preview_access (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    identifier text NOT NULL,
    version    integer NOT NULL,
    client     text NOT NULL,
    code       smallint NOT NULL,
    status     text NOT NULL
);
CREATE INDEX preview_access_at ON elicense.preview_access USING brin (at);
CREATE INDEX preview_access_identifier ON elicense.preview_access (identifier);
COMMENT ON TABLE elicense.preview_access IS
'Every preview opened with a genuine token: time, version, client, HTTP code, status shown. Append-only. Tokens that are not ours (garbage, tampered) are logged by the preview server only, so random traffic cannot grow this table';
SELECT pg_catalog.pg_extension_config_dump('elicense.preview_access', '');
CREATE TRIGGER preview_access_append_only BEFORE UPDATE OR DELETE ON elicense.preview_access
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('The preview access log is evidence; it is never changed.');
REVOKE ALL ON elicense.preview_access FROM PUBLIC;
GRANT SELECT ON elicense.preview_access TO elicense_admin;

-- The identifier and expiry of a token we signed with a key we still have;
-- no row otherwise.
CREATE FUNCTION elicense._preview_claims(token text, OUT identifier text, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ch.identifier, to_timestamp(ch.expires_at)
    FROM elicense.preview_key k,
         LATERAL elicense._preview_token_check(token, k.secret) ch
   WHERE k.id = elicense._preview_token_key_id(token) AND ch.identifier IS NOT NULL
$$;
REVOKE ALL ON FUNCTION elicense._preview_claims(text) FROM PUBLIC;

-- What a preview shows for a version: 'valid', or why not. A version
-- replaced by a revocation or cancellation shows that status; one replaced
-- by a change (变更) shows 'superseded'.
CREATE FUNCTION elicense._preview_status(c elicense.certificate) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN s.status = '02' THEN 'suspended'
    WHEN s.status = '03' THEN 'revoked'
    WHEN s.status = '04' THEN 'withdrawn'
    WHEN s.status = '05' THEN 'cancelled'
    WHEN s.status = '06' THEN 'expired'
    WHEN s.status = '99' THEN 'other'
    WHEN c.superseded_at IS NOT NULL THEN 'superseded'
    WHEN c.valid_to IS NOT NULL AND c.valid_to < current_date THEN 'expired'
    WHEN c.qr_url IS NULL THEN 'not_ready'
    ELSE 'valid' END
    FROM (SELECT coalesce((SELECT cur.status FROM elicense.certificate cur
                            WHERE cur.original_identifier = c.original_identifier AND cur.superseded_at IS NULL
                              AND c.superseded_at IS NOT NULL), c.status) AS status) s
$$;
REVOKE ALL ON FUNCTION elicense._preview_status(elicense.certificate) FROM PUBLIC;

CREATE FUNCTION elicense.preview_open(token text, client text)
RETURNS TABLE (code integer, identifier text, version integer, status text, content_hash text,
               token_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  claim record;
  c elicense.certificate;
  shown text;
  hash text;
BEGIN
  SELECT * INTO claim FROM elicense._preview_claims(token);
  IF FOUND THEN
    SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = claim.identifier;
  END IF;
  IF NOT FOUND THEN  -- not a token of ours, or no such version: 404, logged by the server only
    RETURN QUERY SELECT 404, NULL::text, NULL::integer, 'unknown'::text, NULL::text, NULL::timestamptz;
    RETURN;
  END IF;
  IF claim.expires_at <= now() THEN
    code := 410;
    shown := 'token_expired';
  ELSE
    code := 200;
    shown := elicense._preview_status(c);
  END IF;
  IF shown = 'valid' THEN
    -- What the page shows, not the file's bytes (a sealed file differs on
    -- every render): face template and values, QR URL, seal picture.
    SELECT encode(sha256(convert_to(concat_ws(E'\x1f', t.template::text, elicense.licence_face_fields(c)::text,
                                              c.qr_url, encode(sha256(k.seal_png), 'hex')), 'UTF8')), 'hex')
      INTO hash
      FROM elicense.ofd_template t
      LEFT JOIN elicense.seal_key k ON k.authority_uscc = c.authority_uscc
     WHERE t.type_code = c.type_code;
    IF hash IS NULL THEN
      shown := 'not_ready';  -- no face template for the type
    END IF;
  END IF;
  INSERT INTO elicense.preview_access (identifier, version, client, code, status)
  VALUES (c.identifier, c.version, left(coalesce(preview_open.client, ''), 100), preview_open.code, shown);
  RETURN QUERY SELECT preview_open.code, c.identifier::text, c.version, shown, hash, claim.expires_at;
END
$$;
COMMENT ON FUNCTION elicense.preview_open(text, text) IS
'For the preview server: the state of the version a preview token names (code 404 not our token, 410 token expired, 200 with status valid/superseded/revoked/withdrawn/cancelled/expired/suspended/other/not_ready) and, when valid, a hash of what the page shows for caching; logs the access in elicense.preview_access';

CREATE FUNCTION elicense.preview_ofd(token text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  claim record;
  c elicense.certificate;
BEGIN
  SELECT * INTO claim FROM elicense._preview_claims(token);
  IF FOUND THEN
    SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = claim.identifier;
  END IF;
  IF NOT FOUND OR claim.expires_at <= now() OR elicense._preview_status(c) <> 'valid' THEN
    RAISE EXCEPTION 'preview token does not open a valid licence' USING ERRCODE = 'insufficient_privilege',
      HINT = 'Call elicense.preview_open first; only a valid version has a file to show.';
  END IF;
  -- A valid version has its QR code: render the row in hand.
  RETURN elicense._render_version_ofd(c, true, '', '');
END
$$;
COMMENT ON FUNCTION elicense.preview_ofd(text) IS
'For the preview server: the watermarked licence file (never the original) of the valid version a live token names';

REVOKE ALL ON FUNCTION elicense.preview_open(text, text), elicense.preview_ofd(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.preview_open(text, text), elicense.preview_ofd(text)
    TO elicense_preview, elicense_admin;
--------------------------------------------------------------------------------
-- Sharing: departments that use licences (用证, seed 001 §5.4.3; the
-- GB/T 36906-style interfaces of seeds 003/004). Vocabulary:
--   scenario    a use (用证场景): name, purpose (用证事由), licence types it may touch
--   grant       which department application (a database role, so the caller
--               cannot claim another identity by an argument) may use which
--               types in a scenario, whether it may see resident ID numbers,
--               for which period; revocable
--   usage code  用证码: made from a business context (applicant, business id,
--               step, office, time, department, officer, licences needed) for
--               ONE holder; short-lived; stored only as its SHA-256
--   audit       every call, ok or refused, append-only, written by an
--               autonomous writer (extension/src/audit_writer.cpp) so that a
--               refusal, whose error rolls back the caller's transaction, and a
--               read in a transaction the caller rolls back are still recorded
-- Department application login roles are members of elicense_consumer: it
-- has EXECUTE on the functions below and no table access.
--------------------------------------------------------------------------------

CREATE TABLE elicense.usage_scenario (
    code             text PRIMARY KEY CONSTRAINT usage_scenario_code_format CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name             text NOT NULL CONSTRAINT usage_scenario_name_present CHECK (name <> ''),
    purpose          text NOT NULL CONSTRAINT usage_scenario_purpose_present CHECK (purpose <> ''),
    type_codes       text[] NOT NULL CONSTRAINT usage_scenario_types_present CHECK (cardinality(type_codes) > 0),
    copy_valid_days  integer NOT NULL DEFAULT 30 CONSTRAINT usage_scenario_copy_days CHECK (copy_valid_days BETWEEN 1 AND 3650),
    max_code_minutes integer NOT NULL DEFAULT 60 CONSTRAINT usage_scenario_code_minutes CHECK (max_code_minutes BETWEEN 1 AND 1440),
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE elicense.usage_scenario IS 'Usage scenarios (用证场景): what a use is for and which licence types it may touch';
COMMENT ON COLUMN elicense.usage_scenario.purpose IS 'Default purpose (用证事由) printed on copies of licence files: 用途：…';
COMMENT ON COLUMN elicense.usage_scenario.copy_valid_days IS 'A file copy handed out is valid for this many days (有效期至 on the copy)';
COMMENT ON COLUMN elicense.usage_scenario.max_code_minutes IS 'Cap on the lifetime of a usage code made in this scenario';

CREATE TABLE elicense.usage_grant (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grantee            regrole NOT NULL,
    department         text NOT NULL CONSTRAINT usage_grant_department_present CHECK (department <> ''),
    scenario           text NOT NULL REFERENCES elicense.usage_scenario ON UPDATE CASCADE,
    type_codes         text[] NOT NULL CONSTRAINT usage_grant_types_present CHECK (cardinality(type_codes) > 0),
    may_see_id_numbers boolean NOT NULL DEFAULT false,
    valid_from         timestamptz NOT NULL DEFAULT now(),
    valid_to           timestamptz,
    revoked_at         timestamptz,
    revoked_reason     text,
    created_by         text NOT NULL DEFAULT session_user,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_grant_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT usage_grant_revocation CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE UNIQUE INDEX usage_grant_one_live ON elicense.usage_grant (grantee, scenario) WHERE revoked_at IS NULL;
COMMENT ON TABLE elicense.usage_grant IS
'Which department application (grantee: a role its login roles are members of) may use which licence types in a scenario, and for how long; revoke by setting revoked_at and revoked_reason';
COMMENT ON COLUMN elicense.usage_grant.may_see_id_numbers IS 'Resident ID numbers (身份证) of holders are shown in full; otherwise first 6 and last 4 characters';
COMMENT ON INDEX elicense.usage_grant_one_live IS 'One live grant per role and scenario';

-- Type codes of scenarios and grants must be known types; a grant's types
-- must be among its scenario's.
CREATE FUNCTION elicense._check_usage_types() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  unknown text;
  allowed text[];
BEGIN
  SELECT t INTO unknown FROM unnest(NEW.type_codes) t
   WHERE NOT EXISTS (SELECT FROM elicense.licence_type l WHERE l.type_code = t) LIMIT 1;
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'unknown licence type "%" in %.type_codes', unknown, TG_TABLE_NAME USING ERRCODE = 'undefined_object',
      HINT = 'Licence types are the rows of elicense.licence_type.';
  END IF;
  IF TG_TABLE_NAME = 'usage_grant' THEN
    SELECT s.type_codes INTO allowed FROM elicense.usage_scenario s WHERE s.code = NEW.scenario;
    IF NOT NEW.type_codes <@ allowed THEN
      RAISE EXCEPTION 'usage_grant.type_codes % are not all in scenario "%" (%)', NEW.type_codes, NEW.scenario, allowed
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Grant only types the scenario allows, or widen the scenario first.';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION elicense._check_usage_types() FROM PUBLIC;
CREATE TRIGGER usage_scenario_types BEFORE INSERT OR UPDATE ON elicense.usage_scenario
    FOR EACH ROW EXECUTE FUNCTION elicense._check_usage_types();
CREATE TRIGGER usage_grant_types BEFORE INSERT OR UPDATE ON elicense.usage_grant
    FOR EACH ROW EXECUTE FUNCTION elicense._check_usage_types();

CREATE TABLE elicense.usage_code (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_sha256 bytea NOT NULL UNIQUE,
    grant_id    bigint NOT NULL REFERENCES elicense.usage_grant,
    holder_id   text NOT NULL,
    type_codes  text[] NOT NULL,
    context     jsonb NOT NULL,
    created_by  text NOT NULL DEFAULT session_user,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
COMMENT ON TABLE elicense.usage_code IS
'Usage codes (用证码): the SHA-256 of the code (the code itself is never stored), the grant it was made under, the one holder and the licence types it opens, its business context and expiry';
COMMENT ON COLUMN elicense.usage_code.context IS
'purpose (用证事由), applicant (办事人), business_id (业务标识), step (业务环节), office (业务网点), time (业务时间), department (业务部门), officer (经办人员)';

--------------------------------------------------------------------------------
-- Audit: append-only; rows come from the autonomous writer (or, when no
-- writer can start, from the caller's transaction, with a LOG line).
-- No foreign keys on purpose: the writer commits while the caller's
-- transaction, which may hold the referenced rows uncommitted, waits for it.
--------------------------------------------------------------------------------

CREATE TABLE elicense.usage_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL,
    db_user          text NOT NULL,
    grantee          text,
    department       text,
    officer          text,
    function         text NOT NULL,
    identifier       text,
    holder_id        text,
    scenario         text,
    purpose          text,
    business_id      text,
    usage_code_id    bigint,
    result           text NOT NULL CONSTRAINT usage_audit_result CHECK (result IN ('ok', 'refused')),
    sqlstate         text,
    message          text,
    rows_returned    integer NOT NULL DEFAULT 0,
    file_sha256      text,
    copy_valid_until date,
    recorded_by      text NOT NULL CONSTRAINT usage_audit_recorded_by CHECK (recorded_by IN ('writer', 'transaction')),
    CONSTRAINT usage_audit_refusal_state CHECK ((result = 'refused') = (sqlstate IS NOT NULL))
);
CREATE INDEX usage_audit_at ON elicense.usage_audit USING brin (at);
CREATE INDEX usage_audit_identifier ON elicense.usage_audit (identifier) WHERE identifier IS NOT NULL;
CREATE INDEX usage_audit_holder ON elicense.usage_audit (holder_id) WHERE holder_id IS NOT NULL;
CREATE INDEX usage_audit_file ON elicense.usage_audit (file_sha256) WHERE file_sha256 IS NOT NULL;
COMMENT ON TABLE elicense.usage_audit IS 'Every use of the sharing functions: who, what, why, when, result. Append-only';
COMMENT ON COLUMN elicense.usage_audit.db_user IS 'Login role of the session (session_user)';
COMMENT ON COLUMN elicense.usage_audit.grantee IS 'Role of the grant the call was made under';
COMMENT ON COLUMN elicense.usage_audit.department IS 'Department (业务部门) from the usage code, else from the grant';
COMMENT ON COLUMN elicense.usage_audit.officer IS 'Officer (经办人员) from the usage code';
COMMENT ON COLUMN elicense.usage_audit.function IS 'Sharing function called';
COMMENT ON COLUMN elicense.usage_audit.identifier IS 'Licence asked for (or found by verification)';
COMMENT ON COLUMN elicense.usage_audit.holder_id IS 'Holder asked for: personal data, analysts see it masked (analyst_usage_audit)';
COMMENT ON COLUMN elicense.usage_audit.result IS 'ok, or refused with the SQLSTATE and message of the error the caller got';
COMMENT ON COLUMN elicense.usage_audit.message IS 'The error message of a refusal; the verdict of a verification';
COMMENT ON COLUMN elicense.usage_audit.rows_returned IS 'Rows (licences, files) handed out';
COMMENT ON COLUMN elicense.usage_audit.file_sha256 IS 'SHA-256 of a file copy handed out: licence_verify recognises the copy by it';
COMMENT ON COLUMN elicense.usage_audit.copy_valid_until IS 'Validity printed on that copy (有效期至)';
COMMENT ON COLUMN elicense.usage_audit.recorded_by IS 'writer: committed by the autonomous audit writer; transaction: fallback in the caller''s transaction (also in the server log)';
COMMENT ON INDEX elicense.usage_audit_identifier IS 'Who used a licence';
COMMENT ON INDEX elicense.usage_audit_holder IS 'Who used a holder''s licences';
COMMENT ON INDEX elicense.usage_audit_file IS 'Copies handed out, by file digest (verification)';

CREATE TRIGGER usage_audit_append_only BEFORE UPDATE OR DELETE ON elicense.usage_audit
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('The usage audit is evidence; it is never changed.');
CREATE TRIGGER usage_audit_no_truncate BEFORE TRUNCATE ON elicense.usage_audit
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('The usage audit is evidence; it is never changed.');

-- Writes one audit row (run by the audit writer, or by _record as fallback).
CREATE FUNCTION elicense._audit_insert(r jsonb) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO elicense.usage_audit (at, db_user, grantee, department, officer, function, identifier, holder_id,
      scenario, purpose, business_id, usage_code_id, result, sqlstate, message, rows_returned, file_sha256,
      copy_valid_until, recorded_by)
  VALUES ((r ->> 'at')::timestamptz, r ->> 'db_user', r ->> 'grantee', r ->> 'department', r ->> 'officer',
      r ->> 'function', r ->> 'identifier', r ->> 'holder_id', r ->> 'scenario', r ->> 'purpose',
      r ->> 'business_id', (r ->> 'usage_code_id')::bigint, r ->> 'result', r ->> 'sqlstate', r ->> 'message',
      coalesce((r ->> 'rows_returned')::integer, 0), r ->> 'file_sha256', (r ->> 'copy_valid_until')::date,
      r ->> 'recorded_by')
  RETURNING id
$$;
REVOKE ALL ON FUNCTION elicense._audit_insert(jsonb) FROM PUBLIC;

CREATE FUNCTION elicense._audit_autonomous(record text) RETURNS bigint
AS 'MODULE_PATHNAME', 'elicense_audit_autonomous'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._audit_autonomous(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._audit_autonomous(text) IS
'Internal: hands an audit record (JSON) to this session''s audit writer, a background worker that commits it in its own transaction; returns the row id, or NULL when no writer can run';

-- Records one use; returns the audit row id. The record survives the
-- caller's rollback unless no writer could run (then: LOG line + in-transaction row).
CREATE FUNCTION elicense._record(r jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
BEGIN
  r := r || jsonb_build_object('at', clock_timestamp(), 'db_user', session_user::text);
  id := elicense._audit_autonomous((r || '{"recorded_by": "writer"}')::text);
  IF id IS NULL THEN
    RAISE LOG 'elicense usage audit (no audit writer could start; recorded in the caller''s transaction): %',
      (r || jsonb_build_object('holder_id', elicense._mask_any_holder(r ->> 'holder_id')))::text;
    id := elicense._audit_insert(r || '{"recorded_by": "transaction"}');
  END IF;
  RETURN id;
END
$$;
REVOKE ALL ON FUNCTION elicense._record(jsonb) FROM PUBLIC;

-- Masks a holder ID whose type is not known (audit rows): a USCC is public.
CREATE FUNCTION elicense._mask_any_holder(id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT elicense.mask_holder_id(CASE WHEN elicense.is_valid_uscc(id) THEN 'USCC' ELSE 'RESIDENT_ID' END, id)
$$;

--------------------------------------------------------------------------------
-- Who is calling, under which grant
--------------------------------------------------------------------------------

-- The login role and every role it is a member of, directly or not. Unlike
-- pg_has_role, superuser status does not make a role a member of everything:
-- a grant applies only to real members of its grantee.
CREATE FUNCTION elicense._caller_roles() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH RECURSIVE r(oid) AS (
    SELECT a.oid FROM pg_catalog.pg_roles a WHERE a.rolname = session_user
    UNION
    SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN r ON m.member = r.oid)
  SELECT array_agg(oid) FROM r
$$;

-- Everything a sharing function knows about a call: the grant and, with a
-- usage code, the code. refusal_* are set when the call must be refused.
CREATE TYPE elicense._usage_context AS (
    grant_id           bigint,
    grantee            text,
    department         text,
    scenario           text,
    grant_types        text[],
    may_see_id_numbers boolean,
    purpose            text,
    copy_valid_days    integer,
    code_id            bigint,
    holder_id          text,
    code_types         text[],
    officer            text,
    business_id        text,
    expires_at         timestamptz,
    context            jsonb,
    refusal_state      text,
    refusal_message    text,
    refusal_hint       text
);

CREATE FUNCTION elicense._audit_of(x elicense._usage_context) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('grantee', x.grantee, 'department', x.department, 'scenario', x.scenario,
      'purpose', x.purpose, 'usage_code_id', x.code_id, 'officer', x.officer, 'business_id', x.business_id))
$$;

-- The caller's live grant for a scenario, or why there is none.
CREATE FUNCTION elicense._grant_context(scenario text) RETURNS elicense._usage_context
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  x elicense._usage_context;
  g elicense.usage_grant;
  s elicense.usage_scenario;
BEGIN
  x.scenario := scenario;
  SELECT * INTO s FROM elicense.usage_scenario u WHERE u.code = _grant_context.scenario;
  IF NOT FOUND THEN
    x.refusal_state := '42704';
    x.refusal_message := format('unknown usage scenario "%s"', scenario);
    x.refusal_hint := 'Scenarios are the rows of elicense.usage_scenario; an elicense_admin creates them.';
    RETURN x;
  END IF;
  x.purpose := s.purpose;
  x.copy_valid_days := s.copy_valid_days;
  -- A live grant first; else the most recent one, to say why it no longer applies.
  SELECT * INTO g FROM elicense.usage_grant u
   WHERE u.scenario = s.code AND u.grantee::oid = ANY (elicense._caller_roles())
   ORDER BY (u.revoked_at IS NULL AND u.valid_from <= now() AND (u.valid_to IS NULL OR u.valid_to > now())) DESC, u.id DESC
   LIMIT 1;
  IF NOT FOUND THEN
    x.refusal_state := '42501';
    x.refusal_message := format('role "%s" has no usage grant for scenario "%s"', session_user, scenario);
    x.refusal_hint := 'An elicense_admin grants a department application a scenario in elicense.usage_grant (grantee: a role the login role is a member of).';
    RETURN x;
  END IF;
  x.grant_id := g.id;
  x.grantee := g.grantee::text;
  x.department := g.department;
  x.grant_types := g.type_codes;
  x.may_see_id_numbers := g.may_see_id_numbers;
  IF g.revoked_at IS NOT NULL THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage grant %s of role "%s" for scenario "%s" was revoked at %s: %s',
                                g.id, g.grantee, scenario, g.revoked_at, g.revoked_reason);
    x.refusal_hint := 'Ask the licence authority for a new grant.';
  ELSIF g.valid_from > now() OR g.valid_to <= now() THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage grant %s of role "%s" for scenario "%s" is valid from %s to %s, not now',
                                g.id, g.grantee, scenario, g.valid_from, coalesce(g.valid_to::text, 'no end'));
    x.refusal_hint := 'Ask the licence authority to extend the grant.';
  END IF;
  RETURN x;
END
$$;

-- The context of a usage code presented by the caller, or why it is refused.
CREATE FUNCTION elicense._code_context(usage_code text) RETURNS elicense._usage_context
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  x elicense._usage_context;
  u elicense.usage_code;
  scenario text;
BEGIN
  SELECT * INTO u FROM elicense.usage_code c WHERE c.code_sha256 = sha256(convert_to(coalesce(usage_code, ''), 'UTF8'));
  IF NOT FOUND THEN
    x.refusal_state := '28000';
    x.refusal_message := 'unknown usage code';
    x.refusal_hint := 'Create one with elicense.create_usage_code(...) and pass the text it returns.';
    RETURN x;
  END IF;
  SELECT g.scenario INTO scenario FROM elicense.usage_grant g WHERE g.id = u.grant_id;
  x := elicense._grant_context(scenario);
  x.code_id := u.id;
  x.holder_id := u.holder_id;
  x.code_types := u.type_codes;
  x.context := u.context;
  x.officer := u.context ->> 'officer';
  x.business_id := u.context ->> 'business_id';
  x.department := coalesce(u.context ->> 'department', x.department);
  x.purpose := coalesce(u.context ->> 'purpose', x.purpose);
  x.expires_at := u.expires_at;
  IF x.refusal_state IS NOT NULL THEN
    RETURN x;
  END IF;
  IF x.grant_id IS DISTINCT FROM u.grant_id THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage code %s was made under another grant than role "%s" holds', u.id, session_user);
    x.refusal_hint := 'A usage code is used by the department application that made it.';
  ELSIF u.expires_at <= now() THEN
    x.refusal_state := '28000';
    x.refusal_message := format('usage code %s expired at %s', u.id, u.expires_at);
    x.refusal_hint := 'Usage codes are short-lived; create a new one for the request.';
  END IF;
  RETURN x;
END
$$;

-- Raises a refusal found by _grant_context/_code_context.
CREATE FUNCTION elicense._raise_refusal(x elicense._usage_context) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF x.refusal_state IS NOT NULL THEN
    RAISE EXCEPTION '%', x.refusal_message USING ERRCODE = x.refusal_state, HINT = x.refusal_hint;
  END IF;
END
$$;

-- The by-holder functions: the holder asked for must be the code's own.
CREATE FUNCTION elicense._require_code_holder(x elicense._usage_context, holder_id text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF holder_id IS DISTINCT FROM x.holder_id THEN
    RAISE EXCEPTION 'usage code % was made for another holder', x.code_id USING ERRCODE = 'insufficient_privilege',
      HINT = 'A usage code opens the licences of the one holder it was made for.';
  END IF;
END
$$;

--------------------------------------------------------------------------------
-- What a department sees of a licence version
--------------------------------------------------------------------------------

CREATE TYPE elicense.licence_share AS (
    identifier          text,
    original_identifier text,
    version             integer,
    is_current          boolean,
    type_code           text,
    type_name           text,
    licence_number      text,
    holder_name         text,
    holder_id_type      text,
    holder_id           text,
    authority_name      text,
    authority_uscc      text,
    authority_division  text,
    issue_date          date,
    valid_from          date,
    valid_to            date,
    status              text,
    effective_status    text,
    business_data       jsonb
);
COMMENT ON TYPE elicense.licence_share IS
'A licence version as the sharing functions return it: holder_id masked (resident IDs: first 6 and last 4) unless the grant may see ID numbers; business_data only from the info functions, NULL in search results';

CREATE FUNCTION elicense._share(c elicense.certificate, may_see_id_numbers boolean, with_data boolean)
RETURNS elicense.licence_share
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ROW(c.identifier, c.original_identifier, c.version, c.superseded_at IS NULL, c.type_code,
             (SELECT t.name FROM elicense.licence_type t WHERE t.type_code = c.type_code), c.licence_number,
             c.holder_name, c.holder_id_type,
             CASE WHEN may_see_id_numbers THEN c.holder_id ELSE elicense.mask_holder_id(c.holder_id_type, c.holder_id) END,
             c.authority_name, c.authority_uscc, c.authority_division, c.issue_date, c.valid_from, c.valid_to, c.status,
             elicense.effective_status(c.status, c.valid_to), CASE WHEN with_data THEN c.business_data END)::elicense.licence_share
$$;

-- The copy of a licence file for a department: no platform watermark (it
-- says the file is for the national platform's publication), the
-- purpose-and-validity note (seed 000 §8.4), the holder's resident ID masked
-- on the face unless the grant may see it, sealed like every file.
CREATE FUNCTION elicense._render_copy(identifier text, purpose text, valid_until date, mask_id boolean) RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
BEGIN
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = _render_copy.identifier;
  IF c.qr_url IS NULL THEN
    RAISE EXCEPTION 'licence % has no QR code yet', identifier USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'The file exists once the national platform has assigned a code (赋码); ask again later.';
  END IF;
  IF mask_id THEN
    c.holder_id := elicense.mask_holder_id(c.holder_id_type, c.holder_id);
  END IF;
  RETURN elicense._render_version_ofd(c, false, purpose, to_char(valid_until, 'YYYY-MM-DD'));
END
$$;
REVOKE ALL ON FUNCTION elicense._render_copy(text, text, date, boolean) FROM PUBLIC;

-- A licence version the code may open, or a refusal (P0002 unknown,
-- 42501 other holder or type outside the code).
CREATE FUNCTION elicense._licence_for_code(x elicense._usage_context, identifier text) RETURNS elicense.certificate
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
BEGIN
  SELECT * INTO c FROM elicense.certificate v WHERE v.identifier = _licence_for_code.identifier;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no licence with identifier "%"', identifier USING ERRCODE = 'no_data_found',
      HINT = 'Find identifiers with elicense.licence_info_by_holder or elicense.licence_search.';
  END IF;
  IF c.holder_id <> x.holder_id THEN
    RAISE EXCEPTION 'licence "%" belongs to another holder than usage code %', identifier, x.code_id
      USING ERRCODE = 'insufficient_privilege', HINT = 'A usage code opens the licences of the one holder it was made for.';
  END IF;
  IF NOT c.type_code = ANY (x.code_types) THEN
    RAISE EXCEPTION 'licence type % of "%" is not among the types of usage code % (%)', c.type_code, identifier, x.code_id,
      array_to_string(x.code_types, ', ') USING ERRCODE = 'insufficient_privilege',
      HINT = 'Create a usage code that names this licence type (the grant must allow it).';
  END IF;
  RETURN c;
END
$$;

--------------------------------------------------------------------------------
-- Public functions (EXECUTE: elicense_consumer). Each records one audit row
-- per call (per file for by-holder files), refusals included: the body runs
-- in a block whose handler records the error, then re-raises it.
--------------------------------------------------------------------------------

-- 用证码: make a usage code for one holder from a business context.
CREATE FUNCTION elicense.create_usage_code(scenario text, holder_id text, licence_types text[], context jsonb,
    valid_minutes integer DEFAULT 15) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'create_usage_code', 'scenario', scenario, 'holder_id', holder_id);
  x elicense._usage_context;
  k text;
  max_minutes integer;
  code text;
  code_id bigint;
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x)
           || jsonb_strip_nulls(jsonb_build_object('officer', context ->> 'officer', 'business_id', context ->> 'business_id',
                                                   'department', context ->> 'department'));
    PERFORM elicense._raise_refusal(x);
    IF context IS NULL OR jsonb_typeof(context) <> 'object' THEN
      RAISE EXCEPTION 'usage context must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH k IN ARRAY ARRAY['applicant', 'business_id', 'step', 'office', 'department', 'officer'] LOOP
      IF coalesce(btrim(context ->> k), '') = '' THEN
        RAISE EXCEPTION 'usage context lacks "%"', k USING ERRCODE = 'invalid_parameter_value',
          HINT = 'A context names applicant (办事人), business_id (业务标识), step (业务环节), office (业务网点), department (业务部门) and officer (经办人员); purpose (用证事由) and time (业务时间) are optional.';
      END IF;
    END LOOP;
    IF holder_id IS NULL OR NOT (elicense.is_valid_uscc(holder_id) OR elicense.is_valid_resident_id(holder_id)) THEN
      -- The value is personal data: not repeated in the message (or the audit).
      RAISE EXCEPTION 'holder_id is neither a valid USCC nor a valid resident ID number' USING ERRCODE = 'invalid_text_representation',
        HINT = 'The holder is the company (统一社会信用代码) or the person (居民身份证号码) the request is about.';
    END IF;
    IF licence_types IS NULL OR cardinality(licence_types) = 0 THEN
      RAISE EXCEPTION 'licence_types is empty' USING ERRCODE = 'invalid_parameter_value',
        HINT = 'Name the licence types (所需证照) the request needs.';
    END IF;
    IF NOT licence_types <@ x.grant_types THEN
      RAISE EXCEPTION 'licence types % are outside the grant of role "%" for scenario "%" (%)',
        array_to_string(ARRAY(SELECT unnest(licence_types) EXCEPT SELECT unnest(x.grant_types)), ', '),
        x.grantee, scenario, array_to_string(x.grant_types, ', ')
        USING ERRCODE = 'insufficient_privilege', HINT = 'Ask only for the licence types the grant allows.';
    END IF;
    SELECT s.max_code_minutes INTO max_minutes FROM elicense.usage_scenario s WHERE s.code = scenario;
    IF valid_minutes IS NULL OR valid_minutes NOT BETWEEN 1 AND max_minutes THEN
      RAISE EXCEPTION 'valid_minutes % is outside 1-% (scenario "%")', valid_minutes, max_minutes, scenario
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Usage codes are short-lived; the scenario sets the cap.';
    END IF;
    -- 244 random bits from two version-4 UUIDs (core PostgreSQL, no pgcrypto needed).
    code := 'UC' || upper(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
    INSERT INTO elicense.usage_code (code_sha256, grant_id, holder_id, type_codes, context, expires_at)
    VALUES (sha256(convert_to(code, 'UTF8')), x.grant_id, holder_id, licence_types,
            jsonb_build_object('purpose', x.purpose, 'time', now()) || context,
            now() + make_interval(mins => valid_minutes))
    RETURNING id INTO code_id;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'usage_code_id', code_id, 'rows_returned', 1));
  RETURN code;
END
$$;
COMMENT ON FUNCTION elicense.create_usage_code(text, text, text[], jsonb, integer) IS
'用证码: a usage code for one holder (USCC or resident ID) and the licence types it needs, under the caller''s grant for the scenario; context: applicant, business_id, step, office, department, officer (required), purpose, time (optional); valid 15 minutes by default, at most the scenario''s max_code_minutes';

-- 用证码验证: what a usage code stands for (valid = not expired).
CREATE FUNCTION elicense.usage_code_info(usage_code text,
    OUT valid boolean, OUT scenario text, OUT department text, OUT holder_id text, OUT licence_types text[],
    OUT context jsonb, OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := '{"function": "usage_code_info"}';
  x elicense._usage_context;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x) || jsonb_strip_nulls(jsonb_build_object('holder_id', x.holder_id));
    -- An expired code is answered (valid = false); any other refusal is raised.
    IF x.refusal_state IS NOT NULL AND NOT (x.refusal_state = '28000' AND x.code_id IS NOT NULL) THEN
      PERFORM elicense._raise_refusal(x);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  valid := x.expires_at > now();
  scenario := x.scenario;
  department := x.department;
  holder_id := CASE WHEN x.may_see_id_numbers THEN x.holder_id ELSE elicense._mask_any_holder(x.holder_id) END;
  licence_types := x.code_types;
  context := x.context;
  expires_at := x.expires_at;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1,
                                                   'message', CASE WHEN valid THEN 'valid' ELSE 'expired' END));
END
$$;
COMMENT ON FUNCTION elicense.usage_code_info(text) IS
'用证码验证: scenario, department, holder (masked unless the grant may see ID numbers), licence types, context and expiry of a usage code the caller made; valid is false once it has expired';

-- 基于证照标识获取信息
CREATE FUNCTION elicense.licence_info(usage_code text, identifier text) RETURNS elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_info', 'identifier', identifier);
  x elicense._usage_context;
  c elicense.certificate;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x) || jsonb_strip_nulls(jsonb_build_object('holder_id', x.holder_id));
    PERFORM elicense._raise_refusal(x);
    c := elicense._licence_for_code(x, identifier);
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1));
  RETURN elicense._share(c, x.may_see_id_numbers, true);
END
$$;
COMMENT ON FUNCTION elicense.licence_info(text, text) IS
'基于证照标识获取证照信息: metadata and business data of a licence version of the usage code''s holder and types';

-- 基于持证主体获取信息: the current versions of the holder's licences.
CREATE FUNCTION elicense.licence_info_by_holder(usage_code text, holder_id text) RETURNS SETOF elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_info_by_holder', 'holder_id', holder_id);
  x elicense._usage_context;
  n integer;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    PERFORM elicense._require_code_holder(x, holder_id);
    RETURN QUERY
      SELECT s.* FROM elicense.certificate c, LATERAL elicense._share(c, x.may_see_id_numbers, true) s
       WHERE c.holder_id = x.holder_id AND c.superseded_at IS NULL AND c.type_code = ANY (x.code_types)
       ORDER BY c.type_code, c.identifier;
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
COMMENT ON FUNCTION elicense.licence_info_by_holder(text, text) IS
'基于持证主体获取证照信息: current versions of the licences of the usage code''s holder (USCC or resident ID number), of the code''s types';

-- 基于证照标识下载文件
CREATE FUNCTION elicense.licence_file(usage_code text, identifier text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_file', 'identifier', identifier);
  x elicense._usage_context;
  c elicense.certificate;
  until date;
  file bytea;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x) || jsonb_strip_nulls(jsonb_build_object('holder_id', x.holder_id));
    PERFORM elicense._raise_refusal(x);
    c := elicense._licence_for_code(x, identifier);
    until := current_date + x.copy_valid_days;
    file := elicense._render_copy(c.identifier, x.purpose, until, NOT x.may_see_id_numbers);
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1,
      'file_sha256', encode(sha256(file), 'hex'), 'copy_valid_until', until));
  RETURN file;
END
$$;
COMMENT ON FUNCTION elicense.licence_file(text, text) IS
'基于证照标识下载证照文件: an OFD copy of a licence version with the note 用途：<purpose> 有效期至：<today + copy_valid_days> (seed 000 §8.4), sealed; resident ID masked on the face unless the grant may see ID numbers';

-- 基于持证主体下载文件: one copy per current licence of the holder.
CREATE FUNCTION elicense.licence_file_by_holder(usage_code text, holder_id text,
    OUT identifier text, OUT type_code text, OUT file bytea) RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_file_by_holder', 'holder_id', holder_id);
  x elicense._usage_context;
  ids text[];
  types text[];
  files bytea[] := '{}';
  until date;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    PERFORM elicense._require_code_holder(x, holder_id);
    SELECT coalesce(array_agg(c.identifier::text ORDER BY c.type_code, c.identifier), '{}'),
           coalesce(array_agg(c.type_code ORDER BY c.type_code, c.identifier), '{}')
      INTO ids, types
      FROM elicense.certificate c
     WHERE c.holder_id = x.holder_id AND c.superseded_at IS NULL AND c.type_code = ANY (x.code_types);
    until := current_date + x.copy_valid_days;
    FOR i IN 1 .. cardinality(ids) LOOP
      files := files || elicense._render_copy(ids[i], x.purpose, until, NOT x.may_see_id_numbers);
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  a := a || jsonb_build_object('holder_id', x.holder_id);
  IF cardinality(ids) = 0 THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 0));
  END IF;
  FOR i IN 1 .. cardinality(ids) LOOP
    PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1, 'identifier', ids[i],
        'file_sha256', encode(sha256(files[i]), 'hex'), 'copy_valid_until', until));
    identifier := ids[i];
    type_code := types[i];
    file := files[i];
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION elicense.licence_file_by_holder(text, text) IS
'基于持证主体下载证照文件: an OFD copy (as licence_file) of each current licence of the usage code''s holder and types';

-- 检索: current versions by filters, keyset pagination on identifier.
CREATE FUNCTION elicense.licence_search(scenario text, type_code text DEFAULT NULL, holder_id text DEFAULT NULL,
    holder_name text DEFAULT NULL, authority_uscc text DEFAULT NULL, status text DEFAULT NULL,
    issued_from date DEFAULT NULL, issued_to date DEFAULT NULL, after_identifier text DEFAULT NULL,
    page_size integer DEFAULT 50) RETURNS SETOF elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_search', 'holder_id', holder_id,
      'message', jsonb_strip_nulls(jsonb_build_object('type_code', type_code, 'holder_name', holder_name,
          'authority_uscc', authority_uscc, 'status', status, 'issued_from', issued_from, 'issued_to', issued_to,
          'after_identifier', after_identifier, 'page_size', page_size))::text);
  x elicense._usage_context;
  types text[];
  q text := 'SELECT s.* FROM elicense.certificate c, LATERAL elicense._share(c, $1, false) s
              WHERE c.superseded_at IS NULL AND c.type_code = ANY ($2)';
  n integer;
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 200 THEN
      RAISE EXCEPTION 'page_size % is outside 1-200', page_size USING ERRCODE = 'invalid_parameter_value',
        HINT = 'Page through larger results with after_identifier = the last identifier of the previous page.';
    END IF;
    types := x.grant_types;
    IF type_code IS NOT NULL THEN
      IF NOT type_code = ANY (x.grant_types) THEN
        RAISE EXCEPTION 'licence type % is outside the grant of role "%" for scenario "%" (%)', type_code, x.grantee,
          scenario, array_to_string(x.grant_types, ', ') USING ERRCODE = 'insufficient_privilege',
          HINT = 'Search only the licence types the grant allows.';
      END IF;
      types := ARRAY[type_code];
    END IF;
    -- Only the filters given, so each search is planned for its own indexes.
    IF holder_id IS NOT NULL THEN q := q || ' AND c.holder_id = $3'; END IF;
    IF holder_name IS NOT NULL THEN q := q || ' AND c.holder_name = $4'; END IF;
    IF authority_uscc IS NOT NULL THEN q := q || ' AND c.authority_uscc = $5'; END IF;
    IF status IS NOT NULL THEN q := q || ' AND elicense.effective_status(c.status, c.valid_to) = $6'; END IF;
    IF issued_from IS NOT NULL THEN q := q || ' AND c.issue_date >= $7'; END IF;
    IF issued_to IS NOT NULL THEN q := q || ' AND c.issue_date <= $8'; END IF;
    IF after_identifier IS NOT NULL THEN q := q || ' AND c.identifier > $9'; END IF;
    q := q || ' ORDER BY c.identifier LIMIT $10';
    RETURN QUERY EXECUTE q USING x.may_see_id_numbers, types, holder_id, holder_name, authority_uscc, status,
                                 issued_from, issued_to, after_identifier, page_size;
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
COMMENT ON FUNCTION elicense.licence_search(text, text, text, text, text, text, date, date, text, integer) IS
'电子证照检索: current versions of licences of the types the caller''s grant for the scenario allows, filtered by type, holder ID, holder name (exact), issuing authority, effective status and issue dates; ordered by identifier, at most page_size (≤ 200) rows after after_identifier; metadata only, holder ID masked unless the grant may see ID numbers';

-- 文件核验: is this file one the store issued, unchanged, and is the licence still valid?
CREATE FUNCTION elicense.licence_verify(scenario text, file bytea,
    OUT verdict text, OUT identifier text, OUT current_identifier text, OUT effective_status text,
    OUT copy_valid_until date, OUT signature_status text, OUT detail text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := '{"function": "licence_verify"}';
  x elicense._usage_context;
  digest text := encode(sha256(file), 'hex');
  copied text;
  c elicense.certificate;
  cur elicense.certificate;
  sig record;
  cert text := '';
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    -- The stored original (its digest is kept when it is rendered) or a copy
    -- this store handed out (its digest is in the audit).
    SELECT v.* INTO c FROM elicense.certificate v WHERE v.file_sha256 = digest LIMIT 1;
    IF NOT FOUND THEN
      SELECT u.copy_valid_until, u.identifier INTO copy_valid_until, copied FROM elicense.usage_audit u
       WHERE u.file_sha256 = digest AND u.result = 'ok' ORDER BY u.id DESC LIMIT 1;
      IF FOUND THEN
        SELECT v.* INTO c FROM elicense.certificate v WHERE v.identifier = copied;
      END IF;
    END IF;
    IF c.identifier IS NOT NULL THEN
      identifier := c.identifier;
      a := a || jsonb_build_object('identifier', c.identifier, 'holder_id', c.holder_id);
      IF NOT c.type_code = ANY (x.grant_types) THEN
        RAISE EXCEPTION 'licence type % is outside the grant of role "%" for scenario "%" (%)', c.type_code, x.grantee,
          scenario, array_to_string(x.grant_types, ', ') USING ERRCODE = 'insufficient_privilege',
          HINT = 'Verify only licences of the types the grant allows.';
      END IF;
      SELECT k.certificate_pem INTO cert FROM elicense.seal_key k WHERE k.authority_uscc = c.authority_uscc;
    END IF;
    SELECT * INTO sig FROM elicense.verify_licence_ofd(file, coalesce(cert, ''));
    signature_status := sig.status;
    IF c.identifier IS NULL THEN
      IF sig.status IN ('ok', 'unsigned') THEN
        verdict := 'unknown';
        detail := 'not a file this store issued (a sealed file renders differently each time: ask the holder for the current one)';
      ELSE
        verdict := 'tampered';
        detail := format('%s%s: %s', sig.status, CASE WHEN sig.part <> '' THEN ' in ' || sig.part ELSE '' END, sig.message);
      END IF;
    ELSE
      SELECT v.* INTO cur FROM elicense.certificate v
       WHERE v.original_identifier = c.original_identifier AND v.superseded_at IS NULL;
      current_identifier := cur.identifier;
      effective_status := elicense.effective_status(cur.status, cur.valid_to);
      verdict := CASE
        WHEN sig.status NOT IN ('ok', 'unsigned') THEN 'tampered'
        WHEN cur.status IN ('03', '04') THEN 'revoked'
        WHEN cur.status = '05' THEN 'cancelled'
        WHEN cur.identifier <> c.identifier THEN 'changed'
        WHEN effective_status = '06' THEN 'expired'
        WHEN cur.status = '02' THEN 'suspended'
        WHEN copy_valid_until < current_date THEN 'expired'
        ELSE 'valid' END;
      detail := CASE verdict
        WHEN 'tampered' THEN format('the digest is the stored one but the seal does not verify: %s %s', sig.status, sig.message)
        WHEN 'changed' THEN format('a newer version %s replaces %s', cur.identifier, c.identifier)
        WHEN 'expired' THEN CASE WHEN effective_status = '06' THEN format('the licence expired on %s', cur.valid_to)
                                 ELSE format('this copy was valid until %s', copy_valid_until) END
        ELSE format('certState %s', cur.status) END;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1, 'message', verdict,
                                                   'file_sha256', digest));
END
$$;
COMMENT ON FUNCTION elicense.licence_verify(text, bytea) IS
'电子证照文件核验: verdict valid, changed (a newer version exists), revoked, cancelled, expired (licence, or the copy''s validity), suspended, tampered (seal or digests do not verify) or unknown (not a file this store issued), with the identifier of the version the file is, the current version and the seal check';

-- Indexes the sharing functions rely on (README, "Departments using licences").
CREATE INDEX certificate_holder_name ON elicense.certificate (holder_name);
CREATE INDEX certificate_file_sha256 ON elicense.certificate (file_sha256) WHERE file_sha256 IS NOT NULL;
COMMENT ON INDEX elicense.certificate_holder_name IS 'licence_search by holder name';
COMMENT ON INDEX elicense.certificate_file_sha256 IS 'licence_verify: the original a file is';

-- Analysts see who used which licences, with resident IDs masked.
CREATE VIEW elicense.analyst_usage_audit AS
SELECT u.id, u.at, u.db_user, u.grantee, u.department, u.officer, u.function, u.identifier,
       elicense._mask_any_holder(u.holder_id) AS holder_id_masked, u.scenario, u.purpose, u.business_id,
       u.usage_code_id, u.result, u.sqlstate, u.message, u.rows_returned, u.copy_valid_until, u.recorded_by
  FROM elicense.usage_audit u;
COMMENT ON VIEW elicense.analyst_usage_audit IS 'The usage audit with holders'' resident ID numbers masked';

SELECT pg_catalog.pg_extension_config_dump('elicense.usage_scenario', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.usage_grant', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.usage_grant', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump('elicense.usage_code', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.usage_code', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump('elicense.usage_audit', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.usage_audit', 'id'), '');

REVOKE ALL ON elicense.usage_scenario, elicense.usage_grant, elicense.usage_code, elicense.usage_audit,
    elicense.analyst_usage_audit FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.usage_scenario TO elicense_admin;
GRANT SELECT, INSERT ON elicense.usage_grant TO elicense_admin;
GRANT UPDATE (valid_to, revoked_at, revoked_reason) ON elicense.usage_grant TO elicense_admin;
GRANT SELECT ON elicense.usage_code, elicense.usage_audit TO elicense_admin;
GRANT SELECT ON elicense.analyst_usage_audit TO elicense_analyst, elicense_admin;

DO $revoke$
DECLARE
  f regprocedure;
BEGIN
  -- Internal helpers: nobody but the owner (the public functions run as it).
  FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
            WHERE p.pronamespace OPERATOR(pg_catalog.=) 'elicense'::regnamespace
              AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['_caller_roles', '_audit_of', '_grant_context',
                  '_code_context', '_raise_refusal', '_require_code_holder', '_share', '_licence_for_code',
                  '_mask_any_holder']) LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
  FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
            WHERE p.pronamespace OPERATOR(pg_catalog.=) 'elicense'::regnamespace
              AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['create_usage_code', 'usage_code_info', 'licence_info',
                  'licence_info_by_holder', 'licence_file', 'licence_file_by_holder', 'licence_search', 'licence_verify']) LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO elicense_consumer', f);
  END LOOP;
END
$revoke$;
-- A view checks EXECUTE on its functions for the role reading it.
GRANT EXECUTE ON FUNCTION elicense._mask_any_holder(text) TO elicense_analyst, elicense_admin;
--------------------------------------------------------------------------------
-- Self-test of the C++ -> PostgreSQL error boundary (superuser only).
--------------------------------------------------------------------------------

CREATE FUNCTION elicense._selftest_throw(kind text) RETURNS void
AS 'MODULE_PATHNAME', 'elicense_selftest_throw' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION elicense._selftest_live_objects() RETURNS integer
AS 'MODULE_PATHNAME', 'elicense_selftest_live_objects' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION elicense._selftest_throw(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION elicense._selftest_live_objects() FROM PUBLIC;
COMMENT ON FUNCTION elicense._selftest_throw(text) IS
'Throws a C++ exception of the given kind (core_error, std_exception, bad_alloc, unknown) while C++ objects are alive';
COMMENT ON FUNCTION elicense._selftest_live_objects() IS
'How many objects of _selftest_throw are alive in this backend; 0 after every call means their destructors ran';
