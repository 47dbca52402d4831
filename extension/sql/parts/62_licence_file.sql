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

-- Seals (GB/T 38540), one per issuing authority and city: Fujian numbers
-- seals per city under one authority (属地化编号), so a seal row is keyed
-- (authority, city_code), city_code '' being the authority's fallback. Each
-- seal has its own esID and names who signs (docs/seal-signers.md): 'key'
-- (a private key, for tests and demos), 'pkcs11' (a token: HSM, UKey,
-- SoftHSM2) or 'http' (a remote seal service). Its one secret (the private
-- key, the token PIN or the service's client secret) is stored only
-- encrypted under the master key of elicense.master_key_file, which is not
-- in the database: pg_dump holds ciphertext. Secrets go in through
-- elicense.load_seal as an elicense.secret, a type that prints as
-- "(secret)": elicense-admin binds it in binary, so even log_statement =
-- 'all' logs "(secret)", and no error can quote it.
CREATE TYPE elicense.secret;
CREATE FUNCTION elicense.secret_in(cstring) RETURNS elicense.secret
AS 'MODULE_PATHNAME', 'elicense_secret_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.secret_out(elicense.secret) RETURNS cstring
AS 'MODULE_PATHNAME', 'elicense_secret_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.secret_recv(internal) RETURNS elicense.secret
AS 'MODULE_PATHNAME', 'elicense_secret_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION elicense.secret_send(elicense.secret) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_secret_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE elicense.secret (INPUT = elicense.secret_in, OUTPUT = elicense.secret_out,
    RECEIVE = elicense.secret_recv, SEND = elicense.secret_send, INTERNALLENGTH = VARIABLE, STORAGE = extended);
COMMENT ON TYPE elicense.secret IS
'A secret in transit to elicense.load_seal or elicense.load_province_secret: prints as (secret), is never sent back; never a column type';

CREATE FUNCTION elicense._secret_key_id(box bytea) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_secret_key_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION elicense._secret_key_id(bytea) IS
'Hex ID of the master key an encrypted secret is under, NULL if the value is no encrypted secret';
CREATE FUNCTION elicense.master_key_id() RETURNS text
AS 'MODULE_PATHNAME', 'elicense_master_key_id' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION elicense.master_key_id() IS
'Hex ID of the current master key (elicense.master_key_file): compare with _secret_key_id(secret_box) after a rotation';
REVOKE ALL ON FUNCTION elicense.master_key_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.master_key_id() TO elicense_admin;

