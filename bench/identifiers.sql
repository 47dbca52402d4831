-- Identifier build and validators, per call, next to md5() of the same text
-- (a plain SQL function in C with similar input) and a bare scan.
\set n 200000
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS elicense;
DROP TABLE IF EXISTS bench.id_input;
CREATE TABLE bench.id_input AS
SELECT '113700000045030270'::text AS uscc, '11010519491231002X'::text AS resident_id, '350102'::text AS division,
       lpad(g::text, 10, '0') AS sequence,
       elicense.build_identifier('11100000000013338W050', '113700000045030270', lpad(g::text, 10, '0'), 1) AS identifier
FROM generate_series(1, :n) g;
ANALYZE bench.id_input;

SELECT bench.measure('identifiers', 'scan only', 'SELECT count(sequence) FROM bench.id_input', :n, 'md5(text)');
SELECT bench.measure('identifiers', 'md5(text)', 'SELECT count(md5(identifier)) FROM bench.id_input', :n);
SELECT bench.measure('identifiers', 'build_identifier',
  $q$SELECT count(elicense.build_identifier('11100000000013338W050', uscc, sequence, 1)) FROM bench.id_input$q$, :n, 'md5(text)');
SELECT bench.measure('identifiers', 'is_valid_identifier', 'SELECT count(*) FILTER (WHERE elicense.is_valid_identifier(identifier)) FROM bench.id_input', :n, 'md5(text)');
SELECT bench.measure('identifiers', 'parse_identifier', 'SELECT count((elicense.parse_identifier(identifier)).version) FROM bench.id_input', :n, 'md5(text)');
SELECT bench.measure('identifiers', 'is_valid_uscc', 'SELECT count(*) FILTER (WHERE elicense.is_valid_uscc(uscc)) FROM bench.id_input', :n, 'md5(text)');
SELECT bench.measure('identifiers', 'is_valid_resident_id', 'SELECT count(*) FILTER (WHERE elicense.is_valid_resident_id(resident_id)) FROM bench.id_input', :n, 'md5(text)');
SELECT bench.measure('identifiers', 'is_valid_division', 'SELECT count(*) FILTER (WHERE elicense.is_valid_division(division)) FROM bench.id_input', :n, 'md5(text)');
SELECT bench.measure('identifiers', 'uscc domain cast', 'SELECT count(uscc::elicense.uscc) FROM bench.id_input', :n, 'md5(text)');
