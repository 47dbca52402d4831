--------------------------------------------------------------------------------
-- The rest of a licence's life, next to change / revoke / cancel
-- of 55_issue.sql: renew (延续), suspend (暂扣), lift_suspension (暂扣发还),
-- expire, other (certState 99), withdraw (撤销), and expire_due, which a
-- schedule calls (the sync worker's, or pg_cron). Each reads
-- elicense.licence_transition: a certState that does not allow the action is
-- refused with 55L01 and nothing is written.
--
-- A transition without a new QR code (suspend, lift_suspension, expire,
-- other, revoke, withdraw, cancel) writes the next version row here, so every
-- state keeps its history and its own delivery step, but it is no new
-- version for the platform: the row keeps the assigned code, the QR URL and
-- the identifier the platform holds (platform_identifier), and its status
-- update names that identifier. Only change (08) and renew (02) make a
-- version the platform learns (a new identifier and QR code).
--------------------------------------------------------------------------------

CREATE FUNCTION elicense.renew(identifier text, data jsonb, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
  n elicense.certificate;
BEGIN
  c := elicense._lock_current(identifier, 'renew');
  n := elicense._changed_row(c, data);
  IF n.valid_to IS NULL OR (c.valid_to IS NOT NULL AND n.valid_to <= c.valid_to) OR n.valid_to < current_date THEN
    RAISE EXCEPTION 'a renewal of licence % needs a new end of validity after % and not in the past, not %', c.identifier,
        coalesce(to_char(c.valid_to, 'YYYY-MM-DD'), 'none'), coalesce(to_char(n.valid_to, 'YYYY-MM-DD'), 'none')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass the new valid_to item (and valid_from, issue_date) of the renewed licence.';
  END IF;
  RETURN elicense._transition(c, n, 'renew', why, who);
END
$$;
COMMENT ON FUNCTION elicense.renew(text, jsonb, text, text) IS
'Renews (延续) a valid or expired licence (operateType 02): data holds the new validity (valid_to later than today''s and the old one) and any other changed items; writes version n+1 with a new QR assignment linked to the superseded version (associatedZzeCertID); returns its identifier';

CREATE FUNCTION elicense.suspend(identifier text, reason text, actor text, until date DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  IF until < current_date THEN
    RAISE EXCEPTION 'the suspension of licence % cannot end in the past (%)', identifier, to_char(until, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Give the last day of the suspension, today or later, or NULL for none.';
  END IF;
  c := elicense._lock_current(identifier, 'suspend');
  RETURN elicense._transition(c, c, 'suspend', why, who, NULL, until);
END
$$;
COMMENT ON FUNCTION elicense.suspend(text, text, text, date) IS
'Suspends (暂扣, certState 02, operateType 03) a valid licence, until the given last day (elicense.expire_due lifts it the day after) or until lift_suspension; keeps its QR code; returns the new version''s identifier';

CREATE FUNCTION elicense.lift_suspension(identifier text, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  c := elicense._lock_current(identifier, 'lift_suspension');
  RETURN elicense._transition(c, c, 'lift_suspension', why, who);
END
$$;
COMMENT ON FUNCTION elicense.lift_suspension(text, text, text) IS
'Lifts a suspension (暂扣发还: certState 01 again, operateType 06); keeps the QR code; returns the new version''s identifier';

CREATE FUNCTION elicense.expire(identifier text, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  c := elicense._lock_current(identifier, 'expire');
  RETURN elicense._transition(c, c, 'expire', why, who);
END
$$;
COMMENT ON FUNCTION elicense.expire(text, text, text) IS
'Records the expiry of a valid or suspended licence (certState 06, operateType 04; elicense.expire_due does it for every licence past valid_to); returns the new version''s identifier';

CREATE FUNCTION elicense.other(identifier text, description text, reason text, actor text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  what text := elicense._require_text(description, 'description');
  why text := elicense._require_text(reason, 'reason');
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  c := elicense._lock_current(identifier, 'other');
  RETURN elicense._transition(c, c, 'other', why, who, what);
END
$$;
COMMENT ON FUNCTION elicense.other(text, text, text, text) IS
'Puts a valid or suspended licence in certState 99 (other, operateType 07) with its required description (sent as certStatusDescription); returns the new version''s identifier';

CREATE FUNCTION elicense.withdraw(identifier text, reason text, actor text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT elicense.revoke(identifier, reason, actor, '04')
$$;
COMMENT ON FUNCTION elicense.withdraw(text, text, text) IS
'Withdraws (撤销, certState 04, operateType 05) a licence, as elicense.revoke(identifier, reason, actor, ''04''); returns the new version''s identifier';

-- Expiry without anyone remembering it. Current versions past valid_to
-- whose certState allows expire, then suspensions past their last day (after
-- the expiries, so a suspension also past valid_to is expired, not lifted): each
-- gets its transition and delivery step, once. Rows are taken FOR UPDATE
-- SKIP LOCKED: a second caller at the same time takes the others, and a row
-- another caller has already expired is no longer current when it re-reads
-- it (and certificate_one_current forbids a second current version anyway).
-- A licence locked by an approval in progress waits for the next run.
-- max_rows NULL: everything due.
CREATE FUNCTION elicense.expire_due(max_rows integer DEFAULT NULL, actor text DEFAULT 'elicense.expire_due',
                                    OUT expired integer, OUT lifted integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who text := elicense._require_text(actor, 'actor');
  c elicense.certificate;
BEGIN
  expired := 0;
  lifted := 0;
  FOR c IN SELECT x.* FROM elicense.certificate x
            WHERE x.superseded_at IS NULL AND x.valid_to IS NOT NULL AND x.valid_to < current_date
              AND x.status IN (SELECT t.from_status FROM elicense.licence_transition t WHERE t.action = 'expire')
            ORDER BY x.valid_to, x.identifier
            LIMIT max_rows
              FOR UPDATE OF x SKIP LOCKED LOOP
    PERFORM elicense._transition(c, c, 'expire', pg_catalog.format('valid until %s', to_char(c.valid_to, 'YYYY-MM-DD')), who);
    expired := expired + 1;
  END LOOP;
  FOR c IN SELECT x.* FROM elicense.certificate x
            WHERE x.superseded_at IS NULL AND x.suspended_until IS NOT NULL AND x.suspended_until < current_date
              AND x.status IN (SELECT t.from_status FROM elicense.licence_transition t WHERE t.action = 'lift_suspension')
            ORDER BY x.suspended_until, x.identifier
            LIMIT greatest(coalesce(max_rows - expired, 2147483647), 0)
              FOR UPDATE OF x SKIP LOCKED LOOP
    PERFORM elicense._transition(c, c, 'lift_suspension',
                                 pg_catalog.format('suspended until %s', to_char(c.suspended_until, 'YYYY-MM-DD')), who);
    lifted := lifted + 1;
  END LOOP;
END
$$;
COMMENT ON FUNCTION elicense.expire_due(integer, text) IS
'Expires every current licence past valid_to (certState 06) and lifts every suspension past its last day, each once even with several callers at once (FOR UPDATE SKIP LOCKED), at most max_rows in all (NULL: all); returns how many. The sync worker calls it on its schedule; pg_cron can instead';

REVOKE ALL ON FUNCTION elicense.renew(text, jsonb, text, text), elicense.suspend(text, text, text, date),
    elicense.lift_suspension(text, text, text), elicense.expire(text, text, text), elicense.other(text, text, text, text),
    elicense.withdraw(text, text, text), elicense.expire_due(integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.renew(text, jsonb, text, text), elicense.suspend(text, text, text, date),
    elicense.lift_suspension(text, text, text), elicense.expire(text, text, text), elicense.other(text, text, text, text),
    elicense.withdraw(text, text, text) TO elicense_issuer;
GRANT EXECUTE ON FUNCTION elicense.expire_due(integer, text) TO elicense_worker, elicense_admin;
