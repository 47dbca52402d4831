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
--   audit       every call, ok, refused or cancelled, append-only, committed
--               by the database's audit writer (extension/src/audit_writer.cpp)
--               so that a refusal, whose error rolls back the caller's
--               transaction, and a read in a transaction the caller rolls back
--               are still recorded; a call whose row cannot be committed is
--               refused (55000)
-- Department application login roles are members of elicense_consumer: it
-- has EXECUTE on the functions below and no table access.
--------------------------------------------------------------------------------

-- The application calling: the role of SET ROLE when one is set (the
-- HTTP gateway, logged in as itself, sets the application's role for each
-- request; PostgreSQL allows SET ROLE only to roles the login is a member
-- of), else the login role. Inside the SECURITY DEFINER functions below,
-- current_user is their owner, while the "role" setting is still the
-- caller's.
CREATE FUNCTION elicense._caller_role() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END
$$;
COMMENT ON FUNCTION elicense._caller_role() IS
'Internal: the role the sharing functions treat as the caller: SET ROLE''s role when set, else session_user';
REVOKE ALL ON FUNCTION elicense._caller_role() FROM PUBLIC;

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
    id_searches_per_minute integer NOT NULL DEFAULT 20
                       CONSTRAINT usage_grant_id_searches CHECK (id_searches_per_minute BETWEEN 0 AND 10000),
    CONSTRAINT usage_grant_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT usage_grant_revocation CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE UNIQUE INDEX usage_grant_one_live ON elicense.usage_grant (grantee, scenario) WHERE revoked_at IS NULL;
COMMENT ON TABLE elicense.usage_grant IS
'Which department application (grantee: a role its login roles are members of) may use which licence types in a scenario, and for how long; revoke by setting revoked_at and revoked_reason';
COMMENT ON COLUMN elicense.usage_grant.may_see_id_numbers IS 'Resident ID numbers (身份证) of holders are shown in full; otherwise first 6 and last 4 characters';
COMMENT ON INDEX elicense.usage_grant_one_live IS 'One live grant per role and scenario';
COMMENT ON COLUMN elicense.usage_grant.id_searches_per_minute IS 'lookups by resident ID number (holder_id that is not a USCC) the grantee may make in any 60 seconds, refused ones included: licence_search calls, and create_usage_code calls of a grant that may not see ID numbers';

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
    created_by  text NOT NULL DEFAULT elicense._caller_role(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    -- A resident ID holder (48_resident_id_vault.sql): holder_id masked, the
    -- blind index to find the holder's licences, the full number sealed.
    holder_ref  bytea,
    id_box      bytea,
    CONSTRAINT usage_code_holder_at_rest CHECK ((holder_ref IS NULL) = (id_box IS NULL)
        AND (holder_ref IS NULL OR strpos(holder_id, '*') > 0))
);
COMMENT ON TABLE elicense.usage_code IS
'Usage codes (用证码): the SHA-256 of the code (the code itself is never stored), the grant it was made under, the one holder and the licence types it opens, its business context and expiry';
COMMENT ON COLUMN elicense.usage_code.holder_id IS
'The holder: a USCC as it is, a resident ID number masked (first 6 and last 4)';
COMMENT ON COLUMN elicense.usage_code.holder_ref IS 'Blind index of a resident ID holder (as certificate.holder_ref); NULL for a USCC';
COMMENT ON COLUMN elicense.usage_code.id_box IS 'A resident ID holder''s full number, AES-256-GCM under the master key (shown to grants that may see ID numbers)';
COMMENT ON COLUMN elicense.usage_code.context IS
'purpose (用证事由), applicant (办事人), business_id (业务标识), step (业务环节), office (业务网点), time (业务时间), department (业务部门), officer (经办人员)';

--------------------------------------------------------------------------------
-- Audit: append-only; rows come from the audit writer, or the call is refused.
-- No foreign keys on purpose: the writer commits while the caller's
-- transaction, which may hold the referenced rows uncommitted, waits for it.
--------------------------------------------------------------------------------

