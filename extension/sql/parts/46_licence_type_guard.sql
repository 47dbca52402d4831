--------------------------------------------------------------------------------
-- A licence type that licences use cannot be deleted, renamed or truncated.
-- A foreign key from certificate.type_code did this, but its check locked the
-- type's row FOR KEY SHARE in every approval: concurrent approvals can share
-- that lock only through a new MultiXact each time, which cost 8 sessions a
-- third to a half of their issuing rate (docs/certificates.md). The check is
-- made at the rare catalogue change instead. ACCESS EXCLUSIVE on licence_type
-- (taken per statement) waits until no open transaction has read a type, and
-- holds new readers off until this one ends; elicense._licence_from_data
-- reads the type in a VOLATILE function, with a snapshot taken after that
-- wait. So under READ COMMITTED a licence of the type is either seen here or
-- its issue finds the type gone (tests/integration/licence_type_guard.sh).
-- Under REPEATABLE READ an issue whose snapshot predates the DELETE's commit
-- still sees the type: the foreign key caught that case, this does not.
--------------------------------------------------------------------------------
CREATE FUNCTION elicense._keep_used_licence_type() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    -- Before the statement locks any row: an issue waiting for a row lock
    -- (sequence_counter's foreign key) while holding its read lock on the
    -- table would deadlock with a DELETE waiting for that read lock.
    LOCK TABLE elicense.licence_type IN ACCESS EXCLUSIVE MODE;
    IF TG_OP = 'TRUNCATE' AND EXISTS (SELECT 1 FROM elicense.certificate) THEN
      RAISE EXCEPTION 'elicense.licence_type cannot be truncated: licences exist'
        USING ERRCODE = 'foreign_key_violation', HINT = 'A licence keeps its type for good.';
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.type_code = OLD.type_code THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM elicense.certificate c WHERE c.type_code = OLD.type_code) THEN
    RAISE EXCEPTION 'licence type % cannot be %: licences of it exist', OLD.type_code, CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'renamed' END
      USING ERRCODE = 'foreign_key_violation',
            HINT = 'A licence keeps its type for good; add a new type for new licences instead.';
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION elicense._keep_used_licence_type() FROM PUBLIC;
COMMENT ON FUNCTION elicense._keep_used_licence_type() IS
'Trigger function on elicense.licence_type: a type that certificates use cannot be deleted, renamed or truncated (23503)';
CREATE TRIGGER licence_type_lock BEFORE UPDATE OF type_code OR DELETE OR TRUNCATE ON elicense.licence_type
    FOR EACH STATEMENT EXECUTE FUNCTION elicense._keep_used_licence_type();
CREATE TRIGGER licence_type_keep_used BEFORE UPDATE OF type_code OR DELETE ON elicense.licence_type
    FOR EACH ROW EXECUTE FUNCTION elicense._keep_used_licence_type();
COMMENT ON TRIGGER licence_type_lock ON elicense.licence_type IS 'Waits for open issuing transactions; refuses TRUNCATE while any certificate exists';
COMMENT ON TRIGGER licence_type_keep_used ON elicense.licence_type IS 'A type that certificates use cannot be deleted or renamed';
