--------------------------------------------------------------------------------
-- Delivery: what the sync worker (elicense-sync) calls. The worker holds no
-- domain rules; these functions decide which steps are due, in which order,
-- what a returned code means and where everything is recorded:
--   lease_steps      due outbox rows, leased with FOR UPDATE SKIP LOCKED
--   renew_leases     keep leases of work in progress
--   record_attempt   one row per HTTP call (elicense.delivery_attempt)
--   step_succeeded   done; for assign_code decrypt the code, store it and the QR URL
--   step_failed      retry later with backoff, or dead (business error, attempts used up)
--   replay           an admin puts dead rows back
-- Every change of a step's status is kept in elicense.delivery_event; every
-- assigned code in elicense.code_assignment.
--------------------------------------------------------------------------------

-- At most one row; without one the defaults below apply. (No row is shipped:
-- a shipped row would be dumped and then collide with itself on restore.)
CREATE TABLE elicense.delivery_config (
    singleton            boolean PRIMARY KEY DEFAULT true CONSTRAINT delivery_config_one_row CHECK (singleton),
    preview_url_template text NOT NULL DEFAULT 'https://licence-preview.invalid/p/{token}'
        CONSTRAINT delivery_config_preview_placeholder
        CHECK (strpos(preview_url_template, '{identifier}') > 0 OR strpos(preview_url_template, '{token}') > 0),
    preview_token_lifetime interval NOT NULL DEFAULT '5 years'
        CONSTRAINT delivery_config_preview_lifetime CHECK (preview_token_lifetime >= interval '1 minute')
);
COMMENT ON TABLE elicense.delivery_config IS
'Delivery settings (at most one row; none means defaults); the worker''s own settings are in its config file';
COMMENT ON COLUMN elicense.delivery_config.preview_url_template IS
'URL of the watermarked preview sent with the collect step (归集): {token} becomes a signed, expiring preview token (elicense.preview_url), {identifier} the licence identifier';
COMMENT ON COLUMN elicense.delivery_config.preview_token_lifetime IS 'How long a preview URL made for the collect step stays valid';
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_config', '');
REVOKE ALL ON elicense.delivery_config FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.delivery_config TO elicense_admin;

CREATE TABLE elicense.delivery_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES elicense.outbox (id),
    identifier  text NOT NULL,
    step        text NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    detail      text,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX delivery_event_outbox ON elicense.delivery_event (outbox_id);
CREATE INDEX delivery_event_at ON elicense.delivery_event USING brin (at);
COMMENT ON TABLE elicense.delivery_event IS
'Every status change of a delivery step: done, retry scheduled, dead, lease taken over, replayed. Append-only';
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_event', '');

