-- Licence identifier (GB/T 36904): build, parse, validate, domain.
CREATE EXTENSION elicense;

-- Published vectors (../shared/PLATFORM.md), every one valid.
SELECT id, elicense.is_valid_identifier(id) AS valid, elicense.identifier_problem(id) AS problem
FROM (VALUES
  ('1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U'),
  ('1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S'),
  ('1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F'),
  ('1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0'),
  ('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E'),
  ('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.C')) AS v(id);

SELECT elicense.build_identifier('11100000000013338W050', '113700000045030270', '2023087974', 1);
SELECT elicense.build_identifier('11100000000013338W050', '113700000045030270', '2023087974', 2);
SELECT * FROM elicense.parse_identifier('1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F');

-- Build then parse gives the parts back.
SELECT (p).type_code, (p).issuer, (p).sequence, (p).version
FROM (SELECT elicense.parse_identifier(elicense.build_identifier('11100000000013338W032', '11220000013544541J', '2430599', 17)) AS p) s;

-- NULL in, NULL out.
SELECT elicense.build_identifier(NULL, '113700000045030270', '1', 1) IS NULL AS null_type,
       elicense.is_valid_identifier(NULL) IS NULL AS null_valid,
       elicense.parse_identifier(NULL) IS NULL AS null_parse;

-- What is wrong, for each kind of mistake.
SELECT elicense.identifier_problem(id) FROM (VALUES
  ('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.X'),
  ('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.000.E'),
  ('1.2.156.3005.2.11100000000013338W050.113700000045030271.2023087974.001.E'),
  ('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023 087974.001.E'),
  ('1.2.156.3005.2.11100000000013338W05.113700000045030270.2023087974.001.E'),
  ('1.2.156.3005.2.11100000000013338W050.113700000045030270'),
  ('2.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E'),
  ('')) AS v(id);

-- Errors name the bad argument, with SQLSTATE and hint.
\x on
SELECT * FROM regress.error_of($$SELECT elicense.build_identifier('W050', '113700000045030270', '2023087974', 1)$$);
SELECT * FROM regress.error_of($$SELECT elicense.build_identifier('11100000000013338W050', '113700000045030271', '2023087974', 1)$$);
SELECT * FROM regress.error_of($$SELECT elicense.build_identifier('11100000000013338W050', '113700000045030270', '2023-087974', 1)$$);
SELECT * FROM regress.error_of($$SELECT elicense.build_identifier('11100000000013338W050', '113700000045030270', '2023087974', 1000)$$);
SELECT * FROM regress.error_of($$SELECT elicense.parse_identifier('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.X')$$);
SELECT * FROM regress.error_of($$SELECT '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.X'::elicense.licence_identifier$$);
\x off

-- The domain in a table, and the validator in a CHECK constraint.
CREATE TABLE licence_ref (id elicense.licence_identifier,
                          raw text CHECK (elicense.is_valid_identifier(raw)));
INSERT INTO licence_ref VALUES ('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E',
                                '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.C');
INSERT INTO licence_ref VALUES (NULL, '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.E');
SELECT count(*) FROM licence_ref;
DROP TABLE licence_ref;

-- Volatility and parallel safety of the identifier and validator functions,
-- declared for use in indexes and CHECKs.
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'elicense'
  AND p.proname ~ '^(build_identifier|parse_identifier|resident_id_birth_date|(is_valid|check)_(identifier|uscc|resident_id|division|province_code)|(identifier|uscc|resident_id|division|province_code)_problem)$'
ORDER BY p.proname;
DROP EXTENSION elicense;
