--------------------------------------------------------------------------------
-- Certificates: one row per licence VERSION (seed 000 §4.9: a change makes a
-- new licence that records the original's identifier). Version 001 is the
-- original; every action of elicense.licence_transition (below) adds version
-- n+1 with the same type, authority and sequence and marks version n
-- superseded. Rows are written only by the SECURITY DEFINER functions of
-- 55_issue.sql and 56_lifecycle.sql.
--------------------------------------------------------------------------------

CREATE TABLE elicense.certificate (
    identifier          elicense.licence_identifier PRIMARY KEY,
    -- No self-referencing foreign keys: only elicense.issue/_transition write
    -- rows, from the row they lock, and each RI check was ~20 us of every
    -- approval's trigger (bench/issue_trigger.sh). certificate_version_chain
    -- keeps the form; tests/pgtap/certificates.sql walks the chains.
    original_identifier text NOT NULL,
    previous_identifier text,
    -- No foreign key to licence_type either: see 46_licence_type_guard.sql.
    type_code           text NOT NULL,
    sequence            text NOT NULL CONSTRAINT certificate_sequence_format CHECK (sequence OPERATOR(pg_catalog.~) '^[0-9A-Z]{1,20}$'),
    version             integer NOT NULL CONSTRAINT certificate_version_range CHECK (version BETWEEN 1 AND 999),
    licence_number      text NOT NULL CONSTRAINT certificate_licence_number_present CHECK (licence_number OPERATOR(pg_catalog.<>) ''),
    holder_name         text NOT NULL CONSTRAINT certificate_holder_name_present CHECK (holder_name OPERATOR(pg_catalog.<>) ''),
    holder_id_type      text NOT NULL CONSTRAINT certificate_holder_id_type CHECK (holder_id_type OPERATOR(pg_catalog.=) ANY (ARRAY['USCC', 'RESIDENT_ID'])),
    holder_id           text NOT NULL,
    authority_name      text NOT NULL CONSTRAINT certificate_authority_name_present CHECK (authority_name OPERATOR(pg_catalog.<>) ''),
    authority_uscc      elicense.uscc NOT NULL,
    authority_division  elicense.division_code NOT NULL,
    issue_date          date NOT NULL,
    valid_from          date NOT NULL,
    valid_to            date,
    status              text NOT NULL DEFAULT '01' CONSTRAINT certificate_status_code CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['01', '02', '03', '04', '05', '06', '99'])),
    status_note         text,
    operate_type        text NOT NULL CONSTRAINT certificate_operate_type_code CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    business_data       jsonb NOT NULL DEFAULT '{}' CONSTRAINT certificate_business_data_object CHECK (pg_catalog.jsonb_typeof(business_data) OPERATOR(pg_catalog.=) 'object'),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by          text NOT NULL CONSTRAINT certificate_created_by_present CHECK (created_by OPERATOR(pg_catalog.<>) ''),
    superseded_at       timestamptz,
    qr_url              text,
    assigned_code       text,
    file_sha256         text CONSTRAINT certificate_file_sha256_format CHECK (file_sha256 OPERATOR(pg_catalog.~) '^[0-9a-f]{64}$'),
    suspended_until     date,
    platform_identifier text,
    -- Resident ID numbers at rest (48_resident_id_vault.sql): the clear
    -- numbers sealed under the master key, the holder's blind index.
    holder_ref          bytea,
    id_box              bytea,
    CONSTRAINT certificate_holder_id_valid CHECK (CASE holder_id_type
        WHEN 'USCC' THEN elicense.is_valid_uscc(holder_id) AND holder_ref IS NULL
        ELSE holder_id OPERATOR(pg_catalog.~) '^[0-9]{6}\*{8}[0-9]{3}[0-9X]$' AND holder_ref IS NOT NULL AND id_box IS NOT NULL END),
    CONSTRAINT certificate_identifier_parts CHECK (identifier::text OPERATOR(pg_catalog.=)
        elicense.build_identifier(type_code, authority_uscc, sequence, version)),
    CONSTRAINT certificate_version_chain CHECK (CASE WHEN version OPERATOR(pg_catalog.=) 1
        THEN previous_identifier IS NULL AND original_identifier OPERATOR(pg_catalog.=) identifier::text
        ELSE previous_identifier IS NOT NULL AND original_identifier OPERATOR(pg_catalog.<>) identifier::text END),
    CONSTRAINT certificate_valid_range CHECK (valid_to IS NULL OR valid_to OPERATOR(pg_catalog.>) valid_from),
    CONSTRAINT certificate_other_status_note CHECK (status OPERATOR(pg_catalog.<>) '99' OR status_note IS NOT NULL),
    CONSTRAINT certificate_suspended_until CHECK (suspended_until IS NULL OR status OPERATOR(pg_catalog.=) '02')
);
COMMENT ON TABLE elicense.certificate IS
'Electronic licences (电子证照), one row per version; written only by elicense.issue and the actions of elicense.licence_transition (change, renew, suspend, lift_suspension, expire, other, revoke, withdraw, cancel). Current version: superseded_at IS NULL';
COMMENT ON COLUMN elicense.certificate.identifier IS 'Licence identifier (电子证照标识) of this version';
COMMENT ON COLUMN elicense.certificate.original_identifier IS 'Identifier of version 001 of the licence: the same for every version (traceability, seed 000 §4.9)';
COMMENT ON COLUMN elicense.certificate.previous_identifier IS 'Identifier of the version this one replaced; NULL for version 001';
COMMENT ON COLUMN elicense.certificate.type_code IS 'Licence type code (证照类型代码), see elicense.licence_type';
COMMENT ON COLUMN elicense.certificate.sequence IS 'Sequence segment of the identifier: same for all versions of a licence';
COMMENT ON COLUMN elicense.certificate.version IS 'Version segment of the identifier (1 = 001)';
COMMENT ON COLUMN elicense.certificate.licence_number IS 'Certificate number (证书编号) printed on the licence';
COMMENT ON COLUMN elicense.certificate.holder_name IS 'Holder name (持证主体名称)';
COMMENT ON COLUMN elicense.certificate.holder_id_type IS 'USCC (organisation) or RESIDENT_ID (person)';
COMMENT ON COLUMN elicense.certificate.holder_id IS 'Holder identity number: a USCC as it is; a resident ID number masked (first 6 and last 4), the full number only in id_box';
COMMENT ON COLUMN elicense.certificate.authority_name IS 'Issuing authority (发证机构)';
COMMENT ON COLUMN elicense.certificate.authority_uscc IS 'Issuing authority USCC: the issuer segment of the identifier';
COMMENT ON COLUMN elicense.certificate.authority_division IS 'Administrative division code of the issuing authority (发证机构行政区划)';
COMMENT ON COLUMN elicense.certificate.issue_date IS 'Issue date (发证日期)';
COMMENT ON COLUMN elicense.certificate.valid_from IS 'Start of validity (有效期起)';
COMMENT ON COLUMN elicense.certificate.valid_to IS 'End of validity (有效期止); NULL means no end. Past it the views show status 06 (expired) without any job';
COMMENT ON COLUMN elicense.certificate.status IS 'certState as stored: 01 valid, 02 suspended, 03 revoked (吊销), 04 withdrawn (撤销), 05 cancelled (注销), 06 expired, 99 other';
COMMENT ON COLUMN elicense.certificate.status_note IS 'Description, required for status 99';
COMMENT ON COLUMN elicense.certificate.operate_type IS 'operateType that created this version: 01 new, 02 renewal, 03 suspension, 04 expiry, 05 cancellation/revocation, 06 suspension lifted, 07 other, 08 change';
COMMENT ON COLUMN elicense.certificate.business_data IS 'Business items (业务数据) of the type that are not metadata columns, validated against elicense.licence_item; resident ID items masked (full numbers in id_box)';
COMMENT ON COLUMN elicense.certificate.created_at IS 'When this version was written (transaction time)';
COMMENT ON COLUMN elicense.certificate.created_by IS 'Actor named by the approval system';
COMMENT ON COLUMN elicense.certificate.superseded_at IS 'When a newer version replaced this one; NULL for the current version';
COMMENT ON COLUMN elicense.certificate.qr_url IS 'QR code URL, filled by the sync worker after code assignment';
COMMENT ON COLUMN elicense.certificate.assigned_code IS 'Code assigned by the national platform (赋码), filled by the sync worker';
COMMENT ON COLUMN elicense.certificate.file_sha256 IS 'SHA-256 (lower-case hex) of the licence file (OFD), filled by the sync worker';
COMMENT ON COLUMN elicense.certificate.suspended_until IS 'Last day of a suspension (暂扣) with an end date: elicense.expire_due lifts it the day after; NULL otherwise';
COMMENT ON COLUMN elicense.certificate.holder_ref IS
'Blind index of the holder''s resident ID number (HMAC-SHA256 under elicense.holder_index_key, 16 bytes): finds a holder''s licences; NULL for a USCC';
COMMENT ON COLUMN elicense.certificate.id_box IS
'The full resident ID numbers of the row (holder_id, resident_id items of business_data), AES-256-GCM under the master key; NULL when it has none';
COMMENT ON COLUMN elicense.certificate.platform_identifier IS
'NULL when this version got its own QR code (operateType 01, 02, 08: the platform holds this identifier); else the identifier the platform holds, which the status update names (zzeCertID)';

