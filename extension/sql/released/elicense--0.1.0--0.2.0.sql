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
--------------------------------------------------------------------------------
-- Roles (cluster-wide, so created only if missing; never dropped by DROP
-- EXTENSION). Members get rights through these, never through PUBLIC:
--   elicense_admin    configuration: keys, endpoints, licence-type catalogue
--   elicense_issuer   approval systems: issue, change, revoke, cancel
--   elicense_worker   the sync worker: lease outbox rows, record results
--   elicense_analyst  read-only views; no secrets, no private keys
--   elicense_consumer department applications using licences: the sharing
--                     functions of 70_sharing.sql only, no table access
--   elicense_preview  the preview server: preview_open and preview_ofd only
--------------------------------------------------------------------------------
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['elicense_admin', 'elicense_issuer', 'elicense_worker', 'elicense_analyst', 'elicense_consumer',
                           'elicense_preview'] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$roles$;
--------------------------------------------------------------------------------
-- A licence type that licences use cannot be deleted, renamed or truncated.
-- A foreign key from certificate.type_code did this, but its check locked the
-- type's row FOR KEY SHARE in every approval: concurrent approvals can share
-- that lock only through a new MultiXact each time, which cost 8 sessions a
-- third to a half of their issuing rate (docs/certificates.md). The check is
-- made at the rare catalogue change instead. ACCESS EXCLUSIVE on licence_type
-- (taken per statement) waits until no open transaction has read a type, and
-- holds new readers off until this one ends; elicense._licence_from_data
-- reads the type in a VOLATILE function, with a snapshot taken after that
-- wait. So under READ COMMITTED a licence of the type is either seen here or
-- its issue finds the type gone (tests/integration/licence_type_guard.sh).
-- Under REPEATABLE READ an issue whose snapshot predates the DELETE's commit
-- still sees the type: the foreign key caught that case, this does not.
--------------------------------------------------------------------------------
CREATE FUNCTION elicense._keep_used_licence_type() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    -- Before the statement locks any row: an issue waiting for a row lock
    -- (sequence_counter's foreign key) while holding its read lock on the
    -- table would deadlock with a DELETE waiting for that read lock.
    LOCK TABLE elicense.licence_type IN ACCESS EXCLUSIVE MODE;
    IF TG_OP = 'TRUNCATE' AND EXISTS (SELECT 1 FROM elicense.certificate) THEN
      RAISE EXCEPTION 'elicense.licence_type cannot be truncated: licences exist'
        USING ERRCODE = 'foreign_key_violation', HINT = 'A licence keeps its type for good.';
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.type_code = OLD.type_code THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM elicense.certificate c WHERE c.type_code = OLD.type_code) THEN
    RAISE EXCEPTION 'licence type % cannot be %: licences of it exist', OLD.type_code, CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'renamed' END
      USING ERRCODE = 'foreign_key_violation',
            HINT = 'A licence keeps its type for good; add a new type for new licences instead.';
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION elicense._keep_used_licence_type() FROM PUBLIC;
COMMENT ON FUNCTION elicense._keep_used_licence_type() IS
'Trigger function on elicense.licence_type: a type that certificates use cannot be deleted, renamed or truncated (23503)';
CREATE TRIGGER licence_type_lock BEFORE UPDATE OF type_code OR DELETE OR TRUNCATE ON elicense.licence_type
    FOR EACH STATEMENT EXECUTE FUNCTION elicense._keep_used_licence_type();
CREATE TRIGGER licence_type_keep_used BEFORE UPDATE OF type_code OR DELETE ON elicense.licence_type
    FOR EACH ROW EXECUTE FUNCTION elicense._keep_used_licence_type();
COMMENT ON TRIGGER licence_type_lock ON elicense.licence_type IS 'Waits for open issuing transactions; refuses TRUNCATE while any certificate exists';
COMMENT ON TRIGGER licence_type_keep_used ON elicense.licence_type IS 'A type that certificates use cannot be deleted or renamed';
--------------------------------------------------------------------------------
-- Preview URLs (issue 9). The collect step (归集) sends the national platform
-- a link to a watermarked preview, never the file. The link carries a token
-- (core/include/elicense/preview_token.hpp): licence identifier and expiry,
-- HMAC-SHA256 with a key that lives only here, admin-only. The preview server
-- (preview/) holds no secret: it hands tokens to elicense.preview_open.
--------------------------------------------------------------------------------

