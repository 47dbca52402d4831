--------------------------------------------------------------------------------
-- Delivery: what the sync worker (elicense-sync) calls. The worker holds no
-- domain rules; these functions decide which steps are due, in which order,
-- what a returned code means and where everything is recorded:
--   lease_steps      due outbox rows, leased with FOR UPDATE SKIP LOCKED
--   renew_leases     keep leases of work in progress
--   record_attempt   one row per HTTP call (elicense.delivery_attempt)
--   step_succeeded   done; for assign_code decrypt the code, store it and the QR URL
--   step_queried     a query answer: done, send, or (confirm) retry
--   step_failed      retry later with backoff, dead (business error, attempts used up)
--                    or held for an operator
--   replay           an admin puts dead and held rows back
--   record_results   a whole group of the above in one call, set-based (60_delivery_batch.sql)
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
        CONSTRAINT delivery_config_preview_lifetime CHECK (preview_token_lifetime >= interval '1 minute'),
    assigned_code_pattern text NOT NULL DEFAULT '^[0-9]{18}$'
        -- an invalid regular expression fails here rather than at the first assignment
        CONSTRAINT delivery_config_code_pattern CHECK (('' ~ assigned_code_pattern) IS NOT NULL),
    qr_url_prefix text NOT NULL DEFAULT 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?'
        CONSTRAINT delivery_config_qr_url_prefix CHECK (qr_url_prefix ~ '^https?://[^/?#]+')
);
COMMENT ON TABLE elicense.delivery_config IS
'Delivery settings (at most one row; none means defaults); the worker''s own settings are in its config file';
COMMENT ON COLUMN elicense.delivery_config.preview_url_template IS
'URL of the watermarked preview sent with the collect step (归集): {token} becomes a signed, expiring preview token (elicense.preview_url), {identifier} the licence identifier';
COMMENT ON COLUMN elicense.delivery_config.preview_token_lifetime IS 'How long a preview URL made for the collect step stays valid';
COMMENT ON COLUMN elicense.delivery_config.assigned_code_pattern IS
'Regular expression a decrypted assigned code (赋码) must match (elicense.decrypt_assignment); PLATFORM.md: 18 digits';
COMMENT ON COLUMN elicense.delivery_config.qr_url_prefix IS
'Start of every QR URL the platform may send as an assignment instead of a bare code (elicense.decrypt_assignment)';
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_config', '');
REVOKE ALL ON elicense.delivery_config FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.delivery_config TO elicense_admin;

CREATE TABLE elicense.delivery_event (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    outbox_id   bigint NOT NULL,  -- no foreign key, as in delivery_attempt (50_outbox.sql)
    identifier  text NOT NULL,
    step        text NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    detail      text,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT pg_catalog.now()
) PARTITION BY RANGE (at);  -- by month (76_history_partitions.sql)
CREATE TABLE elicense.delivery_event_default PARTITION OF elicense.delivery_event DEFAULT;
COMMENT ON TABLE elicense.delivery_event IS
'Every status change of a delivery step: done, retry scheduled, dead, lease taken over, replayed. Append-only';
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_event_default', '');

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
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('Delivery events are the history of the outbox; replay a step with elicense.replay instead.');
CREATE TRIGGER delivery_event_no_truncate BEFORE TRUNCATE ON elicense.delivery_event
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('Delivery events are the history of the outbox; replay a step with elicense.replay instead.');
CREATE TRIGGER code_assignment_append_only BEFORE UPDATE OR DELETE ON elicense.code_assignment
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('Codes the platform assigned are evidence; a new assignment is a new row.');
CREATE TRIGGER code_assignment_no_truncate BEFORE TRUNCATE ON elicense.code_assignment
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('Codes the platform assigned are evidence; a new assignment is a new row.');
REVOKE ALL ON elicense.delivery_event, elicense.code_assignment FROM PUBLIC;
GRANT SELECT ON elicense.delivery_event, elicense.code_assignment TO elicense_admin, elicense_analyst;

