--------------------------------------------------------------------------------
-- Results of the sync worker recorded a group at a time (group commit):
--   record_results(worker_id, results)   one call per group of answers: the
--       attempt rows, the successes (with their events and next steps) and
--       the failures, each kind by a few set-based statements
-- It records exactly what the one-by-one calls (record_attempt,
-- step_succeeded, step_queried, step_failed, precheck_answered,
-- precheck_failed; 60_delivery.sql, 61_precheck.sql) record for the same
-- answers, at a fraction of the cost: every statement on the outbox and the
-- partitioned history tables costs its executor start-up (constraints,
-- partition routing, triggers) once per group instead of once per row.
--------------------------------------------------------------------------------

-- One call of a group (an element {"call": …, "outbox_id" | "ticket", …}) by
-- its one-by-one function; its value as text (NULL: lease lost).
CREATE FUNCTION elicense._record_result_call(p_worker text, x jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN CASE x ->> 'call'
    WHEN 'succeeded' THEN
      CASE WHEN elicense.step_succeeded((x ->> 'outbox_id')::bigint, p_worker, x -> 'answer') THEN 't' ELSE 'f' END
    WHEN 'queried' THEN elicense.step_queried((x ->> 'outbox_id')::bigint, p_worker, x -> 'answer')
    WHEN 'failed' THEN
      elicense.step_failed((x ->> 'outbox_id')::bigint, p_worker, x ->> 'kind', x ->> 'error', (x ->> 'retry_in_ms')::bigint,
                           (x ->> 'max_attempts')::integer)
    WHEN 'precheck_answered' THEN
      CASE WHEN elicense.precheck_answered((x ->> 'ticket')::uuid, p_worker, x -> 'answer') THEN 't' ELSE 'f' END
    WHEN 'precheck_failed' THEN
      elicense.precheck_failed((x ->> 'ticket')::uuid, p_worker, x ->> 'error', (x ->> 'retry_in_ms')::bigint,
                               (x ->> 'max_attempts')::integer, coalesce((x ->> 'not_sent')::boolean, false))
    ELSE elicense._unknown_result_call(x ->> 'call') END;
END
$$;
REVOKE ALL ON FUNCTION elicense._record_result_call(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._record_result_call(text, jsonb) IS
'Internal: one call of a group of results (elicense.record_results) through its one-by-one function; its value as text';

CREATE FUNCTION elicense._unknown_result_call(call text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'unknown call "%" in a group of results', coalesce(call, 'NULL') USING ERRCODE = 'invalid_parameter_value',
    HINT = 'Calls are succeeded, queried, failed, precheck_answered and precheck_failed.';
END
$$;
REVOKE ALL ON FUNCTION elicense._unknown_result_call(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._unknown_result_call(text) IS 'Internal: raises 22023 for a call record_results does not know';

-- What a success's event says: the answer's code, message and warnings (as
-- step_succeeded writes it). Every name qualified and no SET search_path (a
-- SET would cost a configuration save and restore per element); its
-- sub-SELECT keeps the planner from inlining it.
CREATE FUNCTION elicense._success_detail(answer jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_catalog.concat_ws(' ', answer OPERATOR(pg_catalog.->>) 'return_code',
           NULLIF(answer OPERATOR(pg_catalog.->>) 'message', ''),
           CASE WHEN pg_catalog.jsonb_typeof(answer OPERATOR(pg_catalog.->) 'warnings') OPERATOR(pg_catalog.=) 'array'
                 AND pg_catalog.jsonb_array_length(answer OPERATOR(pg_catalog.->) 'warnings') OPERATOR(pg_catalog.>) 0
                THEN 'warnings: ' OPERATOR(pg_catalog.||)
                     (SELECT pg_catalog.string_agg(w, '; ') FROM pg_catalog.jsonb_array_elements_text(answer OPERATOR(pg_catalog.->) 'warnings') w) END)
$$;
REVOKE ALL ON FUNCTION elicense._success_detail(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._success_detail(jsonb) IS 'Internal: the event detail of a success (return code, message, warnings)';

-- Leased steps done, set-based (what _step_done does row by row): done, an
-- event each with its detail, the versions' next steps queued, one NOTIFY.
-- ns are the elements' positions in the group; a step this worker does not
-- hold, or of skip_step, is left as it is. Returns the ns of the steps done.
-- Joins by primary key only (the settings: see _record_group_rows).
CREATE FUNCTION elicense._steps_done(p_worker text, ns integer[], ids bigint[], details text[], skip_step text)
RETURNS integer[]
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  done_n integer[];
BEGIN
  IF cardinality(ids) = 0 THEN
    RETURN '{}';
  END IF;
  WITH s AS (
    SELECT * FROM unnest(ns, ids, details) AS s(n, outbox_id, detail)
  ), u AS (
    UPDATE elicense.outbox x
       SET status = 'done', last_error = NULL, lease_owner = NULL, lease_expires_at = NULL, needs_query = false, updated_at = now()
      FROM s
     WHERE x.id = s.outbox_id AND x.status = 'in_flight' AND x.lease_owner = p_worker AND x.step IS DISTINCT FROM skip_step
    RETURNING s.n, s.detail, x.id, x.identifier, x.version, x.step, x.step_order, x.operate_type, x.lane
  ), ev AS (
    INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
    SELECT u.id, u.identifier, u.step, 'in_flight', 'done', u.detail, p_worker
      FROM u ORDER BY u.n
  ), nx AS (
    INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type, lane)
    SELECT u.identifier, u.version, n.next_step, u.step_order + 1, u.operate_type, u.lane
      FROM u CROSS JOIN LATERAL (SELECT (elicense._delivery_steps(u.operate_type))[u.step_order + 1] AS next_step) n
     WHERE n.next_step IS NOT NULL
     ORDER BY u.n
    ON CONFLICT ON CONSTRAINT outbox_step_once DO NOTHING
  )
  SELECT coalesce(array_agg(u.n), '{}') INTO done_n FROM u;
  IF cardinality(done_n) > 0 THEN
    PERFORM pg_notify('elicense_outbox', '');  -- the next steps are due now
  END IF;
  RETURN done_n;
END
$$;
REVOKE ALL ON FUNCTION elicense._steps_done(text, integer[], bigint[], text[], text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._steps_done(text, integer[], bigint[], text[], text) IS
'Internal: leased steps done with their event and next step, set-based (record_results); returns the group positions done';

-- Leased steps dead with a reason each, set-based (what _step_dead does row by row).
CREATE FUNCTION elicense._steps_dead(p_worker text, ids bigint[], reasons text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  WITH u AS (
    UPDATE elicense.outbox x
       SET status = 'dead', last_error = d.reason, lease_owner = NULL, lease_expires_at = NULL, needs_query = false, updated_at = now()
      FROM unnest(ids, reasons) WITH ORDINALITY AS d(outbox_id, reason, i)
     WHERE x.id = d.outbox_id AND x.status = 'in_flight' AND x.lease_owner = p_worker
    RETURNING d.i, x.id, x.identifier, x.step, d.reason)
  INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
  SELECT u.id, u.identifier, u.step, 'in_flight', 'dead', u.reason, p_worker FROM u ORDER BY u.i;
END
$$;
REVOKE ALL ON FUNCTION elicense._steps_dead(text, bigint[], text[]) FROM PUBLIC;
COMMENT ON FUNCTION elicense._steps_dead(text, bigint[], text[]) IS 'Internal: leased steps dead with their reasons, set-based (record_results)';

-- The set-based statements of _record_results_set: attempt rows, failures,
-- and successes that only finish their step; (n, value) of the calls done.
-- Joins by primary key only: with the statistics of a small or new queue the
-- planner hashed the group against a scan of the whole outbox (as it did in
-- lease_steps), which cost more than the rows saved. The settings hold for
-- these statements only: the one-by-one functions are called from
-- _record_results_set, outside them. No JIT: a table read without an index
-- (delivery_config's one row) costs 1e10 with seqscan off, which made the
-- planner compile the statement (17 ms).
CREATE FUNCTION elicense._record_group_rows(p_worker text, results jsonb) RETURNS TABLE (n integer, value text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  done_n integer[];
BEGIN
  IF EXISTS (SELECT FROM jsonb_array_elements(results) e(x)
              WHERE x ? 'call' AND (x ->> 'call') NOT IN ('succeeded', 'queried', 'failed', 'precheck_answered', 'precheck_failed')) THEN
    RAISE EXCEPTION 'unknown call in a group of results' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Calls are succeeded, queried, failed, precheck_answered and precheck_failed.';
  END IF;
  IF EXISTS (SELECT FROM jsonb_array_elements(results) e(x)
              WHERE x ->> 'call' = 'failed'
                AND (x ->> 'kind' IS NULL OR (x ->> 'kind') NOT IN ('retry', 'not_sent', 'unknown', 'business_error', 'hold'))) THEN
    RAISE EXCEPTION 'invalid failure kind in a group of results' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Use retry, not_sent, unknown, business_error or hold.';
  END IF;
  -- Two calls for one step in a group would each see the row as before the
  -- group: the one-by-one path keeps their order.
  IF EXISTS (SELECT FROM jsonb_array_elements(results) e(x)
              WHERE x ->> 'call' IN ('succeeded', 'queried', 'failed')
              GROUP BY x ->> 'outbox_id' HAVING count(*) > 1) THEN
    RAISE EXCEPTION 'a step has two calls in one group of results' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Record them in two groups.';
  END IF;

  INSERT INTO elicense.delivery_attempt (outbox_id, identifier, step, endpoint, http_status, return_code, return_message,
                                         duration_ms, worker_id, outcome, ecert_id)
  SELECT a.outbox_id, a.identifier, a.step, a.endpoint, a.http_status, a.return_code, a.return_message, a.duration_ms,
         p_worker, a.outcome, nullif(a.ecert_id, '')::uuid
    FROM jsonb_array_elements(results) WITH ORDINALITY e(x, i)
   CROSS JOIN LATERAL jsonb_to_record(e.x -> 'attempt') AS a(outbox_id bigint, identifier text, step text, endpoint text,
              http_status integer, return_code text, return_message text, duration_ms integer, outcome text, ecert_id text)
   WHERE jsonb_typeof(e.x -> 'attempt') = 'object'
   ORDER BY e.i;

  -- Failures: the status step_failed would set, one UPDATE and one INSERT of
  -- events for all of them.
  RETURN QUERY
  WITH f AS (
    SELECT e.i::integer AS n, c.*
      FROM jsonb_array_elements(results) WITH ORDINALITY e(x, i)
     CROSS JOIN LATERAL jsonb_to_record(e.x) AS c(outbox_id bigint, kind text, error text, retry_in_ms bigint, max_attempts integer)
     WHERE e.x ->> 'call' = 'failed'
  ), u AS (
    UPDATE elicense.outbox x
       SET status = CASE WHEN f.kind = 'hold' THEN 'held'
                         WHEN f.kind = 'not_sent' THEN 'pending'
                         WHEN f.kind = 'business_error' OR x.attempts >= f.max_attempts THEN 'dead' ELSE 'pending' END,
           last_error = f.error, lease_owner = NULL, lease_expires_at = NULL,
           attempts = CASE WHEN f.kind = 'not_sent' THEN greatest(x.attempts - 1, 0) ELSE x.attempts END,
           needs_query = x.needs_query OR f.kind = 'unknown',
           next_attempt_at = now() + make_interval(secs => coalesce(f.retry_in_ms, 0) / 1000.0), updated_at = now()
      FROM f
     WHERE x.id = f.outbox_id AND x.status = 'in_flight' AND x.lease_owner = p_worker
    RETURNING f.n, x.id, x.identifier, x.step, x.status, f.kind, f.error
  ), ev AS (
    INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, detail, actor)
    SELECT u.id, u.identifier, u.step, 'in_flight', u.status, u.kind || ': ' || coalesce(u.error, ''), p_worker
      FROM u ORDER BY u.n
  )
  SELECT f.n, u.status FROM f LEFT JOIN u ON u.n = f.n;

  -- Successes that only finish the step (every step but assign_code).
  SELECT elicense._steps_done(p_worker, coalesce(array_agg(s.n ORDER BY s.n), '{}'), coalesce(array_agg(s.outbox_id ORDER BY s.n), '{}'),
                              coalesce(array_agg(s.detail ORDER BY s.n), '{}'), 'assign_code')
    INTO done_n
    FROM (SELECT e.i::integer AS n, (e.x ->> 'outbox_id')::bigint AS outbox_id, elicense._success_detail(e.x -> 'answer') AS detail
            FROM jsonb_array_elements(results) WITH ORDINALITY e(x, i)
           WHERE e.x ->> 'call' = 'succeeded') s;
  RETURN QUERY SELECT d.n, 't' FROM unnest(done_n) d(n);
END
$$;
REVOKE ALL ON FUNCTION elicense._record_group_rows(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._record_group_rows(text, jsonb) IS
'Internal: the set-based statements of elicense._record_results_set (attempt rows, failures, successes that only finish the step)';

-- The group's assign_code successes (what step_succeeded does for each):
-- each assignment taken for its step's eCertID, all of one province
-- decrypted in one _decrypt_assignments call (the province's secret opened
-- and its key decoded once per call, kept no longer), checked as
-- decrypt_assignment checks it, stored with its QR URL, the steps done (or
-- dead with the reason, word for word the one-by-one reason). Conditions the
-- one-by-one path reports from deeper down (no secret for the province, an
-- rsa-des assignment without encryKey, a QR URL that cannot be built) raise
-- here, so that record_results records the group one by one instead. Returns
-- (n, 't') for every step it finished; steps this worker no longer holds are
-- left to the caller.
-- Joins by primary key only (the settings: see _record_group_rows; what it
-- calls reads tables by primary key too).
CREATE FUNCTION elicense._record_assignments(p_worker text, results jsonb) RETURNS TABLE (n integer, value text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  r record;
  a jsonb;
  d record;
  sec elicense.province_secret;
  code_pattern text;
  url_prefix text;
  problem text;
  -- per element, in the group's order
  e_n integer[] := '{}';
  e_id bigint[] := '{}';
  e_ident text[] := '{}';
  e_province text[] := '{}';
  e_type text[] := '{}';
  e_certid text[] := '{}';
  e_key text[] := '{}';
  e_problem text[] := '{}';
  e_detail text[] := '{}';
  e_code text[] := '{}';
  e_url text[] := '{}';
  k integer;
  idx integer[];
  done_n integer[];
BEGIN
  FOR r IN
    SELECT e.i::integer AS n, e.x -> 'answer' AS answer, o AS o, substr(c.authority_division, 1, 2) || '0000' AS province,
           c.type_code
      FROM jsonb_array_elements(results) WITH ORDINALITY e(x, i)
      JOIN elicense.outbox o ON o.id = (e.x ->> 'outbox_id')::bigint
      LEFT JOIN elicense.certificate c ON c.identifier = o.identifier
     WHERE e.x ->> 'call' = 'succeeded' AND o.step = 'assign_code' AND o.status = 'in_flight' AND o.lease_owner = p_worker
     ORDER BY e.i
       FOR UPDATE OF o
  LOOP
    a := elicense._step_assignment(r.o, r.answer);
    e_n := e_n || r.n;
    e_id := e_id || (r.o).id;
    e_ident := e_ident || (r.o).identifier;
    e_province := e_province || r.province;
    e_type := e_type || r.type_code;
    e_certid := e_certid || (a ->> 'encry_certid');
    e_key := e_key || (a ->> 'encry_key');
    e_problem := e_problem || CASE WHEN a IS NULL THEN elicense._assignment_missing(r.o, r.answer) END;
    e_detail := e_detail || elicense._success_detail(r.answer);
    e_code := e_code || NULL::text;
    e_url := e_url || NULL::text;
  END LOOP;
  IF cardinality(e_n) = 0 THEN
    RETURN;
  END IF;
  SELECT c.assigned_code_pattern, c.qr_url_prefix INTO code_pattern, url_prefix FROM elicense.delivery_config c;
  code_pattern := coalesce(code_pattern, '^[0-9]{18}$');
  url_prefix := coalesce(url_prefix, 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?');
  FOR r IN SELECT DISTINCT p.province FROM unnest(e_province) p(province) LOOP
    IF r.province IS NULL OR elicense.province_code_problem(r.province) IS NOT NULL THEN
      RAISE EXCEPTION 'a licence of the group has no valid province' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO sec FROM elicense.province_secret p WHERE p.province = r.province;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no assignment secret is configured for province %', r.province USING ERRCODE = 'invalid_parameter_value';
    END IF;
    idx := ARRAY(SELECT j FROM generate_subscripts(e_n, 1) j WHERE e_province[j] = r.province AND e_problem[j] IS NULL ORDER BY j);
    FOR d IN
      SELECT x.n AS i, x.kind, x.code, x.url, x.problem
        FROM elicense._decrypt_assignments(ARRAY(SELECT e_certid[j] FROM unnest(idx) j), ARRAY(SELECT e_key[j] FROM unnest(idx) j),
                                           sec.assignment_scheme, sec.secret_box) x
    LOOP
      k := idx[d.i];
      IF sec.assignment_scheme = 'rsa-des' AND e_key[k] IS NULL THEN
        RAISE EXCEPTION 'an rsa-des assignment of the group has no encryKey' USING ERRCODE = 'null_value_not_allowed';
      END IF;
      problem := d.problem;
      IF problem IS NULL AND d.kind = 'code' AND d.code !~ code_pattern THEN
        problem := pg_catalog.format('the decrypted assignment is not an assigned code: its %s characters do not match %s',
                                     pg_catalog.length(d.code), code_pattern);
      ELSIF problem IS NULL AND d.kind = 'url' AND NOT pg_catalog.starts_with(d.url, url_prefix) THEN
        problem := pg_catalog.format('the decrypted assignment is a URL that does not start with the QR prefix %s', url_prefix);
      END IF;
      IF problem IS NOT NULL THEN
        e_problem[k] := 'cannot use the assigned code: ' || problem;
      ELSE
        e_code[k] := d.code;
        -- The platform sends either the bare code or a finished QR URL.
        e_url[k] := CASE WHEN d.kind = 'code' THEN elicense.qr_url(d.code, e_type[k], r.province) ELSE d.url END;
      END IF;
    END LOOP;
  END LOOP;
  -- A NULL encryCertid: decrypt_assignment's own check.
  FOR k IN 1 .. cardinality(e_n) LOOP
    IF e_problem[k] IS NULL AND e_code[k] IS NULL THEN
      e_problem[k] := 'cannot use the assigned code: encryCertid and province must not be NULL';
    END IF;
  END LOOP;
  UPDATE elicense.certificate c SET assigned_code = s.code, qr_url = s.url
    FROM unnest(e_ident, e_code, e_url) s(identifier, code, url)
   WHERE c.identifier = s.identifier AND s.code IS NOT NULL;
  INSERT INTO elicense.code_assignment (identifier, assigned_code, qr_url, outbox_id, worker_id)
  SELECT s.identifier, s.code, s.url, s.id, p_worker
    FROM unnest(e_ident, e_code, e_url, e_id) WITH ORDINALITY s(identifier, code, url, id, j)
   WHERE s.code IS NOT NULL ORDER BY s.j;
  PERFORM elicense._steps_dead(p_worker, ARRAY(SELECT s.id FROM unnest(e_id, e_problem) WITH ORDINALITY s(id, p, j) WHERE s.p IS NOT NULL ORDER BY s.j),
                               ARRAY(SELECT s.p FROM unnest(e_problem) WITH ORDINALITY s(p, j) WHERE s.p IS NOT NULL ORDER BY s.j));
  done_n := elicense._steps_done(p_worker,
      ARRAY(SELECT s.n FROM unnest(e_n, e_problem) WITH ORDINALITY s(n, p, j) WHERE s.p IS NULL ORDER BY s.j),
      ARRAY(SELECT s.id FROM unnest(e_id, e_problem) WITH ORDINALITY s(id, p, j) WHERE s.p IS NULL ORDER BY s.j),
      ARRAY(SELECT s.d FROM unnest(e_detail, e_problem) WITH ORDINALITY s(d, p, j) WHERE s.p IS NULL ORDER BY s.j), NULL);
  RETURN QUERY SELECT s.n, 't' FROM unnest(e_n) s(n);
END
$$;
REVOKE ALL ON FUNCTION elicense._record_assignments(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._record_assignments(text, jsonb) IS
'Internal: the assign_code successes of a group of results (record_results), each province''s secret opened once';

CREATE FUNCTION elicense._decrypt_assignments(encry_certids text[], encry_keys text[], assignment_scheme text, secret_box bytea,
    OUT n integer, OUT kind text, OUT code text, OUT url text, OUT problem text) RETURNS SETOF record
AS 'MODULE_PATHNAME', 'elicense_decrypt_assignments_with_box' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION elicense._decrypt_assignments(text[], text[], text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._decrypt_assignments(text[], text[], text, bytea) IS
'Internal: decrypts a batch of assignments with the province''s encrypted secret, opened and its key decoded once for the call; per element its assignment or its problem';

-- The group, set-based. Returns (n, value) for every element with a call, n
-- its position (1-based), value what the one-by-one call returns as text
-- (step_succeeded / precheck_answered 't' or 'f', step_queried the verdict,
-- step_failed / precheck_failed the new status; NULL: the lease was lost).
-- Any error ends the whole call (record_results then records the group one
-- element at a time). Queries, prechecks and successes of steps this worker
-- no longer holds go through their one-by-one functions, in the same call.
CREATE FUNCTION elicense._record_results_set(p_worker text, results jsonb) RETURNS TABLE (n integer, value text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r record;
  done_n integer[];
  done_v text[];
BEGIN
  SELECT coalesce(array_agg(g.n), '{}'), coalesce(array_agg(g.value), '{}') INTO done_n, done_v
    FROM elicense._record_group_rows(p_worker, results) g;
  SELECT done_n || coalesce(array_agg(g.n), '{}'), done_v || coalesce(array_agg(g.value), '{}') INTO done_n, done_v
    FROM elicense._record_assignments(p_worker, results) g;
  RETURN QUERY SELECT d.n, d.value FROM unnest(done_n, done_v) d(n, value);
  -- The rest, one by one: successes of steps this worker no longer holds
  -- ('f'), queries, prechecks.
  FOR r IN
    SELECT e.i::integer AS n, e.x
      FROM jsonb_array_elements(results) WITH ORDINALITY e(x, i)
     WHERE (e.x ->> 'call' = 'succeeded' AND e.i::integer <> ALL (done_n))
        OR e.x ->> 'call' IN ('queried', 'precheck_answered', 'precheck_failed')
     ORDER BY e.i
  LOOP
    n := r.n;
    value := elicense._record_result_call(p_worker, r.x);
    RETURN NEXT;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION elicense._record_results_set(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._record_results_set(text, jsonb) IS
'Internal: records a group of the worker''s results with set-based statements for elicense.record_results; any error ends it whole';

-- The worker's group commit in one call: results is a JSON array, in the
-- order the answers came, of
--   {"attempt": {"outbox_id", "identifier", "step", "endpoint", "http_status", "return_code",
--                "return_message", "duration_ms", "outcome", "ecert_id"},     (optional: the attempt row)
--    "call": "succeeded" | "queried" | "failed" | "precheck_answered" | "precheck_failed",  (optional)
--    "outbox_id" | "ticket", "answer", "kind", "error", "retry_in_ms", "max_attempts", "not_sent"}
-- (the arguments of the one-by-one function). One row per element: n (1-based),
-- value (what the one-by-one call returns, as text), error (the call was
-- refused: "SQLSTATE: message"; nothing of it was recorded) and attempt_error
-- (the attempt row was refused). The group is recorded set-based; if any of
-- it fails, nothing of that try is kept and every element is recorded again
-- on its own (its attempt row, then its call, each in a subtransaction), so one
-- bad element loses no other result and doubles none.
CREATE FUNCTION elicense.record_results(worker_id text, results jsonb)
RETURNS TABLE (n integer, value text, error text, attempt_error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  got integer[];
  vals text[];
  grouped boolean := false;
  el record;
BEGIN
  IF results IS NULL OR jsonb_typeof(results) <> 'array' THEN
    RAISE EXCEPTION 'results must be a JSON array, not %', coalesce(jsonb_typeof(results), 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the group''s elements in a JSON array.';
  END IF;
  BEGIN
    SELECT coalesce(array_agg(s.n), '{}'), coalesce(array_agg(s.value), '{}') INTO got, vals
      FROM elicense._record_results_set(record_results.worker_id, results) s;
    grouped := true;
  EXCEPTION WHEN OTHERS THEN
    -- Nothing of the try is left: one element at a time below. Said, so
    -- that a group that always falls back (a bug) does not go unnoticed.
    RAISE WARNING 'elicense.record_results: the group of % was recorded element by element: %: %',
      jsonb_array_length(results), SQLSTATE, SQLERRM;
  END;
  IF grouped THEN
    RETURN QUERY
    SELECT e.i::integer, v.value, NULL::text, NULL::text
      FROM jsonb_array_elements(results) WITH ORDINALITY e(x, i)
      LEFT JOIN unnest(got, vals) v(n, value) ON v.n = e.i
     ORDER BY e.i;
    RETURN;
  END IF;
  FOR el IN SELECT x.i::integer AS i, x.x FROM jsonb_array_elements(results) WITH ORDINALITY x(x, i) ORDER BY x.i LOOP
    n := el.i;
    value := NULL;
    error := NULL;
    attempt_error := NULL;
    IF jsonb_typeof(el.x -> 'attempt') = 'object' THEN
      BEGIN
        PERFORM elicense.record_attempt(a.outbox_id, a.identifier, a.step, a.endpoint, a.http_status, a.return_code,
                                        a.return_message, a.duration_ms, record_results.worker_id, a.outcome, a.ecert_id)
           FROM jsonb_to_record(el.x -> 'attempt') AS a(outbox_id bigint, identifier text, step text, endpoint text,
                http_status integer, return_code text, return_message text, duration_ms integer, outcome text, ecert_id text);
      EXCEPTION WHEN OTHERS THEN
        attempt_error := SQLSTATE || ': ' || SQLERRM;
      END;
    END IF;
    IF el.x ? 'call' THEN
      BEGIN
        value := elicense._record_result_call(record_results.worker_id, el.x);
      EXCEPTION WHEN OTHERS THEN
        error := SQLSTATE || ': ' || SQLERRM;
      END;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION elicense.record_results(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.record_results(text, jsonb) TO elicense_worker;
COMMENT ON FUNCTION elicense.record_results(text, jsonb) IS
'Records a group of the sync worker''s results in one call (attempt rows, successes, query answers, failures, prechecks; the arguments of record_attempt, step_succeeded, step_queried, step_failed, precheck_answered and precheck_failed as JSON elements), set-based; one row per element with the one-by-one call''s value, or its error (then that element alone was not recorded)';