-- One current version per licence. (original_identifier, version) and
-- previous_identifier need no unique index: both follow from the identifier,
-- which holds type, authority, sequence and version.
CREATE UNIQUE INDEX certificate_one_current ON elicense.certificate (original_identifier) WHERE superseded_at IS NULL;
-- Every version of a licence, superseded ones too: elicense.lease_steps asks
-- for each due step whether an earlier version still has an open step. The
-- partial index above cannot serve it, and without this one each such probe
-- read the whole table (issue 22: the largest share of the database time per step).
CREATE INDEX certificate_versions ON elicense.certificate (original_identifier);
-- A certificate number identifies one licence of a type among current versions.
CREATE UNIQUE INDEX certificate_number_current ON elicense.certificate (type_code, licence_number) WHERE superseded_at IS NULL;
CREATE INDEX certificate_holder ON elicense.certificate (holder_id);
CREATE INDEX certificate_holder_ref ON elicense.certificate (holder_ref) WHERE holder_ref IS NOT NULL;
CREATE INDEX certificate_authority_issue_date ON elicense.certificate (authority_uscc, issue_date);
COMMENT ON INDEX elicense.certificate_one_current IS 'At most one current (not superseded) version per licence';
COMMENT ON INDEX elicense.certificate_versions IS 'All versions of a licence, for the per-licence step order of elicense.lease_steps';
COMMENT ON INDEX elicense.certificate_number_current IS 'Certificate numbers are unique per type among current versions';
-- elicense.expire_due finds what is due without reading every licence.
CREATE INDEX certificate_due_expiry ON elicense.certificate (valid_to) WHERE superseded_at IS NULL AND valid_to IS NOT NULL;
CREATE INDEX certificate_due_lifting ON elicense.certificate (suspended_until) WHERE superseded_at IS NULL AND suspended_until IS NOT NULL;
COMMENT ON INDEX elicense.certificate_due_expiry IS 'elicense.expire_due: current versions by end of validity';
COMMENT ON INDEX elicense.certificate_due_lifting IS 'elicense.expire_due: suspensions with an end date';
COMMENT ON INDEX elicense.certificate_holder IS 'Licences of a holder by USCC';
COMMENT ON INDEX elicense.certificate_holder_ref IS 'Licences of a holder by the blind index of a resident ID number';
COMMENT ON INDEX elicense.certificate_authority_issue_date IS 'Licences of an authority by issue date (monthly counts)';

