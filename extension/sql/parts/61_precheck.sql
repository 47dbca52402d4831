--------------------------------------------------------------------------------
-- Check before approval (seed 000 §4.2): elicense.precheck queues
-- the platform's check (校验) of licence data that is not yet a licence and
-- returns a ticket; the sync worker sends prechecks ahead of delivery steps
-- and the answer lands in elicense.precheck with NOTIFY elicense_precheck
-- (payload: the ticket). A precheck creates no licence and takes no sequence
-- number: the data is validated like an issue and the check item is built
-- from it (elicense._platform_item, step validate), nothing else.
--------------------------------------------------------------------------------

CREATE TABLE elicense.precheck (
    ticket             uuid PRIMARY KEY,
    type_code          text NOT NULL,
    licence_number     text NOT NULL,
    authority_division text NOT NULL,
    operate_type       text NOT NULL CONSTRAINT precheck_operate_type CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    request            jsonb NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CONSTRAINT precheck_status CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY[
                           'pending', 'in_flight', 'answered', 'failed'])),
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    lease_owner        text,
    lease_expires_at   timestamptz,
    passed             boolean,
    return_code        text,
    message            text,
    answer             jsonb,
    requested_by       text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    answered_at        timestamptz,
    -- The check item as sent, when it holds resident ID numbers: sealed
    -- under the master key (48_resident_id_vault.sql); request keeps them masked.
    request_box        bytea,
    CONSTRAINT precheck_lease_when_in_flight CHECK (status OPERATOR(pg_catalog.<>) 'in_flight' OR lease_owner IS NOT NULL)
);
CREATE INDEX precheck_open ON elicense.precheck (next_attempt_at) WHERE status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'in_flight']);
COMMENT ON TABLE elicense.precheck IS
'Checks (校验) of licence data before approval, one row per elicense.precheck ticket: the item sent and the platform''s answer. No licence, no sequence number';
COMMENT ON COLUMN elicense.precheck.ticket IS 'Returned by elicense.precheck; also the eCertID of the check item, which the platform echoes';
COMMENT ON COLUMN elicense.precheck.licence_number IS 'Certificate number of the data checked';
COMMENT ON COLUMN elicense.precheck.operate_type IS 'operateType the check is for (01 new issue unless given)';
COMMENT ON COLUMN elicense.precheck.request IS 'The check item (elicense.platform_field, step validate) sent as {"AcceptData": [request]}, its resident ID numbers masked';
COMMENT ON COLUMN elicense.precheck.request_box IS 'The check item as sent (full resident ID numbers), AES-256-GCM under the master key; NULL when it holds none';
COMMENT ON COLUMN elicense.precheck.status IS 'pending, in_flight (a worker sends it), answered (the platform answered, see passed), failed (no answer after the attempts allowed: see message)';
COMMENT ON COLUMN elicense.precheck.passed IS 'True: the platform accepted the data (ReturnCode 1, or 2 with warnings); false: it refused (see message)';
COMMENT ON COLUMN elicense.precheck.return_code IS 'ReturnCode of the answer';
COMMENT ON COLUMN elicense.precheck.message IS 'ReturnMsg, warnings and errors of the answer, or why there is none';
COMMENT ON COLUMN elicense.precheck.answer IS 'The canonical answer the worker passed';
COMMENT ON COLUMN elicense.precheck.requested_by IS 'Database role that asked';
COMMENT ON COLUMN elicense.precheck.attempts IS 'Sends so far';
COMMENT ON COLUMN elicense.precheck.next_attempt_at IS 'Earliest next send (backoff)';
COMMENT ON COLUMN elicense.precheck.lease_owner IS 'Worker sending it';
COMMENT ON COLUMN elicense.precheck.lease_expires_at IS 'When another worker may take it';
COMMENT ON COLUMN elicense.precheck.created_at IS 'When it was asked';
COMMENT ON COLUMN elicense.precheck.answered_at IS 'When the answer (or the failure) was recorded';
COMMENT ON INDEX elicense.precheck_open IS 'Open prechecks by due time, for leasing';
SELECT pg_catalog.pg_extension_config_dump('elicense.precheck', '');
REVOKE ALL ON elicense.precheck FROM PUBLIC;
GRANT SELECT ON elicense.precheck TO elicense_admin, elicense_issuer;

CREATE FUNCTION elicense.precheck(type_code text, data jsonb, operate_type text DEFAULT '01') RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  ticket uuid := gen_random_uuid();
  item jsonb;