CREATE TABLE elicense.usage_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY,
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
) PARTITION BY RANGE (at);  -- by month (76_history_partitions.sql)
CREATE TABLE elicense.usage_audit_default PARTITION OF elicense.usage_audit DEFAULT;
COMMENT ON TABLE elicense.usage_audit IS 'Every use of the sharing functions: who, what, why, when, result. Append-only';
COMMENT ON COLUMN elicense.usage_audit.db_user IS 'Role of the caller: the role set by SET ROLE (the HTTP gateway sets the application''s), else the login role (session_user)';
COMMENT ON COLUMN elicense.usage_audit.grantee IS 'Role of the grant the call was made under';
COMMENT ON COLUMN elicense.usage_audit.department IS 'Department (业务部门) from the usage code, else from the grant';
COMMENT ON COLUMN elicense.usage_audit.officer IS 'Officer (经办人员) from the usage code';
COMMENT ON COLUMN elicense.usage_audit.function IS 'Sharing function called';
COMMENT ON COLUMN elicense.usage_audit.identifier IS 'Licence asked for (or found by verification)';
COMMENT ON COLUMN elicense.usage_audit.holder_id IS 'Holder asked for: a USCC as it is, anything else masked (first 6 and last 4; elicense._record masks it)';
COMMENT ON COLUMN elicense.usage_audit.result IS 'ok, or refused with the SQLSTATE and message of the error the caller got';
COMMENT ON COLUMN elicense.usage_audit.message IS 'The error message of a refusal; the verdict of a verification';
COMMENT ON COLUMN elicense.usage_audit.rows_returned IS 'Rows (licences, files) handed out';
COMMENT ON COLUMN elicense.usage_audit.file_sha256 IS 'SHA-256 of a file copy handed out: licence_verify recognises the copy by it';
COMMENT ON COLUMN elicense.usage_audit.copy_valid_until IS 'Validity printed on that copy (有效期至)';
COMMENT ON COLUMN elicense.usage_audit.recorded_by IS 'writer: committed by the audit writer; transaction: written in the caller''s transaction when no writer could start (before 0.3.0; since then such a call is refused)';

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
'Internal: hands an audit record (JSON) to the database''s audit writer, a background worker shared by all sessions that commits it in its own transaction; returns the row id, raises 55000 when the row cannot be committed (the call is refused)';

-- Refuses a sharing call whose text argument is longer than any real value
-- (identifiers, codes, IDs and names are short), before any work and before
-- the value reaches the audit writer. names[i] names values[i]; the value is
-- not quoted (it may be personal data, and it is long).
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

