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

-- Trust anchors of seal verification (GB/T 38540): the seal-maker and CA
-- certificates an admin trusts. A sealed file whose signer or seal-maker
-- certificate does not chain to one of them is "untrusted", whatever its
-- digests. Certificates are public; only elicense_admin writes them.
CREATE TABLE elicense.trust_anchor (
    name            text PRIMARY KEY CONSTRAINT trust_anchor_name_text CHECK (name ~ '^[[:print:]]{1,100}$'),
    certificate_pem text NOT NULL CONSTRAINT trust_anchor_one_certificate
        CHECK (array_length(regexp_split_to_array(certificate_pem, '-----BEGIN CERTIFICATE-----'), 1) = 2),
    note            text NOT NULL DEFAULT '',
    added_at        timestamptz NOT NULL DEFAULT now(),
    added_by        text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE elicense.trust_anchor IS
'Seal-maker and CA certificates (one PEM X.509 certificate per row) that seal verification trusts: verify_licence_ofd and licence_verify call a sealed file whose chain reaches none of them untrusted; elicense_admin writes';
SELECT pg_catalog.pg_extension_config_dump('elicense.trust_anchor', '');
CREATE TRIGGER trust_anchor_parses BEFORE INSERT OR UPDATE ON elicense.trust_anchor
    FOR EACH ROW EXECUTE FUNCTION elicense._check_key_columns('certificate_pem=certificate');
REVOKE ALL ON elicense.trust_anchor FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.trust_anchor TO elicense_admin;

CREATE FUNCTION elicense._verify_ofd(ofd bytea, certificate text, trust_anchors text,
    OUT ok boolean, OUT status text, OUT part text, OUT message text, OUT signer text, OUT verdict text)
RETURNS record
AS 'MODULE_PATHNAME', 'elicense_verify_licence_ofd'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION elicense._verify_ofd(bytea, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._verify_ofd(bytea, text, text) IS
'Internal: verify_licence_ofd with the trust anchors given as concatenated PEM certificates';

-- Verdicts (README, "Verification verdicts"), shared with licence_verify:
-- sealed, unsigned, untrusted, tampered, malformed.
CREATE FUNCTION elicense.verify_licence_ofd(ofd bytea, certificate text DEFAULT '',
    OUT ok boolean, OUT status text, OUT part text, OUT message text, OUT signer text, OUT verdict text)
RETURNS record
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT v.ok, v.status, v.part, v.message, v.signer, v.verdict
    FROM elicense._verify_ofd(ofd, certificate,
           coalesce((SELECT string_agg(a.certificate_pem, E'\n' ORDER BY a.name) FROM elicense.trust_anchor a), '')) v
$$;
COMMENT ON FUNCTION elicense.verify_licence_ofd(bytea, text) IS
'Checks the seal of an OFD file as GB/T 38540 intends: every signed part''s digest and no part outside the references, the SES signature, the signer certificate among the seal''s, the seal maker''s signature, the signing time inside the seal''s and the certificates'' validity, the chains to elicense.trust_anchor and, when a PEM certificate is given, the signer. verdict is sealed, unsigned, untrusted, tampered or malformed (ok is verdict = sealed); status says which check: ok, unsigned, malformed, missing_part, digest_mismatch, unreferenced_part, bad_signature, wrong_signer, seal_mismatch, bad_seal, outside_validity or untrusted; part names the part concerned';