--------------------------------------------------------------------------------
-- Sequence counters: one row per (type, authority). elicense.issue takes the
-- next value with INSERT ... ON CONFLICT DO UPDATE ... RETURNING in the
-- issuing transaction: the row stays locked until commit, so concurrent
-- issuers for the same authority queue up, and a rollback returns the value.
-- Numbers are therefore gap-free per (type, authority).
--------------------------------------------------------------------------------

CREATE TABLE elicense.sequence_counter (
    type_code      text NOT NULL REFERENCES elicense.licence_type ON UPDATE CASCADE,
    authority_uscc text NOT NULL,
    last_value     bigint NOT NULL CONSTRAINT sequence_counter_positive CHECK (last_value > 0),
    PRIMARY KEY (type_code, authority_uscc)
);
COMMENT ON TABLE elicense.sequence_counter IS
'Last sequence number allocated per (licence type, issuing authority); gap-free because it is updated in the issuing transaction';
COMMENT ON COLUMN elicense.sequence_counter.last_value IS 'Last allocated value; the next licence gets last_value + 1';

--------------------------------------------------------------------------------
-- Status history: append-only (a trigger rejects UPDATE, DELETE and TRUNCATE;
-- no role has those privileges either).
-- Partitioned by month of `at` (DESIGN.md "Lessons"; 76_history_partitions.sql):
-- the extension creates only the DEFAULT partition; monthly partitions are
-- made by elicense.create_history_partitions() (not extension members, so
-- pg_dump keeps them and their rows like any table). Primary key and
-- indexes are each partition's own (76_history_partitions.sql says why).
--------------------------------------------------------------------------------

