-- USCC, resident ID, division and province validators and their domains.
CREATE EXTENSION elicense;

-- Real codes: MOHURD, the GB 32100 example, provincial authorities.
SELECT v, elicense.is_valid_uscc(v) AS valid, elicense.uscc_problem(v) AS problem
FROM (VALUES ('11100000000013338W'), ('91350100M000100Y43'), ('113700000045030270'), ('11430000006122244L'),
             ('91350100M000100Y44'), ('91350100M000100Y5'), ('91350100I000100Y43'), ('91350100m000100Y43'),
             ('91990100M000100Y43'), ('91350100M000100Y53'), ('')) AS t(v);

-- GB 11643 examples and broken variants.
SELECT v, elicense.is_valid_resident_id(v) AS valid, elicense.resident_id_problem(v) AS problem,
       elicense.resident_id_birth_date(v) AS birth_date
FROM (VALUES ('11010519491231002X'), ('440524188001010014'), ('11010519491231002x'), ('110105194912310021'),
             ('11010519490229002X'), ('110105194912310'), ('99010519491231002X')) AS t(v);

SELECT v, elicense.is_valid_division(v) AS division, elicense.is_valid_province_code(v) AS province,
       elicense.division_problem(v) AS division_problem, elicense.province_code_problem(v) AS province_problem
FROM (VALUES ('350000'), ('510000'), ('350102'), ('429004'), ('350001'), ('990000'), ('35000'), ('3501O2')) AS t(v);

-- NULL in, NULL out; the check_* functions raise, naming field and value.
SELECT elicense.is_valid_uscc(NULL) IS NULL AS uscc, elicense.check_uscc(NULL) IS NULL AS check_uscc;
\x on
SELECT * FROM regress.error_of($$SELECT elicense.check_uscc('91350100M000100Y44', 'holder_uscc')$$);
SELECT * FROM regress.error_of($$SELECT elicense.check_resident_id('11010519491231002x', 'holder_id')$$);
SELECT * FROM regress.error_of($$SELECT elicense.check_division('990000', 'authority_division')$$);
SELECT * FROM regress.error_of($$SELECT elicense.check_province_code('350100', 'province')$$);
SELECT * FROM regress.error_of($$SELECT '91350100M000100Y44'::elicense.uscc$$);
SELECT * FROM regress.error_of($$SELECT '11010519490229002X'::elicense.resident_id$$);
SELECT * FROM regress.error_of($$SELECT '35010'::elicense.division_code$$);
SELECT * FROM regress.error_of($$SELECT '350100'::elicense.province_code$$);
\x off
SELECT '91350100M000100Y43'::elicense.uscc, '11010519491231002X'::elicense.resident_id,
       '350102'::elicense.division_code, '350000'::elicense.province_code;

-- Validators in CHECK constraints of an approval table.
CREATE TABLE approval (holder_uscc text CHECK (elicense.is_valid_uscc(holder_uscc)),
                       worker_id elicense.resident_id);
INSERT INTO approval VALUES ('91350100M000100Y43', '11010519491231002X');
INSERT INTO approval VALUES ('91350100M000100Y44', NULL);
INSERT INTO approval VALUES (NULL, '110105194912310021');
SELECT count(*) FROM approval;
DROP TABLE approval;
DROP EXTENSION elicense;
