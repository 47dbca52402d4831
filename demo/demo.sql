-- elicense demo: what an approval trigger calls, in a throwaway cluster.
\echo '== CREATE EXTENSION elicense'
CREATE EXTENSION elicense;
\echo '== The licence identifier of a 安全生产许可证 (W050), version 1 and its reissue'
SELECT v AS version, elicense.build_identifier('11100000000013338W050', '113700000045030270', '2023087974', v) AS identifier
FROM generate_series(1, 2) v;
\echo '== Its parts'
SELECT * FROM elicense.parse_identifier('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E');
\echo '== Validators on good and bad input'
SELECT v AS value, elicense.is_valid_uscc(v) AS is_uscc, elicense.is_valid_resident_id(v) AS is_resident_id,
       coalesce(elicense.uscc_problem(v), '') AS uscc_problem
FROM (VALUES ('91350100M000100Y43'), ('91350100M000100Y44'), ('11010519491231002X')) t(v);
\echo '== A bad value in a typed column is refused with a clear error'
\set VERBOSITY verbose
\set ON_ERROR_STOP 0
CREATE TEMP TABLE approval (holder elicense.uscc, worker elicense.resident_id);
INSERT INTO approval VALUES ('91350100M000100Y44', '11010519491231002X');