BEGIN
  IF precheck.operate_type IS NULL OR precheck.operate_type !~ '^0[1-8]$' THEN
    RAISE EXCEPTION 'operateType of a precheck must be 01-08, not %', coalesce(precheck.operate_type, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Leave it out for a new issue (01).';
  END IF;
  c := elicense._licence_from_data(precheck.type_code, data);
  c.status := '01';
  c.operate_type := precheck.operate_type;
  item := elicense._platform_item(c, 'validate', ticket);
  IF item IS NULL THEN
    RAISE EXCEPTION 'licence type % has no request field for the check (step validate)', c.type_code
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Add the check''s fields to elicense.platform_field.';
  END IF;
  INSERT INTO elicense.precheck (ticket, type_code, licence_number, authority_division, operate_type, request, requested_by,
                                 request_box)
  SELECT ticket, c.type_code, c.licence_number, c.authority_division, c.operate_type, r.at_rest, session_user,
         CASE WHEN r.at_rest <> item THEN elicense._ids_seal(item::text) END
    FROM (SELECT elicense._request_at_rest(item) AS at_rest) r;
  PERFORM pg_notify('elicense_outbox', '');
  RETURN ticket;
END
$$;
COMMENT ON FUNCTION elicense.precheck(text, jsonb, text) IS
'Queues the platform''s check (校验) of licence data before approval and returns a ticket; the answer lands in elicense.precheck (NOTIFY elicense_precheck with the ticket). Validates the data like elicense.issue; creates no licence and no sequence number';

-- PL/pgSQL, not SQL: the worker calls it before every lease, and a SQL
-- function's statement is planned at every call, a PL/pgSQL one once per
-- session.
CREATE FUNCTION elicense.lease_prechecks(worker_id text, max_rows integer, lease_seconds integer)
RETURNS TABLE (ticket uuid, type_code text, authority_division text, attempts integer, request jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH due AS (
    SELECT p.ticket FROM elicense.precheck p
     WHERE (p.status = 'pending' AND p.next_attempt_at <= now()) OR (p.status = 'in_flight' AND p.lease_expires_at < now())
     ORDER BY p.next_attempt_at, p.created_at
     LIMIT lease_prechecks.max_rows
       FOR UPDATE SKIP LOCKED)
  UPDATE elicense.precheck p
     SET status = 'in_flight', lease_owner = lease_prechecks.worker_id,
         lease_expires_at = now() + make_interval(secs => lease_prechecks.lease_seconds),
         attempts = p.attempts + 1
    FROM due
   WHERE p.ticket = due.ticket
  RETURNING p.ticket, p.type_code, p.authority_division, p.attempts,
            CASE WHEN p.request_box IS NULL THEN p.request ELSE elicense._ids_open(p.request_box)::jsonb END;  -- as sent
END
$$;
COMMENT ON FUNCTION elicense.lease_prechecks(text, integer, integer) IS
'Leases up to max_rows due prechecks for lease_seconds (the worker sends them before delivery steps), each with its check item as sent (full resident ID numbers, opened from request_box)';

-- answer: the canonical answer of 60_delivery.sql.
CREATE FUNCTION elicense.precheck_answered(ticket uuid, worker_id text, answer jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a jsonb := precheck_answered.answer;
  code text := a ->> 'return_code';
BEGIN
  UPDATE elicense.precheck p
     SET status = 'answered', passed = code IN ('1', '2'), return_code = code, answer = precheck_answered.answer,
         message = concat_ws('; ', nullif(a ->> 'message', ''),
           (SELECT string_agg(w, '; ') FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(a -> 'warnings') = 'array'
                                                                           THEN a -> 'warnings' ELSE '[]' END) w),
           (SELECT string_agg(e ->> 'message', '; ') FROM jsonb_array_elements(CASE WHEN jsonb_typeof(a -> 'errors') = 'array'
                                                                                   THEN a -> 'errors' ELSE '[]' END) e)),
         lease_owner = NULL, lease_expires_at = NULL, answered_at = now()
   WHERE p.ticket = precheck_answered.ticket AND p.status = 'in_flight' AND p.lease_owner = precheck_answered.worker_id;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM pg_notify('elicense_precheck', ticket::text);
  RETURN true;
END
$$;
COMMENT ON FUNCTION elicense.precheck_answered(uuid, text, jsonb) IS
'Records the platform''s answer to a leased precheck (passed = ReturnCode 1 or 2) and sends NOTIFY elicense_precheck with the ticket; false if the worker no longer holds the lease';

-- not_sent: the check never reached the platform (refused, DNS, TLS, or
-- released before sending): the attempt lease_prechecks counted is given
-- back, as step_failed 'not_sent' does, so an outage never uses up the budget.
CREATE FUNCTION elicense.precheck_failed(ticket uuid, worker_id text, error text, retry_in_ms bigint, max_attempts integer,
    not_sent boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  next_status text;
BEGIN
  UPDATE elicense.precheck p
     SET status = CASE WHEN NOT precheck_failed.not_sent AND p.attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
         attempts = CASE WHEN precheck_failed.not_sent THEN greatest(p.attempts - 1, 0) ELSE p.attempts END,
         message = error, lease_owner = NULL, lease_expires_at = NULL,
         next_attempt_at = now() + make_interval(secs => coalesce(retry_in_ms, 0) / 1000.0),
         answered_at = CASE WHEN NOT precheck_failed.not_sent AND p.attempts >= max_attempts THEN now() END
   WHERE p.ticket = precheck_failed.ticket AND p.status = 'in_flight' AND p.lease_owner = precheck_failed.worker_id
  RETURNING p.status INTO next_status;
  IF next_status = 'failed' THEN
    PERFORM pg_notify('elicense_precheck', ticket::text);
  END IF;
  RETURN next_status;
END
$$;
COMMENT ON FUNCTION elicense.precheck_failed(uuid, text, text, bigint, integer, boolean) IS
'A leased precheck got no usable answer: pending again after retry_in_ms, or failed after max_attempts (NOTIFY elicense_precheck); not_sent (it never reached the platform) gives the attempt back and never fails it; NULL if the worker no longer holds the lease';

REVOKE ALL ON FUNCTION elicense.precheck(text, jsonb, text), elicense.lease_prechecks(text, integer, integer),
    elicense.precheck_answered(uuid, text, jsonb), elicense.precheck_failed(uuid, text, text, bigint, integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.precheck(text, jsonb, text) TO elicense_issuer, elicense_admin;
GRANT EXECUTE ON FUNCTION elicense.lease_prechecks(text, integer, integer), elicense.precheck_answered(uuid, text, jsonb),
    elicense.precheck_failed(uuid, text, text, bigint, integer, boolean) TO elicense_worker;
