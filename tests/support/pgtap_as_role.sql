-- Included by pgTAP files (\ir): pg_temp.as_role(role, statement) runs one
-- statement as a role. SET LOCAL ROLE is undone with the subtransaction when
-- the statement fails (throws_ok), so the test goes on as superuser.
CREATE FUNCTION pg_temp.as_role(r text, stmt text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', r);
  EXECUTE stmt;
  RESET ROLE;
END
$$;