CREATE TABLE elicense.preview_key (
    id         smallint PRIMARY KEY CONSTRAINT preview_key_id_range CHECK (id BETWEEN 1 AND 255),
    secret     bytea NOT NULL CONSTRAINT preview_key_length CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE elicense.preview_key IS
'HMAC keys of preview tokens; the newest signs, every row verifies (delete a row to invalidate its URLs); admin only';
-- Dumped: a restored database must still accept the URLs the platform holds.
-- No row ships (it would collide with itself on restore): the first
-- preview_url() call makes one.
SELECT pg_catalog.pg_extension_config_dump('elicense.preview_key', '');
REVOKE ALL ON elicense.preview_key FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON elicense.preview_key TO elicense_admin;

CREATE FUNCTION elicense._preview_token(secret bytea, key_id integer, identifier text, expires_at bigint) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_preview_token'
LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION elicense._preview_token_key_id(token text) RETURNS integer
AS 'MODULE_PATHNAME', 'elicense_preview_token_key_id'
LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION elicense._preview_token_check(token text, secret bytea, OUT identifier text, OUT expires_at bigint)
AS 'MODULE_PATHNAME', 'elicense_preview_token_check'
LANGUAGE C IMMUTABLE STRICT;
REVOKE ALL ON FUNCTION elicense._preview_token(bytea, integer, text, bigint),
    elicense._preview_token_key_id(text), elicense._preview_token_check(text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._preview_token(bytea, integer, text, bigint) IS
'Internal: preview token for a licence identifier valid until expires_at (Unix seconds)';
COMMENT ON FUNCTION elicense._preview_token_key_id(text) IS
'Internal: key id of a well-formed preview token, NULL for anything else';
COMMENT ON FUNCTION elicense._preview_token_check(text, bytea) IS
'Internal: identifier and expiry of a token signed with secret; NULLs if it is not';

-- A fresh key: 2 x 122 random bits of gen_random_uuid (pg_strong_random).
CREATE FUNCTION elicense.rotate_preview_key() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_id integer;
BEGIN
  LOCK TABLE elicense.preview_key IN SHARE ROW EXCLUSIVE MODE;
  SELECT coalesce(max(id), 0) + 1 INTO new_id FROM elicense.preview_key;
  IF new_id > 255 THEN
    RAISE EXCEPTION 'preview key ids are used up (255)' USING ERRCODE = 'program_limit_exceeded',
      HINT = 'DELETE old rows of elicense.preview_key (their URLs stop working), then renumber.';
  END IF;
  INSERT INTO elicense.preview_key (id, secret)
  VALUES (new_id, decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION elicense.rotate_preview_key() IS
'Adds a new preview key, which signs the URLs of versions created from now on; URLs signed with older keys stay valid until their row is deleted';
REVOKE ALL ON FUNCTION elicense.rotate_preview_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.rotate_preview_key() TO elicense_admin;

-- The preview URL of a licence version, from delivery_config's template.
-- The same version always gets the same URL (the worker's confirm step
-- compares the URL the platform holds with this one, and a replayed collect
-- step must send the same link): the expiry counts from the version's
-- creation, and the key is the newest one made before the version (else
-- the oldest), so a later key rotation does not change existing URLs.
CREATE FUNCTION elicense.preview_url(identifier text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  template text;
  lifetime interval;
  anchor timestamptz;
  k elicense.preview_key;
  url text;
BEGIN
  SELECT d.preview_url_template, d.preview_token_lifetime INTO template, lifetime FROM elicense.delivery_config d;
  template := coalesce(template, 'https://licence-preview.invalid/p/{token}');
  lifetime := coalesce(lifetime, interval '5 years');
  url := replace(template, '{identifier}', preview_url.identifier);
  IF strpos(url, '{token}') > 0 THEN
    SELECT c.created_at INTO anchor FROM elicense.certificate c WHERE c.identifier = preview_url.identifier;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no licence with identifier "%"', preview_url.identifier USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT FROM elicense.preview_key) THEN
      PERFORM elicense.rotate_preview_key();
    END IF;
    SELECT * INTO k FROM elicense.preview_key p WHERE p.created_at < anchor ORDER BY p.created_at DESC, p.id DESC LIMIT 1;
    IF NOT FOUND THEN
      SELECT * INTO k FROM elicense.preview_key p ORDER BY p.created_at, p.id LIMIT 1;
    END IF;
    url := replace(url, '{token}', elicense._preview_token(k.secret, k.id, preview_url.identifier,
        least(extract(epoch FROM anchor + lifetime)::bigint, 4294967295)));
  END IF;
  RETURN url;
END
$$;
COMMENT ON FUNCTION elicense.preview_url(text) IS
'URL of the watermarked preview of a licence version: delivery_config.preview_url_template with {identifier} and {token} (valid for preview_token_lifetime from the version''s creation) filled in; the same for every call';
REVOKE ALL ON FUNCTION elicense.preview_url(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.preview_url(text) TO elicense_admin, elicense_issuer, elicense_worker;
--------------------------------------------------------------------------------
-- What the preview server (preview/, role elicense_preview) may do: open a
-- token (verified here, every access with a genuine token logged) and fetch
-- the watermarked licence file of a valid one. Nothing else: no table, no
-- original file, no key.
--------------------------------------------------------------------------------

CREATE TABLE elicense.preview_access (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    identifier text NOT NULL,
    version    integer NOT NULL,
    client     text NOT NULL,
    code       smallint NOT NULL,
    status     text NOT NULL
);
CREATE INDEX preview_access_at ON elicense.preview_access USING brin (at);
CREATE INDEX preview_access_identifier ON elicense.preview_access (identifier);
COMMENT ON TABLE elicense.preview_access IS
'Every preview opened with a genuine token: time, version, client, HTTP code, status shown. Append-only. Tokens that are not ours (garbage, tampered) are logged by the preview server only, so random traffic cannot grow this table';
SELECT pg_catalog.pg_extension_config_dump('elicense.preview_access', '');
CREATE TRIGGER preview_access_append_only BEFORE UPDATE OR DELETE ON elicense.preview_access
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('The preview access log is evidence; it is never changed.');
REVOKE ALL ON elicense.preview_access FROM PUBLIC;
GRANT SELECT ON elicense.preview_access TO elicense_admin;

-- The identifier and expiry of a token we signed with a key we still have;
-- no row otherwise.
CREATE FUNCTION elicense._preview_claims(token text, OUT identifier text, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ch.identifier, to_timestamp(ch.expires_at)
    FROM elicense.preview_key k,
         LATERAL elicense._preview_token_check(token, k.secret) ch
   WHERE k.id = elicense._preview_token_key_id(token) AND ch.identifier IS NOT NULL
$$;
REVOKE ALL ON FUNCTION elicense._preview_claims(text) FROM PUBLIC;

-- What a preview shows for a version: 'valid', or why not. A version
-- replaced by a revocation or cancellation shows that status; one replaced
-- by a change (变更) shows 'superseded'.
CREATE FUNCTION elicense._preview_status(c elicense.certificate) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN s.status = '02' THEN 'suspended'
    WHEN s.status = '03' THEN 'revoked'
    WHEN s.status = '04' THEN 'withdrawn'
    WHEN s.status = '05' THEN 'cancelled'
    WHEN s.status = '06' THEN 'expired'
    WHEN s.status = '99' THEN 'other'
    WHEN c.superseded_at IS NOT NULL THEN 'superseded'
    WHEN c.valid_to IS NOT NULL AND c.valid_to < current_date THEN 'expired'
    WHEN c.qr_url IS NULL THEN 'not_ready'
    ELSE 'valid' END
    FROM (SELECT coalesce((SELECT cur.status FROM elicense.certificate cur
                            WHERE cur.original_identifier = c.original_identifier AND cur.superseded_at IS NULL
                              AND c.superseded_at IS NOT NULL), c.status) AS status) s
$$;
REVOKE ALL ON FUNCTION elicense._preview_status(elicense.certificate) FROM PUBLIC;

CREATE FUNCTION elicense.preview_open(token text, client text)
RETURNS TABLE (code integer, identifier text, version integer, status text, content_hash text,
               token_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  claim record;
  c elicense.certificate;
  shown text;
  hash text;
BEGIN
  SELECT * INTO claim FROM elicense._preview_claims(token);
  IF FOUND THEN
    SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = claim.identifier;
  END IF;
  IF NOT FOUND THEN  -- not a token of ours, or no such version: 404, logged by the server only
    RETURN QUERY SELECT 404, NULL::text, NULL::integer, 'unknown'::text, NULL::text, NULL::timestamptz;
    RETURN;
  END IF;
  IF claim.expires_at <= now() THEN
    code := 410;
    shown := 'token_expired';
  ELSE
    code := 200;
    shown := elicense._preview_status(c);
  END IF;
  IF shown = 'valid' THEN
    -- What the page shows, not the file's bytes (a sealed file differs on
    -- every render): face template and values, QR URL, seal picture.
    SELECT encode(sha256(convert_to(concat_ws(E'\x1f', t.template::text, elicense.licence_face_fields(c)::text,
                                              c.qr_url, encode(sha256(k.seal_png), 'hex')), 'UTF8')), 'hex')
      INTO hash
      FROM elicense.ofd_template t
      LEFT JOIN elicense.seal_key k ON k.authority_uscc = c.authority_uscc
     WHERE t.type_code = c.type_code;
    IF hash IS NULL THEN
      shown := 'not_ready';  -- no face template for the type
    END IF;
  END IF;
  INSERT INTO elicense.preview_access (identifier, version, client, code, status)
  VALUES (c.identifier, c.version, left(coalesce(preview_open.client, ''), 100), preview_open.code, shown);
  RETURN QUERY SELECT preview_open.code, c.identifier::text, c.version, shown, hash, claim.expires_at;
END
$$;
COMMENT ON FUNCTION elicense.preview_open(text, text) IS
'For the preview server: the state of the version a preview token names (code 404 not our token, 410 token expired, 200 with status valid/superseded/revoked/withdrawn/cancelled/expired/suspended/other/not_ready) and, when valid, a hash of what the page shows for caching; logs the access in elicense.preview_access';

CREATE FUNCTION elicense.preview_ofd(token text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  claim record;
  c elicense.certificate;
BEGIN
  SELECT * INTO claim FROM elicense._preview_claims(token);
  IF FOUND THEN
    SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = claim.identifier;
  END IF;
  IF NOT FOUND OR claim.expires_at <= now() OR elicense._preview_status(c) <> 'valid' THEN
    RAISE EXCEPTION 'preview token does not open a valid licence' USING ERRCODE = 'insufficient_privilege',
      HINT = 'Call elicense.preview_open first; only a valid version has a file to show.';
  END IF;
  -- A valid version has its QR code: render the row in hand.
  RETURN elicense._render_version_ofd(c, true, '', '');
END
$$;
COMMENT ON FUNCTION elicense.preview_ofd(text) IS
'For the preview server: the watermarked licence file (never the original) of the valid version a live token names';

REVOKE ALL ON FUNCTION elicense.preview_open(text, text), elicense.preview_ofd(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.preview_open(text, text), elicense.preview_ofd(text)
    TO elicense_preview, elicense_admin;
--------------------------------------------------------------------------------
-- Sharing: departments that use licences (用证, seed 001 §5.4.3; the
-- GB/T 36906-style interfaces of seeds 003/004). Vocabulary:
--   scenario    a use (用证场景): name, purpose (用证事由), licence types it may touch
--   grant       which department application (a database role, so the caller
--               cannot claim another identity by an argument) may use which
--               types in a scenario, whether it may see resident ID numbers,
--               for which period; revocable
--   usage code  用证码: made from a business context (applicant, business id,
--               step, office, time, department, officer, licences needed) for
--               ONE holder; short-lived; stored only as its SHA-256
--   audit       every call, ok or refused, append-only, written by an
--               autonomous writer (extension/src/audit_writer.cpp) so that a
--               refusal, whose error rolls back the caller's transaction, and a
--               read in a transaction the caller rolls back are still recorded
-- Department application login roles are members of elicense_consumer: it
-- has EXECUTE on the functions below and no table access.
--------------------------------------------------------------------------------

CREATE TABLE elicense.usage_scenario (
    code             text PRIMARY KEY CONSTRAINT usage_scenario_code_format CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name             text NOT NULL CONSTRAINT usage_scenario_name_present CHECK (name <> ''),
    purpose          text NOT NULL CONSTRAINT usage_scenario_purpose_present CHECK (purpose <> ''),
    type_codes       text[] NOT NULL CONSTRAINT usage_scenario_types_present CHECK (cardinality(type_codes) > 0),
    copy_valid_days  integer NOT NULL DEFAULT 30 CONSTRAINT usage_scenario_copy_days CHECK (copy_valid_days BETWEEN 1 AND 3650),
    max_code_minutes integer NOT NULL DEFAULT 60 CONSTRAINT usage_scenario_code_minutes CHECK (max_code_minutes BETWEEN 1 AND 1440),
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE elicense.usage_scenario IS 'Usage scenarios (用证场景): what a use is for and which licence types it may touch';
COMMENT ON COLUMN elicense.usage_scenario.purpose IS 'Default purpose (用证事由) printed on copies of licence files: 用途：…';
COMMENT ON COLUMN elicense.usage_scenario.copy_valid_days IS 'A file copy handed out is valid for this many days (有效期至 on the copy)';
COMMENT ON COLUMN elicense.usage_scenario.max_code_minutes IS 'Cap on the lifetime of a usage code made in this scenario';

CREATE TABLE elicense.usage_grant (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grantee            regrole NOT NULL,
    department         text NOT NULL CONSTRAINT usage_grant_department_present CHECK (department <> ''),
    scenario           text NOT NULL REFERENCES elicense.usage_scenario ON UPDATE CASCADE,
    type_codes         text[] NOT NULL CONSTRAINT usage_grant_types_present CHECK (cardinality(type_codes) > 0),
    may_see_id_numbers boolean NOT NULL DEFAULT false,
    valid_from         timestamptz NOT NULL DEFAULT now(),
    valid_to           timestamptz,
    revoked_at         timestamptz,
    revoked_reason     text,
    created_by         text NOT NULL DEFAULT session_user,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_grant_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT usage_grant_revocation CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE UNIQUE INDEX usage_grant_one_live ON elicense.usage_grant (grantee, scenario) WHERE revoked_at IS NULL;
COMMENT ON TABLE elicense.usage_grant IS
'Which department application (grantee: a role its login roles are members of) may use which licence types in a scenario, and for how long; revoke by setting revoked_at and revoked_reason';
COMMENT ON COLUMN elicense.usage_grant.may_see_id_numbers IS 'Resident ID numbers (身份证) of holders are shown in full; otherwise first 6 and last 4 characters';
COMMENT ON INDEX elicense.usage_grant_one_live IS 'One live grant per role and scenario';

-- Type codes of scenarios and grants must be known types; a grant's types
-- must be among its scenario's.
CREATE FUNCTION elicense._check_usage_types() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  unknown text;
  allowed text[];
BEGIN
  SELECT t INTO unknown FROM unnest(NEW.type_codes) t
   WHERE NOT EXISTS (SELECT FROM elicense.licence_type l WHERE l.type_code = t) LIMIT 1;
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'unknown licence type "%" in %.type_codes', unknown, TG_TABLE_NAME USING ERRCODE = 'undefined_object',
      HINT = 'Licence types are the rows of elicense.licence_type.';
  END IF;
  IF TG_TABLE_NAME = 'usage_grant' THEN
    SELECT s.type_codes INTO allowed FROM elicense.usage_scenario s WHERE s.code = NEW.scenario;
    IF NOT NEW.type_codes <@ allowed THEN
      RAISE EXCEPTION 'usage_grant.type_codes % are not all in scenario "%" (%)', NEW.type_codes, NEW.scenario, allowed
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Grant only types the scenario allows, or widen the scenario first.';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION elicense._check_usage_types() FROM PUBLIC;
CREATE TRIGGER usage_scenario_types BEFORE INSERT OR UPDATE ON elicense.usage_scenario
    FOR EACH ROW EXECUTE FUNCTION elicense._check_usage_types();
CREATE TRIGGER usage_grant_types BEFORE INSERT OR UPDATE ON elicense.usage_grant
    FOR EACH ROW EXECUTE FUNCTION elicense._check_usage_types();

CREATE TABLE elicense.usage_code (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_sha256 bytea NOT NULL UNIQUE,
    grant_id    bigint NOT NULL REFERENCES elicense.usage_grant,
    holder_id   text NOT NULL,
    type_codes  text[] NOT NULL,
    context     jsonb NOT NULL,
    created_by  text NOT NULL DEFAULT session_user,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
COMMENT ON TABLE elicense.usage_code IS
'Usage codes (用证码): the SHA-256 of the code (the code itself is never stored), the grant it was made under, the one holder and the licence types it opens, its business context and expiry';
COMMENT ON COLUMN elicense.usage_code.context IS
'purpose (用证事由), applicant (办事人), business_id (业务标识), step (业务环节), office (业务网点), time (业务时间), department (业务部门), officer (经办人员)';

--------------------------------------------------------------------------------
-- Audit: append-only; rows come from the autonomous writer (or, when no
-- writer can start, from the caller's transaction, with a LOG line).
-- No foreign keys on purpose: the writer commits while the caller's
-- transaction, which may hold the referenced rows uncommitted, waits for it.
--------------------------------------------------------------------------------

CREATE TABLE elicense.usage_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL,
    db_user          text NOT NULL,
    grantee          text,
    department       text,
    officer          text,
    function         text NOT NULL,
    identifier       text,
    holder_id        text,
    scenario         text,
    purpose          text,
    business_id      text,
    usage_code_id    bigint,
    result           text NOT NULL CONSTRAINT usage_audit_result CHECK (result IN ('ok', 'refused')),
    sqlstate         text,
    message          text,
    rows_returned    integer NOT NULL DEFAULT 0,
    file_sha256      text,
    copy_valid_until date,
    recorded_by      text NOT NULL CONSTRAINT usage_audit_recorded_by CHECK (recorded_by IN ('writer', 'transaction')),
    CONSTRAINT usage_audit_refusal_state CHECK ((result = 'refused') = (sqlstate IS NOT NULL))
);
CREATE INDEX usage_audit_at ON elicense.usage_audit USING brin (at);
CREATE INDEX usage_audit_identifier ON elicense.usage_audit (identifier) WHERE identifier IS NOT NULL;
CREATE INDEX usage_audit_holder ON elicense.usage_audit (holder_id) WHERE holder_id IS NOT NULL;
CREATE INDEX usage_audit_file ON elicense.usage_audit (file_sha256) WHERE file_sha256 IS NOT NULL;
COMMENT ON TABLE elicense.usage_audit IS 'Every use of the sharing functions: who, what, why, when, result. Append-only';
COMMENT ON COLUMN elicense.usage_audit.db_user IS 'Login role of the session (session_user)';
COMMENT ON COLUMN elicense.usage_audit.grantee IS 'Role of the grant the call was made under';
COMMENT ON COLUMN elicense.usage_audit.department IS 'Department (业务部门) from the usage code, else from the grant';
COMMENT ON COLUMN elicense.usage_audit.officer IS 'Officer (经办人员) from the usage code';
COMMENT ON COLUMN elicense.usage_audit.function IS 'Sharing function called';
COMMENT ON COLUMN elicense.usage_audit.identifier IS 'Licence asked for (or found by verification)';
COMMENT ON COLUMN elicense.usage_audit.holder_id IS 'Holder asked for: personal data, analysts see it masked (analyst_usage_audit)';
COMMENT ON COLUMN elicense.usage_audit.result IS 'ok, or refused with the SQLSTATE and message of the error the caller got';
COMMENT ON COLUMN elicense.usage_audit.message IS 'The error message of a refusal; the verdict of a verification';
COMMENT ON COLUMN elicense.usage_audit.rows_returned IS 'Rows (licences, files) handed out';
COMMENT ON COLUMN elicense.usage_audit.file_sha256 IS 'SHA-256 of a file copy handed out: licence_verify recognises the copy by it';
COMMENT ON COLUMN elicense.usage_audit.copy_valid_until IS 'Validity printed on that copy (有效期至)';
COMMENT ON COLUMN elicense.usage_audit.recorded_by IS 'writer: committed by the autonomous audit writer; transaction: fallback in the caller''s transaction (also in the server log)';
COMMENT ON INDEX elicense.usage_audit_identifier IS 'Who used a licence';
COMMENT ON INDEX elicense.usage_audit_holder IS 'Who used a holder''s licences';
COMMENT ON INDEX elicense.usage_audit_file IS 'Copies handed out, by file digest (verification)';

CREATE TRIGGER usage_audit_append_only BEFORE UPDATE OR DELETE ON elicense.usage_audit
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('The usage audit is evidence; it is never changed.');
CREATE TRIGGER usage_audit_no_truncate BEFORE TRUNCATE ON elicense.usage_audit
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('The usage audit is evidence; it is never changed.');

-- Writes one audit row (run by the audit writer, or by _record as fallback).
CREATE FUNCTION elicense._audit_insert(r jsonb) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO elicense.usage_audit (at, db_user, grantee, department, officer, function, identifier, holder_id,
      scenario, purpose, business_id, usage_code_id, result, sqlstate, message, rows_returned, file_sha256,
      copy_valid_until, recorded_by)
  VALUES ((r ->> 'at')::timestamptz, r ->> 'db_user', r ->> 'grantee', r ->> 'department', r ->> 'officer',
      r ->> 'function', r ->> 'identifier', r ->> 'holder_id', r ->> 'scenario', r ->> 'purpose',
      r ->> 'business_id', (r ->> 'usage_code_id')::bigint, r ->> 'result', r ->> 'sqlstate', r ->> 'message',
      coalesce((r ->> 'rows_returned')::integer, 0), r ->> 'file_sha256', (r ->> 'copy_valid_until')::date,
      r ->> 'recorded_by')
  RETURNING id
$$;
REVOKE ALL ON FUNCTION elicense._audit_insert(jsonb) FROM PUBLIC;

CREATE FUNCTION elicense._audit_autonomous(record text) RETURNS bigint
AS 'MODULE_PATHNAME', 'elicense_audit_autonomous'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._audit_autonomous(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._audit_autonomous(text) IS
'Internal: hands an audit record (JSON) to this session''s audit writer, a background worker that commits it in its own transaction; returns the row id, or NULL when no writer can run';

-- Records one use; returns the audit row id. The record survives the
-- caller's rollback unless no writer could run (then: LOG line + in-transaction row).
CREATE FUNCTION elicense._record(r jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id bigint;
BEGIN
  r := r || jsonb_build_object('at', clock_timestamp(), 'db_user', session_user::text);
  id := elicense._audit_autonomous((r || '{"recorded_by": "writer"}')::text);
  IF id IS NULL THEN
    RAISE LOG 'elicense usage audit (no audit writer could start; recorded in the caller''s transaction): %',
      (r || jsonb_build_object('holder_id', elicense._mask_any_holder(r ->> 'holder_id')))::text;
    id := elicense._audit_insert(r || '{"recorded_by": "transaction"}');
  END IF;
  RETURN id;
END
$$;
REVOKE ALL ON FUNCTION elicense._record(jsonb) FROM PUBLIC;

-- Masks a holder ID whose type is not known (audit rows): a USCC is public.
CREATE FUNCTION elicense._mask_any_holder(id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT elicense.mask_holder_id(CASE WHEN elicense.is_valid_uscc(id) THEN 'USCC' ELSE 'RESIDENT_ID' END, id)
$$;

--------------------------------------------------------------------------------
-- Who is calling, under which grant
--------------------------------------------------------------------------------

-- The login role and every role it is a member of, directly or not. Unlike
-- pg_has_role, superuser status does not make a role a member of everything:
-- a grant applies only to real members of its grantee.
CREATE FUNCTION elicense._caller_roles() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH RECURSIVE r(oid) AS (
    SELECT a.oid FROM pg_catalog.pg_roles a WHERE a.rolname = session_user
    UNION
    SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN r ON m.member = r.oid)
  SELECT array_agg(oid) FROM r
$$;

-- Everything a sharing function knows about a call: the grant and, with a
-- usage code, the code. refusal_* are set when the call must be refused.
CREATE TYPE elicense._usage_context AS (
    grant_id           bigint,
    grantee            text,
    department         text,
    scenario           text,
    grant_types        text[],
    may_see_id_numbers boolean,
    purpose            text,
    copy_valid_days    integer,
    code_id            bigint,
    holder_id          text,
    code_types         text[],
    officer            text,
    business_id        text,
    expires_at         timestamptz,
    context            jsonb,
    refusal_state      text,
    refusal_message    text,
    refusal_hint       text
);

CREATE FUNCTION elicense._audit_of(x elicense._usage_context) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('grantee', x.grantee, 'department', x.department, 'scenario', x.scenario,
      'purpose', x.purpose, 'usage_code_id', x.code_id, 'officer', x.officer, 'business_id', x.business_id))
$$;

-- The caller's live grant for a scenario, or why there is none.
CREATE FUNCTION elicense._grant_context(scenario text) RETURNS elicense._usage_context
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  x elicense._usage_context;
  g elicense.usage_grant;
  s elicense.usage_scenario;
BEGIN
  x.scenario := scenario;
  SELECT * INTO s FROM elicense.usage_scenario u WHERE u.code = _grant_context.scenario;
  IF NOT FOUND THEN
    x.refusal_state := '42704';
    x.refusal_message := format('unknown usage scenario "%s"', scenario);
    x.refusal_hint := 'Scenarios are the rows of elicense.usage_scenario; an elicense_admin creates them.';
    RETURN x;
  END IF;
  x.purpose := s.purpose;
  x.copy_valid_days := s.copy_valid_days;
  -- A live grant first; else the most recent one, to say why it no longer applies.
  SELECT * INTO g FROM elicense.usage_grant u
   WHERE u.scenario = s.code AND u.grantee::oid = ANY (elicense._caller_roles())
   ORDER BY (u.revoked_at IS NULL AND u.valid_from <= now() AND (u.valid_to IS NULL OR u.valid_to > now())) DESC, u.id DESC
   LIMIT 1;
  IF NOT FOUND THEN
    x.refusal_state := '42501';
    x.refusal_message := format('role "%s" has no usage grant for scenario "%s"', session_user, scenario);
    x.refusal_hint := 'An elicense_admin grants a department application a scenario in elicense.usage_grant (grantee: a role the login role is a member of).';
    RETURN x;
  END IF;
  x.grant_id := g.id;
  x.grantee := g.grantee::text;
  x.department := g.department;
  x.grant_types := g.type_codes;
  x.may_see_id_numbers := g.may_see_id_numbers;
  IF g.revoked_at IS NOT NULL THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage grant %s of role "%s" for scenario "%s" was revoked at %s: %s',
                                g.id, g.grantee, scenario, g.revoked_at, g.revoked_reason);
    x.refusal_hint := 'Ask the licence authority for a new grant.';
  ELSIF g.valid_from > now() OR g.valid_to <= now() THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage grant %s of role "%s" for scenario "%s" is valid from %s to %s, not now',
                                g.id, g.grantee, scenario, g.valid_from, coalesce(g.valid_to::text, 'no end'));
    x.refusal_hint := 'Ask the licence authority to extend the grant.';
  END IF;
  RETURN x;
END
$$;

-- The context of a usage code presented by the caller, or why it is refused.
CREATE FUNCTION elicense._code_context(usage_code text) RETURNS elicense._usage_context
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  x elicense._usage_context;
  u elicense.usage_code;
  scenario text;
BEGIN
  SELECT * INTO u FROM elicense.usage_code c WHERE c.code_sha256 = sha256(convert_to(coalesce(usage_code, ''), 'UTF8'));
  IF NOT FOUND THEN
    x.refusal_state := '28000';
    x.refusal_message := 'unknown usage code';
    x.refusal_hint := 'Create one with elicense.create_usage_code(...) and pass the text it returns.';
    RETURN x;
  END IF;
  SELECT g.scenario INTO scenario FROM elicense.usage_grant g WHERE g.id = u.grant_id;
  x := elicense._grant_context(scenario);
  x.code_id := u.id;
  x.holder_id := u.holder_id;
  x.code_types := u.type_codes;
  x.context := u.context;
  x.officer := u.context ->> 'officer';
  x.business_id := u.context ->> 'business_id';
  x.department := coalesce(u.context ->> 'department', x.department);
  x.purpose := coalesce(u.context ->> 'purpose', x.purpose);
  x.expires_at := u.expires_at;
  IF x.refusal_state IS NOT NULL THEN
    RETURN x;
  END IF;
  IF x.grant_id IS DISTINCT FROM u.grant_id THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage code %s was made under another grant than role "%s" holds', u.id, session_user);
    x.refusal_hint := 'A usage code is used by the department application that made it.';
  ELSIF u.expires_at <= now() THEN
    x.refusal_state := '28000';
    x.refusal_message := format('usage code %s expired at %s', u.id, u.expires_at);
    x.refusal_hint := 'Usage codes are short-lived; create a new one for the request.';
  END IF;
  RETURN x;
END
$$;

-- Raises a refusal found by _grant_context/_code_context.
CREATE FUNCTION elicense._raise_refusal(x elicense._usage_context) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF x.refusal_state IS NOT NULL THEN
    RAISE EXCEPTION '%', x.refusal_message USING ERRCODE = x.refusal_state, HINT = x.refusal_hint;
  END IF;
END
$$;

-- The by-holder functions: the holder asked for must be the code's own.
CREATE FUNCTION elicense._require_code_holder(x elicense._usage_context, holder_id text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF holder_id IS DISTINCT FROM x.holder_id THEN
    RAISE EXCEPTION 'usage code % was made for another holder', x.code_id USING ERRCODE = 'insufficient_privilege',
      HINT = 'A usage code opens the licences of the one holder it was made for.';
  END IF;
END
$$;

--------------------------------------------------------------------------------
-- What a department sees of a licence version
--------------------------------------------------------------------------------

CREATE TYPE elicense.licence_share AS (
    identifier          text,
    original_identifier text,
    version             integer,
    is_current          boolean,
    type_code           text,
    type_name           text,
    licence_number      text,
    holder_name         text,
    holder_id_type      text,
    holder_id           text,
    authority_name      text,
    authority_uscc      text,
    authority_division  text,
    issue_date          date,
    valid_from          date,
    valid_to            date,
    status              text,
    effective_status    text,
    business_data       jsonb
);
COMMENT ON TYPE elicense.licence_share IS
'A licence version as the sharing functions return it: holder_id masked (resident IDs: first 6 and last 4) unless the grant may see ID numbers; business_data only from the info functions, NULL in search results';

CREATE FUNCTION elicense._share(c elicense.certificate, may_see_id_numbers boolean, with_data boolean)
RETURNS elicense.licence_share
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ROW(c.identifier, c.original_identifier, c.version, c.superseded_at IS NULL, c.type_code,
             (SELECT t.name FROM elicense.licence_type t WHERE t.type_code = c.type_code), c.licence_number,
             c.holder_name, c.holder_id_type,
             CASE WHEN may_see_id_numbers THEN c.holder_id ELSE elicense.mask_holder_id(c.holder_id_type, c.holder_id) END,
             c.authority_name, c.authority_uscc, c.authority_division, c.issue_date, c.valid_from, c.valid_to, c.status,
             elicense.effective_status(c.status, c.valid_to), CASE WHEN with_data THEN c.business_data END)::elicense.licence_share
$$;

-- The copy of a licence file for a department: no platform watermark (it
-- says the file is for the national platform's publication), the
-- purpose-and-validity note (seed 000 §8.4), the holder's resident ID masked
-- on the face unless the grant may see it, sealed like every file.
CREATE FUNCTION elicense._render_copy(identifier text, purpose text, valid_until date, mask_id boolean) RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
BEGIN
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = _render_copy.identifier;
  IF c.qr_url IS NULL THEN
    RAISE EXCEPTION 'licence % has no QR code yet', identifier USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'The file exists once the national platform has assigned a code (赋码); ask again later.';
  END IF;
  IF mask_id THEN
    c.holder_id := elicense.mask_holder_id(c.holder_id_type, c.holder_id);
  END IF;
  RETURN elicense._render_version_ofd(c, false, purpose, to_char(valid_until, 'YYYY-MM-DD'));
END
$$;
REVOKE ALL ON FUNCTION elicense._render_copy(text, text, date, boolean) FROM PUBLIC;

-- A licence version the code may open, or a refusal (P0002 unknown,
-- 42501 other holder or type outside the code).
CREATE FUNCTION elicense._licence_for_code(x elicense._usage_context, identifier text) RETURNS elicense.certificate
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
BEGIN
  SELECT * INTO c FROM elicense.certificate v WHERE v.identifier = _licence_for_code.identifier;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no licence with identifier "%"', identifier USING ERRCODE = 'no_data_found',
      HINT = 'Find identifiers with elicense.licence_info_by_holder or elicense.licence_search.';
  END IF;
  IF c.holder_id <> x.holder_id THEN
    RAISE EXCEPTION 'licence "%" belongs to another holder than usage code %', identifier, x.code_id
      USING ERRCODE = 'insufficient_privilege', HINT = 'A usage code opens the licences of the one holder it was made for.';
  END IF;
  IF NOT c.type_code = ANY (x.code_types) THEN
    RAISE EXCEPTION 'licence type % of "%" is not among the types of usage code % (%)', c.type_code, identifier, x.code_id,
      array_to_string(x.code_types, ', ') USING ERRCODE = 'insufficient_privilege',
      HINT = 'Create a usage code that names this licence type (the grant must allow it).';
  END IF;
  RETURN c;
END
$$;

--------------------------------------------------------------------------------
-- Public functions (EXECUTE: elicense_consumer). Each records one audit row
-- per call (per file for by-holder files), refusals included: the body runs
-- in a block whose handler records the error, then re-raises it.
--------------------------------------------------------------------------------

-- 用证码: make a usage code for one holder from a business context.
CREATE FUNCTION elicense.create_usage_code(scenario text, holder_id text, licence_types text[], context jsonb,
    valid_minutes integer DEFAULT 15) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'create_usage_code', 'scenario', scenario, 'holder_id', holder_id);
  x elicense._usage_context;
  k text;
  max_minutes integer;
  code text;
  code_id bigint;
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x)
           || jsonb_strip_nulls(jsonb_build_object('officer', context ->> 'officer', 'business_id', context ->> 'business_id',
                                                   'department', context ->> 'department'));
    PERFORM elicense._raise_refusal(x);
    IF context IS NULL OR jsonb_typeof(context) <> 'object' THEN
      RAISE EXCEPTION 'usage context must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH k IN ARRAY ARRAY['applicant', 'business_id', 'step', 'office', 'department', 'officer'] LOOP
      IF coalesce(btrim(context ->> k), '') = '' THEN
        RAISE EXCEPTION 'usage context lacks "%"', k USING ERRCODE = 'invalid_parameter_value',
          HINT = 'A context names applicant (办事人), business_id (业务标识), step (业务环节), office (业务网点), department (业务部门) and officer (经办人员); purpose (用证事由) and time (业务时间) are optional.';
      END IF;
    END LOOP;
    IF holder_id IS NULL OR NOT (elicense.is_valid_uscc(holder_id) OR elicense.is_valid_resident_id(holder_id)) THEN
      -- The value is personal data: not repeated in the message (or the audit).
      RAISE EXCEPTION 'holder_id is neither a valid USCC nor a valid resident ID number' USING ERRCODE = 'invalid_text_representation',
        HINT = 'The holder is the company (统一社会信用代码) or the person (居民身份证号码) the request is about.';
    END IF;
    IF licence_types IS NULL OR cardinality(licence_types) = 0 THEN
      RAISE EXCEPTION 'licence_types is empty' USING ERRCODE = 'invalid_parameter_value',
        HINT = 'Name the licence types (所需证照) the request needs.';
    END IF;
    IF NOT licence_types <@ x.grant_types THEN
      RAISE EXCEPTION 'licence types % are outside the grant of role "%" for scenario "%" (%)',
        array_to_string(ARRAY(SELECT unnest(licence_types) EXCEPT SELECT unnest(x.grant_types)), ', '),
        x.grantee, scenario, array_to_string(x.grant_types, ', ')
        USING ERRCODE = 'insufficient_privilege', HINT = 'Ask only for the licence types the grant allows.';
    END IF;
    SELECT s.max_code_minutes INTO max_minutes FROM elicense.usage_scenario s WHERE s.code = scenario;
    IF valid_minutes IS NULL OR valid_minutes NOT BETWEEN 1 AND max_minutes THEN
      RAISE EXCEPTION 'valid_minutes % is outside 1-% (scenario "%")', valid_minutes, max_minutes, scenario
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Usage codes are short-lived; the scenario sets the cap.';
    END IF;
    -- 244 random bits from two version-4 UUIDs (core PostgreSQL, no pgcrypto needed).
    code := 'UC' || upper(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
    INSERT INTO elicense.usage_code (code_sha256, grant_id, holder_id, type_codes, context, expires_at)
    VALUES (sha256(convert_to(code, 'UTF8')), x.grant_id, holder_id, licence_types,
            jsonb_build_object('purpose', x.purpose, 'time', now()) || context,
            now() + make_interval(mins => valid_minutes))
    RETURNING id INTO code_id;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'usage_code_id', code_id, 'rows_returned', 1));
  RETURN code;
END
$$;
COMMENT ON FUNCTION elicense.create_usage_code(text, text, text[], jsonb, integer) IS
'用证码: a usage code for one holder (USCC or resident ID) and the licence types it needs, under the caller''s grant for the scenario; context: applicant, business_id, step, office, department, officer (required), purpose, time (optional); valid 15 minutes by default, at most the scenario''s max_code_minutes';

-- 用证码验证: what a usage code stands for (valid = not expired).
CREATE FUNCTION elicense.usage_code_info(usage_code text,
    OUT valid boolean, OUT scenario text, OUT department text, OUT holder_id text, OUT licence_types text[],
    OUT context jsonb, OUT expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := '{"function": "usage_code_info"}';
  x elicense._usage_context;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x) || jsonb_strip_nulls(jsonb_build_object('holder_id', x.holder_id));
    -- An expired code is answered (valid = false); any other refusal is raised.
    IF x.refusal_state IS NOT NULL AND NOT (x.refusal_state = '28000' AND x.code_id IS NOT NULL) THEN
      PERFORM elicense._raise_refusal(x);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  valid := x.expires_at > now();
  scenario := x.scenario;
  department := x.department;
  holder_id := CASE WHEN x.may_see_id_numbers THEN x.holder_id ELSE elicense._mask_any_holder(x.holder_id) END;
  licence_types := x.code_types;
  context := x.context;
  expires_at := x.expires_at;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1,
                                                   'message', CASE WHEN valid THEN 'valid' ELSE 'expired' END));
END
$$;
COMMENT ON FUNCTION elicense.usage_code_info(text) IS
'用证码验证: scenario, department, holder (masked unless the grant may see ID numbers), licence types, context and expiry of a usage code the caller made; valid is false once it has expired';

-- 基于证照标识获取信息
CREATE FUNCTION elicense.licence_info(usage_code text, identifier text) RETURNS elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_info', 'identifier', identifier);
  x elicense._usage_context;
  c elicense.certificate;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x) || jsonb_strip_nulls(jsonb_build_object('holder_id', x.holder_id));
    PERFORM elicense._raise_refusal(x);
    c := elicense._licence_for_code(x, identifier);
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1));
  RETURN elicense._share(c, x.may_see_id_numbers, true);
END
$$;
COMMENT ON FUNCTION elicense.licence_info(text, text) IS
'基于证照标识获取证照信息: metadata and business data of a licence version of the usage code''s holder and types';

-- 基于持证主体获取信息: the current versions of the holder's licences.
CREATE FUNCTION elicense.licence_info_by_holder(usage_code text, holder_id text) RETURNS SETOF elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_info_by_holder', 'holder_id', holder_id);
  x elicense._usage_context;
  n integer;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    PERFORM elicense._require_code_holder(x, holder_id);
    RETURN QUERY
      SELECT s.* FROM elicense.certificate c, LATERAL elicense._share(c, x.may_see_id_numbers, true) s
       WHERE c.holder_id = x.holder_id AND c.superseded_at IS NULL AND c.type_code = ANY (x.code_types)
       ORDER BY c.type_code, c.identifier;
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
COMMENT ON FUNCTION elicense.licence_info_by_holder(text, text) IS
'基于持证主体获取证照信息: current versions of the licences of the usage code''s holder (USCC or resident ID number), of the code''s types';

-- 基于证照标识下载文件
CREATE FUNCTION elicense.licence_file(usage_code text, identifier text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_file', 'identifier', identifier);
  x elicense._usage_context;
  c elicense.certificate;
  until date;
  file bytea;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x) || jsonb_strip_nulls(jsonb_build_object('holder_id', x.holder_id));
    PERFORM elicense._raise_refusal(x);
    c := elicense._licence_for_code(x, identifier);
    until := current_date + x.copy_valid_days;
    file := elicense._render_copy(c.identifier, x.purpose, until, NOT x.may_see_id_numbers);
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1,
      'file_sha256', encode(sha256(file), 'hex'), 'copy_valid_until', until));
  RETURN file;
END
$$;
COMMENT ON FUNCTION elicense.licence_file(text, text) IS
'基于证照标识下载证照文件: an OFD copy of a licence version with the note 用途：<purpose> 有效期至：<today + copy_valid_days> (seed 000 §8.4), sealed; resident ID masked on the face unless the grant may see ID numbers';

-- 基于持证主体下载文件: one copy per current licence of the holder.
CREATE FUNCTION elicense.licence_file_by_holder(usage_code text, holder_id text,
    OUT identifier text, OUT type_code text, OUT file bytea) RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_file_by_holder', 'holder_id', holder_id);
  x elicense._usage_context;
  ids text[];
  types text[];
  files bytea[] := '{}';
  until date;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    PERFORM elicense._require_code_holder(x, holder_id);
    SELECT coalesce(array_agg(c.identifier::text ORDER BY c.type_code, c.identifier), '{}'),
           coalesce(array_agg(c.type_code ORDER BY c.type_code, c.identifier), '{}')
      INTO ids, types
      FROM elicense.certificate c
     WHERE c.holder_id = x.holder_id AND c.superseded_at IS NULL AND c.type_code = ANY (x.code_types);
    until := current_date + x.copy_valid_days;
    FOR i IN 1 .. cardinality(ids) LOOP
      files := files || elicense._render_copy(ids[i], x.purpose, until, NOT x.may_see_id_numbers);
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  a := a || jsonb_build_object('holder_id', x.holder_id);
  IF cardinality(ids) = 0 THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 0));
  END IF;
  FOR i IN 1 .. cardinality(ids) LOOP
    PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1, 'identifier', ids[i],
        'file_sha256', encode(sha256(files[i]), 'hex'), 'copy_valid_until', until));
    identifier := ids[i];
    type_code := types[i];
    file := files[i];
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION elicense.licence_file_by_holder(text, text) IS
'基于持证主体下载证照文件: an OFD copy (as licence_file) of each current licence of the usage code''s holder and types';