CREATE TABLE elicense.seal (
    authority_uscc  elicense.uscc NOT NULL,
    city_code       text NOT NULL DEFAULT '' CONSTRAINT seal_city_code CHECK (city_code ~ '^([0-9]{6})?$'),
    es_id           text NOT NULL CONSTRAINT seal_es_id_unique UNIQUE
                         CONSTRAINT seal_es_id_ascii CHECK (es_id ~ '^[!-~]{1,64}$'),
    seal_name       text NOT NULL DEFAULT '电子印章',
    signer          text NOT NULL CONSTRAINT seal_signer_kind CHECK (signer IN ('key', 'pkcs11', 'http')),
    signer_config   jsonb NOT NULL DEFAULT '{}' CONSTRAINT seal_signer_config_object CHECK (jsonb_typeof(signer_config) = 'object'),
    secret_box      bytea NOT NULL,
    certificate_pem text NOT NULL,
    seal_png        bytea NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (authority_uscc, city_code)
);
COMMENT ON TABLE elicense.seal IS
'Seal of each issuing authority and city (city_code '''' = the authority''s fallback): esID, signer (key, pkcs11, http) and its configuration, the signer''s secret encrypted under the master key, certificate and seal picture; written through elicense.load_seal';
COMMENT ON COLUMN elicense.seal.city_code IS 'Division code (6 digits) the seal serves, matched with certificate.authority_division; '''' for every other';
COMMENT ON COLUMN elicense.seal.signer_config IS 'key: {}; pkcs11: {"module", "token", "key"} (module listed in elicense.pkcs11_modules); http: {"url", "timeout_ms"}';
COMMENT ON COLUMN elicense.seal.secret_box IS 'Private key (key), PIN (pkcs11) or client secret (http), AES-256-GCM under the master key (elicense.master_key_file)';
SELECT pg_catalog.pg_extension_config_dump('elicense.seal', '');
-- A row written around load_seal (a superuser's INSERT) must still hold a
-- box, not a secret in clear; the error never shows the row.
CREATE FUNCTION elicense._seal_row_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.secret_box IS NULL OR elicense._secret_key_id(NEW.secret_box) IS NULL THEN
    RAISE EXCEPTION 'elicense.seal.secret_box is not an encrypted secret' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Load seals with elicense-admin load-seal (or elicense.load_seal); the value is not repeated here.';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION elicense._seal_row_check() FROM PUBLIC;
CREATE TRIGGER seal_secret_is_boxed BEFORE INSERT OR UPDATE ON elicense.seal
    FOR EACH ROW EXECUTE FUNCTION elicense._seal_row_check();
CREATE TRIGGER seal_certificate_parses BEFORE INSERT OR UPDATE ON elicense.seal
    FOR EACH ROW EXECUTE FUNCTION elicense._check_key_columns('certificate_pem=certificate');
REVOKE ALL ON elicense.seal FROM PUBLIC;
GRANT SELECT, DELETE ON elicense.seal TO elicense_admin;
GRANT UPDATE (seal_name, seal_png) ON elicense.seal TO elicense_admin;

CREATE FUNCTION elicense._seal_secret_encrypt(signer text, signer_config jsonb, secret elicense.secret,
    certificate_pem text, es_id text) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_seal_secret_encrypt' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._seal_secret_encrypt(text, jsonb, elicense.secret, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._seal_secret_encrypt(text, jsonb, elicense.secret, text, text) IS
'Internal: checks a seal''s secret against its signer (a key parses and matches the certificate, a module is allowed) and encrypts it under the master key';
CREATE FUNCTION elicense._reencrypt_secret(box bytea, kind text) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_reencrypt_secret' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._reencrypt_secret(bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._reencrypt_secret(bytea, text) IS
'Internal: an encrypted secret of a kind (seal, province, preview) re-encrypted under the current master key (opened with the current or the previous one)';

CREATE FUNCTION elicense.load_seal(authority_uscc elicense.uscc, city_code text, es_id text, seal_name text,
    signer text, signer_config jsonb, secret elicense.secret, certificate_pem text, seal_png bytea)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  box bytea;
BEGIN
  IF secret IS NULL THEN
    RAISE EXCEPTION 'the seal''s secret is NULL' USING ERRCODE = 'null_value_not_allowed',
      HINT = 'Give the private key (signer key), the token PIN (pkcs11) or the client secret (http).';
  END IF;
  IF certificate_pem IS NULL OR seal_png IS NULL OR signer IS NULL OR es_id IS NULL OR authority_uscc IS NULL THEN
    RAISE EXCEPTION 'the seal''s % is NULL', CASE WHEN certificate_pem IS NULL THEN 'certificate_pem'
      WHEN seal_png IS NULL THEN 'seal_png' WHEN signer IS NULL THEN 'signer' WHEN es_id IS NULL THEN 'es_id'
      ELSE 'authority_uscc' END
      USING ERRCODE = 'null_value_not_allowed', HINT = 'elicense-admin load-seal --help lists what a seal needs.';
  END IF;
  box := elicense._seal_secret_encrypt(signer, coalesce(signer_config, '{}'), secret, certificate_pem, es_id);
  INSERT INTO elicense.seal AS s (authority_uscc, city_code, es_id, seal_name, signer, signer_config, secret_box,
                                  certificate_pem, seal_png)
  VALUES (load_seal.authority_uscc, coalesce(load_seal.city_code, ''), load_seal.es_id,
          coalesce(load_seal.seal_name, '电子印章'), load_seal.signer, coalesce(load_seal.signer_config, '{}'), box,
          load_seal.certificate_pem, load_seal.seal_png)
  ON CONFLICT ON CONSTRAINT seal_pkey DO UPDATE
     SET es_id = excluded.es_id, seal_name = excluded.seal_name, signer = excluded.signer,
         signer_config = excluded.signer_config, secret_box = excluded.secret_box,
         certificate_pem = excluded.certificate_pem, seal_png = excluded.seal_png, updated_at = now();
END
$$;
COMMENT ON FUNCTION elicense.load_seal(elicense.uscc, text, text, text, text, jsonb, elicense.secret, text, bytea) IS
'Stores (or replaces: key rotation) the seal of an authority and city (city_code '''' = fallback), its secret encrypted under the master key; call it through elicense-admin load-seal, which binds the secret';
REVOKE ALL ON FUNCTION elicense.load_seal(elicense.uscc, text, text, text, text, jsonb, elicense.secret, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.load_seal(elicense.uscc, text, text, text, text, jsonb, elicense.secret, text, bytea)
    TO elicense_admin;

-- The province's assignment secret (elicense.province_secret, 30_qr.sql):
-- its RSA private key (scheme rsa-des) or DES key (des), in through an
-- elicense.secret like a seal's, stored only encrypted.
CREATE FUNCTION elicense._province_secret_encrypt(assignment_scheme text, secret elicense.secret) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_province_secret_encrypt' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._province_secret_encrypt(text, elicense.secret) FROM PUBLIC;
COMMENT ON FUNCTION elicense._province_secret_encrypt(text, elicense.secret) IS
'Internal: checks a province''s secret for its scheme (an RSA private key PEM of at least 512 bits, or an 8-character DES key) and encrypts it under the master key';

CREATE FUNCTION elicense.load_province_secret(province elicense.province_code, assignment_scheme text,
    secret elicense.secret) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  box bytea;
BEGIN
  IF province IS NULL OR secret IS NULL THEN
    RAISE EXCEPTION 'the province''s % is NULL', CASE WHEN province IS NULL THEN 'code' ELSE 'secret' END
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'elicense-admin load-province-secret --province 350000 --key-file province.pem (rsa-des) or --scheme des --secret-file des.txt.';
  END IF;
  box := elicense._province_secret_encrypt(coalesce(assignment_scheme, 'rsa-des'), secret);
  INSERT INTO elicense.province_secret AS p (province, assignment_scheme, secret_box)
  VALUES (load_province_secret.province, coalesce(load_province_secret.assignment_scheme, 'rsa-des'), box)
  ON CONFLICT ON CONSTRAINT province_secret_pkey DO UPDATE
     SET assignment_scheme = excluded.assignment_scheme, secret_box = excluded.secret_box;
END
$$;
COMMENT ON FUNCTION elicense.load_province_secret(elicense.province_code, text, elicense.secret) IS
'Stores (or replaces: key rotation) the secret that decrypts a province''s code assignments, encrypted under the master key; call it through elicense-admin load-province-secret, which binds the secret';
REVOKE ALL ON FUNCTION elicense.load_province_secret(elicense.province_code, text, elicense.secret) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.load_province_secret(elicense.province_code, text, elicense.secret) TO elicense_admin;

-- After a master key rotation (docs/seal-signers.md): the old key in
-- elicense.previous_master_key_file, the new one in elicense.master_key_file.
-- Every stored secret: seals, province secrets, preview keys, and the
-- archived licence files and the personal data sealed under the master key.
CREATE FUNCTION elicense.reencrypt_secrets() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  current_id text := elicense.master_key_id();
  n integer;
  total integer;
BEGIN
  UPDATE elicense.seal s SET secret_box = elicense._reencrypt_secret(s.secret_box, 'seal'), updated_at = now()
   WHERE elicense._secret_key_id(s.secret_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS total = ROW_COUNT;
  UPDATE elicense.province_secret p SET secret_box = elicense._reencrypt_secret(p.secret_box, 'province')
   WHERE elicense._secret_key_id(p.secret_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  UPDATE elicense.preview_key k SET secret_box = elicense._reencrypt_secret(k.secret_box, 'preview')
   WHERE elicense._secret_key_id(k.secret_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  UPDATE elicense.sealed_file f SET file_box = elicense._sealed_file_reencrypt(f.file_box, f.sha256, f.identifier)
   WHERE elicense._secret_key_id(f.file_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  -- Personal data (48_resident_id_vault.sql): the index key's box (the key
  -- itself stays, and with it every blind index), the sealed ID numbers.
  UPDATE elicense.holder_index_key k SET key_box = elicense._reencrypt_secret(k.key_box, 'index')
   WHERE elicense._secret_key_id(k.key_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  UPDATE elicense.certificate c SET id_box = elicense._reencrypt_secret(c.id_box, 'ids')
   WHERE c.id_box IS NOT NULL AND elicense._secret_key_id(c.id_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  UPDATE elicense.usage_code u SET id_box = elicense._reencrypt_secret(u.id_box, 'ids')
   WHERE u.id_box IS NOT NULL AND elicense._secret_key_id(u.id_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  UPDATE elicense.precheck p SET request_box = elicense._reencrypt_secret(p.request_box, 'ids')
   WHERE p.request_box IS NOT NULL AND elicense._secret_key_id(p.request_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN total + n;
END
$$;
COMMENT ON FUNCTION elicense.reencrypt_secrets() IS
'Re-encrypts every stored secret (seal secrets, province secrets, preview keys, the holder index key, the sealed resident ID numbers of certificates, usage codes and prechecks) and every archived licence file (elicense.sealed_file) that is not under the current master key (opened with elicense.previous_master_key_file); returns how many';
REVOKE ALL ON FUNCTION elicense.reencrypt_secrets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.reencrypt_secrets() TO elicense_admin;

-- The seal of a licence: its authority's seal for the division it is
-- issued in, else the authority's fallback.
CREATE FUNCTION elicense._seal_for(authority_uscc text, division text) RETURNS elicense.seal
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT s.* FROM elicense.seal s
   WHERE s.authority_uscc = _seal_for.authority_uscc AND s.city_code IN (coalesce(_seal_for.division, ''), '')
   ORDER BY s.city_code DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION elicense._seal_for(text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._seal_for(text, text) IS
'Internal: the seal of an authority for a division code (its city seal, else its fallback seal), NULL fields if none';

CREATE FUNCTION elicense._seal_ofd(ofd bytea, s elicense.seal, x float8, y float8, size float8) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_seal_ofd'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._seal_ofd(bytea, elicense.seal, float8, float8, float8) FROM PUBLIC;
COMMENT ON FUNCTION elicense._seal_ofd(bytea, elicense.seal, float8, float8, float8) IS
'Internal: signs an OFD file (GB/T 38540 structure) through the seal''s signer, the seal picture in a box of size mm at x, y mm';

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
    RETURN elicense._reveal_ids(c);
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
-- elicense.seal has the authority's seal (its division's, else its fallback). DocID and date come from the
-- version, so an unsealed version renders to the same bytes every time (an
-- SM2 seal is randomised: keep the original you store).
CREATE FUNCTION elicense._render_version_ofd(c elicense.certificate, watermark boolean, purpose text, valid_until text)
RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tpl jsonb;
  file bytea;
  seal elicense.seal;
BEGIN
  SELECT t.template INTO tpl FROM elicense.ofd_template t WHERE t.type_code = c.type_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no face template for licence type %', c.type_code USING ERRCODE = 'undefined_object',
      HINT = 'An elicense_admin inserts one into elicense.ofd_template.';
  END IF;
  file := elicense.render_licence_ofd(tpl, elicense.licence_face_fields(c), elicense.qr_png(c.qr_url), watermark,
                                      purpose, valid_until, md5(c.identifier), c.issue_date::text);
  seal := elicense._seal_for(c.authority_uscc, c.authority_division);
  IF seal.es_id IS NOT NULL THEN
    file := elicense._seal_ofd(file, seal, (tpl #>> '{seal,x}')::float8, (tpl #>> '{seal,y}')::float8,
                               (tpl #>> '{seal,size}')::float8);
  END IF;
  RETURN file;
END
$$;
REVOKE ALL ON FUNCTION elicense._render_version_ofd(elicense.certificate, boolean, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._render_version_ofd(elicense.certificate, boolean, text, text) IS
'Internal: OFD file of a certificate row with its type''s face template and QR code, sealed when the authority has a seal';

-- The files this store issued, as sealed, content-addressed by the SHA-256
-- of the clear file: licence_verify compares a presented file with them byte
-- for byte. An original's face shows the holder's full ID number, so each
-- file is kept only as a box under the master key (AES-256-GCM, like the
-- stored secrets; its associated data names the row's sha256 and
-- identifier, so a box moved to another row does not open) and opened only
-- in C (_sealed_file_matches): a pg_dump and the table's files hold
-- ciphertext. Admin may read the rows, only the functions that issue a file
-- write them.
CREATE TABLE elicense.sealed_file (
    sha256           text PRIMARY KEY CONSTRAINT sealed_file_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    file_box         bytea NOT NULL CONSTRAINT sealed_file_boxed CHECK (elicense._secret_key_id(file_box) IS NOT NULL),
    identifier       text NOT NULL,
    kind             text NOT NULL CONSTRAINT sealed_file_kind CHECK (kind IN ('original', 'copy')),
    copy_valid_until date,
    sealed_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sealed_file_copy_until CHECK ((kind = 'copy') = (copy_valid_until IS NOT NULL))
);
CREATE INDEX sealed_file_identifier ON elicense.sealed_file (identifier);
COMMENT ON TABLE elicense.sealed_file IS
'Archive of every licence file issued (the original rendered by render_certificate_ofd and the copies licence_file hands out), keyed by the SHA-256 of its clear bytes, each file encrypted under the master key; licence_verify compares a presented file with it exactly';
COMMENT ON COLUMN elicense.sealed_file.file_box IS 'The file, AES-256-GCM under the master key (elicense.master_key_file), bound to the row''s sha256 and identifier';
SELECT pg_catalog.pg_extension_config_dump('elicense.sealed_file', '');
REVOKE ALL ON elicense.sealed_file FROM PUBLIC;
GRANT SELECT ON elicense.sealed_file TO elicense_admin;

CREATE FUNCTION elicense._sealed_file_box(file bytea, sha256 text, identifier text) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_sealed_file_box' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._sealed_file_box(bytea, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._sealed_file_box(bytea, text, text) IS
'Internal: a file to archive (sha256: its SHA-256, checked) encrypted under the current master key for its elicense.sealed_file row';
CREATE FUNCTION elicense._sealed_file_matches(box bytea, sha256 text, identifier text, file bytea) RETURNS boolean
AS 'MODULE_PATHNAME', 'elicense_sealed_file_matches' LANGUAGE C STABLE STRICT;
REVOKE ALL ON FUNCTION elicense._sealed_file_matches(bytea, text, text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._sealed_file_matches(bytea, text, text, bytea) IS
'Internal: whether an elicense.sealed_file row''s archived file is this file, byte for byte; XX001 if the box does not open for its row, 55000 if its master key is not configured';
CREATE FUNCTION elicense._sealed_file_reencrypt(box bytea, sha256 text, identifier text) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_sealed_file_reencrypt' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._sealed_file_reencrypt(bytea, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._sealed_file_reencrypt(bytea, text, text) IS
'Internal: an elicense.sealed_file row''s box re-encrypted under the current master key (opened with the current or the previous one)';

CREATE FUNCTION elicense._archive_file(identifier text, file bytea, copy_valid_until date) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO elicense.sealed_file (sha256, file_box, identifier, kind, copy_valid_until)
  SELECT d.sha256, elicense._sealed_file_box(_archive_file.file, d.sha256, _archive_file.identifier),
         _archive_file.identifier, CASE WHEN _archive_file.copy_valid_until IS NULL THEN 'original' ELSE 'copy' END,
         _archive_file.copy_valid_until
    FROM (SELECT encode(sha256(_archive_file.file), 'hex') AS sha256) d
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
  -- The watermarked file is the public copy (the national platform publishes it).
  -- The original and the copies of this function show the full numbers.
  file := elicense._render_version_ofd(CASE WHEN watermark THEN elicense._public_face(c) ELSE elicense._reveal_ids(c) END,
                                       watermark, purpose, valid_until);
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
'OFD file of a licence version, sealed when elicense.seal has the authority''s seal: the platform watermark by default, a purpose-and-validity note for copies to other departments; rendering the original (no watermark, no purpose) archives it in elicense.sealed_file and stores its SHA-256 on the certificate row';
REVOKE ALL ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text)
    TO elicense_issuer, elicense_admin;