CREATE TABLE elicense.code_assignment (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier    text NOT NULL REFERENCES elicense.certificate (identifier),
    assigned_code text NOT NULL,
    qr_url        text NOT NULL,
    outbox_id     bigint NOT NULL REFERENCES elicense.outbox (id),
    worker_id     text NOT NULL,
    at            timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX code_assignment_identifier ON elicense.code_assignment (identifier);
COMMENT ON TABLE elicense.code_assignment IS 'Every code the national platform assigned (赋码), with the QR URL built from it. Append-only';
SELECT pg_catalog.pg_extension_config_dump('elicense.code_assignment', '');

CREATE TRIGGER delivery_event_append_only BEFORE UPDATE OR DELETE ON elicense.delivery_event
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change();
CREATE TRIGGER code_assignment_append_only BEFORE UPDATE OR DELETE ON elicense.code_assignment
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change();
REVOKE ALL ON elicense.delivery_event, elicense.code_assignment FROM PUBLIC;
GRANT SELECT ON elicense.delivery_event, elicense.code_assignment TO elicense_admin, elicense_worker, elicense_analyst;

-- The licence as the worker sends it (keys: worker/src/platform_mapping.hpp).
-- A status version (revoke, cancel) has no code of its own: the platform
-- knows the licence by the latest code assigned to any of its versions.
-- VOLATILE: elicense.preview_url may create the first preview key.
CREATE FUNCTION elicense._delivery_licence(p_identifier text) RETURNS jsonb
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

CREATE FUNCTION elicense.lease_steps(worker_id text, max_rows integer, lease_seconds integer)
RETURNS TABLE (outbox_id bigint, identifier text, step text, attempts integer, needs_query boolean, licence jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  -- Due rows, and rows whose lease lapsed (their worker died: the outcome of
  -- its request is unknown). A step waits until every earlier step of every
  -- earlier version of the same licence is done.
  RETURN QUERY
  WITH due AS (
    SELECT o.id, o.status AS old_status
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
     ORDER BY o.next_attempt_at, o.id
     LIMIT max_rows
       FOR UPDATE OF o SKIP LOCKED
  ), taken_over AS (
    INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
    SELECT o.id, o.identifier, o.step, 'in_flight', 'in_flight', 'lease of ' || o.lease_owner || ' lapsed', worker_id
      FROM elicense.outbox o JOIN due ON due.id = o.id
     WHERE due.old_status = 'in_flight'
  ), leased AS (
    UPDATE elicense.outbox o
       SET status = 'in_flight', lease_owner = worker_id,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           attempts = o.attempts + 1,
           needs_query = o.needs_query OR due.old_status = 'in_flight',
           updated_at = now()
      FROM due
     WHERE o.id = due.id
    RETURNING o.id, o.identifier, o.step, o.attempts, o.needs_query
  )
  SELECT l.id, l.identifier, l.step, l.attempts, l.needs_query, elicense._delivery_licence(l.identifier)
    FROM leased l;
END
$$;
COMMENT ON FUNCTION elicense.lease_steps(text, integer, integer) IS
'Leases up to max_rows due delivery steps for lease_seconds, in per-licence order, skipping rows other workers hold';

CREATE FUNCTION elicense.renew_leases(worker_id text, lease_seconds integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH renewed AS (
    UPDATE elicense.outbox SET lease_expires_at = now() + make_interval(secs => lease_seconds), updated_at = now()
     WHERE status = 'in_flight' AND lease_owner = worker_id
    RETURNING 1)
  SELECT count(*)::integer FROM renewed
$$;
COMMENT ON FUNCTION elicense.renew_leases(text, integer) IS 'Extends the leases a worker holds while its requests are in flight';

CREATE FUNCTION elicense.record_attempt(outbox_id bigint, identifier text, step text, endpoint text, http_status integer,
    return_code text, return_message text, duration_ms integer, worker_id text, outcome text) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO elicense.delivery_attempt (outbox_id, identifier, step, endpoint, http_status, return_code, return_message,
                                         duration_ms, worker_id, outcome)
  VALUES (outbox_id, identifier, step, endpoint, http_status, return_code, return_message, duration_ms, worker_id, outcome)
$$;
COMMENT ON FUNCTION elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text) IS
'Records one call to the national platform (the endpoint must come without its token)';

-- Stores the code of an assign_code answer: decrypts it with the province's
-- secret, builds the QR URL with the platform's public key, records both.
-- Returns NULL, or why the code could not be stored (never key material).
CREATE FUNCTION elicense._store_assignment(o elicense.outbox, answer jsonb, p_worker text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := answer -> 'assignments' -> 0;
  c elicense.certificate;
  province text;
  plain_kind text;
  code text;
  url text;
BEGIN
  IF a IS NULL THEN
    RETURN 'the platform answered success without an assignment';
  END IF;
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

CREATE FUNCTION elicense.step_succeeded(outbox_id bigint, worker_id text, answer jsonb) RETURNS boolean
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

CREATE FUNCTION elicense.step_failed(outbox_id bigint, worker_id text, kind text, error text, retry_in_ms bigint,
    max_attempts integer) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
  next_status text;
BEGIN
  IF kind NOT IN ('retry', 'unknown', 'business_error') THEN
    RAISE EXCEPTION 'invalid failure kind "%"', kind USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Use retry, unknown or business_error.';
  END IF;
  SELECT * INTO o FROM elicense.outbox x
   WHERE x.id = step_failed.outbox_id AND x.status = 'in_flight' AND x.lease_owner = step_failed.worker_id
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  next_status := CASE WHEN kind = 'business_error' OR o.attempts >= max_attempts THEN 'dead' ELSE 'pending' END;
  UPDATE elicense.outbox x
     SET status = next_status, last_error = error, lease_owner = NULL, lease_expires_at = NULL,
         -- once an attempt may have taken effect, every later one asks first
         needs_query = o.needs_query OR kind = 'unknown',
         next_attempt_at = now() + make_interval(secs => retry_in_ms / 1000.0), updated_at = now()
   WHERE x.id = o.id;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'in_flight', next_status, kind || ': ' || error, worker_id);
  RETURN next_status;
END
$$;
COMMENT ON FUNCTION elicense.step_failed(bigint, text, text, text, bigint, integer) IS
'Records a failed attempt: pending again after retry_in_ms, or dead after a business error or max_attempts';

CREATE FUNCTION elicense.replay(outbox_id bigint, actor text DEFAULT session_user) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  o elicense.outbox;
BEGIN
  UPDATE elicense.outbox x
     SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
         needs_query = x.needs_query OR x.attempts > 0, updated_at = now()
   WHERE x.id = replay.outbox_id AND x.status = 'dead'
  RETURNING * INTO o;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  VALUES (o.id, o.identifier, o.step, 'dead', 'pending', 'replayed', actor);
  PERFORM pg_notify('elicense_outbox', '');
  RETURN true;
END
$$;
COMMENT ON FUNCTION elicense.replay(bigint, text) IS 'Puts a dead delivery step back in the queue (it queries the platform first if it was tried)';

CREATE FUNCTION elicense.replay(identifier text, actor text DEFAULT session_user) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT count(*) FILTER (WHERE elicense.replay(o.id, actor))::integer
    FROM elicense.outbox o
   WHERE o.identifier = replay.identifier AND o.status = 'dead'
$$;
COMMENT ON FUNCTION elicense.replay(text, text) IS 'Puts every dead delivery step of a licence version back in the queue';

REVOKE ALL ON FUNCTION elicense.lease_steps(text, integer, integer), elicense.renew_leases(text, integer),
    elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_failed(bigint, text, text, text, bigint, integer),
    elicense.replay(bigint, text), elicense.replay(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.lease_steps(text, integer, integer), elicense.renew_leases(text, integer),
    elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_failed(bigint, text, text, text, bigint, integer)
    TO elicense_worker;
GRANT EXECUTE ON FUNCTION elicense.replay(bigint, text), elicense.replay(text, text) TO elicense_admin;

-- Counters for operators (the worker's own progress goes to its log).
CREATE VIEW elicense.delivery_metrics AS
SELECT o.step,
       count(*) FILTER (WHERE o.status = 'pending') AS pending,
       count(*) FILTER (WHERE o.status = 'in_flight') AS in_flight,
       count(*) FILTER (WHERE o.status = 'done') AS done,
       count(*) FILTER (WHERE o.status = 'dead') AS dead,
       sum(o.attempts) AS attempts,
       count(*) FILTER (WHERE o.needs_query AND o.status <> 'done') AS awaiting_query,
       min(o.created_at) FILTER (WHERE o.status <> 'done') AS oldest_open
  FROM elicense.outbox o
 GROUP BY o.step;
COMMENT ON VIEW elicense.delivery_metrics IS 'Delivery steps per step name and status, attempts made, oldest open step';

CREATE VIEW elicense.analyst_delivery_attempts AS
SELECT a.at, a.identifier, a.step, a.endpoint, a.http_status, a.return_code, a.return_message, a.outcome,
       a.duration_ms, a.worker_id
  FROM elicense.delivery_attempt a;
COMMENT ON VIEW elicense.analyst_delivery_attempts IS 'Every call to the national platform and its answer (tokens never recorded)';

REVOKE ALL ON elicense.delivery_metrics, elicense.analyst_delivery_attempts FROM PUBLIC;
GRANT SELECT ON elicense.delivery_metrics, elicense.analyst_delivery_attempts
    TO elicense_admin, elicense_worker, elicense_analyst;
