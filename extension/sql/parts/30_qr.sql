--------------------------------------------------------------------------------
-- Licence QR code (seed 000 §6.8, PLATFORM.md "Crypto"):
--   <base>?ID=<UPPERHEX(DES(code, key8))>&k=<RSA(platform key, key8)>&certype=..&province=..
-- and decryption of the platform's code assignments (赋码).
--
-- Keys live in two admin-only tables and are read by SECURITY DEFINER
-- functions, so no normal call passes a key as an argument (log_statement
-- would print it); the province's private key is stored only encrypted
-- under the master key. elicense_analyst gets nothing here.
--------------------------------------------------------------------------------

-- Validators of the form of a licence type code; which types exist is data
-- (elicense.licence_type, checked by qr_url).
CREATE FUNCTION elicense.is_valid_licence_type(text) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_is_valid_licence_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.licence_type_problem(text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_licence_type_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.check_licence_type(value text, field text DEFAULT 'certype') RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_check_licence_type' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.is_valid_licence_type(text) IS
'True if the text is written as a licence type code (the defining authority''s USCC and 3 digits); which types exist is elicense.licence_type';
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

-- The province's secret is stored only encrypted under the master key of
-- elicense.master_key_file (not in the database; docs/seal-signers.md), so a
-- pg_dump holds ciphertext. It goes in through elicense.load_province_secret
-- (62_licence_file.sql) as an elicense.secret, which elicense-admin binds:
-- never in SQL text, never in a log or an error.
CREATE TABLE elicense.province_secret (
    province elicense.province_code PRIMARY KEY,
    assignment_scheme text DEFAULT 'rsa-des',
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by name NOT NULL DEFAULT CURRENT_USER,
    secret_box bytea NOT NULL
);
COMMENT ON TABLE elicense.province_secret IS
'Per province: the secret that decrypts code assignments (赋码), encrypted under the master key; written by elicense.load_province_secret, read by elicense.decrypt_assignment';
COMMENT ON COLUMN elicense.province_secret.assignment_scheme IS
'rsa-des (PLATFORM.md: RSA-decrypt encryKey with the province''s private key, then DES) or des (DES with the agreed 8-character key, encryKey unused)';
COMMENT ON COLUMN elicense.province_secret.secret_box IS
'The province''s RSA private key PEM (rsa-des) or DES key (des), AES-256-GCM under the master key (elicense.master_key_file)';

-- A row written around load_province_secret must still hold a box, not a
-- secret in clear. A BEFORE trigger runs before the table's own NOT NULL
-- constraints, whose errors print the whole row ("Failing row contains").
CREATE FUNCTION elicense.province_secret_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.province IS NULL THEN
    RAISE EXCEPTION 'column "province" of elicense.province_secret is NULL'
      USING ERRCODE = 'not_null_violation', HINT = 'Give the six-digit province code, e.g. 350000.';
  END IF;
  IF NEW.assignment_scheme IS NULL OR NEW.assignment_scheme NOT IN ('rsa-des', 'des') THEN
    RAISE EXCEPTION 'column "assignment_scheme" of elicense.province_secret is %, not rsa-des or des',
        coalesce(pg_catalog.quote_literal(NEW.assignment_scheme), 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use rsa-des or des.';
  END IF;
  IF NEW.secret_box IS NULL OR elicense._secret_key_id(NEW.secret_box) IS NULL THEN
    RAISE EXCEPTION 'elicense.province_secret.secret_box is not an encrypted secret' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Load the province''s key with elicense-admin load-province-secret (or elicense.load_province_secret); the value is not repeated here.';
  END IF;
  NEW.updated_at := pg_catalog.now();
  NEW.updated_by := CURRENT_USER;
  RETURN NEW;
END
$$;
CREATE TRIGGER province_secret_check BEFORE INSERT OR UPDATE ON elicense.province_secret
    FOR EACH ROW EXECUTE FUNCTION elicense.province_secret_check();
COMMENT ON FUNCTION elicense.province_secret_check() IS
'Trigger: a province_secret row holds a scheme and an encrypted secret; errors never show the row';

REVOKE ALL ON TABLE elicense.platform_key, elicense.province_secret FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE elicense.platform_key TO elicense_admin;
GRANT SELECT, DELETE ON TABLE elicense.province_secret TO elicense_admin;
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
  -- Any type of the catalogue, shipped or added by a DBA, gets its QR code.
  IF NOT EXISTS (SELECT FROM elicense.licence_type AS t WHERE t.type_code OPERATOR(pg_catalog.=) certype) THEN
    RAISE EXCEPTION 'invalid licence type code in field "certype": "%"', certype
      USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The type is not in elicense.licence_type.',
            HINT = 'An elicense_admin adds the type (with its items and face template) to elicense.licence_type first.';
  END IF;
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
GRANT EXECUTE ON FUNCTION elicense.qr_url(text, text, text) TO elicense_issuer, elicense_admin;
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
    secret_box bytea, OUT kind text, OUT code text, OUT url text) RETURNS record
AS 'MODULE_PATHNAME', 'elicense_decrypt_assignment_with_box' LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION elicense._decrypt_assignment(text, text, text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._decrypt_assignment(text, text, text, bytea) IS
'Internal: decrypts an assignment with the province''s encrypted secret (opened with the master key); use elicense.decrypt_assignment';

CREATE FUNCTION elicense.decrypt_assignment(encry_certid text, encry_key text, province text,
    OUT kind text, OUT code text, OUT url text)
RETURNS record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s elicense.province_secret;
  code_pattern text;
  url_prefix text;
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
            HINT = 'An elicense_admin loads the province''s private key or DES key with elicense-admin load-province-secret.';
  END IF;
  IF s.assignment_scheme OPERATOR(pg_catalog.=) 'rsa-des' AND encry_key IS NULL THEN
    RAISE EXCEPTION 'encryKey is NULL but province % decrypts assignments with rsa-des', province
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the encryKey of the platform''s answer.';
  END IF;
  SELECT d.kind, d.code, d.url INTO kind, code, url
  FROM elicense._decrypt_assignment(encry_certid, encry_key, s.assignment_scheme, s.secret_box) AS d;
  -- Only what the platform assigns may reach a licence: an assigned code
  -- (18 digits) or a QR URL on the platform's host. The errors say what is
  -- wrong, never the plaintext (a wrong key decrypts to anything).
  SELECT c.assigned_code_pattern, c.qr_url_prefix INTO code_pattern, url_prefix FROM elicense.delivery_config AS c;
  code_pattern := coalesce(code_pattern, '^[0-9]{18}$');
  url_prefix := coalesce(url_prefix, 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?');
  IF kind OPERATOR(pg_catalog.=) 'code' AND code OPERATOR(pg_catalog.!~) code_pattern THEN
    RAISE EXCEPTION 'the decrypted assignment is not an assigned code: its % characters do not match %',
        pg_catalog.length(code), code_pattern
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The platform assigns an 18-digit code or a QR URL. Check the province''s secret in elicense.province_secret, or elicense.delivery_config.assigned_code_pattern.';
  END IF;
  IF kind OPERATOR(pg_catalog.=) 'url' AND NOT pg_catalog.starts_with(url, url_prefix) THEN
    RAISE EXCEPTION 'the decrypted assignment is a URL that does not start with the QR prefix %', url_prefix
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The platform''s QR URLs start with elicense.delivery_config.qr_url_prefix; correct it if the platform moved.';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION elicense.decrypt_assignment(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense.decrypt_assignment(text, text, text) IS
'Decrypts a code assignment (encryCertid, encryKey) with the province''s secret (elicense.province_secret); only a code matching delivery_config.assigned_code_pattern or a URL starting with delivery_config.qr_url_prefix passes, else 22023. kind = code: code is the bare assigned code; kind = url: the platform sent a finished QR URL, returned in url unchanged (put it in the QR image as it is), and code is its ID parameter';
