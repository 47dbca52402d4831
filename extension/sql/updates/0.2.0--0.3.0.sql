-- elicense 0.2.0 -> 0.3.0: changes to objects of 0.2.0. The Makefile appends
-- the parts 0.3.0 added (PARTS_ADDED_IN_0.3.0) to make
-- elicense--0.2.0--0.3.0.sql; tests/integration/extension_upgrade.sh checks
-- that the result equals a fresh 0.3.0.
\echo Use "ALTER EXTENSION elicense UPDATE TO '0.3.0'" to load this file. \quit

--------------------------------------------------------------------------------
-- The platform dialect: request fields as data. 30_qr.sql: decrypt_assignment accepts only an
-- assigned code matching delivery_config.assigned_code_pattern or a URL
-- starting with delivery_config.qr_url_prefix (columns added below; the
-- function reads them at run time).
--------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION elicense.decrypt_assignment(encry_certid text, encry_key text, province text,
    OUT kind text, OUT code text, OUT url text)
RETURNS record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s elicense.province_secret;
  code_pattern text;
  url_prefix text;
BEGIN
  IF encry_certid IS NULL OR province IS NULL THEN
    RAISE EXCEPTION 'encryCertid and province must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM elicense.check_province_code(province, 'province');
  SELECT * INTO s FROM elicense.province_secret AS p
  WHERE p.province OPERATOR(pg_catalog.=) decrypt_assignment.province;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no assignment secret is configured for province %', province
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'An elicense_admin inserts the province''s private key or DES key into elicense.province_secret.';
  END IF;
  IF s.assignment_scheme OPERATOR(pg_catalog.=) 'rsa-des' AND encry_key IS NULL THEN
    RAISE EXCEPTION 'encryKey is NULL but province % decrypts assignments with rsa-des', province
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the encryKey of the platform''s answer.';
  END IF;
  SELECT d.kind, d.code, d.url INTO kind, code, url
  FROM elicense._decrypt_assignment(encry_certid, encry_key, s.assignment_scheme, s.private_key_pem, s.des_key) AS d;
  -- Only what the platform assigns may reach a licence: an assigned code
  -- (18 digits) or a QR URL on the platform's host. The errors say what is
  -- wrong, never the plaintext (a wrong key decrypts to anything).
  SELECT c.assigned_code_pattern, c.qr_url_prefix INTO code_pattern, url_prefix FROM elicense.delivery_config AS c;
  code_pattern := coalesce(code_pattern, '^[0-9]{18}$');
  url_prefix := coalesce(url_prefix, 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?');
  IF kind OPERATOR(pg_catalog.=) 'code' AND code OPERATOR(pg_catalog.!~) code_pattern THEN
    RAISE EXCEPTION 'the decrypted assignment is not an assigned code: its % characters do not match %',
        pg_catalog.length(code), code_pattern
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The platform assigns an 18-digit code or a QR URL. Check the province''s secret in elicense.province_secret, or elicense.delivery_config.assigned_code_pattern.';
  END IF;
  IF kind OPERATOR(pg_catalog.=) 'url' AND NOT pg_catalog.starts_with(url, url_prefix) THEN
    RAISE EXCEPTION 'the decrypted assignment is a URL that does not start with the QR prefix %', url_prefix
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The platform''s QR URLs start with elicense.delivery_config.qr_url_prefix; correct it if the platform moved.';
  END IF;
END
$$;

COMMENT ON FUNCTION elicense.decrypt_assignment(text, text, text) IS
'Decrypts a code assignment (encryCertid, encryKey) with the province''s secret (elicense.province_secret); only a code matching delivery_config.assigned_code_pattern or a URL starting with delivery_config.qr_url_prefix passes, else 22023. kind = code: code is the bare assigned code; kind = url: the platform sent a finished QR URL, returned in url unchanged (put it in the QR image as it is), and code is its ID parameter';


-- 40_catalogue.sql: data type image; W050 principal_id, principal_id_type,
-- first_issue_date; W032 photo; category_code's allowed values. New items take
-- their shipped position unless a DBA's item holds it, then the next free
-- one; an item of the same name a DBA added is kept as it is.
ALTER TABLE elicense.licence_item DROP CONSTRAINT licence_item_data_type;
ALTER TABLE elicense.licence_item ADD CONSTRAINT licence_item_data_type CHECK (data_type OPERATOR(pg_catalog.=) ANY (ARRAY['text', 'date', 'uscc', 'resident_id', 'division_code', 'image']));

COMMENT ON COLUMN elicense.licence_item.data_type IS 'text, date (YYYY-MM-DD), uscc, resident_id, division_code (the last three checked with the check_* validators) or image (Base64 of a JPG or PNG of at most 50 KB)';

INSERT INTO elicense.licence_item (type_code, position, item, label, data_type, required, max_length, allowed_values, metadata_column, shipped)
SELECT v.type_code,
       CASE WHEN EXISTS (SELECT FROM elicense.licence_item x WHERE x.type_code = v.type_code AND x.position = v.position)
            THEN (SELECT max(x.position) FROM elicense.licence_item x WHERE x.type_code = v.type_code) + v.position
            ELSE v.position END,
       v.item, v.label, v.data_type, v.required, v.max_length, v.allowed_values, NULL, true
  FROM (VALUES
    ('11100000000013338W050', 14, 'principal_id',      '主要负责人身份证号', 'resident_id', true,  18, NULL::text[]),
    ('11100000000013338W050', 15, 'principal_id_type', '主要负责人证件类型', 'text',        false,  3, ARRAY['111', '999', '001']),
    ('11100000000013338W050', 16, 'first_issue_date',  '初次发证日期',       'date',        false, NULL, NULL),
    ('11100000000013338W032', 15, 'photo',             '照片',               'image',       false, NULL, NULL)
  ) AS v(type_code, position, item, label, data_type, required, max_length, allowed_values)
  JOIN elicense.licence_type t ON t.type_code = v.type_code
ON CONFLICT (type_code, item) DO NOTHING;
UPDATE elicense.licence_item
   SET allowed_values = ARRAY['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '99']
 WHERE type_code = '11100000000013338W032' AND item = 'category_code' AND shipped AND allowed_values IS NULL;

-- 50_outbox.sql: eCertID and last request per step, status held; eCertID per attempt.
ALTER TABLE elicense.outbox ADD COLUMN ecert_id uuid, ADD COLUMN request jsonb;
ALTER TABLE elicense.outbox DROP CONSTRAINT outbox_status_name;
ALTER TABLE elicense.outbox ADD CONSTRAINT outbox_status_name CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'in_flight', 'done', 'dead', 'held']));

COMMENT ON COLUMN elicense.outbox.status IS 'pending, in_flight (leased), done, dead (gave up), held (waits for an operator); elicense.replay puts dead and held rows back';

COMMENT ON COLUMN elicense.outbox.ecert_id IS 'eCertID of the step''s data item: made at its first lease, kept for every resend so the platform can match answers and duplicates';

COMMENT ON COLUMN elicense.outbox.request IS 'The request item last leased for sending (elicense.platform_request); NULL for confirm';

ALTER TABLE elicense.delivery_attempt ADD COLUMN ecert_id uuid;
ALTER TABLE elicense.delivery_attempt DROP CONSTRAINT delivery_attempt_outcome;
ALTER TABLE elicense.delivery_attempt ADD CONSTRAINT delivery_attempt_outcome CHECK (outcome OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'business_error', 'retry', 'unknown', 'held']));

COMMENT ON COLUMN elicense.delivery_attempt.outcome IS 'done, business_error (refused, not retried), retry (had no effect), unknown (may have had effect: query before resending), held (left for an operator)';

COMMENT ON COLUMN elicense.delivery_attempt.ecert_id IS 'eCertID of the data item the call carried (answers echo it in SuccessData and ErrorGuid)';


-- 55_issue.sql: image items.

CREATE FUNCTION elicense._item_image(value text, item text, label text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  b64 text := regexp_replace(regexp_replace(value, '^data:image/[A-Za-z]+;base64,', ''), '\s+', '', 'g');
  bytes bytea;
BEGIN
  IF b64 = '' OR length(b64) % 4 <> 0 OR b64 !~ '^[A-Za-z0-9+/]+={0,2}$' THEN
    RAISE EXCEPTION 'item "%" (%): the value (% characters, starting "%") is not Base64', item, label, length(value), left(value, 16)
      USING ERRCODE = 'invalid_text_representation', HINT = 'Give the image as standard Base64 (A-Z a-z 0-9 + /, padded with =).';
  END IF;
  bytes := decode(b64, 'base64');
  IF length(bytes) > 51200 THEN
    RAISE EXCEPTION 'item "%" (%): the image has % bytes, more than 50 KB (51200 bytes)', item, label, length(bytes)
      USING ERRCODE = 'string_data_right_truncation', HINT = 'The platform takes photos of at most 50 KB: scale or compress the image.';
  END IF;
  IF NOT (substr(bytes, 1, 3) = '\xffd8ff'::bytea OR substr(bytes, 1, 8) = '\x89504e470d0a1a0a'::bytea) THEN
    RAISE EXCEPTION 'item "%" (%): the image is neither a JPG nor a PNG (it starts with bytes %)', item, label, encode(substr(bytes, 1, 8), 'hex')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Only JPG and PNG images are accepted.';
  END IF;
  RETURN b64;
END
$$;

REVOKE ALL ON FUNCTION elicense._item_image(text, text, text) FROM PUBLIC;

COMMENT ON FUNCTION elicense._item_image(text, text, text) IS
'Internal: checks an image item (Base64 JPG/PNG, at most 50 KB) and returns it as bare Base64, or raises 22P02/22001/22023 naming the item';


-- 60_delivery.sql: assignment checks in delivery_config; requests built in
-- SQL (elicense.platform_request, a part of 0.3.0) with the step's eCertID;
-- step_queried; held steps. lease_steps returns other columns and
-- record_attempt takes the eCertID, so both are replaced; the worker no
-- longer gets the canonical licence JSON (_delivery_licence).
ALTER TABLE elicense.delivery_config
  ADD COLUMN assigned_code_pattern text NOT NULL DEFAULT '^[0-9]{18}$'
      CONSTRAINT delivery_config_code_pattern CHECK (('' ~ assigned_code_pattern) IS NOT NULL),
  ADD COLUMN qr_url_prefix text NOT NULL DEFAULT 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?'
      CONSTRAINT delivery_config_qr_url_prefix CHECK (qr_url_prefix ~ '^https?://[^/?#]+');

COMMENT ON COLUMN elicense.delivery_config.assigned_code_pattern IS
'Regular expression a decrypted assigned code (赋码) must match (elicense.decrypt_assignment); PLATFORM.md: 18 digits';

COMMENT ON COLUMN elicense.delivery_config.qr_url_prefix IS
'Start of every QR URL the platform may send as an assignment instead of a bare code (elicense.decrypt_assignment)';

DROP FUNCTION elicense.lease_steps(text, integer, integer);
DROP FUNCTION elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text);
DROP FUNCTION elicense._delivery_licence(text);
DROP FUNCTION elicense._store_assignment(elicense.outbox, jsonb, text);