-- 检索: current versions by filters, keyset pagination on identifier.
CREATE FUNCTION elicense.licence_search(scenario text, type_code text DEFAULT NULL, holder_id text DEFAULT NULL,
    holder_name text DEFAULT NULL, authority_uscc text DEFAULT NULL, status text DEFAULT NULL,
    issued_from date DEFAULT NULL, issued_to date DEFAULT NULL, after_identifier text DEFAULT NULL,
    page_size integer DEFAULT 50) RETURNS SETOF elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_search', 'holder_id', holder_id,
      'message', jsonb_strip_nulls(jsonb_build_object('type_code', type_code, 'holder_name', holder_name,
          'authority_uscc', authority_uscc, 'status', status, 'issued_from', issued_from, 'issued_to', issued_to,
          'after_identifier', after_identifier, 'page_size', page_size))::text);
  x elicense._usage_context;
  types text[];
  q text := 'SELECT s.* FROM elicense.certificate c, LATERAL elicense._share(c, $1, false) s
              WHERE c.superseded_at IS NULL AND c.type_code = ANY ($2)';
  n integer;
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 200 THEN
      RAISE EXCEPTION 'page_size % is outside 1-200', page_size USING ERRCODE = 'invalid_parameter_value',
        HINT = 'Page through larger results with after_identifier = the last identifier of the previous page.';
    END IF;
    types := x.grant_types;
    IF type_code IS NOT NULL THEN
      IF NOT type_code = ANY (x.grant_types) THEN
        RAISE EXCEPTION 'licence type % is outside the grant of role "%" for scenario "%" (%)', type_code, x.grantee,
          scenario, array_to_string(x.grant_types, ', ') USING ERRCODE = 'insufficient_privilege',
          HINT = 'Search only the licence types the grant allows.';
      END IF;
      types := ARRAY[type_code];
    END IF;
    -- Only the filters given, so each search is planned for its own indexes.
    IF holder_id IS NOT NULL THEN q := q || ' AND c.holder_id = $3'; END IF;
    IF holder_name IS NOT NULL THEN q := q || ' AND c.holder_name = $4'; END IF;
    IF authority_uscc IS NOT NULL THEN q := q || ' AND c.authority_uscc = $5'; END IF;
    IF status IS NOT NULL THEN q := q || ' AND elicense.effective_status(c.status, c.valid_to) = $6'; END IF;
    IF issued_from IS NOT NULL THEN q := q || ' AND c.issue_date >= $7'; END IF;
    IF issued_to IS NOT NULL THEN q := q || ' AND c.issue_date <= $8'; END IF;
    IF after_identifier IS NOT NULL THEN q := q || ' AND c.identifier > $9'; END IF;
    q := q || ' ORDER BY c.identifier LIMIT $10';
    RETURN QUERY EXECUTE q USING x.may_see_id_numbers, types, holder_id, holder_name, authority_uscc, status,
                                 issued_from, issued_to, after_identifier, page_size;
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
COMMENT ON FUNCTION elicense.licence_search(text, text, text, text, text, text, date, date, text, integer) IS
'电子证照检索: current versions of licences of the types the caller''s grant for the scenario allows, filtered by type, holder ID, holder name (exact), issuing authority, effective status and issue dates; ordered by identifier, at most page_size (≤ 200) rows after after_identifier; metadata only, holder ID masked unless the grant may see ID numbers';

