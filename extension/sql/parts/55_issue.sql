--------------------------------------------------------------------------------
-- Issuing: elicense.issue / change / revoke / cancel and the approval-table
-- trigger elicense.issue_from_trigger (56_lifecycle.sql adds renew, suspend,
-- lift_suspension, expire, other, withdraw and expire_due). Each call validates everything first,
-- then writes the certificate version, its status_history row and its outbox
-- rows in the caller's transaction and sends one NOTIFY elicense_outbox (an
-- empty payload, so PostgreSQL folds all notifications of a transaction into
-- one). A rolled-back approval leaves no row anywhere.
--
-- Licence data is a flat JSON object: item name (elicense.licence_item.item)
-- -> value as a string (dates YYYY-MM-DD). Errors, each with a HINT:
--   42704 unknown licence type            23502 missing required item / reason / actor
--   22023 unknown item, bad value, bad date range, under-age holder, bad state argument
--   22P02 bad USCC / resident ID / division code / certificate number
--   22007 / 22008 item not a YYYY-MM-DD date / not a calendar date
--   22001 item longer than its max_length
--   23505 certificate number already used by a current licence of the type
--   P0002 no such licence          55000 licence version replaced by one with a new QR code
--   55L01 the licence's certState does not allow the action (elicense.licence_transition)
--------------------------------------------------------------------------------

-- A date item: strictly YYYY-MM-DD, independent of DateStyle.
CREATE FUNCTION elicense._item_date(value text, item text, label text) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  m text[];
  y integer;
  mo integer;
  d integer;
BEGIN
  m := regexp_match(value, '^([0-9]{4})-([0-9]{2})-([0-9]{2})$');
  IF m IS NULL THEN
    RAISE EXCEPTION 'item "%" (%): "%" is not a date in the form YYYY-MM-DD', item, label, value
      USING ERRCODE = 'invalid_datetime_format', HINT = 'Write dates as YYYY-MM-DD, e.g. 2023-06-30.';
  END IF;
  y := m[1]::integer;
  mo := m[2]::integer;
  d := m[3]::integer;
  IF y < 1900 OR mo NOT BETWEEN 1 AND 12 OR d < 1
     OR d > extract(day FROM make_date(y, mo, 1) + interval '1 month' - interval '1 day') THEN
    RAISE EXCEPTION 'item "%" (%): "%" is not a calendar date', item, label, value
      USING ERRCODE = 'datetime_field_overflow', HINT = 'Check the month and day; years before 1900 are not accepted.';
  END IF;
  RETURN make_date(y, mo, d);