CREATE TABLE elicense.status_history (
    id                  bigint GENERATED ALWAYS AS IDENTITY,
    -- Written with its certificate version by the same functions, hence no
    -- foreign key (its RI check ran in every approval transaction).
    identifier          text NOT NULL,
    original_identifier text NOT NULL,
    from_status         text CONSTRAINT status_history_from_code CHECK (from_status OPERATOR(pg_catalog.~) '^(0[1-6]|99)$'),
    to_status           text NOT NULL CONSTRAINT status_history_to_code CHECK (to_status OPERATOR(pg_catalog.~) '^(0[1-6]|99)$'),
    operate_type        text NOT NULL CONSTRAINT status_history_operate_type CHECK (operate_type OPERATOR(pg_catalog.~) '^0[1-8]$'),
    reason              text NOT NULL CONSTRAINT status_history_reason_present CHECK (reason OPERATOR(pg_catalog.<>) ''),
    actor               text NOT NULL,
    db_user             text NOT NULL DEFAULT session_user,
    at                  timestamptz NOT NULL DEFAULT pg_catalog.now()
) PARTITION BY RANGE (at);
CREATE TABLE elicense.status_history_default PARTITION OF elicense.status_history DEFAULT;
COMMENT ON TABLE elicense.status_history IS 'Every status change of every licence: who, when, why. Append-only';
COMMENT ON COLUMN elicense.status_history.identifier IS 'Version created by the change';
COMMENT ON COLUMN elicense.status_history.original_identifier IS 'Version 001 of the licence';
COMMENT ON COLUMN elicense.status_history.from_status IS 'certState before (NULL when issued)';
COMMENT ON COLUMN elicense.status_history.to_status IS 'certState after';
COMMENT ON COLUMN elicense.status_history.operate_type IS 'operateType of the change';
COMMENT ON COLUMN elicense.status_history.reason IS 'Why, as given by the approval system';
COMMENT ON COLUMN elicense.status_history.actor IS 'Who, as named by the approval system';
COMMENT ON COLUMN elicense.status_history.db_user IS 'Database login role of the session that made the change';
COMMENT ON COLUMN elicense.status_history.at IS 'When (transaction time)';

