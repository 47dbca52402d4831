-- A C++ exception thrown inside the extension becomes a clean SQL error with
-- its SQLSTATE, the backend survives, and the C++ objects alive at the throw
-- were destroyed before the error was raised.
CREATE EXTENSION elicense;
SELECT pg_backend_pid() AS pid_before \gset
\x on

SELECT * FROM regress.error_of($$SELECT elicense._selftest_throw('core_error')$$);
SELECT * FROM regress.error_of($$SELECT elicense._selftest_throw('std_exception')$$);
SELECT * FROM regress.error_of($$SELECT elicense._selftest_throw('bad_alloc')$$);
SELECT * FROM regress.error_of($$SELECT elicense._selftest_throw('unknown')$$);
SELECT * FROM regress.error_of($$SELECT elicense._selftest_throw('no such kind')$$);

\x off
-- Same backend, and no C++ object left alive by the five throws above.
SELECT pg_backend_pid() = :pid_before AS same_backend, elicense._selftest_live_objects() AS live_objects;

-- The error aborts only the statement's transaction; a savepoint keeps the rest.
BEGIN;
CREATE TEMP TABLE kept (v int);
INSERT INTO kept VALUES (1);
SAVEPOINT s;
SELECT elicense._selftest_throw('core_error');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS kept_rows FROM kept;
COMMIT;

-- Many errors in a loop: no leak of C++ objects, the backend keeps working.
DO $$
BEGIN
  FOR i IN 1..1000 LOOP
    BEGIN
      PERFORM elicense._selftest_throw(CASE i % 4 WHEN 0 THEN 'core_error' WHEN 1 THEN 'std_exception'
                                                  WHEN 2 THEN 'bad_alloc' ELSE 'unknown' END);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END LOOP;
END $$;
SELECT elicense._selftest_live_objects() AS live_objects_after_loop;

-- Only superusers may call the self-test functions.
CREATE ROLE elicense_regress_nobody;
SET ROLE elicense_regress_nobody;
SELECT elicense._selftest_throw('core_error');
RESET ROLE;
DROP ROLE elicense_regress_nobody;
DROP EXTENSION elicense;