-- Records one use; returns the audit row id. The row is committed by the
-- audit writer, so it survives the caller's rollback; when it cannot be,
-- _audit_autonomous raises 55000 and the call is refused (fail closed). Long
-- text values (a caller's 10 KB identifier, an error message quoting it) are
-- shortened to 256 characters (the message to 2,000), so a record stays far
-- below the writer's 16 KB and the index limits of usage_audit.
CREATE FUNCTION elicense._record(r jsonb) RETURNS bigint
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
REVOKE ALL ON FUNCTION elicense._record(jsonb) FROM PUBLIC;

-- Masks a holder ID whose type is not known (audit rows): a USCC is public.
CREATE FUNCTION elicense._mask_any_holder(id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT elicense.mask_holder_id(CASE WHEN elicense.is_valid_uscc(id) THEN 'USCC' ELSE 'RESIDENT_ID' END, id)
$$;

--------------------------------------------------------------------------------
-- Who is calling, under which grant
--------------------------------------------------------------------------------

-- The caller's role (_caller_role) and every role whose privileges it has:
-- those it is a member of, directly or not, through roles that inherit
-- (as PostgreSQL 15 grants privileges; the HTTP gateway's login is
-- NOINHERIT, so it has no grant of the applications it may SET ROLE to).
-- Unlike pg_has_role, superuser status does not make a role a member of
-- everything: a grant applies only to real members of its grantee.
CREATE FUNCTION elicense._caller_roles() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH RECURSIVE r(oid, inherits) AS (
    SELECT a.oid, a.rolinherit FROM pg_catalog.pg_roles a WHERE a.rolname = elicense._caller_role()
    UNION
    SELECT m.roleid, g.rolinherit FROM pg_catalog.pg_auth_members m JOIN r ON m.member = r.oid AND r.inherits
      JOIN pg_catalog.pg_roles g ON g.oid = m.roleid)
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
    refusal_hint       text,
    holder_ref         bytea,
    holder_box         bytea
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
DECLARE
  ref bytea := elicense._holder_ref(holder_id);
BEGIN
  IF ref IS DISTINCT FROM x.holder_ref OR (ref IS NULL AND holder_id IS DISTINCT FROM x.holder_id) THEN
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
'A licence version as the sharing functions return it: holder_id and resident ID items of business_data masked (resident IDs: first 6 and last 4) unless the grant may see ID numbers; business_data only from the info functions, NULL in search results';

-- A grant that may see ID numbers gets the full numbers (opened from the
-- row's id_box); the others the stored, masked form.
CREATE FUNCTION elicense._share(c elicense.certificate, may_see_id_numbers boolean, with_data boolean)
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

-- The copy of a licence file for a department: no platform watermark (it
-- says the file is for the national platform's publication), the
-- purpose-and-validity note (seed 000 §8.4), the holder's resident ID masked
-- on the face unless the grant may see it, sealed like every file.
CREATE FUNCTION elicense._render_copy(identifier text, purpose text, valid_until date, mask_id boolean) RETURNS bytea
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
COMMENT ON FUNCTION elicense.licence_file_by_holder(text, text) IS
'基于持证主体下载证照文件: an OFD copy (as licence_file) of each current licence of the usage code''s holder and types';

-- Lookups by resident ID number, searches and usage codes alike, share the
-- grant's usage_grant.id_searches_per_minute: a usage code for a candidate
-- number answers, through licence_info_by_holder, the same yes/no as a
-- search. The count is of this grantee's audit rows (refused ones included).
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

-- A search by holder ID: by a USCC (a public register's number) always; by a
-- resident ID number only under a grant that may see ID numbers or with a
-- live usage code of the grant for that holder (the holder asked), and at
-- most usage_grant.id_searches_per_minute a minute: with the masked form
-- (first 6, last 4) a yes/no answer would otherwise give the birth date away
-- in a few hundred searches. The count is of this grantee's audit rows.
CREATE FUNCTION elicense._allow_id_search(x elicense._usage_context, holder_id text) RETURNS void
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
REVOKE ALL ON FUNCTION elicense._allow_id_search(elicense._usage_context, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._allow_id_search(elicense._usage_context, text) IS
'Internal: refuses a licence_search by resident ID without the right to see ID numbers or a usage code for the holder (42501), or over the grant''s rate (53400)';

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
COMMENT ON FUNCTION elicense.licence_search(text, text, text, text, text, text, date, date, text, integer) IS
'电子证照检索: current versions of licences of the types the caller''s grant for the scenario allows, filtered by type, holder ID, holder name (exact), issuing authority, effective status and issue dates; ordered by identifier, at most page_size (≤ 200) rows after after_identifier; metadata only, holder ID masked unless the grant may see ID numbers';

-- 文件核验: is this file one the store issued, unchanged, and is the licence still valid?
-- The file must be one archived in elicense.sealed_file, byte for byte (files
-- issued before the archive: the original's digest or a copy's in the audit),
-- and its seal must verify (verify_licence_ofd: sealed, or unsigned when the
-- authority has no seal); then the licence's state decides.
CREATE FUNCTION elicense.licence_verify(scenario text, file bytea,
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
SELECT pg_catalog.pg_extension_config_dump('elicense.usage_audit_default', '');
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