-- An eCertID as a comparison key: lower-case hex digits only, so a GUID with
-- or without dashes or braces, in either case, is the same key.
CREATE FUNCTION elicense._guid_key(guid text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT pg_catalog.lower(pg_catalog.regexp_replace(guid, '[^0-9A-Fa-f]', '', 'g'))
$$;
REVOKE ALL ON FUNCTION elicense._guid_key(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._guid_key(text) IS 'Internal: an eCertID reduced to lower-case hex digits, for comparisons';

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

CREATE FUNCTION elicense.renew_leases(worker_id text, lease_seconds integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH renewed AS (
    UPDATE elicense.outbox SET lease_expires_at = now() + make_interval(secs => lease_seconds), updated_at = now()
     WHERE status = 'in_flight' AND lease_owner = worker_id
    RETURNING 1)
  SELECT count(*)::integer FROM renewed
$$;
COMMENT ON FUNCTION elicense.renew_leases(text, integer) IS 'Extends the leases a worker holds while its requests are in flight';

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

-- The assignment of a canonical answer that belongs to the step: the one
-- whose ecert_id is the step's eCertID; an assignment without ecert_id (or a
-- step leased before eCertIDs existed) only when it is the only one. NULL if
-- none.
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

-- Why an answer has no assignment for the step (for last_error).
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

-- Stores the code of an assignment ({"encry_certid", "encry_key", ...}):
-- decrypts it with the province's secret, builds the QR URL with the
-- platform's public key, records both. Returns NULL, or why the code could
-- not be stored (never key material).
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

-- A leased step is done: recorded, and the version's next step queued, due
-- now (none after the last one; versions queued by 0.1.0 have all their
-- steps already).
CREATE FUNCTION elicense._step_done(o elicense.outbox, p_worker text, p_detail text) RETURNS void
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

-- answer is the canonical answer the worker passes:
--   {"return_code", "message", "warnings": [..], "errors": [{"guid", "message"}],
--    "assignments": [{"encry_certid", "encry_key", "ecert_id"}], "success_data": [{..}]}
CREATE FUNCTION elicense.step_succeeded(outbox_id bigint, worker_id text, answer jsonb) RETURNS boolean
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

-- The answer to the step's query item: does the platform show the step took
-- effect? It matches success_data items by zzeCertID = the identifier the
-- platform holds (a status change keeps the one collected before it) or
-- eCertID = the step's eCertID, then compares the url (collect, confirm) or
-- certState (status_update) with what the step sent; assign_code needs an
-- assignment for its eCertID. Returns
--   done   the step is done (assign_code: its code stored), the next step queued
--   send   not there (also a ReturnCode 0 "not found"): send the request; the lease stays
--   retry  confirm only: not shown yet; the lease stays (the worker then calls step_failed 'retry')
--   dead   assign_code: the assignment shown cannot be used (the reason is in last_error)
--   NULL   the worker no longer holds the lease
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

CREATE FUNCTION elicense.step_failed(outbox_id bigint, worker_id text, kind text, error text, retry_in_ms bigint,
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

CREATE FUNCTION elicense.replay(outbox_id bigint, actor text DEFAULT session_user) RETURNS boolean
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

CREATE FUNCTION elicense.replay(identifier text, actor text DEFAULT session_user) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT count(*) FILTER (WHERE elicense.replay(o.id, actor))::integer
    FROM elicense.outbox o
   WHERE o.identifier = replay.identifier AND o.status IN ('dead', 'held')
$$;
COMMENT ON FUNCTION elicense.replay(text, text) IS 'Puts every dead or held delivery step of a licence version back in the queue';

REVOKE ALL ON FUNCTION elicense.lease_steps(text, integer, integer, integer), elicense.renew_leases(text, integer),
    elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text, text),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_queried(bigint, text, jsonb),
    elicense.step_failed(bigint, text, text, text, bigint, integer),
    elicense.replay(bigint, text), elicense.replay(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.lease_steps(text, integer, integer, integer), elicense.renew_leases(text, integer),
    elicense.record_attempt(bigint, text, text, text, integer, text, text, integer, text, text, text),
    elicense.step_succeeded(bigint, text, jsonb), elicense.step_queried(bigint, text, jsonb),
    elicense.step_failed(bigint, text, text, text, bigint, integer)
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
       min(o.created_at) FILTER (WHERE o.status <> 'done') AS oldest_open,
       count(*) FILTER (WHERE o.status = 'held') AS held
  FROM elicense.outbox o
 GROUP BY o.step;
COMMENT ON VIEW elicense.delivery_metrics IS 'Delivery steps per step name and status (held: waiting for an operator), attempts made, oldest open step';

CREATE VIEW elicense.analyst_delivery_attempts AS
SELECT a.at, a.identifier, a.step, a.endpoint, a.http_status, a.return_code, a.return_message, a.outcome,
       a.duration_ms, a.worker_id
  FROM elicense.delivery_attempt a;
COMMENT ON VIEW elicense.analyst_delivery_attempts IS 'Every call to the national platform and its answer (tokens never recorded)';

REVOKE ALL ON elicense.delivery_metrics, elicense.analyst_delivery_attempts FROM PUBLIC;
GRANT SELECT ON elicense.delivery_metrics, elicense.analyst_delivery_attempts
    TO elicense_admin, elicense_analyst;