-- 文件核验: is this file one the store issued, unchanged, and is the licence still valid?
CREATE FUNCTION elicense.licence_verify(scenario text, file bytea,
    OUT verdict text, OUT identifier text, OUT current_identifier text, OUT effective_status text,
    OUT copy_valid_until date, OUT signature_status text, OUT detail text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := '{"function": "licence_verify"}';
  x elicense._usage_context;
  digest text := encode(sha256(file), 'hex');
  copied text;
  c elicense.certificate;
  cur elicense.certificate;
  sig record;
  cert text := '';
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x);
    PERFORM elicense._raise_refusal(x);
    -- The stored original (its digest is kept when it is rendered) or a copy
    -- this store handed out (its digest is in the audit).
    SELECT v.* INTO c FROM elicense.certificate v WHERE v.file_sha256 = digest LIMIT 1;
    IF NOT FOUND THEN
      SELECT u.copy_valid_until, u.identifier INTO copy_valid_until, copied FROM elicense.usage_audit u
       WHERE u.file_sha256 = digest AND u.result = 'ok' ORDER BY u.id DESC LIMIT 1;
      IF FOUND THEN
        SELECT v.* INTO c FROM elicense.certificate v WHERE v.identifier = copied;
      END IF;
    END IF;
    IF c.identifier IS NOT NULL THEN
      identifier := c.identifier;
      a := a || jsonb_build_object('identifier', c.identifier, 'holder_id', c.holder_id);
      IF NOT c.type_code = ANY (x.grant_types) THEN
        RAISE EXCEPTION 'licence type % is outside the grant of role "%" for scenario "%" (%)', c.type_code, x.grantee,
          scenario, array_to_string(x.grant_types, ', ') USING ERRCODE = 'insufficient_privilege',
          HINT = 'Verify only licences of the types the grant allows.';
      END IF;
      SELECT k.certificate_pem INTO cert FROM elicense.seal_key k WHERE k.authority_uscc = c.authority_uscc;
    END IF;
    SELECT * INTO sig FROM elicense.verify_licence_ofd(file, coalesce(cert, ''));
    signature_status := sig.status;
    IF c.identifier IS NULL THEN
      IF sig.status IN ('ok', 'unsigned') THEN
        verdict := 'unknown';
        detail := 'not a file this store issued (a sealed file renders differently each time: ask the holder for the current one)';
      ELSE
        verdict := 'tampered';
        detail := format('%s%s: %s', sig.status, CASE WHEN sig.part <> '' THEN ' in ' || sig.part ELSE '' END, sig.message);
      END IF;
    ELSE
      SELECT v.* INTO cur FROM elicense.certificate v
       WHERE v.original_identifier = c.original_identifier AND v.superseded_at IS NULL;
      current_identifier := cur.identifier;
      effective_status := elicense.effective_status(cur.status, cur.valid_to);
      verdict := CASE
        WHEN sig.status NOT IN ('ok', 'unsigned') THEN 'tampered'
        WHEN cur.status IN ('03', '04') THEN 'revoked'
        WHEN cur.status = '05' THEN 'cancelled'
        WHEN cur.identifier <> c.identifier THEN 'changed'
        WHEN effective_status = '06' THEN 'expired'
        WHEN cur.status = '02' THEN 'suspended'
        WHEN copy_valid_until < current_date THEN 'expired'
        ELSE 'valid' END;
      detail := CASE verdict
        WHEN 'tampered' THEN format('the digest is the stored one but the seal does not verify: %s %s', sig.status, sig.message)
        WHEN 'changed' THEN format('a newer version %s replaces %s', cur.identifier, c.identifier)
        WHEN 'expired' THEN CASE WHEN effective_status = '06' THEN format('the licence expired on %s', cur.valid_to)
                                 ELSE format('this copy was valid until %s', copy_valid_until) END
        ELSE format('certState %s', cur.status) END;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1, 'message', verdict,
                                                   'file_sha256', digest));
