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
-- An encrypted key or a text that is no certificate is refused when stored,
-- not when the first licence is sealed (the error never shows the value).
CREATE TRIGGER seal_key_parses BEFORE INSERT OR UPDATE ON elicense.seal_key
    FOR EACH ROW EXECUTE FUNCTION elicense._check_key_columns('private_key_pem=private_key', 'certificate_pem=certificate');
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

-- The files this store issued, as sealed, content-addressed: licence_verify
-- compares a presented file with them byte for byte. Holds full ID numbers
-- (originals): admin may read, only the functions that issue a file write.
CREATE TABLE elicense.sealed_file (
    sha256           text PRIMARY KEY,
    file             bytea NOT NULL,
    identifier       text NOT NULL,
    kind             text NOT NULL CONSTRAINT sealed_file_kind CHECK (kind IN ('original', 'copy')),
    copy_valid_until date,
    sealed_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sealed_file_content_address CHECK (sha256 = encode(pg_catalog.sha256(file), 'hex')),
    CONSTRAINT sealed_file_copy_until CHECK ((kind = 'copy') = (copy_valid_until IS NOT NULL))
);
CREATE INDEX sealed_file_identifier ON elicense.sealed_file (identifier);
COMMENT ON TABLE elicense.sealed_file IS
'Archive of every licence file issued (the original rendered by render_certificate_ofd and the copies licence_file hands out), keyed by the SHA-256 of its bytes (checked); licence_verify compares a presented file with it exactly';
SELECT pg_catalog.pg_extension_config_dump('elicense.sealed_file', '');
REVOKE ALL ON elicense.sealed_file FROM PUBLIC;
GRANT SELECT ON elicense.sealed_file TO elicense_admin;

CREATE FUNCTION elicense._archive_file(identifier text, file bytea, copy_valid_until date) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO elicense.sealed_file (sha256, file, identifier, kind, copy_valid_until)
  VALUES (encode(sha256(file), 'hex'), file, identifier, CASE WHEN copy_valid_until IS NULL THEN 'original' ELSE 'copy' END,
          copy_valid_until)
  ON CONFLICT (sha256) DO NOTHING
$$;
REVOKE ALL ON FUNCTION elicense._archive_file(text, bytea, date) FROM PUBLIC;
COMMENT ON FUNCTION elicense._archive_file(text, bytea, date) IS
'Internal: archives an issued file in elicense.sealed_file (an original when copy_valid_until is NULL)';

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
  IF NOT watermark AND purpose = '' THEN  -- the original: archive it and remember its digest
    digest := encode(sha256(file), 'hex');
    PERFORM elicense._archive_file(c.identifier, file, NULL);
    UPDATE elicense.certificate x SET file_sha256 = digest
     WHERE x.identifier = c.identifier AND x.file_sha256 IS DISTINCT FROM digest;
  END IF;
  RETURN file;
END
$$;
COMMENT ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text) IS
'OFD file of a licence version, sealed when elicense.seal_key has the authority''s seal: the platform watermark by default, a purpose-and-validity note for copies to other departments; rendering the original (no watermark, no purpose) archives it in elicense.sealed_file and stores its SHA-256 on the certificate row';
REVOKE ALL ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text)
    TO elicense_issuer, elicense_worker, elicense_admin;
