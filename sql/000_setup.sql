-- Shared by the regression tests: errors as one row (SQLSTATE, message,
-- detail, hint), so expected files pin the SQLSTATE without the LOCATION
-- line that psql's verbose mode prints and that moves with every edit.
CREATE SCHEMA regress;
CREATE FUNCTION regress.error_of(statement text,
    OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  code := 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END $$;