END
$$;
COMMENT ON FUNCTION elicense.licence_verify(text, bytea) IS
'电子证照文件核验: verdict valid, changed (a newer version exists), revoked, cancelled, expired (licence, or the copy''s validity), suspended, tampered (seal or digests do not verify) or unknown (not a file this store issued), with the identifier of the version the file is, the current version and the seal check';

-- Indexes the sharing functions rely on (README, "Departments using licences").
CREATE INDEX certificate_holder_name ON elicense.certificate (holder_name);
CREATE INDEX certificate_file_sha256 ON elicense.certificate (file_sha256) WHERE file_sha256 IS NOT NULL;
COMMENT ON INDEX elicense.certificate_holder_name IS 'licence_search by holder name';
COMMENT ON INDEX elicense.certificate_file_sha256 IS 'licence_verify: the original a file is';

-- Analysts see who used which licences, with resident IDs masked.
CREATE VIEW elicense.analyst_usage_audit AS
SELECT u.id, u.at, u.db_user, u.grantee, u.department, u.officer, u.function, u.identifier,
       elicense._mask_any_holder(u.holder_id) AS holder_id_masked, u.scenario, u.purpose, u.business_id,
       u.usage_code_id, u.result, u.sqlstate, u.message, u.rows_returned, u.copy_valid_until, u.recorded_by
  FROM elicense.usage_audit u;
