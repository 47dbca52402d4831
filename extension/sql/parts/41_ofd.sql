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
