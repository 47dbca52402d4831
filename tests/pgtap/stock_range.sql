-- convert_stock over a range of row numbers (what convert_stock_in_steps
-- calls per step): only the range's rows are converted, only its errors
-- replaced, skipped counts only its rows; the ranges together give what one
-- call gives; a kept identifier beyond the range moves the counter before
-- the range draws from it. And the checks of the arguments of both, that the
-- procedure refuses to run in a transaction block, and that elicense_admin
-- may call it. (Its steps commit, so they run in tests/integration/stock_steps.sh.)
-- Runs in one transaction that is rolled back.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(18);

CREATE FUNCTION pg_temp.w032(n integer, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('name', '王五' || n, 'gender', '男', 'id_number', '350102199001011238',
    'category', '建筑电工', 'licence_number', format('闽A%s', lpad(n::text, 12, '0')),
    'valid_from', '2020-01-01', 'valid_to', '2030-01-01', 'issue_date', '2020-01-01',
    'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R', 'authority_division', '350000') || changes)
$$;

-- Rows 1-10: 4 and 8 bad; row 9 keeps an identifier with sequence 0000500;
-- row 11 repeats row 2's certificate number.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (1, '11100000000013338W032', 'range');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT 1, n, pg_temp.w032(CASE WHEN n = 11 THEN 2 ELSE n END, CASE WHEN n IN (4, 8) THEN '{"gender": "X"}'::jsonb ELSE '{}' END)
  FROM generate_series(1, 11) n;
UPDATE elicense.stock_row SET identifier = elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000500', 1)
 WHERE batch_id = 1 AND row_no = 9;

SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(1, 1, 5) c), '(4,1,0)',
          'rows 1-5: 4 converted, row 4 rejected');
SELECT is((SELECT array_agg(row_no ORDER BY row_no) FROM elicense.stock_converted WHERE batch_id = 1), '{1,2,3,5}'::bigint[],
          'only rows of the range are converted');
SELECT is((SELECT array_agg(row_no ORDER BY row_no) FROM elicense.stock_error WHERE batch_id = 1), '{4}'::bigint[],
          'only the range''s errors are recorded');
SELECT ok((SELECT bool_and(c.sequence::integer > 500) FROM elicense.stock_converted s JOIN elicense.certificate c USING (identifier)
            WHERE s.batch_id = 1),
          'the counter moved past row 9''s kept sequence 500 before rows 1-5 drew from it');

SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(1, 6, NULL) c), '(4,2,0)',
          'rows 6 to the end: 4 converted (row 9 with its identifier), rows 8 and 11 rejected');
SELECT is((SELECT array_agg(row_no ORDER BY row_no) FROM elicense.stock_error WHERE batch_id = 1), '{4,8,11}'::bigint[],
          'the second range''s errors are added, the first''s kept');
SELECT is((SELECT e.sqlstate || ' ' || e.message FROM elicense.stock_error e WHERE e.batch_id = 1 AND e.row_no = 11),
          '23505 certificate number "闽A000000000002" is also in row 2 of the batch',
          'a number converted by an earlier range is worded as a repeat within the batch, as in one call');
SELECT is((SELECT c.sequence FROM elicense.stock_converted s JOIN elicense.certificate c USING (identifier)
            WHERE s.batch_id = 1 AND s.row_no = 9), '0000500', 'row 9 keeps its sequence');

-- Row 4 fixed: a range around it converts it and replaces only its error.
UPDATE elicense.stock_row SET data = pg_temp.w032(4) WHERE batch_id = 1 AND row_no = 4;
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(1, 3, 4) c), '(1,0,1)',
          'rows 3-4 again: row 4 converted, row 3 skipped (counted in skipped)');
SELECT is((SELECT array_agg(row_no ORDER BY row_no) FROM elicense.stock_error WHERE batch_id = 1), '{8,11}'::bigint[],
          'row 4''s error is gone, rows 8 and 11 (outside the range) kept');
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(1) c), '(0,2,9)',
          'the whole batch afterwards: nothing new, rows 8 and 11 rejected, 9 skipped');
SELECT is((SELECT count(DISTINCT c.identifier) FROM elicense.stock_converted s JOIN elicense.certificate c USING (identifier)
            WHERE s.batch_id = 1), 9::bigint, 'each good row is one licence');

SELECT throws_ok('SELECT elicense.convert_stock(1, 5, 4)', '22023', 'first_row 5 is after last_row 4',
                 'a range backwards is 22023');
SELECT throws_ok('CALL elicense.convert_stock_in_steps(1, 0)', '22023', 'rows_per_step 0 is not between 1 and 1000000',
                 'rows_per_step 0 is 22023');
SELECT throws_ok('CALL elicense.convert_stock_in_steps(1, NULL)', '22023', 'rows_per_step NULL is not between 1 and 1000000',
                 'rows_per_step NULL is 22023');

-- In a transaction block (here pgTAP's) the procedure cannot commit its first step.
SELECT throws_ok('CALL elicense.convert_stock_in_steps(1)', '2D000', NULL, 'in a transaction block the procedure fails (2D000)');
-- elicense_admin may call it: a batch without rows is one convert_stock (no COMMIT).
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (2, '11100000000013338W032', 'empty');
SET LOCAL ROLE elicense_admin;
SELECT lives_ok('CALL elicense.convert_stock_in_steps(2)', 'elicense_admin calls the procedure');
RESET ROLE;
SELECT isnt((SELECT converted_at FROM elicense.stock_batch WHERE id = 2), NULL, 'and it converted the (empty) batch');

SELECT * FROM finish();
ROLLBACK;
