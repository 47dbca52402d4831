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

-- Key and certificate columns hold what parses: a trigger, not a
-- CHECK, because a CHECK violation's DETAIL quotes the whole row, key
-- material included. Arguments: column=kind pairs (kind: private_key,
-- public_key, certificate); NULL columns are left to NOT NULL constraints.
CREATE FUNCTION elicense.pem_problem(kind text, pem text) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_pem_problem' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense.pem_problem(text, text) IS
'Why pem is not a kind (private_key: unencrypted PEM private key; public_key: PEM public key; certificate: PEM X.509 certificate), NULL when it parses; never quotes the value';

CREATE FUNCTION elicense._check_key_columns() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  row_data jsonb := to_jsonb(NEW);
  col text;
  problem text;
BEGIN
  FOR i IN 0 .. TG_NARGS - 1 LOOP
    col := split_part(TG_ARGV[i], '=', 1);
    problem := elicense.pem_problem(split_part(TG_ARGV[i], '=', 2), row_data ->> col);
    IF problem IS NOT NULL THEN
      RAISE EXCEPTION 'elicense.%.% %', TG_TABLE_NAME, col, problem
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.format('Store the PEM text as openssl writes it (%s); the value is not repeated here.',
                                       split_part(TG_ARGV[i], '=', 2));
    END IF;
  END LOOP;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION elicense._check_key_columns() FROM PUBLIC;
COMMENT ON FUNCTION elicense._check_key_columns() IS
'Trigger: refuses a key or certificate column that does not parse (arguments column=kind); the error names the column, never the value';

-- Text that goes on a licence: no C0/C1 control character and no bidi
-- override or isolate (U+202A-U+202E, U+2066-U+2069), which would make the
-- face or a list read otherwise than stored. The caller tests the cheap
-- regexp first; this names the field and the first such character (not the
-- value: it may be personal data).
CREATE FUNCTION elicense._refuse_unsafe_text(value text, field text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  pos integer;
BEGIN
  pos := length(substring(value FROM '^[^\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*')) + 1;
  IF pos <= length(value) THEN
    RAISE EXCEPTION '% contains % at character %, a control or bidirectional-override character', field,
      'U+' || upper(lpad(to_hex(ascii(substr(value, pos, 1))), 4, '0')), pos
      USING ERRCODE = 'character_not_in_repertoire',
            HINT = 'Licence text is printed and sent to the national platform as it is: remove control characters (tabs and line breaks included) and bidi overrides (U+202A-U+202E, U+2066-U+2069).';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION elicense._refuse_unsafe_text(text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._refuse_unsafe_text(text, text) IS
'Internal: 22021 naming the field when the text holds a C0/C1 control character or a bidi override/isolate';
