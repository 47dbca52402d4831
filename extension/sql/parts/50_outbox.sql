--------------------------------------------------------------------------------
-- Outbox: one row per delivery step of a licence version, written in the
-- issuing transaction (a rolled-back approval leaves none). The sync worker
-- leases pending rows with FOR UPDATE SKIP LOCKED; a row leaves in_flight
-- only on an answer. LOGGED on purpose (DESIGN.md "Lessons"); fillfactor
-- leaves room for HOT updates of the status/lease columns, and autovacuum
-- runs early because every row is updated a few times and then stays.
--------------------------------------------------------------------------------

CREATE TABLE elicense.outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key to elicense.certificate: rows are written only by the
    -- issuing functions, in the transaction that writes the certificate, and
    -- three RI checks per licence were a measurable part of the trigger cost.
    identifier       text NOT NULL,
    version          integer NOT NULL,
    step             text NOT NULL CONSTRAINT outbox_step_name CHECK (step OPERATOR(pg_catalog.=) ANY (ARRAY['validate', 'assign_code', 'collect', 'confirm', 'status_update'])),
    step_order       integer NOT NULL CONSTRAINT outbox_step_order_positive CHECK (step_order > 0),
    operate_type     text NOT NULL CONSTRAINT outbox_operate_type CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    idempotency_key  text NOT NULL GENERATED ALWAYS AS (identifier OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) version::text
                                                   OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) step) STORED,
    status           text NOT NULL DEFAULT 'pending' CONSTRAINT outbox_status_name CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'in_flight', 'done', 'dead', 'held'])),
    attempts         integer NOT NULL DEFAULT 0 CONSTRAINT outbox_attempts_nonnegative CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    needs_query      boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ecert_id         uuid,
    request          jsonb,
    lane             text NOT NULL DEFAULT 'live' CONSTRAINT outbox_lane_name CHECK (lane OPERATOR(pg_catalog.=) ANY (ARRAY['live', 'stock'])),
    -- The identifier holds the version, so this also makes idempotency_key unique.
    CONSTRAINT outbox_step_once UNIQUE (identifier, step),
    CONSTRAINT outbox_lease_when_in_flight CHECK (status OPERATOR(pg_catalog.<>) 'in_flight' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
) WITH (fillfactor = 70,
        autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 500,
        autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
-- Only open rows are indexed by time, so the index shrinks as rows finish;
-- live rows first, so that lease_steps reads no stock row while live ones are due.
CREATE INDEX outbox_open ON elicense.outbox ((lane OPERATOR(pg_catalog.<>) 'live'), next_attempt_at, id) WHERE status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'in_flight']);
COMMENT ON TABLE elicense.outbox IS
'Delivery steps to the national platform, one row per step of a licence version, written in the issuing transaction; leased by the sync worker';
COMMENT ON COLUMN elicense.outbox.identifier IS 'Licence version to deliver';
COMMENT ON COLUMN elicense.outbox.version IS 'Version number of that licence version (part of the idempotency key)';
COMMENT ON COLUMN elicense.outbox.step IS 'validate, assign_code (赋码), collect (归集), confirm (查询: the platform shows it) or status_update';
COMMENT ON COLUMN elicense.outbox.needs_query IS 'An earlier attempt may have taken effect (timeout, dropped connection, 5xx, lapsed lease): the worker asks the platform before sending again';
COMMENT ON COLUMN elicense.outbox.step_order IS 'Steps of one version run in this order';
COMMENT ON COLUMN elicense.outbox.operate_type IS 'operateType sent with the step';
COMMENT ON COLUMN elicense.outbox.idempotency_key IS 'identifier:version:step (generated); stable across retries, unique through outbox_step_once';
COMMENT ON COLUMN elicense.outbox.status IS 'pending, in_flight (leased), done, dead (gave up), held (waits for an operator); elicense.replay puts dead and held rows back';
COMMENT ON COLUMN elicense.outbox.ecert_id IS 'eCertID of the step''s data item: made at its first lease, kept for every resend so the platform can match answers and duplicates';
COMMENT ON COLUMN elicense.outbox.request IS 'The request item last leased for sending (elicense.platform_request); NULL for confirm';
COMMENT ON COLUMN elicense.outbox.lane IS 'live (approvals, leased first) or stock (converted paper licences, elicense.convert_stock: leased only when no live step is due)';
COMMENT ON COLUMN elicense.outbox.attempts IS 'Attempts made so far';
COMMENT ON COLUMN elicense.outbox.next_attempt_at IS 'Earliest time of the next attempt (backoff)';
COMMENT ON COLUMN elicense.outbox.lease_owner IS 'Worker holding the lease while in_flight';
COMMENT ON COLUMN elicense.outbox.lease_expires_at IS 'When the lease lapses and another worker may take the row';
COMMENT ON COLUMN elicense.outbox.last_error IS 'Last error text (also kept per attempt in elicense.delivery_attempt)';
COMMENT ON COLUMN elicense.outbox.created_at IS 'When the step was queued';
COMMENT ON COLUMN elicense.outbox.updated_at IS 'Last change of the row';
COMMENT ON INDEX elicense.outbox_open IS 'Open rows by lane (live first) and due time, for leasing';
COMMENT ON CONSTRAINT outbox_step_once ON elicense.outbox IS 'Each step once per licence version; also finds the steps of a version';

