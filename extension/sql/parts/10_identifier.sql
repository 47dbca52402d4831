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