COMMENT ON VIEW elicense.analyst_usage_audit IS 'The usage audit with holders'' resident ID numbers masked';

SELECT pg_catalog.pg_extension_config_dump('elicense.usage_scenario', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.usage_grant', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.usage_grant', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump('elicense.usage_code', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.usage_code', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump('elicense.usage_audit', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.usage_audit', 'id'), '');

REVOKE ALL ON elicense.usage_scenario, elicense.usage_grant, elicense.usage_code, elicense.usage_audit,
    elicense.analyst_usage_audit FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.usage_scenario TO elicense_admin;
GRANT SELECT, INSERT ON elicense.usage_grant TO elicense_admin;
GRANT UPDATE (valid_to, revoked_at, revoked_reason) ON elicense.usage_grant TO elicense_admin;
GRANT SELECT ON elicense.usage_code, elicense.usage_audit TO elicense_admin;
GRANT SELECT ON elicense.analyst_usage_audit TO elicense_analyst, elicense_admin;

DO $revoke$
DECLARE
  f regprocedure;
BEGIN
  -- Internal helpers: nobody but the owner (the public functions run as it).
  FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
            WHERE p.pronamespace OPERATOR(pg_catalog.=) 'elicense'::regnamespace
              AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['_caller_roles', '_audit_of', '_grant_context',
                  '_code_context', '_raise_refusal', '_require_code_holder', '_share', '_licence_for_code',
                  '_mask_any_holder']) LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
  FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
            WHERE p.pronamespace OPERATOR(pg_catalog.=) 'elicense'::regnamespace
              AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['create_usage_code', 'usage_code_info', 'licence_info',
                  'licence_info_by_holder', 'licence_file', 'licence_file_by_holder', 'licence_search', 'licence_verify']) LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO elicense_consumer', f);
  END LOOP;
END
$revoke$;
-- A view checks EXECUTE on its functions for the role reading it.
GRANT EXECUTE ON FUNCTION elicense._mask_any_holder(text) TO elicense_analyst, elicense_admin;
