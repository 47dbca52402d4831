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
GRANT SELECT ON elicense.ofd_template TO elicense_issuer;

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
  -- Every type alike, from the catalogue: the metadata columns under their own
  -- names, each item under its face key (elicense.licence_item.face_key, else
  -- its name; the row's metadata column wins over business_data, so a masked
  -- row prints masked), then the computed valid_period and first_issue_date.
  -- Dates print as YYYY年MM月DD日. Only the keys the template names (the
  -- renderer refuses others).
  WITH face_date (d) AS (SELECT 'YYYY"年"MM"月"DD"日"'),
  face (value) AS (
  SELECT jsonb_strip_nulls(
           jsonb_build_object('licence_number', c.licence_number, 'holder_name', c.holder_name, 'holder_id', c.holder_id,
                              'authority_name', c.authority_name, 'issue_date', to_char(c.issue_date, d),
                              'valid_from', to_char(c.valid_from, d), 'valid_to', to_char(c.valid_to, d))
           || coalesce((SELECT jsonb_object_agg(coalesce(i.face_key, i.item),
                                 CASE WHEN i.data_type = 'date' THEN to_char(v.value::date, d) ELSE v.value END)
                          FROM elicense.licence_item i
                         CROSS JOIN LATERAL (SELECT coalesce(to_jsonb(c) ->> i.metadata_column, c.business_data ->> i.item)) v (value)
                         WHERE i.type_code = c.type_code AND v.value IS NOT NULL), '{}')
           || jsonb_build_object(
                'valid_period', to_char(c.valid_from, d) || ' 至 ' || coalesce(to_char(c.valid_to, d), '长期'),
                'first_issue_date', to_char(coalesce((c.business_data ->> 'first_issue_date')::date, c.issue_date), d)))
    FROM face_date)
  SELECT coalesce(jsonb_object_agg(f.key, f.value), '{}')
    FROM face, jsonb_each(face.value) f
   WHERE f.key IN (SELECT k.field ->> 'key' FROM elicense.ofd_template t, jsonb_array_elements(t.template -> 'fields') k (field)
                    WHERE t.type_code = c.type_code)
$$;
COMMENT ON FUNCTION elicense.licence_face_fields(elicense.certificate) IS
'Face values of a certificate version, keyed as the face template of its type names them';

-- What a public copy (the platform copy, the preview page) shows of a
-- version: resident ID numbers masked (first 6 and last 4), the holder's and
-- the resident_id items', unless the type's face template says
-- "public_id_numbers": "full". A USCC is a public register's and stays.
CREATE FUNCTION elicense._public_face(c elicense.certificate) RETURNS elicense.certificate
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF (SELECT t.template ->> 'public_id_numbers' FROM elicense.ofd_template t WHERE t.type_code = c.type_code) = 'full' THEN
    RETURN c;
  END IF;
  c.holder_id := elicense.mask_holder_id(c.holder_id_type, c.holder_id);
  c.business_data := c.business_data
      || coalesce((SELECT jsonb_object_agg(i.item, elicense.mask_holder_id('RESIDENT_ID', c.business_data ->> i.item))
                     FROM elicense.licence_item i
                    WHERE i.type_code = c.type_code AND i.data_type = 'resident_id' AND c.business_data ? i.item), '{}');
  RETURN c;
END
$$;
REVOKE ALL ON FUNCTION elicense._public_face(elicense.certificate) FROM PUBLIC;
COMMENT ON FUNCTION elicense._public_face(elicense.certificate) IS
'Internal: a version as public copies show it, resident ID numbers masked unless its face template says "public_id_numbers": "full"';

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
  -- The watermarked file is the public copy (the national platform publishes it).
  file := elicense._render_version_ofd(CASE WHEN watermark THEN elicense._public_face(c) ELSE c END, watermark, purpose, valid_until);
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
    TO elicense_issuer, elicense_admin;