-- Keeps a table append-only (status_history, usage_audit, preview_access,
-- delivery_event, code_assignment): the error names the table, the trigger's
-- argument is the HINT. A trigger without one still raises 42501: a NULL HINT
-- made RAISE itself fail with 22004 (null_value_not_allowed).
CREATE FUNCTION elicense.reject_history_change() RETURNS trigger
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
REVOKE ALL ON FUNCTION elicense.reject_history_change() FROM PUBLIC;
COMMENT ON FUNCTION elicense.reject_history_change() IS
'Trigger function keeping a table append-only; its argument is the HINT of the error';

CREATE TRIGGER status_history_append_only BEFORE UPDATE OR DELETE ON elicense.status_history
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('Record a new status change with elicense.change, revoke or cancel instead.');
CREATE TRIGGER status_history_no_truncate BEFORE TRUNCATE ON elicense.status_history
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('Record a new status change with elicense.change, revoke or cancel instead.');
COMMENT ON TRIGGER status_history_append_only ON elicense.status_history IS 'Rejects UPDATE and DELETE';
COMMENT ON TRIGGER status_history_no_truncate ON elicense.status_history IS 'Rejects TRUNCATE';

-- These tables hold data the extension creates: without being marked, pg_dump
-- would dump their definitions through CREATE EXTENSION but none of their rows.
SELECT pg_catalog.pg_extension_config_dump('elicense.certificate', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.sequence_counter', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.status_history_default', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.status_history', 'id'), '');

REVOKE ALL ON elicense.certificate, elicense.sequence_counter, elicense.status_history FROM PUBLIC;
GRANT SELECT ON elicense.certificate, elicense.status_history TO elicense_admin, elicense_issuer;
GRANT SELECT ON elicense.sequence_counter TO elicense_admin;

COMMENT ON COLUMN elicense.sequence_counter.type_code IS 'Licence type';
COMMENT ON COLUMN elicense.sequence_counter.authority_uscc IS 'Issuing authority USCC (the issuer segment of the identifier)';
COMMENT ON COLUMN elicense.status_history.id IS 'Order of recording';
COMMENT ON SEQUENCE elicense.status_history_id_seq IS 'Identity of elicense.status_history (dumped with the table)';

--------------------------------------------------------------------------------
-- The life of a licence as data: which action leads from which
-- certState to which, with which operateType. Whether a new QR code is
-- assigned and which delivery steps run follow from the operateType
-- (PLATFORM.md: a new code for 01, 02 and 08), so they are generated. The
-- functions of 55_issue.sql and 56_lifecycle.sql read this table; a pair
-- (from_status, action) that is not here is refused with SQLSTATE 55L01.
-- Shipped with the extension and not dumped. How the platform wants an
-- operateType spelt (one client sends 05 for expiry) is set in
-- elicense.platform_field (code_map of the operate_type slot), not here.
--------------------------------------------------------------------------------

-- A certState code in words.
CREATE FUNCTION elicense._state_word(status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE status WHEN '01' THEN 'valid' WHEN '02' THEN 'suspended' WHEN '03' THEN 'revoked' WHEN '04' THEN 'withdrawn'
                     WHEN '05' THEN 'cancelled' WHEN '06' THEN 'expired' WHEN '99' THEN 'other' ELSE 'new' END
$$;
REVOKE ALL ON FUNCTION elicense._state_word(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._state_word(text) IS 'Internal: a certState code in words (valid, suspended, revoked, withdrawn, cancelled, expired, other; new for NULL)';

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
GRANT SELECT ON elicense.licence_transition TO elicense_admin, elicense_issuer, elicense_analyst;