--------------------------------------------------------------------------------
-- Delivery attempts: one row per HTTP call the worker made (written by the
-- worker issue; created now so the analysts' views exist).
--------------------------------------------------------------------------------

CREATE TABLE elicense.delivery_attempt (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    -- No foreign key (as for outbox.identifier): only the delivery functions
    -- write rows, with the id of a row they hold; one RI check per attempt
    -- row was a measurable part of recording a group of results.
    outbox_id      bigint,
    identifier     text NOT NULL,
    step           text NOT NULL,
    endpoint       text NOT NULL,
    http_status    integer CONSTRAINT delivery_attempt_http_status CHECK (http_status BETWEEN 100 AND 599),
    return_code    text,
    return_message text,
    duration_ms    integer CONSTRAINT delivery_attempt_duration CHECK (duration_ms >= 0),
    worker_id      text NOT NULL,
    outcome        text CONSTRAINT delivery_attempt_outcome CHECK (outcome OPERATOR(pg_catalog.=) ANY (ARRAY['done', 'business_error', 'retry', 'not_sent', 'unknown', 'held'])),
    at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ecert_id       uuid
) PARTITION BY RANGE (at);  -- by month (76_history_partitions.sql)
CREATE TABLE elicense.delivery_attempt_default PARTITION OF elicense.delivery_attempt DEFAULT;
COMMENT ON TABLE elicense.delivery_attempt IS 'Every call the sync worker made to the national platform and what came back';
COMMENT ON COLUMN elicense.delivery_attempt.outbox_id IS 'Outbox step the call belongs to (NULL for calls outside a step, e.g. token)';
COMMENT ON COLUMN elicense.delivery_attempt.identifier IS 'Licence version concerned';
COMMENT ON COLUMN elicense.delivery_attempt.step IS 'Step name';
COMMENT ON COLUMN elicense.delivery_attempt.endpoint IS 'Endpoint called, with any token masked';
COMMENT ON COLUMN elicense.delivery_attempt.http_status IS 'HTTP status; NULL when no answer came (timeout, network)';
COMMENT ON COLUMN elicense.delivery_attempt.return_code IS 'ReturnCode of the platform answer';
COMMENT ON COLUMN elicense.delivery_attempt.return_message IS 'ReturnMsg / error messages of the platform answer';
COMMENT ON COLUMN elicense.delivery_attempt.duration_ms IS 'Duration of the call in milliseconds';
COMMENT ON COLUMN elicense.delivery_attempt.worker_id IS 'Worker instance that made the call';
COMMENT ON COLUMN elicense.delivery_attempt.outcome IS 'done, business_error (refused, not retried), retry (had no effect), not_sent (never reached the platform: refused, DNS, TLS; uses no retry budget), unknown (may have had effect: query before resending), held (left for an operator)';
COMMENT ON COLUMN elicense.delivery_attempt.ecert_id IS 'eCertID of the data item the call carried (answers echo it in SuccessData and ErrorGuid)';
COMMENT ON COLUMN elicense.delivery_attempt.at IS 'When the call started';

SELECT pg_catalog.pg_extension_config_dump('elicense.outbox', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.outbox', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump('elicense.delivery_attempt_default', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.delivery_attempt', 'id'), '');

REVOKE ALL ON elicense.outbox, elicense.delivery_attempt FROM PUBLIC;
GRANT SELECT ON elicense.outbox, elicense.delivery_attempt TO elicense_admin;
GRANT SELECT ON elicense.outbox TO elicense_worker;  -- its backlog count
-- The worker changes rows only through the SECURITY DEFINER functions of
-- 60_delivery.sql, and an admin replays dead and held rows with elicense.replay().

COMMENT ON COLUMN elicense.outbox.id IS 'Queue order';
COMMENT ON COLUMN elicense.delivery_attempt.id IS 'Order of recording';
COMMENT ON SEQUENCE elicense.outbox_id_seq IS 'Identity of elicense.outbox (dumped with the table)';
COMMENT ON SEQUENCE elicense.delivery_attempt_id_seq IS 'Identity of elicense.delivery_attempt (dumped with the table)';
