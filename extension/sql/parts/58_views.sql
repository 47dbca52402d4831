--------------------------------------------------------------------------------
-- Views, and the one rule for what a verifier sees (effective_status,
-- effective_state). Expiry shows at once: effective_status is 06 (expired)
-- once valid_to has passed for a licence stored as 01 or 02, before
-- elicense.expire_due records it.
-- Analysts (elicense_analyst) read only the analyst_* views: no base table,
-- no business data, resident ID numbers masked. The views run with the
-- extension owner's rights.
-- Operators in view bodies are not written OPERATOR(pg_catalog.x): CREATE
-- EXTENSION runs this script with search_path = pg_catalog (the control
-- file's schema), and a view binds its operators and functions when created.
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.mask_holder_id(id_type text, id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN id_type = 'USCC' THEN id
              WHEN length(id) > 10 THEN left(id, 6) || repeat('*', length(id) - 10) || right(id, 4)
              ELSE repeat('*', length(id)) END
$$;
COMMENT ON FUNCTION elicense.mask_holder_id(text, text) IS
'Holder ID for people who may not see it: a resident ID keeps its first 6 and last 4 characters; a USCC (public register) is shown as is';

CREATE FUNCTION elicense.effective_status(status text, valid_to date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN status IN ('01', '02') AND valid_to < current_date THEN '06' ELSE status END
$$;
COMMENT ON FUNCTION elicense.effective_status(text, date) IS
'certState as of today: 06 (expired) for a valid or suspended licence past its valid_to, else the stored status';

-- What a verifier sees for a licence version, by the licence's current
-- version: its end states first (revoked, withdrawn, cancelled, other),
-- then superseded (a later version has a new QR code, so this one's code
-- and file are out of date), expired (stored or past valid_to), suspended,
-- valid. Versions written by status changes share the platform identifier
-- with the version before them, so they supersede nothing.
-- licence_verify, the preview, _lock_current's messages and the views use it.
-- SECURITY DEFINER: the analysts' views call it, and a function in a view
-- runs with the reader's rights, who may not read elicense.certificate.
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
    TO elicense_admin, elicense_issuer, elicense_analyst;
COMMENT ON FUNCTION elicense.effective_state(elicense.certificate) IS
'What a verifier sees for a licence version today: revoked, withdrawn, cancelled, other, superseded (a later version has a new QR code), expired, suspended or valid';

CREATE VIEW elicense.certificate_current AS
SELECT c.identifier, c.original_identifier, c.type_code, c.sequence, c.version, c.licence_number,
       c.holder_name, c.holder_id_type, c.holder_id, c.authority_name, c.authority_uscc, c.authority_division,
       c.issue_date, c.valid_from, c.valid_to, c.status,
       elicense.effective_status(c.status, c.valid_to) AS effective_status,
       c.status_note, c.operate_type, c.business_data, c.created_at, c.created_by, c.qr_url, c.assigned_code, c.file_sha256,
       elicense.effective_state(c.*) AS effective_state, c.suspended_until, coalesce(c.platform_identifier, c.identifier) AS platform_identifier
  FROM elicense.certificate c
 WHERE c.superseded_at IS NULL;
COMMENT ON VIEW elicense.certificate_current IS
'Latest version of every licence, with effective_status (06 once a valid or suspended licence is past valid_to) and effective_state';
COMMENT ON COLUMN elicense.certificate_current.effective_status IS 'certState as of today: 06 when status is 01 or 02 and valid_to has passed (elicense.effective_status)';
COMMENT ON COLUMN elicense.certificate_current.effective_state IS 'What a verifier sees: valid, suspended, expired, revoked, withdrawn, cancelled or other (elicense.effective_state)';
COMMENT ON COLUMN elicense.certificate_current.suspended_until IS 'Last day of a suspension with an end date';
COMMENT ON COLUMN elicense.certificate_current.platform_identifier IS 'The identifier the national platform holds for the licence (the last version with a new QR code)';

CREATE VIEW elicense.analyst_holder_history AS
SELECT c.holder_id_type,
       elicense.mask_holder_id(c.holder_id_type, c.holder_id) AS holder_id_masked,
       c.holder_name, c.type_code, t.name AS type_name, c.original_identifier, c.identifier, c.version,
       c.licence_number, c.authority_name, c.authority_uscc, c.issue_date, c.valid_from, c.valid_to, c.status,
       elicense.effective_status(c.status, c.valid_to) AS effective_status,
       c.operate_type, c.created_at, c.superseded_at, c.superseded_at IS NULL AS is_current,
       elicense.effective_state(c.*) AS effective_state
  FROM elicense.certificate c
  JOIN elicense.licence_type t ON t.type_code = c.type_code;
COMMENT ON VIEW elicense.analyst_holder_history IS
'Every version of every licence by holder, resident ID numbers masked; no business data';
COMMENT ON COLUMN elicense.analyst_holder_history.holder_id_masked IS 'USCC as is; resident ID with only its first 6 and last 4 characters';

CREATE VIEW elicense.analyst_status_timeline AS
SELECT h.original_identifier, h.identifier, c.version, c.type_code, c.authority_uscc,
       h.from_status, h.to_status, h.operate_type, h.reason, h.actor, h.at
  FROM elicense.status_history h
  JOIN elicense.certificate c ON c.identifier = h.identifier;
COMMENT ON VIEW elicense.analyst_status_timeline IS 'Status changes of every licence in time order per original_identifier';

CREATE VIEW elicense.analyst_outbox_backlog AS
SELECT o.step, o.status,
       CASE WHEN now() - o.created_at < interval '1 minute' THEN '1: < 1 min'
            WHEN now() - o.created_at < interval '10 minutes' THEN '2: 1-10 min'
            WHEN now() - o.created_at < interval '1 hour' THEN '3: 10-60 min'
            WHEN now() - o.created_at < interval '1 day' THEN '4: 1-24 h'
            ELSE '5: > 1 day' END AS age_bucket,
       count(*) AS steps,
       count(*) FILTER (WHERE o.next_attempt_at <= now()) AS due_now,
       min(o.created_at) AS oldest_created_at,
       max(o.attempts) AS max_attempts
  FROM elicense.outbox o
 WHERE o.status <> 'done'
 GROUP BY 1, 2, 3;
COMMENT ON VIEW elicense.analyst_outbox_backlog IS 'Undelivered outbox steps (pending, in_flight, dead) by step, status and age';

CREATE VIEW elicense.analyst_issuance_monthly AS
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
COMMENT ON VIEW elicense.analyst_issuance_monthly IS
'证照电子化率-style counts per authority, type and month of issue: licences issued, their state now, and how many reached the national platform (a collect step done)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.delivered IS 'Licences with at least one version whose collect (归集) step is done';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.electronic_rate IS 'delivered / issued';

COMMENT ON COLUMN elicense.analyst_holder_history.is_current IS 'True for the current version of the licence';
COMMENT ON COLUMN elicense.analyst_holder_history.type_name IS 'Licence name from elicense.licence_type';
COMMENT ON COLUMN elicense.analyst_holder_history.effective_status IS 'certState as of today (06 once a valid or suspended licence is past valid_to)';
COMMENT ON COLUMN elicense.analyst_holder_history.effective_state IS 'What a verifier sees of this version today (elicense.effective_state): valid, suspended, expired, superseded, revoked, withdrawn, cancelled or other';
COMMENT ON COLUMN elicense.analyst_status_timeline.version IS 'Version created by the change';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.age_bucket IS 'Age of the step since it was queued';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.steps IS 'Number of steps';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.due_now IS 'Steps whose next attempt time has come';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.oldest_created_at IS 'When the oldest step was queued';
COMMENT ON COLUMN elicense.analyst_outbox_backlog.max_attempts IS 'Most attempts made for one step';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.month IS 'First day of the month of issue (issue_date of version 001)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.issued IS 'Licences issued (versions 001)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.valid_now IS 'Of these, valid today (current version effective status 01)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.expired_now IS 'Of these, expired today (recorded, or past valid_to)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.suspended_now IS 'Of these, suspended (02) today';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.revoked_or_withdrawn IS 'Of these, revoked (03) or withdrawn (04)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.cancelled IS 'Of these, cancelled (05)';
COMMENT ON COLUMN elicense.analyst_issuance_monthly.with_later_versions IS 'Of these, licences with more than one version';

REVOKE ALL ON elicense.certificate_current, elicense.analyst_holder_history, elicense.analyst_status_timeline,
    elicense.analyst_outbox_backlog, elicense.analyst_issuance_monthly FROM PUBLIC;
GRANT SELECT ON elicense.certificate_current TO elicense_admin, elicense_issuer;
GRANT SELECT ON elicense.analyst_holder_history, elicense.analyst_status_timeline,
    elicense.analyst_outbox_backlog, elicense.analyst_issuance_monthly TO elicense_analyst, elicense_admin;