CREATE FUNCTION elicense._guid_key(guid text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT pg_catalog.lower(pg_catalog.regexp_replace(guid, '[^0-9A-Fa-f]', '', 'g'))
$$;

REVOKE ALL ON FUNCTION elicense._guid_key(text) FROM PUBLIC;

COMMENT ON FUNCTION elicense._guid_key(text) IS 'Internal: an eCertID reduced to lower-case hex digits, for comparisons';

CREATE FUNCTION elicense._step_assignment(o elicense.outbox, answer jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  list jsonb := CASE WHEN jsonb_typeof(answer -> 'assignments') = 'array' THEN answer -> 'assignments' ELSE '[]' END;
  a jsonb;
BEGIN
  SELECT x INTO a FROM jsonb_array_elements(list) x
   WHERE jsonb_typeof(x) = 'object' AND o.ecert_id IS NOT NULL
     AND elicense._guid_key(x ->> 'ecert_id') = elicense._guid_key(o.ecert_id::text)
   LIMIT 1;
  IF a IS NULL AND jsonb_array_length(list) = 1 AND jsonb_typeof(list -> 0) = 'object'
     AND (coalesce(list -> 0 ->> 'ecert_id', '') = '' OR o.ecert_id IS NULL) THEN
    a := list -> 0;
  END IF;
  RETURN a;
END
$$;

REVOKE ALL ON FUNCTION elicense._step_assignment(elicense.outbox, jsonb) FROM PUBLIC;

COMMENT ON FUNCTION elicense._step_assignment(elicense.outbox, jsonb) IS
'Internal: the assignment of a canonical answer whose ecert_id matches the step''s eCertID (or the only one, without ecert_id); NULL if none';

CREATE FUNCTION elicense._assignment_missing(o elicense.outbox, answer jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN coalesce(jsonb_array_length(l), 0) = 0 THEN 'the platform answered success without an assignment'
              ELSE pg_catalog.format('none of the %s assignment(s) in the answer is for eCertID %s (they are for %s)',
                     jsonb_array_length(l), o.ecert_id,
                     (SELECT string_agg(coalesce(nullif(x ->> 'ecert_id', ''), '(none)'), ', ') FROM jsonb_array_elements(l) x)) END
    FROM (SELECT CASE WHEN jsonb_typeof(answer -> 'assignments') = 'array' THEN answer -> 'assignments' END AS l) s
$$;

REVOKE ALL ON FUNCTION elicense._assignment_missing(elicense.outbox, jsonb) FROM PUBLIC;

COMMENT ON FUNCTION elicense._assignment_missing(elicense.outbox, jsonb) IS
'Internal: why a canonical answer has no assignment for the step''s eCertID';

CREATE FUNCTION elicense._store_assignment(o elicense.outbox, a jsonb, p_worker text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  province text;
  plain_kind text;
  code text;
  url text;
BEGIN
  SELECT * INTO c FROM elicense.certificate WHERE identifier = o.identifier;
  province := substr(c.authority_division, 1, 2) || '0000';
  BEGIN
    SELECT d.kind, d.code, d.url INTO plain_kind, code, url
      FROM elicense.decrypt_assignment(a ->> 'encry_certid', a ->> 'encry_key', province) d;
    -- The platform sends either the bare code or a finished QR URL.
    IF plain_kind = 'code' THEN
      url := elicense.qr_url(code, c.type_code, province);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    RETURN 'cannot use the assigned code: ' || SQLERRM;
  END;
  UPDATE elicense.certificate SET assigned_code = code, qr_url = url WHERE identifier = o.identifier;
  INSERT INTO elicense.code_assignment (identifier, assigned_code, qr_url, outbox_id, worker_id)
  VALUES (o.identifier, code, url, o.id, p_worker);
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION elicense._store_assignment(elicense.outbox, jsonb, text) FROM PUBLIC;

COMMENT ON FUNCTION elicense._store_assignment(elicense.outbox, jsonb, text) IS
'Internal: decrypts and stores an assigned code and its QR URL; returns NULL or why it could not';

CREATE FUNCTION elicense._step_done(o elicense.outbox, p_worker text, p_detail text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE elicense.outbox x
     SET status = 'done', last_error = NULL, lease_owner = NULL, lease_expires_at = NULL, needs_query = false, updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'in_flight', 'done', p_detail, p_worker);
  INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type)
  SELECT o.identifier, o.version, next_step, o.step_order + 1, o.operate_type
    FROM (SELECT (elicense._delivery_steps(o.operate_type))[o.step_order + 1] AS next_step) n
   WHERE next_step IS NOT NULL
  ON CONFLICT ON CONSTRAINT outbox_step_once DO NOTHING;
  PERFORM pg_notify('elicense_outbox', '');  -- the licence's next step is due now
END
$$;

REVOKE ALL ON FUNCTION elicense._step_done(elicense.outbox, text, text) FROM PUBLIC;

COMMENT ON FUNCTION elicense._step_done(elicense.outbox, text, text) IS
'Internal: marks a leased step done, records why and queues the version''s next step';

CREATE FUNCTION elicense._step_dead(o elicense.outbox, p_worker text, p_reason text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  UPDATE elicense.outbox x
     SET status = 'dead', last_error = p_reason, lease_owner = NULL, lease_expires_at = NULL, needs_query = false, updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'in_flight', 'dead', p_reason, p_worker);
$$;

REVOKE ALL ON FUNCTION elicense._step_dead(elicense.outbox, text, text) FROM PUBLIC;

COMMENT ON FUNCTION elicense._step_dead(elicense.outbox, text, text) IS 'Internal: makes a leased step dead with the reason';

CREATE OR REPLACE FUNCTION elicense.step_succeeded(outbox_id bigint, worker_id text, answer jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
  a jsonb;
  problem text;
BEGIN
  SELECT * INTO o FROM elicense.outbox x
   WHERE x.id = step_succeeded.outbox_id AND x.status = 'in_flight' AND x.lease_owner = step_succeeded.worker_id
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;  -- the lease lapsed and another worker owns the row now
  END IF;
  IF o.step = 'assign_code' THEN
    a := elicense._step_assignment(o, answer);
    problem := CASE WHEN a IS NULL THEN elicense._assignment_missing(o, answer)
                    ELSE elicense._store_assignment(o, a, step_succeeded.worker_id) END;
  END IF;
  IF problem IS NULL THEN
    PERFORM elicense._step_done(o, step_succeeded.worker_id,
        concat_ws(' ', answer ->> 'return_code', nullif(answer ->> 'message', ''),
                  CASE WHEN jsonb_typeof(answer -> 'warnings') = 'array' AND jsonb_array_length(answer -> 'warnings') > 0
                       THEN 'warnings: ' || (SELECT string_agg(w, '; ') FROM jsonb_array_elements_text(answer -> 'warnings') w) END));
  ELSE
    PERFORM elicense._step_dead(o, step_succeeded.worker_id, problem);
  END IF;
  RETURN true;
END
$$;

COMMENT ON FUNCTION elicense.step_succeeded(bigint, text, jsonb) IS
'Marks a leased step done (assign_code: stores the decrypted code and QR URL of the assignment for the step''s eCertID; none or a bad one makes the step dead) and queues the version''s next step; false if the worker no longer holds the lease';

CREATE FUNCTION elicense.step_queried(outbox_id bigint, worker_id text, answer jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
  c elicense.certificate;
  a jsonb;
  problem text;
  sent jsonb;
  catalogue_step text;
  compared text;
  field text;
  items jsonb := CASE WHEN jsonb_typeof(answer -> 'success_data') = 'array' THEN answer -> 'success_data' ELSE '[]' END;
BEGIN
  SELECT * INTO o FROM elicense.outbox x
   WHERE x.id = step_queried.outbox_id AND x.status = 'in_flight' AND x.lease_owner = step_queried.worker_id
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF o.step = 'validate' THEN
    RETURN 'send';  -- a check changes nothing on the platform
  END IF;
  IF o.step = 'assign_code' THEN
    a := elicense._step_assignment(o, answer);
    IF a IS NULL THEN
      RETURN 'send';
    END IF;
    problem := elicense._store_assignment(o, a, step_queried.worker_id);
    IF problem IS NOT NULL THEN
      PERFORM elicense._step_dead(o, step_queried.worker_id, problem);
      RETURN 'dead';
    END IF;
    PERFORM elicense._step_done(o, step_queried.worker_id, 'the platform shows the code assigned (query)');
    RETURN 'done';
  END IF;
  -- collect, confirm (what collect sent) and status_update.
  catalogue_step := CASE WHEN o.step = 'confirm' THEN 'collect' ELSE o.step END;
  compared := CASE WHEN o.step = 'status_update' THEN 'cert_state' ELSE 'url' END;
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = o.identifier;
  SELECT p.field INTO field FROM elicense.platform_field p
   WHERE p.type_code = c.type_code AND p.step = catalogue_step AND p.slot = compared;
  field := coalesce(field, CASE compared WHEN 'cert_state' THEN 'certState' ELSE 'url' END);
  sent := CASE WHEN o.step = 'confirm' THEN (SELECT x.request FROM elicense.outbox x WHERE x.identifier = o.identifier AND x.step = 'collect')
               ELSE o.request END;
  IF sent IS NULL THEN  -- a step leased before requests were kept
    sent := elicense.platform_request(o.identifier, catalogue_step, o.ecert_id);
  END IF;
  IF EXISTS (SELECT FROM jsonb_array_elements(items) it
              WHERE jsonb_typeof(it) = 'object'
                AND (it ->> 'zzeCertID' = coalesce(c.platform_identifier, c.identifier)
                     OR (o.ecert_id IS NOT NULL AND elicense._guid_key(it ->> 'eCertID') = elicense._guid_key(o.ecert_id::text)))
                AND it ->> field = sent ->> field) THEN
    PERFORM elicense._step_done(o, step_queried.worker_id, pg_catalog.format('the platform shows the %s (query)', field));
    RETURN 'done';
  END IF;
  RETURN CASE WHEN o.step = 'confirm' THEN 'retry' ELSE 'send' END;
END
$$;

COMMENT ON FUNCTION elicense.step_queried(bigint, text, jsonb) IS
'Decides from a query answer whether a leased step took effect: done (step done, next queued), send (send it; lease kept), retry (confirm not shown yet; lease kept), dead (assign_code: unusable assignment), NULL (lease lost)';

-- (elicense.step_failed: its final definition is further down, where the last change to it is.)

COMMENT ON FUNCTION elicense.step_failed(bigint, text, text, text, bigint, integer) IS
'Records a failed attempt: pending again after retry_in_ms, dead after a business error or max_attempts, held (kind hold) until an operator replays it';

CREATE OR REPLACE FUNCTION elicense.replay(outbox_id bigint, actor text DEFAULT session_user) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
BEGIN
  SELECT * INTO o FROM elicense.outbox x WHERE x.id = replay.outbox_id AND x.status IN ('dead', 'held') FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  -- The eCertID stays: a replayed step is the same data item. A held step
  -- waited for an operator to look at the platform: its replay means "send
  -- it", so it does not ask first (it would only be held again). A dead step
  -- that was tried asks the platform first.
  UPDATE elicense.outbox x
     SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
         needs_query = o.status = 'dead' AND (x.needs_query OR x.attempts > 0), updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, o.status, 'pending', 'replayed', actor);
  PERFORM pg_notify('elicense_outbox', '');
  RETURN true;
END
$$;

COMMENT ON FUNCTION elicense.replay(bigint, text) IS
'Puts a dead or held delivery step back in the queue with the same eCertID: a dead step that was tried queries the platform first, a held one (an operator has looked) is sent';

CREATE OR REPLACE FUNCTION elicense.replay(identifier text, actor text DEFAULT session_user) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT count(*) FILTER (WHERE elicense.replay(o.id, actor))::integer
    FROM elicense.outbox o
   WHERE o.identifier = replay.identifier AND o.status IN ('dead', 'held')
$$;

COMMENT ON FUNCTION elicense.replay(text, text) IS 'Puts every dead or held delivery step of a licence version back in the queue';

REVOKE ALL ON FUNCTION elicense.renew_leases(text, integer),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_queried(bigint, text, jsonb),
    elicense.step_failed(bigint, text, text, text, bigint, integer),
    elicense.replay(bigint, text), elicense.replay(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION elicense.renew_leases(text, integer),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_queried(bigint, text, jsonb),
    elicense.step_failed(bigint, text, text, text, bigint, integer)
    TO elicense_worker;

CREATE OR REPLACE VIEW elicense.delivery_metrics AS
SELECT o.step,
       count(*) FILTER (WHERE o.status = 'pending') AS pending,
       count(*) FILTER (WHERE o.status = 'in_flight') AS in_flight,
       count(*) FILTER (WHERE o.status = 'done') AS done,
       count(*) FILTER (WHERE o.status = 'dead') AS dead,
       sum(o.attempts) AS attempts,
       count(*) FILTER (WHERE o.needs_query AND o.status <> 'done') AS awaiting_query,
       min(o.created_at) FILTER (WHERE o.status <> 'done') AS oldest_open,
       count(*) FILTER (WHERE o.status = 'held') AS held
  FROM elicense.outbox o
 GROUP BY o.step;

COMMENT ON VIEW elicense.delivery_metrics IS 'Delivery steps per step name and status (held: waiting for an operator), attempts made, oldest open step';


-- 70_sharing.sql: resident ID items of business_data (W050 principal_id)
-- are masked like the holder's ID.

CREATE OR REPLACE FUNCTION elicense._share(c elicense.certificate, may_see_id_numbers boolean, with_data boolean)
RETURNS elicense.licence_share
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ROW(c.identifier, c.original_identifier, c.version, c.superseded_at IS NULL, c.type_code,
             (SELECT t.name FROM elicense.licence_type t WHERE t.type_code = c.type_code), c.licence_number,
             c.holder_name, c.holder_id_type,
             CASE WHEN may_see_id_numbers THEN c.holder_id ELSE elicense.mask_holder_id(c.holder_id_type, c.holder_id) END,
             c.authority_name, c.authority_uscc, c.authority_division, c.issue_date, c.valid_from, c.valid_to, c.status,
             elicense.effective_status(c.status, c.valid_to),
             -- Resident ID items (W050 principal_id) are masked like the holder's.
             CASE WHEN NOT with_data THEN NULL WHEN may_see_id_numbers THEN c.business_data
                  ELSE c.business_data || coalesce((SELECT jsonb_object_agg(i.item, elicense.mask_holder_id('RESIDENT_ID', c.business_data ->> i.item))
                                                      FROM elicense.licence_item i
                                                     WHERE i.type_code = c.type_code AND i.data_type = 'resident_id'
                                                       AND c.business_data ? i.item), '{}') END)::elicense.licence_share
$$;

COMMENT ON TYPE elicense.licence_share IS
'A licence version as the sharing functions return it: holder_id and resident ID items of business_data masked (resident IDs: first 6 and last 4) unless the grant may see ID numbers; business_data only from the info functions, NULL in search results';

-------------------------------------------------------------------------------
-- Face templates W050 and W032 (extension/templates/*.json): the rows in the
-- middle of the page moved down (W032's upper rows 4 mm up), so the platform
-- watermark and the purpose note of a copy no longer cover a field (W050's
-- 单位地址 was unreadable under the watermark); the seal moved with the rows
-- it stamps. tests/unit/ofd_watermark_band_test.cpp checks the bands.
-- A shipped row is replaced only while it is exactly what 0.1.0 and 0.2.0
-- shipped (md5 of its jsonb text): a DBA's edit of it stays.
-------------------------------------------------------------------------------
UPDATE elicense.ofd_template SET template = $tpl${
  "type_code": "11100000000013338W050",
  "name": "建筑施工企业安全生产许可证",
  "page": {"width": 210, "height": 297},
  "frame": {"margin": 10, "line_width": 1.2, "color": "176 32 32"},
  "title": {"text": "建筑施工企业安全生产许可证", "y": 66, "font": "黑体", "size": 26},
  "qr": {"x": 164, "y": 18, "size": 30},
  "seal": {"x": 122, "y": 223, "size": 42},
  "label": {"font": "黑体", "size": 14},
  "fields": [
    {"key": "cert_no", "label": "证书编号", "x": 25, "y": 90, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "unit_name", "label": "单位名称", "x": 25, "y": 103, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "uscc", "label": "统一社会信用代码", "x": 25, "y": 123, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "principal", "label": "主要负责人", "x": 25, "y": 136, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "address", "label": "单位地址", "x": 25, "y": 172, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "economic_type", "label": "经济类型", "x": 25, "y": 192, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "scope", "label": "许可范围", "x": 25, "y": 205, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 3},
    {"key": "valid_period", "label": "有效期", "x": 25, "y": 232, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "issuer", "label": "发证机关", "x": 25, "y": 245, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "issue_date", "label": "发证日期", "x": 25, "y": 258, "value_x": 70, "width": 115, "font": "宋体", "size": 14}
  ]
}$tpl$::jsonb
 WHERE type_code = '11100000000013338W050' AND shipped AND md5(template::text) = '0f131326abc2fd0f209c715aa87b8198';
UPDATE elicense.ofd_template SET template = $tpl${
  "type_code": "11100000000013338W032",
  "name": "建筑施工特种作业人员操作资格证书",
  "page": {"width": 210, "height": 297},
  "frame": {"margin": 10, "line_width": 1.2, "color": "32 64 144"},
  "title": {"text": "建筑施工特种作业人员操作资格证书", "y": 66, "font": "黑体", "size": 24},
  "qr": {"x": 164, "y": 18, "size": 30},
  "seal": {"x": 122, "y": 195, "size": 42},
  "label": {"font": "黑体", "size": 14},
  "fields": [
    {"key": "name", "label": "姓名", "x": 30, "y": 88, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "gender", "label": "性别", "x": 30, "y": 102, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "id_no", "label": "身份证号", "x": 30, "y": 116, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "category", "label": "操作类别", "x": 30, "y": 130, "value_x": 75, "width": 105, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "cert_no", "label": "证书编号", "x": 30, "y": 172, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "first_issue_date", "label": "初次领证日期", "x": 30, "y": 186, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "valid_period", "label": "有效期", "x": 30, "y": 200, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "issuer", "label": "发证机关", "x": 30, "y": 214, "value_x": 75, "width": 105, "font": "宋体", "size": 14}
  ]
}$tpl$::jsonb
 WHERE type_code = '11100000000013338W032' AND shipped AND md5(template::text) = '369ecbcc781ba9bac4abc006aa17219e';

--------------------------------------------------------------------------------
-- Hostile callers: append-only tables, a shared usage-audit writer
-- that fails closed, bounded and checked licence text, key columns that parse.
--------------------------------------------------------------------------------

-- 45_certificate.sql: a trigger without argument raised 22004 (NULL HINT).
CREATE OR REPLACE FUNCTION elicense.reject_history_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'elicense.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = coalesce(TG_ARGV[0], 'Rows of this table record what happened; they are only ever added.');
END
$$;

-- 60_delivery.sql, 65_preview.sql: hints, and TRUNCATE refused.
DROP TRIGGER delivery_event_append_only ON elicense.delivery_event;
DROP TRIGGER code_assignment_append_only ON elicense.code_assignment;
CREATE TRIGGER delivery_event_append_only BEFORE UPDATE OR DELETE ON elicense.delivery_event
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('Delivery events are the history of the outbox; replay a step with elicense.replay instead.');
CREATE TRIGGER delivery_event_no_truncate BEFORE TRUNCATE ON elicense.delivery_event
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('Delivery events are the history of the outbox; replay a step with elicense.replay instead.');
CREATE TRIGGER code_assignment_append_only BEFORE UPDATE OR DELETE ON elicense.code_assignment
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('Codes the platform assigned are evidence; a new assignment is a new row.');
CREATE TRIGGER code_assignment_no_truncate BEFORE TRUNCATE ON elicense.code_assignment
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('Codes the platform assigned are evidence; a new assignment is a new row.');
CREATE TRIGGER preview_access_no_truncate BEFORE TRUNCATE ON elicense.preview_access
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('The preview access log is evidence; it is never changed.');

-- 70_sharing.sql: one audit writer per database, fail closed (no more
-- in-transaction fallback), cancelled calls audited, arguments bounded before
-- any work, long audit values shortened, department from the grant.
CREATE FUNCTION elicense._bound_arguments(names text[], vals text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bound integer;
BEGIN
  FOR i IN 1 .. cardinality(names) LOOP
    bound := CASE names[i] WHEN 'context' THEN 4096 ELSE 256 END;
    IF length(vals[i]) > bound THEN
      RAISE EXCEPTION 'argument % is % characters long, over the limit of % characters', names[i], length(vals[i]), bound
        USING ERRCODE = 'string_data_right_truncation',
              HINT = 'Identifiers, usage codes, holder IDs and names are short; README "Limits" lists the bounds of the sharing functions.';
    END IF;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION elicense._bound_arguments(text[], text[]) FROM PUBLIC;
-- (elicense._record: its final definition is further down, where the last change to it is.)
-- (elicense._code_context: its final definition is further down, where the last change to it is.)
CREATE OR REPLACE FUNCTION elicense.create_usage_code(scenario text, holder_id text, licence_types text[], context jsonb,
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
           || jsonb_strip_nulls(jsonb_build_object('officer', context ->> 'officer', 'business_id', context ->> 'business_id'));
    PERFORM elicense._bound_arguments(ARRAY['scenario', 'holder_id', 'licence_types', 'context'],
        ARRAY[scenario, holder_id, array_to_string(licence_types, ','), context::text]);
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
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'usage_code_id', code_id, 'rows_returned', 1));
  RETURN code;
END
$$;
CREATE OR REPLACE FUNCTION elicense.usage_code_info(usage_code text,
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
    PERFORM elicense._bound_arguments(ARRAY['usage_code'], ARRAY[usage_code]);
    -- An expired code is answered (valid = false); any other refusal is raised.
    IF x.refusal_state IS NOT NULL AND NOT (x.refusal_state = '28000' AND x.code_id IS NOT NULL) THEN
      PERFORM elicense._raise_refusal(x);
    END IF;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
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
CREATE OR REPLACE FUNCTION elicense.licence_info(usage_code text, identifier text) RETURNS elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_info', 'identifier', identifier);
  x elicense._usage_context;
  c elicense.certificate;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x) || jsonb_strip_nulls(jsonb_build_object('holder_id', x.holder_id));
    PERFORM elicense._bound_arguments(ARRAY['usage_code', 'identifier'], ARRAY[usage_code, identifier]);
    PERFORM elicense._raise_refusal(x);
    c := elicense._licence_for_code(x, identifier);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1));
  RETURN elicense._share(c, x.may_see_id_numbers, true);
END
$$;
CREATE OR REPLACE FUNCTION elicense.licence_info_by_holder(usage_code text, holder_id text) RETURNS SETOF elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_info_by_holder', 'holder_id', holder_id);
  x elicense._usage_context;
  n integer;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x);
    PERFORM elicense._bound_arguments(ARRAY['usage_code', 'holder_id'], ARRAY[usage_code, holder_id]);
    PERFORM elicense._raise_refusal(x);
    PERFORM elicense._require_code_holder(x, holder_id);
    RETURN QUERY
      SELECT s.* FROM elicense.certificate c, LATERAL elicense._share(c, x.may_see_id_numbers, true) s
       WHERE c.holder_id = x.holder_id AND c.superseded_at IS NULL AND c.type_code = ANY (x.code_types)
       ORDER BY c.type_code, c.identifier;
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
CREATE OR REPLACE FUNCTION elicense.licence_file(usage_code text, identifier text) RETURNS bytea
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
    PERFORM elicense._bound_arguments(ARRAY['usage_code', 'identifier'], ARRAY[usage_code, identifier]);
    PERFORM elicense._raise_refusal(x);
    c := elicense._licence_for_code(x, identifier);
    until := current_date + x.copy_valid_days;
    file := elicense._render_copy(c.identifier, x.purpose, until, NOT x.may_see_id_numbers);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1,
      'file_sha256', encode(sha256(file), 'hex'), 'copy_valid_until', until));
  RETURN file;
END
$$;
CREATE OR REPLACE FUNCTION elicense.licence_file_by_holder(usage_code text, holder_id text,
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
    PERFORM elicense._bound_arguments(ARRAY['usage_code', 'holder_id'], ARRAY[usage_code, holder_id]);
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
  EXCEPTION WHEN OTHERS OR query_canceled THEN
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
-- (elicense.licence_search: its final definition is further down, where the last change to it is.)
-- (elicense.licence_verify: its final definition is further down, where the last change to it is.)
COMMENT ON FUNCTION elicense._audit_autonomous(text) IS
'Internal: hands an audit record (JSON) to the database''s audit writer, a background worker shared by all sessions that commits it in its own transaction; returns the row id, raises 55000 when the row cannot be committed (the call is refused)';
COMMENT ON COLUMN elicense.usage_audit.recorded_by IS 'writer: committed by the audit writer; transaction: written in the caller''s transaction when no writer could start (before 0.3.0; since then such a call is refused)';

-- 20_validators.sql, 55_issue.sql, 62_licence_file.sql: licence text without
-- control or bidi-override characters, a bounded actor, seal keys that parse.

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
CREATE OR REPLACE FUNCTION elicense._require_text(value text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  -- An actor names a person or an application; a reason is a sentence or two.
  bound constant integer := CASE what WHEN 'actor' THEN 200 ELSE 2000 END;
BEGIN
  IF value IS NULL OR btrim(value) = '' THEN
    RAISE EXCEPTION '% is required', what
      USING ERRCODE = 'not_null_violation', HINT = pg_catalog.format('Pass a non-empty %s; it is kept in elicense.status_history.', what);
  END IF;
  IF length(value) > bound THEN
    RAISE EXCEPTION '% is % characters long, over the limit of %', what, length(value), bound
      USING ERRCODE = 'string_data_right_truncation', HINT = 'README "Limits" lists the bounds of licence text.';
  END IF;
  IF what = 'actor' AND value ~ '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]' THEN
    PERFORM elicense._refuse_unsafe_text(value, what);
  END IF;
  RETURN btrim(value);
END
$$;
COMMENT ON FUNCTION elicense._require_text(text, text) IS 'Internal: the trimmed text, or 23502 if it is NULL or blank, 22001 over 200 characters (actor) or 2,000 (reason), 22021 for an actor with a control or bidi-override character';
-- _licence_from_data is replaced whole from 55_issue.sql, with the image items
-- of the request-fields block above and the text checks of this one.
CREATE OR REPLACE FUNCTION elicense._licence_from_data(p_type_code text, p_data jsonb) RETURNS elicense.certificate
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t elicense.licence_type;
  it elicense.licence_item;
  c elicense.certificate;
  v jsonb;
  s text;
  d date;
  bad text;
  birth date;
  known text[] := '{}';
BEGIN
  SELECT * INTO t FROM elicense.licence_type lt WHERE lt.type_code = p_type_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown licence type "%"', p_type_code
      USING ERRCODE = 'undefined_object',
            HINT = 'Licence types are the rows of elicense.licence_type, e.g. 11100000000013338W050 (安许证) or 11100000000013338W032 (特种作业).';
  END IF;
  IF p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN
    RAISE EXCEPTION 'licence data must be a JSON object, not %', coalesce(jsonb_typeof(p_data), 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass {"item": "value", ...} with the items of elicense.licence_item for the type.';
  END IF;

  c.type_code := t.type_code;
  c.holder_id_type := t.holder_id_type;
  c.business_data := '{}';
  FOR it IN SELECT * FROM elicense.licence_item li WHERE li.type_code = p_type_code ORDER BY li.position LOOP
    known := known || it.item;
    v := p_data -> it.item;
    s := CASE WHEN jsonb_typeof(v) IN ('string', 'number') THEN btrim(v #>> '{}') END;
    IF v IS NOT NULL AND jsonb_typeof(v) NOT IN ('string', 'number', 'null') THEN
      RAISE EXCEPTION 'item "%" (%) must be a string, not a JSON %', it.item, it.label, jsonb_typeof(v)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Give every item as a JSON string.';
    END IF;
    IF s IS NULL OR s = '' THEN
      IF it.required THEN
        RAISE EXCEPTION 'missing required item "%" (%) of licence type %', it.item, it.label, t.type_code
          USING ERRCODE = 'not_null_violation',
                HINT = pg_catalog.format('Licence type %s (%s) requires a non-empty value for "%s".', t.type_code, t.name, it.item);
      END IF;
      CONTINUE;
    END IF;
    IF it.max_length IS NOT NULL AND length(s) > it.max_length THEN
      RAISE EXCEPTION 'item "%" (%) is % characters long, more than its maximum of %', it.item, it.label, length(s), it.max_length
        USING ERRCODE = 'string_data_right_truncation', HINT = 'Shorten the value; the limit is in elicense.licence_item.max_length.';
    END IF;
    -- Printed text only: an image item is Base64, which may have line breaks.
    IF s ~ '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]' AND it.data_type <> 'image' THEN
      PERFORM elicense._refuse_unsafe_text(s, pg_catalog.format('item "%s" (%s)', it.item, it.label));
    END IF;
    IF it.allowed_values IS NOT NULL AND NOT s = ANY (it.allowed_values) THEN
      RAISE EXCEPTION 'item "%" (%) has value "%", which is not one of %', it.item, it.label, s, array_to_string(it.allowed_values, ', ')
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Use one of the values in elicense.licence_item.allowed_values.';
    END IF;
    d := NULL;
    CASE it.data_type
      WHEN 'date' THEN
        -- Fast path without a function call: days 01-28 exist in every month,
        -- and YYYY-MM-DD input is read the same under every DateStyle.
        IF s ~ '^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$' THEN
          d := s::date;
        ELSE
          d := elicense._item_date(s, it.item, it.label);
          s := to_char(d, 'YYYY-MM-DD');
        END IF;
      WHEN 'uscc' THEN
        PERFORM elicense.check_uscc(s, it.item);
      WHEN 'resident_id' THEN
        PERFORM elicense.check_resident_id(s, it.item);
      WHEN 'division_code' THEN
        PERFORM elicense.check_division(s, it.item);
      WHEN 'image' THEN
        s := elicense._item_image(s, it.item, it.label);
      ELSE
        NULL;
    END CASE;
    CASE it.metadata_column
      WHEN 'licence_number' THEN c.licence_number := s;
      WHEN 'holder_name' THEN c.holder_name := s;
      WHEN 'holder_id' THEN c.holder_id := s;
      WHEN 'authority_name' THEN c.authority_name := s;
      WHEN 'authority_uscc' THEN c.authority_uscc := s;
      WHEN 'authority_division' THEN c.authority_division := s;
      WHEN 'issue_date' THEN c.issue_date := d;
      WHEN 'valid_from' THEN c.valid_from := d;
      WHEN 'valid_to' THEN c.valid_to := d;
      ELSE c.business_data := c.business_data || jsonb_build_object(it.item, s);
    END CASE;
  END LOOP;

  -- Keys that are no item of the type (a query only when there are some).
  IF (p_data - known) <> '{}'::jsonb THEN
    SELECT string_agg(pg_catalog.format('"%s"', k), ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(p_data - known) AS k;
    RAISE EXCEPTION 'unknown item % for licence type % (%)', bad, t.type_code, t.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The items of each type are listed in elicense.licence_item; a DBA can add items there.';
  END IF;

  -- The catalogue must fill every NOT NULL metadata column.
  bad := concat_ws(', ',
    CASE WHEN c.licence_number IS NULL THEN 'licence_number' END, CASE WHEN c.holder_name IS NULL THEN 'holder_name' END,
    CASE WHEN c.holder_id IS NULL THEN 'holder_id' END, CASE WHEN c.authority_name IS NULL THEN 'authority_name' END,
    CASE WHEN c.authority_uscc IS NULL THEN 'authority_uscc' END, CASE WHEN c.authority_division IS NULL THEN 'authority_division' END,
    CASE WHEN c.issue_date IS NULL THEN 'issue_date' END, CASE WHEN c.valid_from IS NULL THEN 'valid_from' END);
  IF bad <> '' THEN
    RAISE EXCEPTION 'licence type % has no required item for metadata column(s) %', t.type_code, bad
      USING ERRCODE = 'not_null_violation',
            HINT = 'Add required items with these metadata_column values to elicense.licence_item.';
  END IF;

  IF c.licence_number !~ t.number_pattern THEN
    RAISE EXCEPTION 'invalid certificate number "%" for licence type % (%)', c.licence_number, t.type_code, t.name
      USING ERRCODE = 'invalid_text_representation',
            HINT = pg_catalog.format('Certificate numbers of this type look like %s (pattern %s).', t.number_example, t.number_pattern);
  END IF;
  IF c.valid_to IS NOT NULL AND c.valid_to <= c.valid_from THEN
    RAISE EXCEPTION 'valid_to % is not after valid_from %', to_char(c.valid_to, 'YYYY-MM-DD'), to_char(c.valid_from, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The end of validity (有效期止) must be later than its start (有效期起).';
  END IF;
  IF c.issue_date > current_date THEN
    RAISE EXCEPTION 'issue_date % is in the future', to_char(c.issue_date, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A licence is issued on or before the day it is recorded (发证日期 <= today).';
  END IF;
  IF c.holder_id_type = 'RESIDENT_ID' THEN
    birth := elicense.resident_id_birth_date(c.holder_id);
    IF birth > c.issue_date THEN
      RAISE EXCEPTION 'holder_id % gives birth date %, after the issue date %', c.holder_id, to_char(birth, 'YYYY-MM-DD'), to_char(c.issue_date, 'YYYY-MM-DD')
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Check the resident ID number and the issue date.';
    END IF;
    IF t.min_holder_age IS NOT NULL AND birth + make_interval(years => t.min_holder_age) > c.issue_date THEN
      RAISE EXCEPTION 'holder born % is younger than % on the issue date %', to_char(birth, 'YYYY-MM-DD'), t.min_holder_age, to_char(c.issue_date, 'YYYY-MM-DD')
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.format('Licence type %s (%s) requires a holder aged at least %s.', t.type_code, t.name, t.min_holder_age);
    END IF;
  END IF;
  RETURN c;
END
$$;
CREATE TRIGGER seal_key_parses BEFORE INSERT OR UPDATE ON elicense.seal_key
    FOR EACH ROW EXECUTE FUNCTION elicense._check_key_columns('private_key_pem=private_key', 'certificate_pem=certificate');

--------------------------------------------------------------------------------
-- The life of a licence. 45_certificate.sql: suspended_until and
-- platform_identifier (filled for the status-change versions 0.2.0 wrote:
-- the identifier of the last earlier version with a new QR code), the
-- indexes of expire_due, elicense.licence_transition.
--------------------------------------------------------------------------------
ALTER TABLE elicense.certificate ADD COLUMN suspended_until date, ADD COLUMN platform_identifier text;
ALTER TABLE elicense.certificate ADD CONSTRAINT certificate_suspended_until CHECK (suspended_until IS NULL OR status OPERATOR(pg_catalog.=) '02');
UPDATE elicense.certificate v
   SET platform_identifier = (SELECT p.identifier FROM elicense.certificate p
                               WHERE p.original_identifier = v.original_identifier AND p.version < v.version
                                 AND p.operate_type IN ('01', '02', '08')
                               ORDER BY p.version DESC LIMIT 1)
 WHERE v.operate_type NOT IN ('01', '02', '08');
COMMENT ON TABLE elicense.certificate IS
'Electronic licences (电子证照), one row per version; written only by elicense.issue and the actions of elicense.licence_transition (change, renew, suspend, lift_suspension, expire, other, revoke, withdraw, cancel). Current version: superseded_at IS NULL';
COMMENT ON COLUMN elicense.certificate.suspended_until IS 'Last day of a suspension (暂扣) with an end date: elicense.expire_due lifts it the day after; NULL otherwise';
COMMENT ON COLUMN elicense.certificate.platform_identifier IS
'NULL when this version got its own QR code (operateType 01, 02, 08: the platform holds this identifier); else the identifier the platform holds, which the status update names (zzeCertID)';
CREATE INDEX certificate_due_expiry ON elicense.certificate (valid_to) WHERE superseded_at IS NULL AND valid_to IS NOT NULL;
CREATE INDEX certificate_due_lifting ON elicense.certificate (suspended_until) WHERE superseded_at IS NULL AND suspended_until IS NOT NULL;
COMMENT ON INDEX elicense.certificate_due_expiry IS 'elicense.expire_due: current versions by end of validity';
COMMENT ON INDEX elicense.certificate_due_lifting IS 'elicense.expire_due: suspensions with an end date';

-- A certState code in words.
CREATE FUNCTION elicense._state_word(status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE status WHEN '01' THEN 'valid' WHEN '02' THEN 'suspended' WHEN '03' THEN 'revoked' WHEN '04' THEN 'withdrawn'
                     WHEN '05' THEN 'cancelled' WHEN '06' THEN 'expired' WHEN '99' THEN 'other' ELSE 'new' END
$$;
REVOKE ALL ON FUNCTION elicense._state_word(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._state_word(text) IS 'Internal: a certState code in words (valid, suspended, revoked, withdrawn, cancelled, expired, other; new for NULL)';

CREATE TABLE elicense.licence_transition (
    action       text NOT NULL CONSTRAINT licence_transition_action CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY[
                     'issue', 'change', 'renew', 'suspend', 'lift_suspension', 'expire', 'other', 'revoke', 'withdraw', 'cancel'])),
    from_status  text CONSTRAINT licence_transition_from CHECK (from_status OPERATOR(pg_catalog.~) '^(0[1-6]|99)$'),
    to_status    text NOT NULL CONSTRAINT licence_transition_to CHECK (to_status OPERATOR(pg_catalog.~) '^(0[1-6]|99)$'),
    operate_type text NOT NULL CONSTRAINT licence_transition_operate_type CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    new_qr       boolean NOT NULL GENERATED ALWAYS AS (operate_type OPERATOR(pg_catalog.=) ANY (ARRAY['01', '02', '08'])) STORED,
    steps        text[] NOT NULL GENERATED ALWAYS AS (elicense._delivery_steps(operate_type)) STORED,
    CONSTRAINT licence_transition_once UNIQUE NULLS NOT DISTINCT (from_status, action),
    CONSTRAINT licence_transition_issue_from_nothing CHECK ((action OPERATOR(pg_catalog.=) 'issue') = (from_status IS NULL))
);
COMMENT ON TABLE elicense.licence_transition IS
'Allowed transitions of a licence: from certState, action, to certState, operateType sent, whether a new QR code is assigned, delivery steps. Shipped with the extension; any other (from_status, action) is refused (SQLSTATE 55L01)';
COMMENT ON COLUMN elicense.licence_transition.action IS 'The function that makes it: elicense.issue, change, renew, suspend, lift_suspension, expire (also expire_due), other, revoke, withdraw, cancel';
COMMENT ON COLUMN elicense.licence_transition.from_status IS 'certState of the current version (NULL: no licence yet)';
COMMENT ON COLUMN elicense.licence_transition.to_status IS 'certState of the version the action writes';
COMMENT ON COLUMN elicense.licence_transition.operate_type IS 'operateType of that version and of its delivery';
COMMENT ON COLUMN elicense.licence_transition.new_qr IS 'True: the version gets a new identifier at the platform and a new QR code (operateType 01, 02, 08); false: it keeps both and only its status is sent';
COMMENT ON COLUMN elicense.licence_transition.steps IS 'Delivery steps queued for the version, in order';
INSERT INTO elicense.licence_transition (action, from_status, to_status, operate_type) VALUES
('issue', NULL, '01', '01'),
('change', '01', '01', '08'), ('change', '02', '02', '08'),
('renew', '01', '01', '02'), ('renew', '06', '01', '02'),
('suspend', '01', '02', '03'),
('lift_suspension', '02', '01', '06'),
('expire', '01', '06', '04'), ('expire', '02', '06', '04'),
('other', '01', '99', '07'), ('other', '02', '99', '07'),
('revoke', '01', '03', '05'), ('revoke', '02', '03', '05'), ('revoke', '99', '03', '05'),
('withdraw', '01', '04', '05'), ('withdraw', '02', '04', '05'), ('withdraw', '99', '04', '05'),
('cancel', '01', '05', '05'), ('cancel', '02', '05', '05'), ('cancel', '06', '05', '05'), ('cancel', '99', '05', '05');
REVOKE ALL ON elicense.licence_transition FROM PUBLIC;
GRANT SELECT ON elicense.licence_transition TO elicense_admin, elicense_issuer, elicense_worker, elicense_analyst;

-- 55_issue.sql: the actions read elicense.licence_transition (refusal 55L01);
-- _new_version becomes _transition; an identifier followed only by status
-- changes is accepted; the approval trigger runs status changes.
DROP FUNCTION elicense._new_version(elicense.certificate, elicense.certificate, text, text, text, text);

-- The licence version an action applies to, locked: the current version of
-- the licence p_identifier belongs to. An older identifier is accepted while
-- the platform still holds the same one (only status changes came since:
-- they keep the identifier, 45_certificate.sql); one replaced by a version
-- with a new QR code is 55000. A pair (certState, action) that is not in
-- elicense.licence_transition is refused with 55L01 (_refuse_transition).
CREATE OR REPLACE FUNCTION elicense._lock_current(p_identifier text, p_action text) RETURNS elicense.certificate
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  cur elicense.certificate;
BEGIN
  IF NOT EXISTS (SELECT FROM elicense.licence_transition t WHERE t.action = p_action) THEN
    RAISE EXCEPTION 'unknown licence action "%"', coalesce(p_action, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Actions are the values of elicense.licence_transition.action.';
  END IF;
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = p_identifier;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'licence "%" does not exist', p_identifier
      USING ERRCODE = 'no_data_found', HINT = 'Pass the identifier returned by elicense.issue (or a later version).';
  END IF;
  -- A concurrent action may supersede the version between the read and the
  -- lock (FOR UPDATE then finds no current row): read again.
  FOR attempt IN 1 .. 3 LOOP
    SELECT * INTO cur FROM elicense.certificate x
     WHERE x.original_identifier = c.original_identifier AND x.superseded_at IS NULL FOR UPDATE;
    EXIT WHEN FOUND;
  END LOOP;
  IF cur.identifier IS NULL THEN
    RAISE EXCEPTION 'licence % is being changed by another transaction', c.original_identifier
      USING ERRCODE = 'serialization_failure', HINT = 'Try again.';
  END IF;
  IF cur.identifier <> c.identifier
     AND coalesce(cur.platform_identifier, cur.identifier) <> coalesce(c.platform_identifier, c.identifier) THEN
    RAISE EXCEPTION 'cannot % licence version %: it was superseded by a later version', p_action, p_identifier
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = pg_catalog.format('The current version is %s.', cur.identifier);
  END IF;
  IF NOT EXISTS (SELECT FROM elicense.licence_transition t WHERE t.from_status = cur.status AND t.action = p_action) THEN
    PERFORM elicense._refuse_transition(cur, p_action);
  END IF;
  RETURN cur;
END
$$;
REVOKE ALL ON FUNCTION elicense._lock_current(text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._lock_current(text, text) IS
'Internal: locks the current version of the licence an identifier belongs to for an action, or raises P0002, 55000 (replaced by a version with a new QR code) or 55L01 (transition not allowed)';

-- SQLSTATE 55L01 (class 55, object not in prerequisite state; L01 is ours):
-- the licence's certState does not allow the action. Names the licence, the
-- state it is in and the state the action leads to.
CREATE FUNCTION elicense._refuse_transition(c elicense.certificate, p_action text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  target text;
  allowed text;
BEGIN
  SELECT min(t.to_status) INTO target FROM elicense.licence_transition t WHERE t.action = p_action;
  SELECT string_agg(t.action, ', ' ORDER BY t.action) INTO allowed
    FROM elicense.licence_transition t WHERE t.from_status = c.status;
  RAISE EXCEPTION 'cannot % licence %: % leads from % (certState %) to % (certState %), which is not an allowed transition',
      p_action, c.identifier, p_action, elicense._state_word(c.status), c.status, elicense._state_word(target), target
    USING ERRCODE = '55L01',
          HINT = pg_catalog.format('A %s licence allows: %s (elicense.licence_transition).', elicense._state_word(c.status),
                                   coalesce(allowed, 'nothing'));
END
$$;
REVOKE ALL ON FUNCTION elicense._refuse_transition(elicense.certificate, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._refuse_transition(elicense.certificate, text) IS
'Internal: raises 55L01 naming the licence, its certState and the certState the action leads to';

-- Writes version n+1 of a licence by an action of elicense.licence_transition
-- and marks version n (c, locked by _lock_current) superseded. Without a new
-- QR code the version keeps the assigned code, the QR URL and the identifier
-- the platform holds (platform_identifier); with one they come anew.
-- p_note: the status description (required for certState 99); p_until: last
-- day of a suspension.
CREATE FUNCTION elicense._transition(c elicense.certificate, n elicense.certificate, p_action text, p_reason text, p_actor text,
                                     p_note text DEFAULT NULL, p_until date DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t elicense.licence_transition;
BEGIN
  SELECT * INTO t FROM elicense.licence_transition x WHERE x.from_status = c.status AND x.action = p_action;
  IF NOT FOUND THEN
    PERFORM elicense._refuse_transition(c, p_action);
  END IF;
  IF c.version >= 999 THEN
    RAISE EXCEPTION 'licence % already has 999 versions', c.original_identifier
      USING ERRCODE = 'program_limit_exceeded', HINT = 'The identifier has three digits for the version; issue a new licence.';
  END IF;
  UPDATE elicense.certificate x SET superseded_at = now() WHERE x.identifier = c.identifier;
  n.type_code := c.type_code;
  n.holder_id_type := c.holder_id_type;
  n.authority_uscc := c.authority_uscc;
  n.sequence := c.sequence;
  n.version := c.version + 1;
  n.identifier := elicense.build_identifier(n.type_code, n.authority_uscc, n.sequence, n.version);
  n.original_identifier := c.original_identifier;
  n.previous_identifier := c.identifier;
  n.status := t.to_status;
  n.status_note := p_note;
  -- A change of a suspended licence keeps the end of the suspension.
  n.suspended_until := CASE WHEN t.to_status = '02' THEN coalesce(p_until, CASE WHEN c.status = '02' THEN c.suspended_until END) END;
  n.operate_type := t.operate_type;
  n.created_at := now();
  n.created_by := p_actor;
  n.superseded_at := NULL;
  IF t.new_qr THEN
    -- A new QR code will be assigned and a new file made.
    n.qr_url := NULL;
    n.assigned_code := NULL;
    n.platform_identifier := NULL;
  ELSE
    n.qr_url := c.qr_url;
    n.assigned_code := c.assigned_code;
    n.platform_identifier := coalesce(c.platform_identifier, c.identifier);
  END IF;
  n.file_sha256 := NULL;
  INSERT INTO elicense.certificate VALUES (n.*);
  PERFORM elicense._record_version(n, c.status, p_reason, p_actor);
  RETURN n.identifier;
END
$$;
REVOKE ALL ON FUNCTION elicense._transition(elicense.certificate, elicense.certificate, text, text, text, text, date) FROM PUBLIC;
COMMENT ON FUNCTION elicense._transition(elicense.certificate, elicense.certificate, text, text, text, text, date) IS
'Internal: writes version n+1 of a licence by an action of elicense.licence_transition (55L01 if not allowed), marks version n superseded, records history and outbox';

-- The row of a changed licence: the items of version c with data over them
-- (a JSON null removes an optional item), validated like a new licence; the
-- authority and the certificate number stay.
CREATE FUNCTION elicense._changed_row(c elicense.certificate, data jsonb) RETURNS elicense.certificate
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n elicense.certificate;
  cur jsonb;
  merged jsonb;
  stored jsonb;
  it record;
BEGIN
  IF data IS NULL OR jsonb_typeof(data) <> 'object' THEN
    RAISE EXCEPTION 'changed licence data must be a JSON object, not %', coalesce(jsonb_typeof(data), 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass {"item": "new value", ...}; a JSON null removes an optional item.';
  END IF;
  -- Items of the current version, metadata columns included.
  stored := to_jsonb(c);
  cur := c.business_data;
  FOR it IN SELECT li.item, li.metadata_column FROM elicense.licence_item li
             WHERE li.type_code = c.type_code AND li.metadata_column IS NOT NULL LOOP
    cur := cur || jsonb_build_object(it.item, stored ->> it.metadata_column);
  END LOOP;
  cur := jsonb_strip_nulls(cur);
  merged := jsonb_strip_nulls(cur || data);
  IF merged = cur THEN
    RAISE EXCEPTION 'the change to licence % changes nothing', c.identifier
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass only the items that change, with their new values.';
  END IF;
  n := elicense._licence_from_data(c.type_code, merged);
  IF n.authority_uscc::text <> c.authority_uscc::text THEN
    RAISE EXCEPTION 'the issuing authority of licence % cannot change (% to %)', c.identifier, c.authority_uscc, n.authority_uscc
      USING ERRCODE = 'invalid_parameter_value', HINT = 'The authority is part of the identifier; issue a new licence instead.';
  END IF;
  IF n.licence_number <> c.licence_number THEN
    RAISE EXCEPTION 'the certificate number of licence % cannot change (% to %)', c.identifier, c.licence_number, n.licence_number
      USING ERRCODE = 'invalid_parameter_value', HINT = 'A licence keeps its number across versions; issue a new licence instead.';
  END IF;
  RETURN n;
END
$$;
REVOKE ALL ON FUNCTION elicense._changed_row(elicense.certificate, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._changed_row(elicense.certificate, jsonb) IS
'Internal: the validated row of a licence version with changed items (change, renew)';

CREATE OR REPLACE FUNCTION elicense.change(identifier text, data jsonb, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  c := elicense._lock_current(identifier, 'change');
  RETURN elicense._transition(c, elicense._changed_row(c, data), 'change', why, who);
END
$$;
COMMENT ON FUNCTION elicense.change(text, jsonb, text, text) IS
'Changes a licence (operateType 08): data holds only the items that change (JSON null removes an optional one); writes version n+1 with a new QR assignment; returns its identifier';

CREATE OR REPLACE FUNCTION elicense.revoke(identifier text, reason text, actor text, new_status text DEFAULT '03') RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  action text := CASE new_status WHEN '03' THEN 'revoke' WHEN '04' THEN 'withdraw' END;
  c elicense.certificate;
BEGIN
  IF action IS NULL THEN
    RAISE EXCEPTION 'revoke needs status 03 (吊销, revoked) or 04 (撤销, withdrawn), not %', coalesce(new_status, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use elicense.cancel for 注销 (05).';
  END IF;
  c := elicense._lock_current(identifier, action);
  RETURN elicense._transition(c, c, action, why, who);
END
$$;
COMMENT ON FUNCTION elicense.revoke(text, text, text, text) IS
'Revokes (吊销, certState 03, default) or withdraws (撤销, 04, as elicense.withdraw) a licence: writes version n+1 with operateType 05 and a status_update step naming the identifier the platform holds; returns its identifier';

CREATE OR REPLACE FUNCTION elicense.cancel(identifier text, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  c := elicense._lock_current(identifier, 'cancel');
  RETURN elicense._transition(c, c, 'cancel', why, who);
END
$$;
COMMENT ON FUNCTION elicense.cancel(text, text, text) IS
'Cancels (注销, certState 05) a licence: writes version n+1 with operateType 05 and a status_update step naming the identifier the platform holds; returns its identifier';

-- (elicense.issue_from_trigger: its final definition is further down, where the last change to it is.)
COMMENT ON FUNCTION elicense.issue_from_trigger() IS
'Trigger for approval tables: issues a licence from the row, and runs status changes when a column becomes a value. Arguments: type code, then item=column, const:item=value, when:column=value, actor:column, ACTION:column=value, licence:column, reason:column, until:column';

-- 58_views.sql: effective_status counts a suspended licence past valid_to
-- as expired; effective_state is the one rule; the views use both.

CREATE OR REPLACE FUNCTION elicense.effective_status(status text, valid_to date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN status IN ('01', '02') AND valid_to < current_date THEN '06' ELSE status END
$$;
COMMENT ON FUNCTION elicense.effective_status(text, date) IS
'certState as of today: 06 (expired) for a valid or suspended licence past its valid_to, else the stored status';
CREATE FUNCTION elicense.effective_state(c elicense.certificate) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN cur.status = '03' THEN 'revoked'
    WHEN cur.status = '04' THEN 'withdrawn'
    WHEN cur.status = '05' THEN 'cancelled'
    WHEN cur.status = '99' THEN 'other'
    WHEN cur.platform_id <> coalesce(c.platform_identifier, c.identifier) THEN 'superseded'
    WHEN elicense.effective_status(cur.status, cur.valid_to) = '06' THEN 'expired'
    WHEN cur.status = '02' THEN 'suspended'
    ELSE 'valid' END
    FROM (SELECT c.status, c.valid_to, coalesce(c.platform_identifier, c.identifier) AS platform_id
           WHERE c.superseded_at IS NULL
          UNION ALL
          SELECT x.status, x.valid_to, coalesce(x.platform_identifier, x.identifier)
            FROM elicense.certificate x
           WHERE c.superseded_at IS NOT NULL AND x.original_identifier = c.original_identifier AND x.superseded_at IS NULL) cur
$$;
REVOKE ALL ON FUNCTION elicense.effective_state(elicense.certificate) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.effective_state(elicense.certificate)
    TO elicense_admin, elicense_issuer, elicense_worker, elicense_analyst;
COMMENT ON FUNCTION elicense.effective_state(elicense.certificate) IS
'What a verifier sees for a licence version today: revoked, withdrawn, cancelled, other, superseded (a later version has a new QR code), expired, suspended or valid';

CREATE OR REPLACE VIEW elicense.certificate_current AS
SELECT c.identifier, c.original_identifier, c.type_code, c.sequence, c.version, c.licence_number,
       c.holder_name, c.holder_id_type, c.holder_id, c.authority_name, c.authority_uscc, c.authority_division,
       c.issue_date, c.valid_from, c.valid_to, c.status,
       elicense.effective_status(c.status, c.valid_to) AS effective_status,
       c.status_note, c.operate_type, c.business_data, c.created_at, c.created_by, c.qr_url, c.assigned_code, c.file_sha256,
       elicense.effective_state(c.*) AS effective_state, c.suspended_until, coalesce(c.platform_identifier, c.identifier) AS platform_identifier
  FROM elicense.certificate c
 WHERE c.superseded_at IS NULL;

CREATE OR REPLACE VIEW elicense.analyst_holder_history AS
SELECT c.holder_id_type,
       elicense.mask_holder_id(c.holder_id_type, c.holder_id) AS holder_id_masked,
       c.holder_name, c.type_code, t.name AS type_name, c.original_identifier, c.identifier, c.version,
       c.licence_number, c.authority_name, c.authority_uscc, c.issue_date, c.valid_from, c.valid_to, c.status,
       elicense.effective_status(c.status, c.valid_to) AS effective_status,
       c.operate_type, c.created_at, c.superseded_at, c.superseded_at IS NULL AS is_current,
       elicense.effective_state(c.*) AS effective_state
  FROM elicense.certificate c
  JOIN elicense.licence_type t ON t.type_code = c.type_code;

CREATE OR REPLACE VIEW elicense.analyst_issuance_monthly AS
SELECT v1.authority_uscc, max(v1.authority_name) AS authority_name, v1.type_code,
       date_trunc('month', v1.issue_date)::date AS month,
       count(*) AS issued,
       count(*) FILTER (WHERE elicense.effective_status(cur.status, cur.valid_to) = '01') AS valid_now,
       count(*) FILTER (WHERE elicense.effective_status(cur.status, cur.valid_to) = '06') AS expired_now,
       count(*) FILTER (WHERE cur.status IN ('03', '04')) AS revoked_or_withdrawn,
       count(*) FILTER (WHERE cur.status = '05') AS cancelled,
       count(*) FILTER (WHERE cur.version > 1) AS with_later_versions,
       count(*) FILTER (WHERE d.delivered) AS delivered,
       round(count(*) FILTER (WHERE d.delivered)::numeric / count(*), 4) AS electronic_rate,
       count(*) FILTER (WHERE elicense.effective_status(cur.status, cur.valid_to) = '02') AS suspended_now
  FROM elicense.certificate v1
  JOIN elicense.certificate cur ON cur.original_identifier = v1.original_identifier AND cur.superseded_at IS NULL
  CROSS JOIN LATERAL (
        SELECT EXISTS (SELECT FROM elicense.outbox o JOIN elicense.certificate v ON v.identifier = o.identifier
                        WHERE v.original_identifier = v1.original_identifier AND o.step = 'collect' AND o.status = 'done')
               AS delivered) d
 WHERE v1.version = 1
 GROUP BY v1.authority_uscc, v1.type_code, date_trunc('month', v1.issue_date);
COMMENT ON VIEW elicense.certificate_current IS
'Latest version of every licence, with effective_status (06 once a valid or suspended licence is past valid_to) and effective_state';
COMMENT ON COLUMN elicense.certificate_current.effective_status IS 'certState as of today: 06 when status is 01 or 02 and valid_to has passed (elicense.effective_status)';
COMMENT ON COLUMN elicense.certificate_current.effective_state IS 'What a verifier sees: valid, suspended, expired, revoked, withdrawn, cancelled or other (elicense.effective_state)';
COMMENT ON COLUMN elicense.certificate_current.suspended_until IS 'Last day of a suspension with an end date';
COMMENT ON COLUMN elicense.certificate_current.platform_identifier IS 'The identifier the national platform holds for the licence (the last version with a new QR code)';
COMMENT ON VIEW elicense.analyst_holder_history IS
'Every version of every licence by holder, resident ID numbers masked; no business data';
COMMENT ON COLUMN elicense.analyst_holder_history.holder_id_masked IS 'USCC as is; resident ID with only its first 6 and last 4 characters';
COMMENT ON VIEW elicense.analyst_issuance_monthly IS
'证照电子化率-style counts per authority, type and month of issue: licences issued, their state now, and how many reached the national platform (a collect step done)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.delivered IS 'Licences with at least one version whose collect (归集) step is done';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.electronic_rate IS 'delivered / issued';
COMMENT ON COLUMN elicense.analyst_holder_history.is_current IS 'True for the current version of the licence';
COMMENT ON COLUMN elicense.analyst_holder_history.type_name IS 'Licence name from elicense.licence_type';
COMMENT ON COLUMN elicense.analyst_holder_history.effective_status IS 'certState as of today (06 once a valid or suspended licence is past valid_to)';
COMMENT ON COLUMN elicense.analyst_holder_history.effective_state IS 'What a verifier sees of this version today (elicense.effective_state): valid, suspended, expired, superseded, revoked, withdrawn, cancelled or other';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.month IS 'First day of the month of issue (issue_date of version 001)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.issued IS 'Licences issued (versions 001)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.valid_now IS 'Of these, valid today (current version effective status 01)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.expired_now IS 'Of these, expired today (recorded, or past valid_to)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.suspended_now IS 'Of these, suspended (02) today';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.revoked_or_withdrawn IS 'Of these, revoked (03) or withdrawn (04)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.cancelled IS 'Of these, cancelled (05)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.with_later_versions IS 'Of these, licences with more than one version';

-- 65_preview.sql: the preview shows elicense.effective_state.

CREATE OR REPLACE FUNCTION elicense._preview_status(c elicense.certificate) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN s.state = 'valid' AND c.qr_url IS NULL THEN 'not_ready' ELSE s.state END
    FROM (SELECT elicense.effective_state(c) AS state) s
$$;

-- 70_sharing.sql: licence_verify by elicense.effective_state (a file
-- followed only by status changes is still valid or suspended; certState 99
-- is "other", no longer "valid").

-- (elicense.licence_verify: its final definition is further down, where the last change to it is.)
COMMENT ON FUNCTION elicense.licence_verify(text, bytea) IS
'电子证照文件核验: verdict valid, changed (a newer version with a new QR code exists), revoked (also withdrawn), cancelled, other (certState 99), expired (licence, or the copy''s validity), suspended, tampered (seal or digests do not verify) or unknown (not a file this store issued), with the identifier of the version the file is, the current version and the seal check';

--------------------------------------------------------------------------------
-- licence_verify as both blocks above changed it (the audit block: the digest
-- inside the audited block, bounded arguments, cancellations audited; the
-- lifecycle block: the verdict by elicense.effective_state): 70_sharing.sql.
--------------------------------------------------------------------------------
-- (elicense.licence_verify: its final definition is further down, where the last change to it is.)

-- Licence types as data (h-common): a licence type code is checked for its
-- form in C and for its existence in elicense.licence_type by qr_url, so a
-- type a DBA adds gets its QR code (30_qr.sql).
COMMENT ON FUNCTION elicense.is_valid_licence_type(text) IS
'True if the text is written as a licence type code (the defining authority''s USCC and 3 digits); which types exist is elicense.licence_type';

CREATE OR REPLACE FUNCTION elicense.qr_url(code text, certype text, province text) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cfg elicense.platform_key;
BEGIN
  -- Validate before the lookup, so a bad value is named as such rather
  -- than reported as a missing key.
  PERFORM elicense.check_licence_type(certype, 'certype');
  -- Any type of the catalogue, shipped or added by a DBA, gets its QR code.
  IF NOT EXISTS (SELECT FROM elicense.licence_type AS t WHERE t.type_code OPERATOR(pg_catalog.=) certype) THEN
    RAISE EXCEPTION 'invalid licence type code in field "certype": "%"', certype
      USING ERRCODE = 'invalid_parameter_value', DETAIL = 'The type is not in elicense.licence_type.',
            HINT = 'An elicense_admin adds the type (with its items and face template) to elicense.licence_type first.';
  END IF;
  PERFORM elicense.check_province_code(province, 'province');
  SELECT * INTO cfg FROM elicense.platform_key AS p WHERE p.province OPERATOR(pg_catalog.=) qr_url.province;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no platform public key is configured for province %', province
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'An elicense_admin inserts the national platform''s RSA public key into elicense.platform_key.';
  END IF;
  RETURN elicense._qr_url(code, certype, province, cfg.public_key_pem, cfg.k_format, cfg.base_url,
                          cfg.percent_encode_k);
END
$$;


-- Stock conversion (64_stock.sql, added whole): outbox lanes. A converted
-- licence's steps go in the 'stock' lane; lease_steps serves live steps
-- first (outbox_open now starts with the lane) and _step_done keeps the lane.
ALTER TABLE elicense.outbox ADD COLUMN lane text NOT NULL DEFAULT 'live'
    CONSTRAINT outbox_lane_name CHECK (lane OPERATOR(pg_catalog.=) ANY (ARRAY['live', 'stock']));
COMMENT ON COLUMN elicense.outbox.lane IS 'live (approvals, leased first) or stock (converted paper licences, elicense.convert_stock: leased only when no live step is due)';
DROP INDEX elicense.outbox_open;
CREATE INDEX outbox_open ON elicense.outbox ((lane OPERATOR(pg_catalog.<>) 'live'), next_attempt_at, id) WHERE status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'in_flight']);
COMMENT ON INDEX elicense.outbox_open IS 'Open rows by lane (live first) and due time, for leasing';
CREATE OR REPLACE FUNCTION elicense._step_done(o elicense.outbox, p_worker text, p_detail text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE elicense.outbox x
     SET status = 'done', last_error = NULL, lease_owner = NULL, lease_expires_at = NULL, needs_query = false, updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'in_flight', 'done', p_detail, p_worker);
  INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type, lane)
  SELECT o.identifier, o.version, next_step, o.step_order + 1, o.operate_type, o.lane
    FROM (SELECT (elicense._delivery_steps(o.operate_type))[o.step_order + 1] AS next_step) n
   WHERE next_step IS NOT NULL
  ON CONFLICT ON CONSTRAINT outbox_step_once DO NOTHING;
  PERFORM pg_notify('elicense_outbox', '');  -- the licence's next step is due now
END
$$;

--------------------------------------------------------------------------------
-- Face values from the catalogue (licence types as data): licence_item gets
-- face_key, and licence_face_fields builds every type's values alike instead
-- of a CASE per shipped type (40_catalogue.sql, 62_licence_file.sql).
--------------------------------------------------------------------------------
ALTER TABLE elicense.licence_item
    ADD COLUMN face_key text CONSTRAINT licence_item_face_key_format CHECK (face_key OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$');
COMMENT ON COLUMN elicense.licence_item.face_key IS 'Key the type''s face template (elicense.ofd_template) names this item by; NULL: the item''s own name';
-- The shipped face templates name some items by shorter keys.
UPDATE elicense.licence_item i SET face_key = k.face_key
  FROM (VALUES ('11100000000013338W050', 'enterprise_name', 'unit_name'), ('11100000000013338W050', 'permit_scope', 'scope'),
               ('11100000000013338W050', 'licence_number', 'cert_no'), ('11100000000013338W050', 'authority_name', 'issuer'),
               ('11100000000013338W032', 'id_number', 'id_no'), ('11100000000013338W032', 'licence_number', 'cert_no'),
               ('11100000000013338W032', 'authority_name', 'issuer')) k (type_code, item, face_key)
 WHERE i.type_code = k.type_code AND i.item = k.item AND i.shipped;

CREATE OR REPLACE FUNCTION elicense.licence_face_fields(c elicense.certificate) RETURNS jsonb
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

--------------------------------------------------------------------------------
-- The approval trigger parses its arguments once per backend and argument list
-- (elicense._trigger_plan, extension/src/trigger_plan_cache.cpp), not on
-- every row; its parts are named functions (55_issue.sql).
--------------------------------------------------------------------------------
-- The trigger's arguments, parsed: what to map, when to issue, which actions.
CREATE TYPE elicense.trigger_plan AS (
  items text[],            -- item=column: licence items ...
  columns text[],          -- ... and the columns that fill them
  consts jsonb,            -- const:item=value
  when_column text,        -- when:column=value
  when_value text,
  actor_column text,       -- actor:column
  licence_column text,     -- licence:column
  reason_column text,      -- reason:column
  until_column text,       -- until:column
  actions text[],          -- ACTION:column=value, in their order
  action_columns text[],
  action_values text[]
);
COMMENT ON TYPE elicense.trigger_plan IS 'Internal: the arguments of an elicense.issue_from_trigger trigger after the type code, parsed';

-- The one place the trigger's argument syntax is written. trigger and
-- table_name only word the errors.
CREATE FUNCTION elicense._parse_trigger_arguments(args text[], trigger text, table_name text) RETURNS elicense.trigger_plan
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p elicense.trigger_plan := ROW('{}', '{}', '{}', NULL, NULL, NULL, NULL, NULL, NULL, '{}', '{}', '{}');
  arg text;
  prefix text;
  pos integer;
  known_actions constant text[] := ARRAY['change', 'renew', 'suspend', 'lift_suspension', 'expire', 'other', 'revoke', 'withdraw', 'cancel'];
BEGIN
  -- TG_ARGV starts at 0, with the type code.
  FOR i IN array_lower(args, 1) + 1 .. array_upper(args, 1) LOOP
    arg := args[i];
    prefix := substring(arg FROM '^([a-z_]+):');
    IF prefix IN ('actor', 'licence', 'reason', 'until') THEN
      arg := substr(arg, length(prefix) + 2);
      pos := CASE WHEN arg = '' OR strpos(arg, '=') > 0 THEN 0 ELSE 1 END;
      CASE prefix
        WHEN 'actor' THEN p.actor_column := arg;
        WHEN 'licence' THEN p.licence_column := arg;
        WHEN 'reason' THEN p.reason_column := arg;
        ELSE p.until_column := arg;
      END CASE;
    ELSE
      IF prefix IS NOT NULL AND prefix <> 'when' AND prefix <> 'const' AND NOT prefix = ANY (known_actions) THEN
        pos := 0;
      ELSE
        arg := substr(arg, coalesce(length(prefix) + 2, 1));
        pos := strpos(arg, '=');
      END IF;
      IF pos > 1 THEN
        CASE
          WHEN prefix = 'when' THEN
            p.when_column := substr(arg, 1, pos - 1);
            p.when_value := substr(arg, pos + 1);
          WHEN prefix = 'const' THEN
            p.consts := p.consts || jsonb_build_object(substr(arg, 1, pos - 1), substr(arg, pos + 1));
          WHEN prefix IS NOT NULL THEN
            p.actions := p.actions || prefix;
            p.action_columns := p.action_columns || substr(arg, 1, pos - 1);
            p.action_values := p.action_values || substr(arg, pos + 1);
          ELSE
            p.items := p.items || substr(arg, 1, pos - 1);
            p.columns := p.columns || substr(arg, pos + 1);
            IF substr(arg, pos + 1) = '' THEN
              pos := 0;
            END IF;
        END CASE;
      ELSE
        pos := 0;
      END IF;
    END IF;
    IF pos < 1 THEN
      RAISE EXCEPTION 'trigger % on %: argument "%" is not item=column, const:item=value, when:column=value, actor:column, licence:column, reason:column, until:column or ACTION:column=value',
          trigger, table_name, args[i]
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'ACTION is one of ' || array_to_string(known_actions, ', ') || '.';
    END IF;
  END LOOP;
  RETURN p;
END
$$;
COMMENT ON FUNCTION elicense._parse_trigger_arguments(text[], text, text) IS
'Internal: parses the arguments of an elicense.issue_from_trigger trigger (the first, the type code, is skipped)';

-- The same, parsed once per backend and argument list (extension/src/trigger_plan_cache.cpp).
CREATE FUNCTION elicense._trigger_plan(args text[], trigger text, table_name text) RETURNS elicense.trigger_plan
AS 'MODULE_PATHNAME', 'elicense_trigger_plan' LANGUAGE C STRICT;
COMMENT ON FUNCTION elicense._trigger_plan(text[], text, text) IS
'Internal: elicense._parse_trigger_arguments, cached per backend and argument list';

-- A status change the trigger runs on the licence of the row.
CREATE FUNCTION elicense._run_trigger_action(action text, target text, data jsonb, why text, who text, until date) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  CASE action
    WHEN 'change' THEN PERFORM elicense.change(target, data, why, who);
    WHEN 'renew' THEN PERFORM elicense.renew(target, data, why, who);
    WHEN 'suspend' THEN PERFORM elicense.suspend(target, why, who, until);
    WHEN 'lift_suspension' THEN PERFORM elicense.lift_suspension(target, why, who);
    WHEN 'expire' THEN PERFORM elicense.expire(target, why, who);
    WHEN 'other' THEN PERFORM elicense.other(target, why, why, who);
    WHEN 'revoke' THEN PERFORM elicense.revoke(target, why, who, '03');
    WHEN 'withdraw' THEN PERFORM elicense.revoke(target, why, who, '04');
    ELSE PERFORM elicense.cancel(target, why, who);
  END CASE;
END
$$;
COMMENT ON FUNCTION elicense._run_trigger_action(text, text, jsonb, text, text, date) IS
'Internal: runs one ACTION of an elicense.issue_from_trigger trigger on a licence';

CREATE OR REPLACE FUNCTION elicense.issue_from_trigger() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p elicense.trigger_plan;
  new_row jsonb;
  old_row jsonb;
  data jsonb;
  who text;
  target text;
  number_item text;
  column_role text;
  issuing boolean;
  matched integer[] := '{}';
  i integer;
BEGIN
  IF TG_WHEN <> 'AFTER' OR TG_LEVEL <> 'ROW' OR TG_OP NOT IN ('INSERT', 'UPDATE') THEN
    RAISE EXCEPTION 'elicense.issue_from_trigger must run AFTER INSERT OR UPDATE FOR EACH ROW (trigger % on %.%)', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'trigger_protocol_violated';
  END IF;
  IF TG_NARGS < 1 THEN
    RAISE EXCEPTION 'trigger % on %.% gives elicense.issue_from_trigger no licence type code', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'invalid_parameter_value', HINT = 'The first trigger argument is the type code, e.g. 11100000000013338W050.';
  END IF;
  p := elicense._trigger_plan(TG_ARGV, TG_NAME, TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);

  new_row := to_jsonb(NEW);
  IF p.when_column IS NOT NULL AND NOT new_row ? p.when_column THEN
    RAISE EXCEPTION 'trigger % on %.%: column "%" does not exist', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, p.when_column
      USING ERRCODE = 'undefined_column';
  END IF;
  issuing := CASE WHEN p.when_column IS NULL THEN TG_OP = 'INSERT'
                  ELSE (new_row ->> p.when_column) IS NOT DISTINCT FROM p.when_value
                       AND NOT (TG_OP = 'UPDATE' AND (to_jsonb(OLD) ->> p.when_column) IS NOT DISTINCT FROM p.when_value) END;
  -- Status changes of the row: only on UPDATE, when a column becomes the value.
  IF TG_OP = 'UPDATE' THEN
    old_row := to_jsonb(OLD);
    FOR i IN 1 .. coalesce(array_length(p.actions, 1), 0) LOOP
      IF NOT new_row ? p.action_columns[i] THEN
        RAISE EXCEPTION 'trigger % on %.%: column "%" (of %:) does not exist', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, p.action_columns[i], p.actions[i]
          USING ERRCODE = 'undefined_column';
      END IF;
      IF (new_row ->> p.action_columns[i]) IS NOT DISTINCT FROM p.action_values[i]
         AND (old_row ->> p.action_columns[i]) IS DISTINCT FROM p.action_values[i] THEN
        matched := matched || i;
      END IF;
    END LOOP;
  END IF;
  IF NOT issuing AND cardinality(matched) = 0 THEN
    RETURN NULL;  -- nothing to do: the rest of the row is not read
  END IF;

  data := p.consts;
  FOR i IN 1 .. coalesce(array_length(p.columns, 1), 0) LOOP
    IF NOT new_row ? p.columns[i] THEN
      RAISE EXCEPTION 'trigger % on %.%: column "%" (mapped to item "%") does not exist', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, p.columns[i], p.items[i]
        USING ERRCODE = 'undefined_column';
    END IF;
    IF new_row ->> p.columns[i] IS NOT NULL THEN
      data := data || jsonb_build_object(p.items[i], new_row ->> p.columns[i]);
    END IF;
  END LOOP;
  FOREACH column_role IN ARRAY ARRAY['actor', 'licence', 'reason', 'until'] LOOP
    target := CASE column_role WHEN 'actor' THEN p.actor_column WHEN 'licence' THEN p.licence_column
                               WHEN 'reason' THEN p.reason_column ELSE p.until_column END;
    IF target IS NOT NULL AND NOT new_row ? target THEN
      RAISE EXCEPTION 'trigger % on %.%: % column "%" does not exist', TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, column_role, target
        USING ERRCODE = 'undefined_column';
    END IF;
  END LOOP;
  who := coalesce(nullif(btrim(new_row ->> p.actor_column), ''), session_user::text);
  IF issuing THEN
    PERFORM elicense.issue(TG_ARGV[0], data, who);
  END IF;

  FOREACH i IN ARRAY matched LOOP
    IF p.licence_column IS NOT NULL THEN
      target := new_row ->> p.licence_column;
    ELSE
      SELECT li.item INTO number_item FROM elicense.licence_item li
       WHERE li.type_code = TG_ARGV[0] AND li.metadata_column = 'licence_number';
      SELECT x.identifier INTO target FROM elicense.certificate x
       WHERE x.type_code = TG_ARGV[0] AND x.licence_number = data ->> number_item AND x.superseded_at IS NULL;
    END IF;
    IF target IS NULL THEN
      RAISE EXCEPTION 'trigger % on %.%: % for the row, but it names no licence of type % (certificate number "%")', TG_NAME,
          TG_TABLE_SCHEMA, TG_TABLE_NAME, p.actions[i], TG_ARGV[0], coalesce(data ->> number_item, '')
        USING ERRCODE = 'no_data_found', HINT = 'Map the certificate number item (item=column) or give licence:column.';
    END IF;
    PERFORM elicense._run_trigger_action(p.actions[i], target, data,
        coalesce(nullif(btrim(new_row ->> p.reason_column), ''),
                 pg_catalog.format('approval %s: %s = %s', TG_TABLE_NAME, p.action_columns[i], p.action_values[i])),
        who,
        CASE WHEN p.until_column IS NOT NULL AND nullif(new_row ->> p.until_column, '') IS NOT NULL
             THEN elicense._item_date(left(new_row ->> p.until_column, 10), p.until_column, 'end of suspension') END);
  END LOOP;
  RETURN NULL;
END
$$;

--------------------------------------------------------------------------------
-- Privacy by default (70_sharing.sql, 62_licence_file.sql, 65_preview.sql):
-- licence_search by resident ID needs the right to see ID numbers or a live
-- usage code for the holder, at most usage_grant.id_searches_per_minute; public
-- copies (the platform copy, the preview page) mask resident ID numbers unless
-- the face template says "public_id_numbers": "full".
--------------------------------------------------------------------------------
ALTER TABLE elicense.usage_grant ADD COLUMN id_searches_per_minute integer NOT NULL DEFAULT 20
    CONSTRAINT usage_grant_id_searches CHECK (id_searches_per_minute BETWEEN 0 AND 10000);
COMMENT ON COLUMN elicense.usage_grant.id_searches_per_minute IS 'licence_search calls by resident ID number (holder_id that is not a USCC) the grantee may make in any 60 seconds, refused ones included';
CREATE FUNCTION elicense._allow_id_search(x elicense._usage_context, holder_id text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  per_minute integer;
BEGIN
  IF elicense.is_valid_uscc(holder_id) THEN
    RETURN;
  END IF;
  IF NOT x.may_see_id_numbers AND NOT EXISTS (
      SELECT FROM elicense.usage_code u
       WHERE u.grant_id = x.grant_id AND u.holder_id = _allow_id_search.holder_id AND u.expires_at > now()) THEN
    RAISE EXCEPTION 'role "%" may not search scenario "%" by resident ID number', x.grantee, x.scenario
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Search by resident ID needs a grant that may see ID numbers, or a live usage code for that holder (create_usage_code).';
  END IF;
  SELECT g.id_searches_per_minute INTO per_minute FROM elicense.usage_grant g WHERE g.id = x.grant_id;
  IF (SELECT count(*) FROM elicense.usage_audit a
       WHERE a.at > now() - interval '60 seconds' AND a.function = 'licence_search' AND a.grantee = x.grantee
         AND a.holder_id IS NOT NULL AND NOT elicense.is_valid_uscc(a.holder_id)) >= per_minute THEN
    RAISE EXCEPTION 'role "%" made % searches by resident ID number in the last minute', x.grantee, per_minute
      USING ERRCODE = 'configuration_limit_exceeded',
            HINT = 'At most usage_grant.id_searches_per_minute a minute; retry later, or look a holder up with a usage code (licence_info_by_holder).';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION elicense._allow_id_search(elicense._usage_context, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._allow_id_search(elicense._usage_context, text) IS
'Internal: refuses a licence_search by resident ID without the right to see ID numbers or a usage code for the holder (42501), or over the grant''s rate (53400)';
CREATE OR REPLACE FUNCTION elicense.licence_search(scenario text, type_code text DEFAULT NULL, holder_id text DEFAULT NULL,
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
    PERFORM elicense._bound_arguments(ARRAY['scenario', 'type_code', 'holder_id', 'holder_name', 'authority_uscc', 'status', 'after_identifier'],
        ARRAY[scenario, type_code, holder_id, holder_name, authority_uscc, status, after_identifier]);
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
    IF holder_id IS NOT NULL THEN
      PERFORM elicense._allow_id_search(x, holder_id);
      q := q || ' AND c.holder_id = $3';
    END IF;
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
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
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
-- (elicense.render_certificate_ofd: its final definition is further down, where the last change to it is.)
-- (elicense.preview_open: its final definition is further down, where the last change to it is.)
CREATE OR REPLACE FUNCTION elicense.preview_ofd(token text) RETURNS bytea
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
  RETURN elicense._render_version_ofd(elicense._public_face(c), true, '', '');
END
$$;

-- ============================================================================
-- History by month (issue 22): status_history, delivery_attempt,
-- delivery_event, usage_audit and preview_access become tables partitioned by
-- range of `at`, each with a DEFAULT partition; primary key and indexes
-- become each partition's own (76_history_partitions.sql, run after this
-- block, makes those of the DEFAULT partitions). A table cannot be made
-- partitioned in place, so each one is renamed, a partitioned copy is made
-- (same columns, defaults, identity, checks, comments), its rows move into
-- the DEFAULT partition keeping their ids, the identity continues where the
-- old one stopped, foreign keys, triggers, grants and comments are made again,
-- the views reading it are pointed at the new table, and the old table goes.
-- elicense.create_history_partitions() later moves those rows into month
-- partitions.
-- ============================================================================
CREATE FUNCTION pg_temp.partition_history_table(tbl text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  old_name text := tbl || '_unpartitioned';
  old regclass;
  new regclass;
  seq regclass;
  r record;
BEGIN
  EXECUTE format('ALTER TABLE elicense.%I RENAME TO %I', tbl, old_name);
  old := format('elicense.%I', old_name)::regclass;
  seq := pg_get_serial_sequence(format('elicense.%I', old_name), 'id')::regclass;
  EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', seq, old_name || '_id_seq');

  EXECUTE format('CREATE TABLE elicense.%I (LIKE %s INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS
                  INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (at)', tbl, old);
  new := format('elicense.%I', tbl)::regclass;
  EXECUTE format('COMMENT ON TABLE %s IS %L', new, obj_description(old, 'pg_class'));
  EXECUTE format('COMMENT ON SEQUENCE %s IS %L', pg_get_serial_sequence(new::text, 'id'), obj_description(seq, 'pg_class'));
  EXECUTE format('CREATE TABLE elicense.%I PARTITION OF %s DEFAULT', tbl || '_default', new);

  FOR r IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = old AND contype = 'f' LOOP
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', new, r.conname, r.def);
  END LOOP;
  FOR r IN SELECT tgname, pg_get_triggerdef(oid) AS def, obj_description(oid, 'pg_trigger') AS note
             FROM pg_trigger WHERE tgrelid = old AND NOT tgisinternal ORDER BY tgname LOOP
    EXECUTE replace(r.def, ' ON ' || old::text || ' ', ' ON ' || new::text || ' ');
    IF r.note IS NOT NULL THEN
      EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', r.tgname, new, r.note);
    END IF;
  END LOOP;
  FOR r IN SELECT a.privilege_type, a.grantee::regrole AS grantee
             FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.oid = old AND a.grantee <> c.relowner AND a.grantee <> 0 LOOP
    EXECUTE format('GRANT %s ON %s TO %s', r.privilege_type, new, r.grantee);
  END LOOP;

  EXECUTE format('INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM %s', new, old);
  PERFORM setval(pg_get_serial_sequence(new::text, 'id'), s.last_value)
     FROM pg_sequences s WHERE format('%I.%I', s.schemaname, s.sequencename)::regclass = seq
      AND s.last_value IS NOT NULL;

  -- Views read the table they were made with: point them at the new one.
  FOR r IN SELECT DISTINCT v.oid::regclass AS view, pg_get_viewdef(v.oid) AS def
             FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
            WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = old AND v.oid <> old LOOP
    EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', r.view, replace(r.def, old::text, new::text));
  END LOOP;

  -- Dumped rows: the DEFAULT partition's (a partitioned table has none of
  -- its own), and the identity where the old one was dumped.
  EXECUTE format('SELECT pg_catalog.pg_extension_config_dump(%L, '''')', format('elicense.%I', tbl || '_default'));
  IF seq = ANY (SELECT unnest(extconfig) FROM pg_extension WHERE extname = 'elicense') THEN
    EXECUTE format('ALTER EXTENSION elicense DROP SEQUENCE %s', seq);
    PERFORM pg_catalog.pg_extension_config_dump(pg_get_serial_sequence(new::text, 'id'), '');
  END IF;
  EXECUTE format('ALTER EXTENSION elicense DROP TABLE %s', old);
  EXECUTE format('DROP TABLE %s', old);
END
$$;
-- The append-only error names the partitioned table, not the partition the row is in.
CREATE OR REPLACE FUNCTION elicense.reject_history_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  -- A row trigger fires on the partition (e.g. status_history_p202611): name
  -- the table the caller used.
  RAISE EXCEPTION 'elicense.% is append-only: % is not allowed',
        (SELECT c.relname FROM pg_class c WHERE c.oid = coalesce(pg_partition_root(TG_RELID), TG_RELID)), TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = coalesce(TG_ARGV[0], 'Rows of this table record what happened; they are only ever added.');
END
$$;
SELECT pg_temp.partition_history_table(t)
  FROM unnest(ARRAY['status_history', 'delivery_attempt', 'delivery_event', 'usage_audit', 'preview_access']) t;
DROP FUNCTION pg_temp.partition_history_table(text);

-- ============================================================================
-- Seals as a plug, keys never in clear (issue 19, h-signer): elicense.seal
-- (per authority and city, a signer each, secrets encrypted under the master
-- key of elicense.master_key_file) replaces elicense.seal_key, whose keys
-- were in clear; preview_key's length CHECK (which printed 31 bytes of a
-- refused key) becomes a trigger.
-- ============================================================================
DROP FUNCTION elicense._seal_ofd(bytea, text, text, bytea, text, float8, float8, float8);
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
'A secret in transit to elicense.load_seal: prints as (secret), is never sent back; never a column type';

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
CREATE FUNCTION elicense._reencrypt_secret(box bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_reencrypt_secret' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._reencrypt_secret(bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._reencrypt_secret(bytea) IS
'Internal: an encrypted secret re-encrypted under the current master key (opened with the current or the previous one)';

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

-- After a master key rotation (docs/seal-signers.md): the old key in
-- elicense.previous_master_key_file, the new one in elicense.master_key_file.
CREATE FUNCTION elicense.reencrypt_seal_secrets() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  current_id text := elicense.master_key_id();
  n integer;
BEGIN
  UPDATE elicense.seal s SET secret_box = elicense._reencrypt_secret(s.secret_box), updated_at = now()
   WHERE elicense._secret_key_id(s.secret_box) IS DISTINCT FROM current_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION elicense.reencrypt_seal_secrets() IS
'Re-encrypts every seal secret that is not under the current master key (opened with elicense.previous_master_key_file); returns how many';
REVOKE ALL ON FUNCTION elicense.reencrypt_seal_secrets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.reencrypt_seal_secrets() TO elicense_admin;

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

-- Keys stored in clear by 0.2.0 move, encrypted, to elicense.seal (city
-- code '', esID elicense-seal-<USCC>); without a master key the update stops.
DO $migrate$
DECLARE
  n bigint;
BEGIN
  SELECT count(*) INTO n FROM elicense.seal_key;
  IF n > 0 AND coalesce(current_setting('elicense.master_key_file', true), '') = '' THEN
    RAISE EXCEPTION 'elicense.seal_key holds % seal private keys in clear and elicense.master_key_file is not set', n
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Put 32 random bytes in a file only the server can read (head -c 32 /dev/urandom), set elicense.master_key_file to it in postgresql.conf, reload, and run ALTER EXTENSION elicense UPDATE again: the keys are then encrypted.';
  END IF;
  INSERT INTO elicense.seal (authority_uscc, city_code, es_id, seal_name, signer, signer_config, secret_box,
                             certificate_pem, seal_png, updated_at)
  SELECT k.authority_uscc, '', 'elicense-seal-' || k.authority_uscc, k.seal_name, 'key', '{}',
         elicense._seal_secret_encrypt('key', '{}', k.private_key_pem::text::elicense.secret, k.certificate_pem,
                                       'elicense-seal-' || k.authority_uscc),
         k.certificate_pem, k.seal_png, k.updated_at
    FROM elicense.seal_key k;
END
$migrate$;
-- Out of the extension first: that also takes it off the extension's
-- configuration tables (a plain DROP leaves its OID in extconfig).
ALTER EXTENSION elicense DROP TABLE elicense.seal_key;
DROP TABLE elicense.seal_key;

CREATE OR REPLACE FUNCTION elicense._render_version_ofd(c elicense.certificate, watermark boolean, purpose text, valid_until text)
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
COMMENT ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text) IS
'OFD file of a licence version, sealed when elicense.seal has the authority''s seal: the platform watermark by default, a purpose-and-validity note for copies to other departments; rendering the original (no watermark, no purpose) stores its SHA-256 on the certificate row';

-- (elicense.preview_open: its final definition is further down, where the last change to it is.)

-- (elicense.licence_verify: its final definition is further down, where the last change to it is.)

ALTER TABLE elicense.preview_key DROP CONSTRAINT preview_key_length;
-- At least 32 bytes, checked by a trigger and not a CHECK constraint: a
-- failing CHECK prints the row, here 31 bytes of the key it refuses.
CREATE FUNCTION elicense._preview_key_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF length(NEW.secret) < 32 THEN
    RAISE EXCEPTION 'elicense.preview_key.secret has % bytes, fewer than 32', length(NEW.secret)
      USING ERRCODE = 'check_violation', HINT = 'Make keys with elicense.rotate_preview_key(); the value is not repeated here.';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION elicense._preview_key_check() FROM PUBLIC;
CREATE TRIGGER preview_key_length BEFORE INSERT OR UPDATE ON elicense.preview_key
    FOR EACH ROW EXECUTE FUNCTION elicense._preview_key_check();

--------------------------------------------------------------------------------
-- preview_open as the parts have it: changed by both the privacy block (the
-- public face) and the seal block (the seal per authority and city) above.
--------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION elicense.preview_open(token text, client text)
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
    SELECT encode(sha256(convert_to(concat_ws(E'\x1f', t.template::text, elicense.licence_face_fields(elicense._public_face(c))::text,
                                              c.qr_url, encode(sha256(k.seal_png), 'hex')), 'UTF8')), 'hex')
      INTO hash
      FROM elicense.ofd_template t
      LEFT JOIN elicense._seal_for(c.authority_uscc, c.authority_division) k ON true
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

--------------------------------------------------------------------------------
-- Issue 19, verification as GB/T 38540 intends (h-verify): trust anchors
-- (elicense.trust_anchor), verify_licence_ofd with a verdict column and the
-- seal, signer-list, maker-signature, validity and chain checks
-- (elicense._verify_ofd), the archive of issued files (elicense.sealed_file,
-- elicense._archive_file) written by render_certificate_ofd and _render_copy,
-- licence_verify comparing with it and refusing an unsigned file of an
-- authority that seals; the worker loses UPDATE (file_sha256) on certificate.
--------------------------------------------------------------------------------
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
-- sealed, unsigned, untrusted, tampered, malformed. 0.2.0's C function had
-- fewer columns and no trust anchors.
DROP FUNCTION elicense.verify_licence_ofd(bytea, text);
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

-- (elicense.render_certificate_ofd: its final definition is further down, where the last change to it is.)
COMMENT ON FUNCTION elicense.render_certificate_ofd(text, boolean, text, text) IS
'OFD file of a licence version, sealed when elicense.seal_key has the authority''s seal: the platform watermark by default, a purpose-and-validity note for copies to other departments; rendering the original (no watermark, no purpose) archives it in elicense.sealed_file and stores its SHA-256 on the certificate row';
CREATE OR REPLACE FUNCTION elicense._render_copy(identifier text, purpose text, valid_until date, mask_id boolean) RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  file bytea;
BEGIN
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = _render_copy.identifier;
  IF c.qr_url IS NULL THEN
    RAISE EXCEPTION 'licence % has no QR code yet', identifier USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'The file exists once the national platform has assigned a code (赋码); ask again later.';
  END IF;
  IF mask_id THEN
    c.holder_id := elicense.mask_holder_id(c.holder_id_type, c.holder_id);
  END IF;
  file := elicense._render_version_ofd(c, false, purpose, to_char(valid_until, 'YYYY-MM-DD'));
  PERFORM elicense._archive_file(c.identifier, file, valid_until);  -- licence_verify compares with it
  RETURN file;
END
$$;
-- (elicense.licence_verify: its final definition is further down, where the last change to it is.)
COMMENT ON FUNCTION elicense.licence_verify(text, bytea) IS
'电子证照文件核验: verdict valid, changed (a newer version with a new QR code exists), revoked (also withdrawn), cancelled, other (certState 99), expired (licence, or the copy''s validity), suspended, for a file this store issued (archived in elicense.sealed_file, compared byte for byte) whose seal verifies; else unsigned (not sealed though its authority seals), untrusted (seal chain reaches no elicense.trust_anchor), tampered (a digest, signature, seal, signer or time check fails), malformed (not a readable OFD file) or unknown (not a file this store issued); with the identifier of the version the file is, the current version and the seal check (verify_licence_ofd status)';

REVOKE UPDATE (file_sha256) ON elicense.certificate FROM elicense_worker;

--------------------------------------------------------------------------------
-- render_certificate_ofd and licence_verify as the parts have them: changed by
-- the privacy, seal and verification blocks above.
--------------------------------------------------------------------------------
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
  -- The watermarked file is the public copy (the national platform publishes it).
  file := elicense._render_version_ofd(CASE WHEN watermark THEN elicense._public_face(c) ELSE c END, watermark, purpose, valid_until);
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
CREATE OR REPLACE FUNCTION elicense.licence_verify(scenario text, file bytea,
    OUT verdict text, OUT identifier text, OUT current_identifier text, OUT effective_status text,
    OUT copy_valid_until date, OUT signature_status text, OUT detail text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := '{"function": "licence_verify"}';
  x elicense._usage_context;
  digest text;  -- computed in the block: a cancel while hashing a large file is audited too
  copied text;
  c elicense.certificate;
  cur elicense.certificate;
  sig record;
  authority_sealed boolean := false;
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x);
    PERFORM elicense._bound_arguments(ARRAY['scenario'], ARRAY[scenario]);
    digest := encode(sha256(file), 'hex');
    PERFORM elicense._raise_refusal(x);
    -- The archived file with these very bytes; else, for a file issued before
    -- the archive, the original's digest or a copy's (the audit).
    SELECT s.identifier, s.copy_valid_until INTO copied, copy_valid_until FROM elicense.sealed_file s
     WHERE s.sha256 = digest AND elicense._sealed_file_matches(s.file_box, s.sha256, s.identifier, licence_verify.file);
    IF FOUND THEN
      SELECT v.* INTO c FROM elicense.certificate v WHERE v.identifier = copied;
    ELSE
      SELECT v.* INTO c FROM elicense.certificate v WHERE v.file_sha256 = digest LIMIT 1;
      IF NOT FOUND THEN
        SELECT u.copy_valid_until, u.identifier INTO copy_valid_until, copied FROM elicense.usage_audit u
         WHERE u.file_sha256 = digest AND u.result = 'ok' ORDER BY u.id DESC LIMIT 1;
        IF FOUND THEN
          SELECT v.* INTO c FROM elicense.certificate v WHERE v.identifier = copied;
        END IF;
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
      authority_sealed := (elicense._seal_for(c.authority_uscc, c.authority_division)).es_id IS NOT NULL;
    END IF;
    -- The seal as GB/T 38540 intends, against the trust anchors.
    SELECT * INTO sig FROM elicense.verify_licence_ofd(file);
    signature_status := sig.status;
    IF c.identifier IS NULL THEN
      IF sig.verdict IN ('sealed', 'unsigned') THEN
        verdict := 'unknown';
        detail := 'not a file this store issued (a sealed file renders differently each time: ask the holder for the current one)';
      ELSE
        verdict := sig.verdict;
        detail := format('%s%s: %s', sig.status, CASE WHEN sig.part <> '' THEN ' in ' || sig.part ELSE '' END, sig.message);
      END IF;
    ELSIF sig.verdict = 'unsigned' AND authority_sealed THEN
      verdict := 'unsigned';
      detail := 'the file is not sealed, but its issuing authority seals its licences';
    ELSIF sig.verdict NOT IN ('sealed', 'unsigned') THEN
      verdict := sig.verdict;
      detail := format('the file is the issued one but its seal does not hold: %s %s', sig.status, sig.message);
    ELSE
      SELECT v.* INTO cur FROM elicense.certificate v
       WHERE v.original_identifier = c.original_identifier AND v.superseded_at IS NULL;
      current_identifier := cur.identifier;
      effective_status := elicense.effective_status(cur.status, cur.valid_to);
      -- The one rule (elicense.effective_state); a file of a version that
      -- only status changes followed is still that licence's file.
      verdict := CASE elicense.effective_state(c)
          WHEN 'revoked' THEN 'revoked'
          WHEN 'withdrawn' THEN 'revoked'
          WHEN 'cancelled' THEN 'cancelled'
          WHEN 'other' THEN 'other'
          WHEN 'superseded' THEN 'changed'
          WHEN 'expired' THEN 'expired'
          WHEN 'suspended' THEN 'suspended'
          ELSE CASE WHEN copy_valid_until < current_date THEN 'expired' ELSE 'valid' END END;
      detail := CASE verdict
        WHEN 'changed' THEN format('a newer version %s replaces %s', cur.identifier, c.identifier)
        WHEN 'expired' THEN CASE WHEN effective_status = '06' THEN format('the licence expired on %s', cur.valid_to)
                                 ELSE format('this copy was valid until %s', copy_valid_until) END
        WHEN 'other' THEN format('certState 99: %s', cur.status_note)
        ELSE format('certState %s', cur.status) END;
    END IF;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1, 'message', verdict,
                                                   'file_sha256', digest));
END
$$;
COMMENT ON FUNCTION elicense.licence_verify(text, bytea) IS
'电子证照文件核验: verdict valid, changed (a newer version with a new QR code exists), revoked (also withdrawn), cancelled, other (certState 99), expired (licence, or the copy''s validity), suspended, for a file this store issued (archived in elicense.sealed_file, compared byte for byte) whose seal verifies; else unsigned (not sealed though its authority seals), untrusted (seal chain reaches no elicense.trust_anchor), tampered (a digest, signature, seal, signer or time check fails), malformed (not a readable OFD file) or unknown (not a file this store issued); with the identifier of the version the file is, the current version and the seal check (verify_licence_ofd status)';

-- Delivery under faults (issue 22, h-deliver): attempts that never reached the platform
-- (outcome and failure kind not_sent) give their attempt back.
ALTER TABLE elicense.delivery_attempt DROP CONSTRAINT delivery_attempt_outcome;
ALTER TABLE elicense.delivery_attempt ADD CONSTRAINT delivery_attempt_outcome CHECK (outcome OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'business_error', 'retry', 'not_sent', 'unknown', 'held']));
COMMENT ON COLUMN elicense.delivery_attempt.outcome IS 'done, business_error (refused, not retried), retry (had no effect), not_sent (never reached the platform: refused, DNS, TLS; uses no retry budget), unknown (may have had effect: query before resending), held (left for an operator)';
CREATE OR REPLACE FUNCTION elicense.step_failed(outbox_id bigint, worker_id text, kind text, error text, retry_in_ms bigint,
    max_attempts integer) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
  next_status text;
BEGIN
  IF kind IS NULL OR kind NOT IN ('retry', 'not_sent', 'unknown', 'business_error', 'hold') THEN
    RAISE EXCEPTION 'invalid failure kind "%"', coalesce(kind, 'NULL') USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Use retry, not_sent, unknown, business_error or hold.';
  END IF;
  SELECT * INTO o FROM elicense.outbox x
   WHERE x.id = step_failed.outbox_id AND x.status = 'in_flight' AND x.lease_owner = step_failed.worker_id
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- not_sent: the request never reached the platform (refused, DNS, TLS, or
  -- released before sending): the attempt lease_steps counted is given back,
  -- so an outage never uses up the retry budget.
  next_status := CASE WHEN kind = 'hold' THEN 'held'
                      WHEN kind = 'not_sent' THEN 'pending'
                      WHEN kind = 'business_error' OR o.attempts >= max_attempts THEN 'dead' ELSE 'pending' END;
  UPDATE elicense.outbox x
     SET status = next_status, last_error = error, lease_owner = NULL, lease_expires_at = NULL,
         attempts = CASE WHEN kind = 'not_sent' THEN greatest(o.attempts - 1, 0) ELSE o.attempts END,
         -- once an attempt may have taken effect, every later one asks first
         needs_query = o.needs_query OR kind = 'unknown',
         next_attempt_at = now() + make_interval(secs => coalesce(retry_in_ms, 0) / 1000.0), updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'in_flight', next_status, kind || ': ' || coalesce(error, ''), worker_id);
  RETURN next_status;
END
$$;
COMMENT ON FUNCTION elicense.step_failed(bigint, text, text, text, bigint, integer) IS
'Records a failed attempt: pending again after retry_in_ms, dead after a business error or max_attempts, held (kind hold) until an operator replays it; kind not_sent (the request never reached the platform) gives the attempt back. worker_id is the lease owner (worker name and process instance)';


-- Delivery throughput (issue 22, h-deliver): lease_steps' per-licence order
-- probe reads every version of a licence; without an index on
-- original_identifier each probe scanned the whole certificate table.
CREATE INDEX certificate_versions ON elicense.certificate (original_identifier);
COMMENT ON INDEX elicense.certificate_versions IS 'All versions of a licence, for the per-licence step order of elicense.lease_steps';

-- HTTP gateway (issue 20): the sharing functions take the caller from SET
-- ROLE when one is set (the gateway's login sets the application's role per
-- request), through inheriting roles only; the audit's db_user is that role.
CREATE FUNCTION elicense._caller_role() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END
$$;
COMMENT ON FUNCTION elicense._caller_role() IS
'Internal: the role the sharing functions treat as the caller: SET ROLE''s role when set, else session_user';
REVOKE ALL ON FUNCTION elicense._caller_role() FROM PUBLIC;
ALTER TABLE elicense.usage_code ALTER COLUMN created_by SET DEFAULT elicense._caller_role();
COMMENT ON COLUMN elicense.usage_audit.db_user IS 'Role of the caller: the role set by SET ROLE (the HTTP gateway sets the application''s), else the login role (session_user)';
CREATE OR REPLACE FUNCTION elicense._caller_roles() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH RECURSIVE r(oid, inherits) AS (
    SELECT a.oid, a.rolinherit FROM pg_catalog.pg_roles a WHERE a.rolname = elicense._caller_role()
    UNION
    SELECT m.roleid, g.rolinherit FROM pg_catalog.pg_auth_members m JOIN r ON m.member = r.oid AND r.inherits
      JOIN pg_catalog.pg_roles g ON g.oid = m.roleid)
  SELECT array_agg(oid) FROM r
$$;
CREATE OR REPLACE FUNCTION elicense._record(r jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  r := r || jsonb_build_object('at', clock_timestamp(), 'db_user', elicense._caller_role(), 'recorded_by', 'writer');
  SELECT jsonb_object_agg(e.key, CASE
           WHEN jsonb_typeof(e.value) = 'string' AND length(e.value #>> '{}') > CASE e.key WHEN 'message' THEN 2000 ELSE 256 END
           THEN to_jsonb(left(e.value #>> '{}', CASE e.key WHEN 'message' THEN 2000 ELSE 256 END)
                         || format('… (%s characters)', length(e.value #>> '{}')))
           ELSE e.value END)
    INTO r FROM jsonb_each(r) e;
  RETURN elicense._audit_autonomous(r::text);
END
$$;
CREATE OR REPLACE FUNCTION elicense._grant_context(scenario text) RETURNS elicense._usage_context
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
    x.refusal_message := format('role "%s" has no usage grant for scenario "%s"', elicense._caller_role(), scenario);
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
CREATE OR REPLACE FUNCTION elicense._code_context(usage_code text) RETURNS elicense._usage_context
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
  -- x.department stays the grant's: the context's "department" is what the
  -- caller wrote, kept in the code's context but never taken as its identity.
  x.purpose := coalesce(u.context ->> 'purpose', x.purpose);
  x.expires_at := u.expires_at;
  IF x.refusal_state IS NOT NULL THEN
    RETURN x;
  END IF;
  IF x.grant_id IS DISTINCT FROM u.grant_id THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage code %s was made under another grant than role "%s" holds', u.id, elicense._caller_role());
    x.refusal_hint := 'A usage code is used by the department application that made it.';
  ELSIF u.expires_at <= now() THEN
    x.refusal_state := '28000';
    x.refusal_message := format('usage code %s expired at %s', u.id, u.expires_at);
    x.refusal_hint := 'Usage codes are short-lived; create a new one for the request.';
  END IF;
  RETURN x;
END
$$;

--------------------------------------------------------------------------------
-- Grants nothing uses: the worker calls only its SECURITY DEFINER delivery
-- functions, expire_due and a count of the outbox (the sync tests run it as a
-- login that is a member of elicense_worker only). docs/privileges.md lists
-- every role's privileges; tests/integration/role_privileges.sh compares.
--------------------------------------------------------------------------------
-- (platform_field, platform_request and precheck come with parts added in
-- 0.3.0, which no longer grant them to the worker.)
REVOKE EXECUTE ON FUNCTION elicense.qr_url(text, text, text), elicense.decrypt_assignment(text, text, text),
    elicense.effective_state(elicense.certificate), elicense.preview_url(text),
    elicense.render_certificate_ofd(text, boolean, text, text) FROM elicense_worker;
REVOKE ALL ON elicense.certificate FROM elicense_worker;
REVOKE UPDATE (qr_url, assigned_code, file_sha256) ON elicense.certificate FROM elicense_worker;
REVOKE SELECT ON elicense.licence_type, elicense.licence_item, elicense.licence_transition,
    elicense.delivery_attempt, elicense.certificate_current, elicense.delivery_event, elicense.code_assignment,
    elicense.delivery_metrics, elicense.analyst_delivery_attempts, elicense.ofd_template FROM elicense_worker;

--------------------------------------------------------------------------------
-- Issue 19, keys never in clear (h-secrets): the province's assignment
-- secret (30_qr.sql) and the preview token keys (59_preview_url.sql) are
-- stored encrypted under the master key like seal secrets (62_licence_file.sql:
-- load_province_secret, reencrypt_secrets for every kind). The clear keys
-- 0.2.0 holds are encrypted here; without a master key the update stops and
-- changes nothing. Each table is then rewritten (CLUSTER nulls the dropped
-- clear columns in every tuple it copies), so its files hold no clear key;
-- earlier dumps, WAL and base backups still do: rotate those keys.
--------------------------------------------------------------------------------
DO $check_master_key$
DECLARE
  n bigint;
BEGIN
  SELECT (SELECT count(*) FROM elicense.province_secret) + (SELECT count(*) FROM elicense.preview_key) INTO n;
  IF n > 0 AND coalesce(current_setting('elicense.master_key_file', true), '') = '' THEN
    RAISE EXCEPTION 'elicense.province_secret and elicense.preview_key hold % keys in clear and elicense.master_key_file is not set', n
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Put 32 random bytes in a file only the server can read (head -c 32 /dev/urandom), set elicense.master_key_file to it in postgresql.conf, reload, and run ALTER EXTENSION elicense UPDATE again: the keys are then encrypted.';
  END IF;
END
$check_master_key$;

COMMENT ON TYPE elicense.secret IS
'A secret in transit to elicense.load_seal or elicense.load_province_secret: prints as (secret), is never sent back; never a column type';
DROP FUNCTION elicense.reencrypt_seal_secrets();
DROP FUNCTION elicense._reencrypt_secret(bytea);
CREATE FUNCTION elicense._reencrypt_secret(box bytea, kind text) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_reencrypt_secret' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION elicense._reencrypt_secret(bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._reencrypt_secret(bytea, text) IS
'Internal: an encrypted secret of a kind (seal, province, preview) re-encrypted under the current master key (opened with the current or the previous one)';

-- The province's secret.
DROP FUNCTION elicense._decrypt_assignment(text, text, text, text, text);
CREATE FUNCTION elicense._decrypt_assignment(encry_certid text, encry_key text, assignment_scheme text,
    secret_box bytea, OUT kind text, OUT code text, OUT url text) RETURNS record
AS 'MODULE_PATHNAME', 'elicense_decrypt_assignment_with_box' LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION elicense._decrypt_assignment(text, text, text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._decrypt_assignment(text, text, text, bytea) IS
'Internal: decrypts an assignment with the province''s encrypted secret (opened with the master key); use elicense.decrypt_assignment';

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


ALTER TABLE elicense.province_secret DISABLE TRIGGER province_secret_check;
ALTER TABLE elicense.province_secret ADD COLUMN secret_box bytea;
UPDATE elicense.province_secret
   SET secret_box = elicense._province_secret_encrypt(assignment_scheme,
         (CASE WHEN assignment_scheme = 'des' THEN des_key ELSE private_key_pem END)::text::elicense.secret);
ALTER TABLE elicense.province_secret ALTER COLUMN secret_box SET NOT NULL;
ALTER TABLE elicense.province_secret DROP COLUMN private_key_pem, DROP COLUMN des_key;
CLUSTER elicense.province_secret USING province_secret_pkey;
ALTER TABLE elicense.province_secret SET WITHOUT CLUSTER;
ALTER TABLE elicense.province_secret ENABLE TRIGGER province_secret_check;
DROP FUNCTION elicense.verify_province_secret(text, text, text);
CREATE OR REPLACE FUNCTION elicense.province_secret_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.province IS NULL THEN
    RAISE EXCEPTION 'column "province" of elicense.province_secret is NULL'
      USING ERRCODE = 'not_null_violation', HINT = 'Give the six-digit province code, e.g. 350000.';
  END IF;
  IF NEW.assignment_scheme IS NULL OR NEW.assignment_scheme NOT IN ('rsa-des', 'des') THEN
    RAISE EXCEPTION 'column "assignment_scheme" of elicense.province_secret is %, not rsa-des or des',
        coalesce(pg_catalog.quote_literal(NEW.assignment_scheme), 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use rsa-des or des.';
  END IF;
  IF NEW.secret_box IS NULL OR elicense._secret_key_id(NEW.secret_box) IS NULL THEN
    RAISE EXCEPTION 'elicense.province_secret.secret_box is not an encrypted secret' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Load the province''s key with elicense-admin load-province-secret (or elicense.load_province_secret); the value is not repeated here.';
  END IF;
  NEW.updated_at := pg_catalog.now();
  NEW.updated_by := CURRENT_USER;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION elicense.province_secret_check() IS
'Trigger: a province_secret row holds a scheme and an encrypted secret; errors never show the row';

COMMENT ON TABLE elicense.province_secret IS
'Per province: the secret that decrypts code assignments (赋码), encrypted under the master key; written by elicense.load_province_secret, read by elicense.decrypt_assignment';
COMMENT ON COLUMN elicense.province_secret.assignment_scheme IS
'rsa-des (PLATFORM.md: RSA-decrypt encryKey with the province''s private key, then DES) or des (DES with the agreed 8-character key, encryKey unused)';
COMMENT ON COLUMN elicense.province_secret.secret_box IS
'The province''s RSA private key PEM (rsa-des) or DES key (des), AES-256-GCM under the master key (elicense.master_key_file)';
REVOKE INSERT, UPDATE ON elicense.province_secret FROM elicense_admin;
CREATE OR REPLACE FUNCTION elicense.decrypt_assignment(encry_certid text, encry_key text, province text,
    OUT kind text, OUT code text, OUT url text)
RETURNS record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s elicense.province_secret;
  code_pattern text;
  url_prefix text;
BEGIN
  IF encry_certid IS NULL OR province IS NULL THEN
    RAISE EXCEPTION 'encryCertid and province must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM elicense.check_province_code(province, 'province');
  SELECT * INTO s FROM elicense.province_secret AS p
  WHERE p.province OPERATOR(pg_catalog.=) decrypt_assignment.province;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no assignment secret is configured for province %', province
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'An elicense_admin loads the province''s private key or DES key with elicense-admin load-province-secret.';
  END IF;
  IF s.assignment_scheme OPERATOR(pg_catalog.=) 'rsa-des' AND encry_key IS NULL THEN
    RAISE EXCEPTION 'encryKey is NULL but province % decrypts assignments with rsa-des', province
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the encryKey of the platform''s answer.';
  END IF;
  SELECT d.kind, d.code, d.url INTO kind, code, url
  FROM elicense._decrypt_assignment(encry_certid, encry_key, s.assignment_scheme, s.secret_box) AS d;
  -- Only what the platform assigns may reach a licence: an assigned code
  -- (18 digits) or a QR URL on the platform's host. The errors say what is
  -- wrong, never the plaintext (a wrong key decrypts to anything).
  SELECT c.assigned_code_pattern, c.qr_url_prefix INTO code_pattern, url_prefix FROM elicense.delivery_config AS c;
  code_pattern := coalesce(code_pattern, '^[0-9]{18}$');
  url_prefix := coalesce(url_prefix, 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?');
  IF kind OPERATOR(pg_catalog.=) 'code' AND code OPERATOR(pg_catalog.!~) code_pattern THEN
    RAISE EXCEPTION 'the decrypted assignment is not an assigned code: its % characters do not match %',
        pg_catalog.length(code), code_pattern
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The platform assigns an 18-digit code or a QR URL. Check the province''s secret in elicense.province_secret, or elicense.delivery_config.assigned_code_pattern.';
  END IF;
  IF kind OPERATOR(pg_catalog.=) 'url' AND NOT pg_catalog.starts_with(url, url_prefix) THEN
    RAISE EXCEPTION 'the decrypted assignment is a URL that does not start with the QR prefix %', url_prefix
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The platform''s QR URLs start with elicense.delivery_config.qr_url_prefix; correct it if the platform moved.';
  END IF;
END
$$;
-- The preview keys.
DROP TRIGGER preview_key_length ON elicense.preview_key;
DROP FUNCTION elicense._preview_token(bytea, integer, text, bigint);
DROP FUNCTION elicense._preview_token_check(text, bytea);
CREATE FUNCTION elicense._preview_key_box(secret bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_preview_key_box'
LANGUAGE C VOLATILE;
CREATE FUNCTION elicense._preview_token(secret_box bytea, key_id integer, identifier text, expires_at bigint) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_preview_token_boxed'
LANGUAGE C STABLE STRICT;
CREATE FUNCTION elicense._preview_token_check(token text, secret_box bytea, OUT identifier text, OUT expires_at bigint)
AS 'MODULE_PATHNAME', 'elicense_preview_token_check_boxed'
LANGUAGE C STABLE STRICT;
REVOKE ALL ON FUNCTION elicense._preview_key_box(bytea), elicense._preview_token(bytea, integer, text, bigint),
    elicense._preview_token_key_id(text), elicense._preview_token_check(text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._preview_key_box(bytea) IS
'Internal: a preview key encrypted under the master key: 32 fresh random bytes for NULL, else the key given (at least 32 bytes)';
COMMENT ON FUNCTION elicense._preview_token(bytea, integer, text, bigint) IS
'Internal: preview token for a licence identifier valid until expires_at (Unix seconds), signed with the key in secret_box';
COMMENT ON FUNCTION elicense._preview_token_key_id(text) IS
'Internal: key id of a well-formed preview token, NULL for anything else';
COMMENT ON FUNCTION elicense._preview_token_check(text, bytea) IS
'Internal: identifier and expiry of a token signed with the key in secret_box; NULLs if it is not';

ALTER TABLE elicense.preview_key ADD COLUMN secret_box bytea;
UPDATE elicense.preview_key SET secret_box = elicense._preview_key_box(secret);
ALTER TABLE elicense.preview_key ALTER COLUMN secret_box SET NOT NULL;
ALTER TABLE elicense.preview_key DROP COLUMN secret;
CLUSTER elicense.preview_key USING preview_key_pkey;
ALTER TABLE elicense.preview_key SET WITHOUT CLUSTER;
CREATE OR REPLACE FUNCTION elicense._preview_key_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.secret_box IS NULL OR elicense._secret_key_id(NEW.secret_box) IS NULL THEN
    RAISE EXCEPTION 'elicense.preview_key.secret_box is not an encrypted secret'
      USING ERRCODE = 'check_violation', HINT = 'Make keys with elicense.rotate_preview_key(); the value is not repeated here.';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER preview_key_is_boxed BEFORE INSERT OR UPDATE ON elicense.preview_key
    FOR EACH ROW EXECUTE FUNCTION elicense._preview_key_check();

COMMENT ON TABLE elicense.preview_key IS
'HMAC keys of preview tokens, encrypted under the master key; the newest signs, every row verifies (delete a row to invalidate its URLs); admin only';
COMMENT ON COLUMN elicense.preview_key.secret_box IS
'32 random bytes made by elicense.rotate_preview_key, AES-256-GCM under the master key (elicense.master_key_file)';
REVOKE INSERT ON elicense.preview_key FROM elicense_admin;
CREATE OR REPLACE FUNCTION elicense.rotate_preview_key() RETURNS integer
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
  INSERT INTO elicense.preview_key (id, secret_box) VALUES (new_id, elicense._preview_key_box(NULL));
  RETURN new_id;
END
$$;
CREATE OR REPLACE FUNCTION elicense.preview_url(identifier text) RETURNS text
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
    url := replace(url, '{token}', elicense._preview_token(k.secret_box, k.id, preview_url.identifier,
        least(extract(epoch FROM anchor + lifetime)::bigint, 4294967295)));
  END IF;
  RETURN url;
END
$$;
CREATE OR REPLACE FUNCTION elicense._preview_claims(token text, OUT identifier text, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ch.identifier, to_timestamp(ch.expires_at)
    FROM elicense.preview_key k,
         LATERAL elicense._preview_token_check(token, k.secret_box) ch
   WHERE k.id = elicense._preview_token_key_id(token) AND ch.identifier IS NOT NULL
$$;


-- After a master key rotation (docs/seal-signers.md): the old key in
-- elicense.previous_master_key_file, the new one in elicense.master_key_file.
-- Every stored secret: seals, province secrets, preview keys, and the
-- archived licence files.
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


-- Delivery throughput (issue 22, h-thru): lease_steps leases in one
-- statement walking outbox_open, builds the query item only for a step that
-- will query and writes each leased row once, its request with it;
-- record_attempt is PL/pgSQL (its INSERT planned once per
-- session). Each is created here once, from its part's final text:
-- lease_steps replaces 0.2.0's three-argument function (dropped above) with
-- the max_stock argument and lane column of the stock lanes (h-stock).

-- The request item and query item of a step lease_steps takes, or why they
-- cannot be built (the step then goes dead with it). The query item is built
-- only for a step that will query first (confirm, or a step an earlier
-- attempt may have done: needs_query; validate never asks): it costs as much
-- as the request and most steps never use it. With the planner's defaults
-- (SET here: lease_steps turns sequential and bitmap scans off, and the
-- items' reads of small catalogue tables would then cost 1e10 and be
-- JIT-compiled).
CREATE FUNCTION elicense._lease_items(cert elicense.certificate, identifier text, step text, needs_query boolean,
                                      ecert_id uuid, OUT item jsonb, OUT query_item jsonb, OUT problem text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
SET enable_seqscan = on SET enable_bitmapscan = on AS $$
BEGIN
  IF cert.identifier IS NULL THEN
    problem := pg_catalog.format('licence "%s" does not exist', identifier);
    RETURN;
  END IF;
  BEGIN
    IF step <> 'confirm' THEN  -- confirm only queries
      item := elicense._platform_item(cert, step, ecert_id);
      IF item IS NULL THEN
        problem := pg_catalog.format('licence type %s has no request field for step %s in elicense.platform_field', cert.type_code, step);
        RETURN;
      END IF;
    END IF;
    IF step = 'confirm' OR (needs_query AND step <> 'validate') THEN
      query_item := elicense._platform_item(cert, 'query', ecert_id);
    END IF;
  EXCEPTION WHEN OTHERS THEN  -- missing required value, unmapped code, bad format
    item := NULL;
    query_item := NULL;
    problem := SQLERRM;
  END;
END
$$;
REVOKE ALL ON FUNCTION elicense._lease_items(elicense.certificate, text, text, boolean, uuid) FROM PUBLIC;
COMMENT ON FUNCTION elicense._lease_items(elicense.certificate, text, text, boolean, uuid) IS
'Internal: the request and query items of a step elicense.lease_steps takes, or why they cannot be built';

-- Leases due rows, and rows whose lease lapsed (their worker died: the
-- outcome of its request is unknown). A step waits until every earlier step
-- of every earlier version of the same licence is done. max_stock caps the
-- stock rows among them (NULL: no cap), so that a worker can keep room for
-- live steps; the stock rows over the cap are locked by this statement only,
-- not leased. Each leased row comes with its request item and query item
-- (_lease_items), built with the step's eCertID: made at its first lease and
-- kept for every resend, so the platform can recognise a duplicate. A row
-- whose items cannot be built (missing required value, unmapped code, no
-- fields) goes dead with the reason; the other rows are still leased.
-- One statement: the items are built from the leased rows and their licences
-- (one snapshot: a licence committed after the caller's statement began is
-- seen with its leased step), and each row is written once, leased with its
-- request kept (resident IDs masked: _request_at_rest) or dead. A second
-- UPDATE of every leased row to store its request was a tenth of the lease.
-- Without bitmap and sequential scans: the lease must walk outbox_open in its
-- order and stop after max_rows. With the statistics of a small or new queue
-- (a burst into a fresh install, before autovacuum's ANALYZE) the planner
-- chose a bitmap scan of every open row, ran the per-licence order probe on
-- each and sorted them all: 1.8 ms for 8 of 200 due rows, growing with the
-- queue, against 0.13 ms walking the index. PL/pgSQL, so that the statement
-- is planned once per session; no JIT (a read without an index costs 1e10).
CREATE FUNCTION elicense.lease_steps(worker_id text, max_rows integer, lease_seconds integer, max_stock integer DEFAULT NULL)
RETURNS TABLE (outbox_id bigint, identifier text, step text, attempts integer, needs_query boolean, type_code text,
               authority_division text, ecert_id text, request jsonb, query_request jsonb, lane text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off SET enable_seqscan = off SET jit = off AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH due_any AS (
    SELECT o.id, o.status AS old_status, o.lane <> 'live' AS stock
      FROM elicense.outbox o
     WHERE ((o.status = 'pending' AND o.next_attempt_at <= now())
            OR (o.status = 'in_flight' AND o.lease_expires_at < now()))
       AND NOT EXISTS (
             SELECT FROM elicense.certificate mine
               JOIN elicense.certificate sib ON sib.original_identifier = mine.original_identifier
               JOIN elicense.outbox e ON e.identifier = sib.identifier
              WHERE mine.identifier = o.identifier
                AND (e.version, e.step_order) < (o.version, o.step_order)
                AND e.status <> 'done'
             OFFSET 0)  -- keeps this a per-row probe: as an anti-join it would scan the whole queue
     ORDER BY o.lane <> 'live', o.next_attempt_at, o.id  -- live approvals before stock (outbox_open)
     LIMIT lease_steps.max_rows
       FOR UPDATE OF o SKIP LOCKED
  ), due AS (
    SELECT d.id, d.old_status
      FROM (SELECT a.id, a.old_status, a.stock, row_number() OVER (PARTITION BY a.stock ORDER BY a.id) AS n FROM due_any a) d
     WHERE NOT d.stock OR lease_steps.max_stock IS NULL OR d.n <= lease_steps.max_stock
  ), taken_over AS (
    INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
    SELECT o.id, o.identifier, o.step, 'in_flight', 'in_flight', 'lease of ' || o.lease_owner || ' lapsed', lease_steps.worker_id
      FROM elicense.outbox o JOIN due ON due.id = o.id
     WHERE due.old_status = 'in_flight'
  ), built AS MATERIALIZED (
    SELECT o.id, g.guid, g.asks, c.type_code::text, c.authority_division::text, b.item, b.query_item, b.problem
      FROM due JOIN elicense.outbox o ON o.id = due.id
      LEFT JOIN elicense.certificate c ON c.identifier = o.identifier
     CROSS JOIN LATERAL (SELECT coalesce(o.ecert_id, gen_random_uuid()) AS guid,
                                o.needs_query OR due.old_status = 'in_flight' AS asks) g
     CROSS JOIN LATERAL elicense._lease_items(c, o.identifier, o.step, g.asks, g.guid) b
  ), leased AS (
    UPDATE elicense.outbox o
       SET status = CASE WHEN b.problem IS NULL THEN 'in_flight' ELSE 'dead' END,
           lease_owner = CASE WHEN b.problem IS NULL THEN lease_steps.worker_id END,
           lease_expires_at = CASE WHEN b.problem IS NULL THEN now() + make_interval(secs => lease_steps.lease_seconds) END,
           attempts = o.attempts + 1,
           needs_query = b.asks,
           ecert_id = b.guid,
           request = CASE WHEN b.problem IS NULL THEN elicense._request_at_rest(b.item) ELSE o.request END,
           last_error = CASE WHEN b.problem IS NULL THEN o.last_error ELSE 'cannot build the request: ' || b.problem END,
           updated_at = now()
      FROM built b
     WHERE o.id = b.id
    RETURNING o.id, o.identifier, o.step, o.attempts, o.needs_query, o.lane, o.last_error, b.problem IS NULL AS ok
  ), dead AS (
    INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
    SELECT l.id, l.identifier, l.step, 'in_flight', 'dead', l.last_error, lease_steps.worker_id FROM leased l WHERE NOT l.ok
  )
  SELECT l.id, l.identifier, l.step, l.attempts, l.needs_query, b.type_code, b.authority_division, b.guid::text, b.item,
         b.query_item, l.lane
    FROM leased l JOIN built b ON b.id = l.id
   WHERE l.ok
   ORDER BY l.id;
END
$$;
COMMENT ON FUNCTION elicense.lease_steps(text, integer, integer, integer) IS
'Leases up to max_rows due delivery steps (of them at most max_stock in the stock lane, if given) for lease_seconds, live lane before stock lane, in per-licence order, skipping rows other workers hold; each with its eCertID, request item (NULL for confirm), query item (only for a step that will query first: confirm, or needs_query except validate; NULL when the type has no query fields) and lane (the worker shares its rate limit between lanes). A step whose request cannot be built goes dead with the reason';
REVOKE ALL ON FUNCTION elicense.lease_steps(text, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.lease_steps(text, integer, integer, integer) TO elicense_worker;

-- PL/pgSQL, not SQL: a SQL function's INSERT is planned at every call (one
-- per request sent), a PL/pgSQL one once per session.
CREATE FUNCTION elicense.record_attempt(outbox_id bigint, identifier text, step text, endpoint text, http_status integer,
    return_code text, return_message text, duration_ms integer, worker_id text, outcome text, ecert_id text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO elicense.delivery_attempt (outbox_id, identifier, step, endpoint, http_status, return_code, return_message,
                                         duration_ms, worker_id, outcome, ecert_id)
  VALUES (record_attempt.outbox_id, record_attempt.identifier, record_attempt.step, record_attempt.endpoint,
          record_attempt.http_status, record_attempt.return_code, record_attempt.return_message, record_attempt.duration_ms,
          record_attempt.worker_id, record_attempt.outcome, nullif(record_attempt.ecert_id, '')::uuid);
END
$$;
COMMENT ON FUNCTION elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text, text) IS
'Records one call to the national platform (the endpoint must come without its token) and the eCertID it carried';
REVOKE ALL ON FUNCTION elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text, text) TO elicense_worker;

--------------------------------------------------------------------------------
-- Issue 19, archived licence files at rest (h-files): elicense.sealed_file,
-- new in 0.3.0, keeps each file only encrypted under the master key
-- (file_box, _sealed_file_box/_matches/_reencrypt; licence_verify and
-- reencrypt_secrets use them). 0.2.0 has no such table, so there are no clear
-- rows to encrypt: the changes are made where this script creates those
-- objects (h-verify's block and reencrypt_secrets above), not here.
--------------------------------------------------------------------------------

--------------------------------------------------------------------------------
-- Issue 19, resident ID numbers at rest (docs/personal-data.md): no full
-- resident ID number in clear in a stored row. The vault itself (index key
-- table, C functions, _protect_ids ...) is the new part
-- 48_resident_id_vault.sql, which runs after this block and converts the
-- rows 0.2.0 stored (elicense._protect_stored_ids), then validates the
-- constraint added NOT VALID here.
--------------------------------------------------------------------------------
ALTER TABLE elicense.certificate DROP CONSTRAINT certificate_holder_id_valid,
    ADD COLUMN holder_ref bytea, ADD COLUMN id_box bytea,
    ADD CONSTRAINT certificate_holder_id_valid CHECK (CASE holder_id_type
        WHEN 'USCC' THEN elicense.is_valid_uscc(holder_id) AND holder_ref IS NULL
        ELSE holder_id OPERATOR(pg_catalog.~) '^[0-9]{6}\*{8}[0-9]{3}[0-9X]$' AND holder_ref IS NOT NULL AND id_box IS NOT NULL END) NOT VALID;
CREATE INDEX certificate_holder_ref ON elicense.certificate (holder_ref) WHERE holder_ref IS NOT NULL;
COMMENT ON INDEX elicense.certificate_holder IS 'Licences of a holder by USCC';
COMMENT ON INDEX elicense.certificate_holder_ref IS 'Licences of a holder by the blind index of a resident ID number';
COMMENT ON COLUMN elicense.certificate.holder_id IS 'Holder identity number: a USCC as it is; a resident ID number masked (first 6 and last 4), the full number only in id_box';
COMMENT ON COLUMN elicense.certificate.business_data IS 'Business items (业务数据) of the type that are not metadata columns, validated against elicense.licence_item; resident ID items masked (full numbers in id_box)';
COMMENT ON COLUMN elicense.certificate.holder_ref IS
'Blind index of the holder''s resident ID number (HMAC-SHA256 under elicense.holder_index_key, 16 bytes): finds a holder''s licences; NULL for a USCC';
COMMENT ON COLUMN elicense.certificate.id_box IS
'The full resident ID numbers of the row (holder_id, resident_id items of business_data), AES-256-GCM under the master key; NULL when it has none';

ALTER TABLE elicense.usage_code ADD COLUMN holder_ref bytea, ADD COLUMN id_box bytea,
    ADD CONSTRAINT usage_code_holder_at_rest CHECK ((holder_ref IS NULL) = (id_box IS NULL)
        AND (holder_ref IS NULL OR strpos(holder_id, '*') > 0)) NOT VALID;
COMMENT ON COLUMN elicense.usage_code.holder_id IS
'The holder: a USCC as it is, a resident ID number masked (first 6 and last 4)';
COMMENT ON COLUMN elicense.usage_code.holder_ref IS 'Blind index of a resident ID holder (as certificate.holder_ref); NULL for a USCC';
COMMENT ON COLUMN elicense.usage_code.id_box IS 'A resident ID holder''s full number, AES-256-GCM under the master key (shown to grants that may see ID numbers)';
COMMENT ON COLUMN elicense.usage_audit.holder_id IS 'Holder asked for: a USCC as it is, anything else masked (first 6 and last 4; elicense._record masks it)';
ALTER TYPE elicense._usage_context ADD ATTRIBUTE holder_ref bytea, ADD ATTRIBUTE holder_box bytea;

CREATE OR REPLACE FUNCTION elicense._licence_from_data(p_type_code text, p_data jsonb) RETURNS elicense.certificate
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t elicense.licence_type;
  it elicense.licence_item;
  c elicense.certificate;
  v jsonb;
  s text;
  d date;
  bad text;
  birth date;
  known text[] := '{}';
  id_items text[] := '{}';
  clear jsonb;
  index_key bytea;
BEGIN
  SELECT * INTO t FROM elicense.licence_type lt WHERE lt.type_code = p_type_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown licence type "%"', p_type_code
      USING ERRCODE = 'undefined_object',
            HINT = 'Licence types are the rows of elicense.licence_type, e.g. 11100000000013338W050 (安许证) or 11100000000013338W032 (特种作业).';
  END IF;
  IF p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN
    RAISE EXCEPTION 'licence data must be a JSON object, not %', coalesce(jsonb_typeof(p_data), 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass {"item": "value", ...} with the items of elicense.licence_item for the type.';
  END IF;

  c.type_code := t.type_code;
  c.holder_id_type := t.holder_id_type;
  c.business_data := '{}';
  FOR it IN SELECT * FROM elicense.licence_item li WHERE li.type_code = p_type_code ORDER BY li.position LOOP
    known := known || it.item;
    v := p_data -> it.item;
    s := CASE WHEN jsonb_typeof(v) IN ('string', 'number') THEN btrim(v #>> '{}') END;
    IF v IS NOT NULL AND jsonb_typeof(v) NOT IN ('string', 'number', 'null') THEN
      RAISE EXCEPTION 'item "%" (%) must be a string, not a JSON %', it.item, it.label, jsonb_typeof(v)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Give every item as a JSON string.';
    END IF;
    IF s IS NULL OR s = '' THEN
      IF it.required THEN
        RAISE EXCEPTION 'missing required item "%" (%) of licence type %', it.item, it.label, t.type_code
          USING ERRCODE = 'not_null_violation',
                HINT = pg_catalog.format('Licence type %s (%s) requires a non-empty value for "%s".', t.type_code, t.name, it.item);
      END IF;
      CONTINUE;
    END IF;
    IF it.max_length IS NOT NULL AND length(s) > it.max_length THEN
      RAISE EXCEPTION 'item "%" (%) is % characters long, more than its maximum of %', it.item, it.label, length(s), it.max_length
        USING ERRCODE = 'string_data_right_truncation', HINT = 'Shorten the value; the limit is in elicense.licence_item.max_length.';
    END IF;
    -- Printed text only: an image item is Base64, which may have line breaks.
    IF s ~ '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]' AND it.data_type <> 'image' THEN
      PERFORM elicense._refuse_unsafe_text(s, pg_catalog.format('item "%s" (%s)', it.item, it.label));
    END IF;
    IF it.allowed_values IS NOT NULL AND NOT s = ANY (it.allowed_values) THEN
      RAISE EXCEPTION 'item "%" (%) has value "%", which is not one of %', it.item, it.label, s, array_to_string(it.allowed_values, ', ')
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Use one of the values in elicense.licence_item.allowed_values.';
    END IF;
    d := NULL;
    CASE it.data_type
      WHEN 'date' THEN
        -- Fast path without a function call: days 01-28 exist in every month,
        -- and YYYY-MM-DD input is read the same under every DateStyle.
        IF s ~ '^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$' THEN
          d := s::date;
        ELSE
          d := elicense._item_date(s, it.item, it.label);
          s := to_char(d, 'YYYY-MM-DD');
        END IF;
      WHEN 'uscc' THEN
        PERFORM elicense.check_uscc(s, it.item);
      WHEN 'resident_id' THEN
        PERFORM elicense.check_resident_id(s, it.item);
        IF it.metadata_column IS NULL THEN
          id_items := id_items || it.item::text;
        END IF;
      WHEN 'division_code' THEN
        PERFORM elicense.check_division(s, it.item);
      WHEN 'image' THEN
        s := elicense._item_image(s, it.item, it.label);
      ELSE
        NULL;
    END CASE;
    CASE it.metadata_column
      WHEN 'licence_number' THEN c.licence_number := s;
      WHEN 'holder_name' THEN c.holder_name := s;
      WHEN 'holder_id' THEN c.holder_id := s;
      WHEN 'authority_name' THEN c.authority_name := s;
      WHEN 'authority_uscc' THEN c.authority_uscc := s;
      WHEN 'authority_division' THEN c.authority_division := s;
      WHEN 'issue_date' THEN c.issue_date := d;
      WHEN 'valid_from' THEN c.valid_from := d;
      WHEN 'valid_to' THEN c.valid_to := d;
      ELSE c.business_data := c.business_data || jsonb_build_object(it.item, s);
    END CASE;
  END LOOP;

  -- Keys that are no item of the type (a query only when there are some).
  IF (p_data - known) <> '{}'::jsonb THEN
    SELECT string_agg(pg_catalog.format('"%s"', k), ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(p_data - known) AS k;
    RAISE EXCEPTION 'unknown item % for licence type % (%)', bad, t.type_code, t.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The items of each type are listed in elicense.licence_item; a DBA can add items there.';
  END IF;

  -- The catalogue must fill every NOT NULL metadata column.
  bad := concat_ws(', ',
    CASE WHEN c.licence_number IS NULL THEN 'licence_number' END, CASE WHEN c.holder_name IS NULL THEN 'holder_name' END,
    CASE WHEN c.holder_id IS NULL THEN 'holder_id' END, CASE WHEN c.authority_name IS NULL THEN 'authority_name' END,
    CASE WHEN c.authority_uscc IS NULL THEN 'authority_uscc' END, CASE WHEN c.authority_division IS NULL THEN 'authority_division' END,
    CASE WHEN c.issue_date IS NULL THEN 'issue_date' END, CASE WHEN c.valid_from IS NULL THEN 'valid_from' END);
  IF bad <> '' THEN
    RAISE EXCEPTION 'licence type % has no required item for metadata column(s) %', t.type_code, bad
      USING ERRCODE = 'not_null_violation',
            HINT = 'Add required items with these metadata_column values to elicense.licence_item.';
  END IF;

  IF c.licence_number !~ t.number_pattern THEN
    RAISE EXCEPTION 'invalid certificate number "%" for licence type % (%)', c.licence_number, t.type_code, t.name
      USING ERRCODE = 'invalid_text_representation',
            HINT = pg_catalog.format('Certificate numbers of this type look like %s (pattern %s).', t.number_example, t.number_pattern);
  END IF;
  IF c.valid_to IS NOT NULL AND c.valid_to <= c.valid_from THEN
    RAISE EXCEPTION 'valid_to % is not after valid_from %', to_char(c.valid_to, 'YYYY-MM-DD'), to_char(c.valid_from, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The end of validity (有效期止) must be later than its start (有效期起).';
  END IF;
  IF c.issue_date > current_date THEN
    RAISE EXCEPTION 'issue_date % is in the future', to_char(c.issue_date, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A licence is issued on or before the day it is recorded (发证日期 <= today).';
  END IF;
  IF c.holder_id_type = 'RESIDENT_ID' THEN
    birth := elicense.resident_id_birth_date(c.holder_id);
    IF birth > c.issue_date THEN
      RAISE EXCEPTION 'holder_id % gives birth date %, after the issue date %', elicense._mask_resident_id(c.holder_id), to_char(birth, 'YYYY-MM-DD'), to_char(c.issue_date, 'YYYY-MM-DD')
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Check the resident ID number and the issue date.';
    END IF;
    IF t.min_holder_age IS NOT NULL AND birth + make_interval(years => t.min_holder_age) > c.issue_date THEN
      RAISE EXCEPTION 'holder born % is younger than % on the issue date %', to_char(birth, 'YYYY-MM-DD'), t.min_holder_age, to_char(c.issue_date, 'YYYY-MM-DD')
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.format('Licence type %s (%s) requires a holder aged at least %s.', t.type_code, t.name, t.min_holder_age);
    END IF;
  END IF;
  -- Checked on the clear values above; returned as stored (48_resident_id_vault.sql):
  -- the full numbers sealed in id_box, the holder's blind index, masked values.
  -- Written out here, not a call: this runs for every approval, and a SQL
  -- function called from PL/pgSQL is planned at every call.
  IF c.holder_id_type = 'RESIDENT_ID' THEN
    clear := jsonb_build_object('holder_id', c.holder_id);
  END IF;
  FOREACH s IN ARRAY id_items LOOP
    IF c.business_data ? s THEN
      clear := coalesce(clear, '{}') || jsonb_build_object('items', coalesce(clear -> 'items', '{}') || jsonb_build_object(s, c.business_data ->> s));
      c.business_data := c.business_data || jsonb_build_object(s, left(c.business_data ->> s, 6)
          || repeat('*', length(c.business_data ->> s) - 10) || right(c.business_data ->> s, 4));
    END IF;
  END LOOP;
  IF clear IS NOT NULL THEN
    c.id_box := elicense._ids_seal(clear::text);  -- 55000 without a master key
    IF c.holder_id_type = 'RESIDENT_ID' THEN
      SELECT k.key_box INTO index_key FROM elicense.holder_index_key k WHERE k.id = 1;
      c.holder_ref := elicense._holder_index(coalesce(index_key, elicense._holder_index_key()), c.holder_id);
      c.holder_id := left(c.holder_id, 6) || repeat('*', length(c.holder_id) - 10) || right(c.holder_id, 4);
    END IF;
  END IF;
  RETURN c;
END
$$;
CREATE OR REPLACE FUNCTION elicense._changed_row(c elicense.certificate, data jsonb) RETURNS elicense.certificate
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n elicense.certificate;
  cur jsonb;
  merged jsonb;
  stored jsonb;
  it record;
BEGIN
  IF data IS NULL OR jsonb_typeof(data) <> 'object' THEN
    RAISE EXCEPTION 'changed licence data must be a JSON object, not %', coalesce(jsonb_typeof(data), 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass {"item": "new value", ...}; a JSON null removes an optional item.';
  END IF;
  -- Items of the current version, metadata columns included, with their
  -- full resident ID numbers (the new version is checked and sealed anew).
  c := elicense._reveal_ids(c);
  stored := to_jsonb(c);
  cur := c.business_data;
  FOR it IN SELECT li.item, li.metadata_column FROM elicense.licence_item li
             WHERE li.type_code = c.type_code AND li.metadata_column IS NOT NULL LOOP
    cur := cur || jsonb_build_object(it.item, stored ->> it.metadata_column);
  END LOOP;
  cur := jsonb_strip_nulls(cur);
  merged := jsonb_strip_nulls(cur || data);
  IF merged = cur THEN
    RAISE EXCEPTION 'the change to licence % changes nothing', c.identifier
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass only the items that change, with their new values.';
  END IF;
  n := elicense._licence_from_data(c.type_code, merged);
  IF n.authority_uscc::text <> c.authority_uscc::text THEN
    RAISE EXCEPTION 'the issuing authority of licence % cannot change (% to %)', c.identifier, c.authority_uscc, n.authority_uscc
      USING ERRCODE = 'invalid_parameter_value', HINT = 'The authority is part of the identifier; issue a new licence instead.';
  END IF;
  IF n.licence_number <> c.licence_number THEN
    RAISE EXCEPTION 'the certificate number of licence % cannot change (% to %)', c.identifier, c.licence_number, n.licence_number
      USING ERRCODE = 'invalid_parameter_value', HINT = 'A licence keeps its number across versions; issue a new licence instead.';
  END IF;
  RETURN n;
END
$$;
CREATE OR REPLACE FUNCTION elicense._public_face(c elicense.certificate) RETURNS elicense.certificate
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
CREATE OR REPLACE FUNCTION elicense._record(r jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  r := r || jsonb_build_object('at', clock_timestamp(), 'db_user', elicense._caller_role(), 'recorded_by', 'writer');
  IF r ? 'holder_id' THEN  -- the audit keeps no full resident ID number
    r := r || jsonb_build_object('holder_id', elicense._mask_any_holder(r ->> 'holder_id'));
  END IF;
  SELECT jsonb_object_agg(e.key, CASE
           WHEN jsonb_typeof(e.value) = 'string' AND length(e.value #>> '{}') > CASE e.key WHEN 'message' THEN 2000 ELSE 256 END
           THEN to_jsonb(left(e.value #>> '{}', CASE e.key WHEN 'message' THEN 2000 ELSE 256 END)
                         || format('… (%s characters)', length(e.value #>> '{}')))
           ELSE e.value END)
    INTO r FROM jsonb_each(r) e;
  RETURN elicense._audit_autonomous(r::text);
END
$$;
CREATE OR REPLACE FUNCTION elicense._code_context(usage_code text) RETURNS elicense._usage_context
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
  x.holder_ref := u.holder_ref;
  x.holder_box := u.id_box;
  x.code_types := u.type_codes;
  x.context := u.context;
  x.officer := u.context ->> 'officer';
  x.business_id := u.context ->> 'business_id';
  -- x.department stays the grant's: the context's "department" is what the
  -- caller wrote, kept in the code's context but never taken as its identity.
  x.purpose := coalesce(u.context ->> 'purpose', x.purpose);
  x.expires_at := u.expires_at;
  IF x.refusal_state IS NOT NULL THEN
    RETURN x;
  END IF;
  IF x.grant_id IS DISTINCT FROM u.grant_id THEN
    x.refusal_state := '42501';
    x.refusal_message := format('usage code %s was made under another grant than role "%s" holds', u.id, elicense._caller_role());
    x.refusal_hint := 'A usage code is used by the department application that made it.';
  ELSIF u.expires_at <= now() THEN
    x.refusal_state := '28000';
    x.refusal_message := format('usage code %s expired at %s', u.id, u.expires_at);
    x.refusal_hint := 'Usage codes are short-lived; create a new one for the request.';
  END IF;
  RETURN x;
END
$$;
CREATE OR REPLACE FUNCTION elicense._require_code_holder(x elicense._usage_context, holder_id text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ref bytea := elicense._holder_ref(holder_id);
BEGIN
  IF ref IS DISTINCT FROM x.holder_ref OR (ref IS NULL AND holder_id IS DISTINCT FROM x.holder_id) THEN
    RAISE EXCEPTION 'usage code % was made for another holder', x.code_id USING ERRCODE = 'insufficient_privilege',
      HINT = 'A usage code opens the licences of the one holder it was made for.';
  END IF;
END
$$;
CREATE OR REPLACE FUNCTION elicense._share(c elicense.certificate, may_see_id_numbers boolean, with_data boolean)
RETURNS elicense.licence_share
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF may_see_id_numbers THEN
    c := elicense._reveal_ids(c);
  END IF;
  RETURN ROW(c.identifier, c.original_identifier, c.version, c.superseded_at IS NULL, c.type_code,
             (SELECT t.name FROM elicense.licence_type t WHERE t.type_code = c.type_code), c.licence_number,
             c.holder_name, c.holder_id_type,
             CASE WHEN may_see_id_numbers THEN c.holder_id ELSE elicense.mask_holder_id(c.holder_id_type, c.holder_id) END,
             c.authority_name, c.authority_uscc, c.authority_division, c.issue_date, c.valid_from, c.valid_to, c.status,
             elicense.effective_status(c.status, c.valid_to),
             -- Resident ID items (W050 principal_id) are masked like the holder's.
             CASE WHEN NOT with_data THEN NULL WHEN may_see_id_numbers THEN c.business_data
                  ELSE c.business_data || coalesce((SELECT jsonb_object_agg(i.item, elicense.mask_holder_id('RESIDENT_ID', c.business_data ->> i.item))
                                                      FROM elicense.licence_item i
                                                     WHERE i.type_code = c.type_code AND i.data_type = 'resident_id'
                                                       AND c.business_data ? i.item), '{}') END)::elicense.licence_share;
END
$$;
CREATE OR REPLACE FUNCTION elicense._render_copy(identifier text, purpose text, valid_until date, mask_id boolean) RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  file bytea;
BEGIN
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = _render_copy.identifier;
  IF c.qr_url IS NULL THEN
    RAISE EXCEPTION 'licence % has no QR code yet', identifier USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = 'The file exists once the national platform has assigned a code (赋码); ask again later.';
  END IF;
  IF mask_id THEN
    c.holder_id := elicense.mask_holder_id(c.holder_id_type, c.holder_id);
  ELSE
    c := elicense._reveal_ids(c);
  END IF;
  file := elicense._render_version_ofd(c, false, purpose, to_char(valid_until, 'YYYY-MM-DD'));
  PERFORM elicense._archive_file(c.identifier, file, valid_until);  -- licence_verify compares with it
  RETURN file;
END
$$;
CREATE OR REPLACE FUNCTION elicense._licence_for_code(x elicense._usage_context, identifier text) RETURNS elicense.certificate
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
BEGIN
  SELECT * INTO c FROM elicense.certificate v WHERE v.identifier = _licence_for_code.identifier;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no licence with identifier "%"', identifier USING ERRCODE = 'no_data_found',
      HINT = 'Find identifiers with elicense.licence_info_by_holder or elicense.licence_search.';
  END IF;
  IF c.holder_ref IS DISTINCT FROM x.holder_ref OR (x.holder_ref IS NULL AND c.holder_id <> x.holder_id) THEN
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
CREATE OR REPLACE FUNCTION elicense.usage_code_info(usage_code text,
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
    PERFORM elicense._bound_arguments(ARRAY['usage_code'], ARRAY[usage_code]);
    -- An expired code is answered (valid = false); any other refusal is raised.
    IF x.refusal_state IS NOT NULL AND NOT (x.refusal_state = '28000' AND x.code_id IS NOT NULL) THEN
      PERFORM elicense._raise_refusal(x);
    END IF;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  valid := x.expires_at > now();
  scenario := x.scenario;
  department := x.department;
  holder_id := CASE WHEN NOT x.may_see_id_numbers THEN elicense._mask_any_holder(x.holder_id)
                    WHEN x.holder_box IS NOT NULL THEN elicense._ids_open(x.holder_box)::jsonb ->> 'holder_id'
                    ELSE x.holder_id END;
  licence_types := x.code_types;
  context := x.context;
  expires_at := x.expires_at;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', 1,
                                                   'message', CASE WHEN valid THEN 'valid' ELSE 'expired' END));
END
$$;
CREATE OR REPLACE FUNCTION elicense.licence_info_by_holder(usage_code text, holder_id text) RETURNS SETOF elicense.licence_share
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'licence_info_by_holder', 'holder_id', holder_id);
  x elicense._usage_context;
  n integer;
BEGIN
  BEGIN
    x := elicense._code_context(usage_code);
    a := a || elicense._audit_of(x);
    PERFORM elicense._bound_arguments(ARRAY['usage_code', 'holder_id'], ARRAY[usage_code, holder_id]);
    PERFORM elicense._raise_refusal(x);
    PERFORM elicense._require_code_holder(x, holder_id);
    RETURN QUERY
      SELECT s.* FROM elicense.certificate c, LATERAL elicense._share(c, x.may_see_id_numbers, true) s
       WHERE ((x.holder_ref IS NOT NULL AND c.holder_ref = x.holder_ref)
              OR (x.holder_ref IS NULL AND c.holder_ref IS NULL AND c.holder_id = x.holder_id))
         AND c.superseded_at IS NULL AND c.type_code = ANY (x.code_types)
       ORDER BY c.type_code, c.identifier;
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
CREATE OR REPLACE FUNCTION elicense.licence_file_by_holder(usage_code text, holder_id text,
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
    PERFORM elicense._bound_arguments(ARRAY['usage_code', 'holder_id'], ARRAY[usage_code, holder_id]);
    PERFORM elicense._raise_refusal(x);
    PERFORM elicense._require_code_holder(x, holder_id);
    SELECT coalesce(array_agg(c.identifier::text ORDER BY c.type_code, c.identifier), '{}'),
           coalesce(array_agg(c.type_code ORDER BY c.type_code, c.identifier), '{}')
      INTO ids, types
      FROM elicense.certificate c
     WHERE ((x.holder_ref IS NOT NULL AND c.holder_ref = x.holder_ref)
            OR (x.holder_ref IS NULL AND c.holder_ref IS NULL AND c.holder_id = x.holder_id))
       AND c.superseded_at IS NULL AND c.type_code = ANY (x.code_types);
    until := current_date + x.copy_valid_days;
    FOR i IN 1 .. cardinality(ids) LOOP
      files := files || elicense._render_copy(ids[i], x.purpose, until, NOT x.may_see_id_numbers);
    END LOOP;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
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
CREATE OR REPLACE FUNCTION elicense.licence_search(scenario text, type_code text DEFAULT NULL, holder_id text DEFAULT NULL,
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
    PERFORM elicense._bound_arguments(ARRAY['scenario', 'type_code', 'holder_id', 'holder_name', 'authority_uscc', 'status', 'after_identifier'],
        ARRAY[scenario, type_code, holder_id, holder_name, authority_uscc, status, after_identifier]);
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
    IF holder_id IS NOT NULL THEN
      PERFORM elicense._allow_id_search(x, holder_id);
      -- A resident ID number by its blind index ($11), a USCC as stored.
      q := q || CASE WHEN elicense.is_valid_resident_id(holder_id) THEN ' AND c.holder_ref = $11'
                     ELSE ' AND c.holder_ref IS NULL AND c.holder_id = $3' END;
    END IF;
    IF holder_name IS NOT NULL THEN q := q || ' AND c.holder_name = $4'; END IF;
    IF authority_uscc IS NOT NULL THEN q := q || ' AND c.authority_uscc = $5'; END IF;
    IF status IS NOT NULL THEN q := q || ' AND elicense.effective_status(c.status, c.valid_to) = $6'; END IF;
    IF issued_from IS NOT NULL THEN q := q || ' AND c.issue_date >= $7'; END IF;
    IF issued_to IS NOT NULL THEN q := q || ' AND c.issue_date <= $8'; END IF;
    IF after_identifier IS NOT NULL THEN q := q || ' AND c.identifier > $9'; END IF;
    q := q || ' ORDER BY c.identifier LIMIT $10';
    RETURN QUERY EXECUTE q USING x.may_see_id_numbers, types, holder_id, holder_name, authority_uscc, status,
                                 issued_from, issued_to, after_identifier, page_size, elicense._holder_ref(holder_id);
    GET DIAGNOSTICS n = ROW_COUNT;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'rows_returned', n));
END
$$;
COMMENT ON FUNCTION elicense._licence_from_data(text, jsonb) IS
'Internal: validates licence data against elicense.licence_item and returns a certificate row with metadata and business_data filled, as stored: resident ID numbers sealed in id_box, masked, the holder''s blind index in holder_ref';




--------------------------------------------------------------------------------
-- Issue 19, the ID-recovery lookup through usage codes: a grant that may not
-- see ID numbers could create a usage code per candidate number and ask
-- licence_info_by_holder; its codes by resident ID now share the search's
-- id_searches_per_minute (_within_id_lookup_rate).
--------------------------------------------------------------------------------
CREATE FUNCTION elicense._within_id_lookup_rate(x elicense._usage_context) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  per_minute integer;
BEGIN
  SELECT g.id_searches_per_minute INTO per_minute FROM elicense.usage_grant g WHERE g.id = x.grant_id;
  IF (SELECT count(*) FROM elicense.usage_audit a
       WHERE a.at > now() - interval '60 seconds' AND a.function IN ('licence_search', 'create_usage_code')
         AND a.grantee = x.grantee AND a.holder_id IS NOT NULL AND NOT elicense.is_valid_uscc(a.holder_id)) >= per_minute THEN
    RAISE EXCEPTION 'role "%" made % lookups by resident ID number in the last minute', x.grantee, per_minute
      USING ERRCODE = 'configuration_limit_exceeded',
            HINT = 'At most usage_grant.id_searches_per_minute searches and usage codes by resident ID number a minute; retry later.';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION elicense._within_id_lookup_rate(elicense._usage_context) FROM PUBLIC;
COMMENT ON FUNCTION elicense._within_id_lookup_rate(elicense._usage_context) IS
'Internal: refuses a lookup by resident ID number (licence_search, create_usage_code) over the grant''s id_searches_per_minute (53400)';
CREATE OR REPLACE FUNCTION elicense._allow_id_search(x elicense._usage_context, holder_id text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF elicense.is_valid_uscc(holder_id) THEN
    RETURN;
  END IF;
  IF NOT x.may_see_id_numbers AND NOT EXISTS (
      SELECT FROM elicense.usage_code u
       WHERE u.grant_id = x.grant_id AND u.holder_ref = elicense._holder_ref(_allow_id_search.holder_id)
         AND u.expires_at > now()) THEN
    RAISE EXCEPTION 'role "%" may not search scenario "%" by resident ID number', x.grantee, x.scenario
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Search by resident ID needs a grant that may see ID numbers, or a live usage code for that holder (create_usage_code).';
  END IF;
  PERFORM elicense._within_id_lookup_rate(x);
END
$$;
CREATE OR REPLACE FUNCTION elicense.create_usage_code(scenario text, holder_id text, licence_types text[], context jsonb,
    valid_minutes integer DEFAULT 15) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := jsonb_build_object('function', 'create_usage_code', 'scenario', scenario, 'holder_id', holder_id);
  x elicense._usage_context;
  k text;
  max_minutes integer;
  code text;
  code_id bigint;
  ref bytea;
BEGIN
  BEGIN
    x := elicense._grant_context(scenario);
    a := a || elicense._audit_of(x)
           || jsonb_strip_nulls(jsonb_build_object('officer', context ->> 'officer', 'business_id', context ->> 'business_id'));
    PERFORM elicense._bound_arguments(ARRAY['scenario', 'holder_id', 'licence_types', 'context'],
        ARRAY[scenario, holder_id, array_to_string(licence_types, ','), context::text]);
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
    IF NOT x.may_see_id_numbers AND NOT elicense.is_valid_uscc(holder_id) THEN
      PERFORM elicense._within_id_lookup_rate(x);  -- a code per candidate number would recover it
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
    -- A resident ID number is kept masked, indexed and sealed (48_resident_id_vault.sql).
    ref := elicense._holder_ref(holder_id);
    INSERT INTO elicense.usage_code (code_sha256, grant_id, holder_id, type_codes, context, expires_at, holder_ref, id_box)
    VALUES (sha256(convert_to(code, 'UTF8')), x.grant_id,
            CASE WHEN ref IS NULL THEN holder_id ELSE elicense._mask_resident_id(holder_id) END, licence_types,
            jsonb_build_object('purpose', x.purpose, 'time', now()) || context,
            now() + make_interval(mins => valid_minutes), ref,
            CASE WHEN ref IS NOT NULL THEN elicense._ids_seal(jsonb_build_object('holder_id', holder_id)::text) END)
    RETURNING id INTO code_id;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM elicense._record(a || jsonb_build_object('result', 'refused', 'sqlstate', SQLSTATE, 'message', SQLERRM));
    RAISE;
  END;
  PERFORM elicense._record(a || jsonb_build_object('result', 'ok', 'usage_code_id', code_id, 'rows_returned', 1));
  RETURN code;
END
$$;
COMMENT ON COLUMN elicense.usage_grant.id_searches_per_minute IS 'lookups by resident ID number (holder_id that is not a USCC) the grantee may make in any 60 seconds, refused ones included: licence_search calls, and create_usage_code calls of a grant that may not see ID numbers';

-- ============================================================================
-- Delivery at 1,500 requests/s with one worker (issue 22): the worker records
-- a group of results in one elicense.record_results call (60_delivery_batch.sql,
-- a part added in 0.3.0); the history of attempts and events is written only
-- by the delivery functions, with the id of a row they hold, so it keeps no
-- foreign key to the outbox (one RI check per row was a measurable part of a
-- group).
-- ============================================================================
ALTER TABLE elicense.delivery_attempt DROP CONSTRAINT IF EXISTS delivery_attempt_outbox_id_fkey;
ALTER TABLE elicense.delivery_event DROP CONSTRAINT IF EXISTS delivery_event_outbox_id_fkey;