END
$$;
REVOKE ALL ON FUNCTION elicense._item_date(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._item_date(text, text, text) IS
'Internal: parses a YYYY-MM-DD item value or raises 22007/22008 naming the item';

-- An image item: Base64 of a JPG or PNG of at most 50 KB (the platform's
-- limit for W032 photos), checked by its magic bytes. A "data:image/...;
-- base64," prefix and whitespace are dropped: the stored value is bare Base64.
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

-- Validates licence data against the catalogue of its type. Returns a
-- certificate row with the metadata columns and business_data filled; the
-- identifier, sequence, version and status are left to the caller.
-- Stock conversion checks its rows with these rules written out as SQL
-- (elicense._stock_check_query, 64_stock.sql): a rule added here goes there
-- too (tests/pgtap/stock_chunks.sql compares the two on awkward values).
-- VOLATILE, not STABLE: its reads then take a snapshot after waiting for the
-- table locks, which elicense._keep_used_licence_type relies on.
CREATE FUNCTION elicense._licence_from_data(p_type_code text, p_data jsonb) RETURNS elicense.certificate
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
REVOKE ALL ON FUNCTION elicense._licence_from_data(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._licence_from_data(text, jsonb) IS
'Internal: validates licence data against elicense.licence_item and returns a certificate row with metadata and business_data filled, as stored: resident ID numbers sealed in id_box, masked, the holder''s blind index in holder_ref';

-- Sequence segment of a new licence: derived from the certificate number when
-- the type has a sequence_pattern that matches, else the next value of the
-- gap-free counter of (type, authority), at least 7 digits.
CREATE FUNCTION elicense._next_sequence(p_type_code text, p_licence_number text, p_authority_uscc text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  pattern text;
  m text[];
  n bigint;
BEGIN
  SELECT lt.sequence_pattern INTO pattern FROM elicense.licence_type lt WHERE lt.type_code = p_type_code;
  IF pattern IS NOT NULL THEN
    m := regexp_match(p_licence_number, pattern);
    IF m IS NOT NULL THEN
      RETURN array_to_string(m, '');
    END IF;
  END IF;
  UPDATE elicense.sequence_counter sc SET last_value = sc.last_value + 1
   WHERE sc.type_code = p_type_code AND sc.authority_uscc = p_authority_uscc
  RETURNING sc.last_value INTO n;
  IF n IS NULL THEN
    -- First licence of this (type, authority); a concurrent first one waits
    -- on the conflict and then increments.
    INSERT INTO elicense.sequence_counter AS sc (type_code, authority_uscc, last_value)
    VALUES (p_type_code, p_authority_uscc, 1)
    ON CONFLICT ON CONSTRAINT sequence_counter_pkey DO UPDATE SET last_value = sc.last_value + 1
    RETURNING sc.last_value INTO n;
  END IF;
  RETURN lpad(n::text, greatest(7, length(n::text)), '0');
END
$$;
REVOKE ALL ON FUNCTION elicense._next_sequence(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._next_sequence(text, text, text) IS
'Internal: identifier sequence of a new licence (from the certificate number, or the gap-free per-authority counter)';

-- Writes the status_history row and the first outbox step of a new version
-- and wakes the worker. Only the first step is queued here: the worker's
-- elicense.step_succeeded queues the next one in the transaction that
-- records the success, so the approval transaction writes one outbox row
-- instead of four, and no step can exist before the one it follows is done.
CREATE FUNCTION elicense._record_version(c elicense.certificate, p_from_status text, p_reason text, p_actor text) RETURNS void
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

CREATE FUNCTION elicense._require_text(value text, what text) RETURNS text
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
REVOKE ALL ON FUNCTION elicense._require_text(text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._require_text(text, text) IS 'Internal: the trimmed text, or 23502 if it is NULL or blank, 22001 over 200 characters (actor) or 2,000 (reason), 22021 for an actor with a control or bidi-override character';

CREATE FUNCTION elicense.issue(type_code text, data jsonb, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  who text := elicense._require_text(actor, 'actor');
  other text;
BEGIN
  c := elicense._licence_from_data(type_code, data);
  SELECT x.identifier INTO other FROM elicense.certificate x
   WHERE x.type_code = c.type_code AND x.licence_number = c.licence_number AND x.superseded_at IS NULL;
  IF FOUND THEN
    RAISE EXCEPTION 'certificate number "%" of licence type % is already used by licence %', c.licence_number, c.type_code, other
      USING ERRCODE = 'unique_violation',
            HINT = 'A certificate number identifies one licence; change that licence with elicense.change or choose another number.';
  END IF;
  c.sequence := elicense._next_sequence(c.type_code, c.licence_number, c.authority_uscc);
  c.version := 1;
  c.identifier := elicense.build_identifier(c.type_code, c.authority_uscc, c.sequence, 1);
  c.original_identifier := c.identifier;
  c.status := '01';
  c.operate_type := '01';
  c.created_at := now();
  c.created_by := who;
  INSERT INTO elicense.certificate VALUES (c.*);
  PERFORM elicense._record_version(c, NULL, 'issued', who);
  RETURN c.identifier;
END
$$;
COMMENT ON FUNCTION elicense.issue(text, jsonb, text) IS
'Issues a licence (operateType 01): validates the data against the catalogue, allocates the sequence, writes certificate, status_history and outbox rows, NOTIFY elicense_outbox; returns the identifier';

-- The licence version an action applies to, locked: the current version of
-- the licence p_identifier belongs to. An older identifier is accepted while
-- the platform still holds the same one (only status changes came since:
-- they keep the identifier, 45_certificate.sql); one replaced by a version
-- with a new QR code is 55000. A pair (certState, action) that is not in
-- elicense.licence_transition is refused with 55L01 (_refuse_transition).
CREATE FUNCTION elicense._lock_current(p_identifier text, p_action text) RETURNS elicense.certificate
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
REVOKE ALL ON FUNCTION elicense._changed_row(elicense.certificate, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._changed_row(elicense.certificate, jsonb) IS
'Internal: the validated row of a licence version with changed items (change, renew)';

CREATE FUNCTION elicense.change(identifier text, data jsonb, reason text, actor text) RETURNS text
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

CREATE FUNCTION elicense.revoke(identifier text, reason text, actor text, new_status text DEFAULT '03') RETURNS text
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

CREATE FUNCTION elicense.cancel(identifier text, reason text, actor text) RETURNS text
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

CREATE FUNCTION elicense.licence_versions(identifier text) RETURNS SETOF elicense.certificate
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT v.* FROM elicense.certificate v
   WHERE v.original_identifier = (SELECT x.original_identifier FROM elicense.certificate x WHERE x.identifier = licence_versions.identifier)
   ORDER BY v.version
$$;
COMMENT ON FUNCTION elicense.licence_versions(text) IS
'Every version of the licence that the given identifier (any version) belongs to, oldest first';

--------------------------------------------------------------------------------
-- Approval-table trigger. Attach it as
--   CREATE TRIGGER issue_licence AFTER INSERT OR UPDATE ON approval FOR EACH ROW
--   EXECUTE FUNCTION elicense.issue_from_trigger('<type code>', '<argument>', ...);
-- Arguments after the type code:
--   item=column        licence item <- NEW.column (NULL or '' = item absent)
--   const:item=value   licence item <- the constant value (authority name, ...)
--   when:column=value  issue only when NEW.column = value (as text); on UPDATE
--                      only when it becomes so (OLD.column was different)
--   actor:column       actor <- NEW.column (default: session_user)
--   ACTION:column=value  on UPDATE, when NEW.column becomes value: run ACTION
--                      (change, renew, suspend, lift_suspension, expire, other,
--                      revoke, withdraw, cancel) on the licence of the row; for
--                      change and renew the mapped items are the new data
--   licence:column     the row's licence identifier <- NEW.column (default:
--                      the current licence of the type with the row's
--                      certificate number)
--   reason:column      reason (and the description of other) <- NEW.column
--                      (default: "approval <table>: <column> = <value>")
--   until:column       last day of a suspension <- NEW.column (YYYY-MM-DD)
-- Without when:, every INSERT issues and UPDATEs issue nothing. Several
-- ACTION arguments that match run in their order.
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

CREATE FUNCTION elicense.issue_from_trigger() RETURNS trigger
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
COMMENT ON FUNCTION elicense.issue_from_trigger() IS
'Trigger for approval tables: issues a licence from the row, and runs status changes when a column becomes a value. Arguments: type code, then item=column, const:item=value, when:column=value, actor:column, ACTION:column=value, licence:column, reason:column, until:column';

REVOKE ALL ON FUNCTION elicense.issue(text, jsonb, text), elicense.change(text, jsonb, text, text),
    elicense.revoke(text, text, text, text), elicense.cancel(text, text, text),
    elicense.licence_versions(text), elicense.issue_from_trigger() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.issue(text, jsonb, text), elicense.change(text, jsonb, text, text),
    elicense.revoke(text, text, text, text), elicense.cancel(text, text, text),
    elicense.issue_from_trigger() TO elicense_issuer;
-- The trigger's own parts stay executable by PUBLIC (the default): the
-- parser only reads its (bounded) arguments and the action runner calls
-- functions that check EXECUTE themselves, so a role without
-- elicense_issuer is refused by "permission denied for function issue"
-- (or change, revoke, …), which names what it lacks.
GRANT EXECUTE ON FUNCTION elicense.licence_versions(text) TO elicense_issuer, elicense_admin;
