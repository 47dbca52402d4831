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
