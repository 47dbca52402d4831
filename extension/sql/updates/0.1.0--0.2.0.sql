-- elicense 0.1.0 -> 0.2.0: changes to objects of 0.1.0. The Makefile appends
-- the parts 0.2.0 added (PARTS_ADDED_IN_0.2.0) to make
-- elicense--0.1.0--0.2.0.sql; tests/integration/extension_upgrade.sh checks
-- that the result equals a fresh 0.2.0.
\echo Use "ALTER EXTENSION elicense UPDATE TO '0.2.0'" to load this file. \quit

-- Bodies are checked when the function runs, not here: _delivery_licence
-- calls elicense.preview_url, which the 0.2.0 parts appended below create.
SET LOCAL check_function_bodies = false;

-- The issuing transaction queues a version's first delivery step only; the
-- worker queues each next step with the success of the one before.
-- Versions queued by 0.1.0 already have all their steps: step_succeeded
-- does not queue a step that exists.
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

CREATE OR REPLACE FUNCTION elicense._record_version(c elicense.certificate, p_from_status text, p_reason text, p_actor text) RETURNS void
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

CREATE OR REPLACE FUNCTION elicense.step_succeeded(outbox_id bigint, worker_id text, answer jsonb) RETURNS boolean
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

-- No RI checks in the approval transaction (docs/certificates.md, benchmark).
-- The type's foreign key locked the type row in every approval; the trigger
-- of 46_licence_type_guard.sql (appended below) keeps used types instead.
ALTER TABLE elicense.certificate DROP CONSTRAINT certificate_original_identifier_fkey,
    DROP CONSTRAINT certificate_previous_identifier_fkey, DROP CONSTRAINT certificate_type_code_fkey;
ALTER FUNCTION elicense._licence_from_data(text, jsonb) VOLATILE;
ALTER TABLE elicense.status_history DROP CONSTRAINT status_history_identifier_fkey;

-- Preview URLs carry a signed, expiring token (59_preview_url.sql).
ALTER TABLE elicense.delivery_config
    ALTER COLUMN preview_url_template SET DEFAULT 'https://licence-preview.invalid/p/{token}',
    DROP CONSTRAINT delivery_config_preview_placeholder,
    ADD CONSTRAINT delivery_config_preview_placeholder
        CHECK (strpos(preview_url_template, '{identifier}') > 0 OR strpos(preview_url_template, '{token}') > 0),
    ADD COLUMN preview_token_lifetime interval NOT NULL DEFAULT '5 years'
        CONSTRAINT delivery_config_preview_lifetime CHECK (preview_token_lifetime >= interval '1 minute');
COMMENT ON COLUMN elicense.delivery_config.preview_url_template IS
'URL of the watermarked preview sent with the collect step (归集): {token} becomes a signed, expiring preview token (elicense.preview_url), {identifier} the licence identifier';
COMMENT ON COLUMN elicense.delivery_config.preview_token_lifetime IS 'How long a preview URL made for the collect step stays valid';

-- The licence as the worker sends it (keys: worker/src/platform_mapping.hpp).
-- A status version (revoke, cancel) has no code of its own: the platform
-- knows the licence by the latest code assigned to any of its versions.
-- VOLATILE: elicense.preview_url may create the first preview key.
CREATE OR REPLACE FUNCTION elicense._delivery_licence(p_identifier text) RETURNS jsonb
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

-- One renderer for originals, platform copies and department copies.
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

CREATE OR REPLACE FUNCTION elicense.render_certificate_ofd(identifier text, watermark boolean DEFAULT true,
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

-- One append-only trigger function for every evidence table, naming the table.
CREATE OR REPLACE FUNCTION elicense.reject_history_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'elicense.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege', HINT = TG_ARGV[0];
END
$$;
REVOKE ALL ON FUNCTION elicense.reject_history_change() FROM PUBLIC;
COMMENT ON FUNCTION elicense.reject_history_change() IS
'Trigger function keeping a table append-only; its argument is the HINT of the error';
DROP TRIGGER status_history_append_only ON elicense.status_history;
DROP TRIGGER status_history_no_truncate ON elicense.status_history;
CREATE TRIGGER status_history_append_only BEFORE UPDATE OR DELETE ON elicense.status_history
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('Record a new status change with elicense.change, revoke or cancel instead.');
CREATE TRIGGER status_history_no_truncate BEFORE TRUNCATE ON elicense.status_history
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('Record a new status change with elicense.change, revoke or cancel instead.');
COMMENT ON TRIGGER status_history_append_only ON elicense.status_history IS 'Rejects UPDATE and DELETE';
COMMENT ON TRIGGER status_history_no_truncate ON elicense.status_history IS 'Rejects TRUNCATE';
