-- Cross-checks the C++ validators and identifier builder against an
-- independent plpgsql implementation on published examples and on a few
-- hundred generated and mutated cases. The reference verifies check
-- characters by the standards' verification property (a valid code makes the
-- running sum come out at 1) rather than by recomputing them the way the C++
-- does, so a shared mistake in the formula would not cancel out.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(23);
SELECT setseed(0.4242);

CREATE FUNCTION pg_temp.province_prefixes() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT '{11,12,13,14,15,21,22,23,31,32,33,34,35,36,37,41,42,43,44,45,46,50,51,52,53,54,61,62,63,64,65,71,81,82}'::text[]
$$;

CREATE FUNCTION pg_temp.ref_division_ok(d text, extra text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT d ~ '^[0-9]{6}$'
     AND (substr(d, 1, 2) = ANY (pg_temp.province_prefixes()) OR substr(d, 1, 2) = extra)
     AND NOT (substr(d, 3, 2) = '00' AND substr(d, 5, 2) <> '00')
$$;

-- GB 32100: value of a character in the 31-character alphabet.
CREATE FUNCTION pg_temp.uscc_value(c text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', c) - 1
$$;

-- GB 32100 check: weights 3^(i-1) mod 31, c = 31 - (sum mod 31), 31 -> 0.
CREATE FUNCTION pg_temp.ref_uscc_check(p text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE s int := 0; w int := 1;
BEGIN
  FOR i IN 1..17 LOOP
    s := s + pg_temp.uscc_value(substr(p, i, 1)) * w;
    w := (w * 3) % 31;
  END LOOP;
  RETURN substr('0123456789ABCDEFGHJKLMNPQRTUWXY', ((31 - s % 31) % 31) + 1, 1);
END $$;

-- GB 11714 organisation code check over 8 characters.
CREATE FUNCTION pg_temp.ref_org_check(p text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE s int := 0; w int[] := '{3,7,9,10,5,8,4,2}'; c int;
BEGIN
  FOR i IN 1..8 LOOP
    s := s + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(p, i, 1)) - 1) * w[i];
  END LOOP;
  c := 11 - s % 11;
  RETURN CASE c WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE c::text END;
END $$;

CREATE FUNCTION pg_temp.ref_uscc_ok(v text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT v ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'
     AND pg_temp.ref_division_ok(substr(v, 3, 6), '10')
     AND pg_temp.ref_org_check(substr(v, 9, 8)) = substr(v, 17, 1)
     AND pg_temp.ref_uscc_check(v) = substr(v, 18, 1)
$$;

-- GB 11643 by its verification property: sum of a_i * 2^(18-i) mod 11 over
-- all 18 characters (X = 10) is 1.
CREATE FUNCTION pg_temp.ref_mod11_2_ok(v text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE s int := 0; a int;
BEGIN
  FOR i IN 1..18 LOOP
    a := CASE substr(v, i, 1) WHEN 'X' THEN 10 ELSE substr(v, i, 1)::int END;
    s := s + a * ((2 ^ (18 - i))::int % 11);
  END LOOP;
  RETURN s % 11 = 1;
END $$;

CREATE FUNCTION pg_temp.ref_date_ok(ymd text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN to_char(make_date(substr(ymd, 1, 4)::int, substr(ymd, 5, 2)::int, substr(ymd, 7, 2)::int), 'YYYYMMDD') = ymd
     AND substr(ymd, 1, 4)::int BETWEEN 1850 AND 2099;
EXCEPTION WHEN OTHERS THEN
  RETURN false;
END $$;

CREATE FUNCTION pg_temp.ref_resident_id_ok(v text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT v ~ '^[0-9]{17}[0-9X]$'
     AND pg_temp.ref_division_ok(substr(v, 1, 6), '83')
     AND pg_temp.ref_date_ok(substr(v, 7, 8))
     AND pg_temp.ref_mod11_2_ok(v)
$$;

-- ISO/IEC 7064 MOD 37,36 by its verification property: run the recurrence
-- over payload and check character; the last intermediate sum is 1.
CREATE FUNCTION pg_temp.ref_mod37_36_ok(v text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE p int := 36; s int; a int;
BEGIN
  FOR i IN 1..length(v) LOOP
    a := strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(v, i, 1)) - 1;
    IF a < 0 THEN RETURN false; END IF;
    s := (p + a) % 36;
    IF s = 0 THEN s := 36; END IF;
    p := (2 * s) % 37;
  END LOOP;
  RETURN s = 1;
END $$;

CREATE FUNCTION pg_temp.ref_identifier_ok(v text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(
    (SELECT m[1] ~ '^[0-9A-HJ-NPQRTUWXY]{18}[0-9]{3}$' AND pg_temp.ref_uscc_ok(substr(m[1], 1, 18))
        AND pg_temp.ref_uscc_ok(m[2]) AND m[4] <> '000'
        AND pg_temp.ref_mod37_36_ok(m[1] || m[2] || m[3] || m[4] || m[5])
     FROM regexp_match(v, '^1\.2\.156\.3005\.2\.([^.]*)\.([^.]*)\.([0-9A-Z]{1,40})\.([0-9]{3})\.([0-9A-Z])$') AS m
     WHERE m IS NOT NULL), false)
$$;

CREATE FUNCTION pg_temp.rand_chars(alphabet text, n int) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1), '')
  FROM generate_series(1, n)
$$;

-- Replaces one character at a random position with a random character.
CREATE FUNCTION pg_temp.mutate(v text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE pos int := 1 + floor(random() * length(v))::int;
BEGIN
  RETURN overlay(v PLACING pg_temp.rand_chars('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZx.-', 1) FROM pos FOR 1);
END $$;

-- 300 valid USCCs built by the reference, then one mutation of each.
CREATE TEMP TABLE uscc_cases AS
WITH parts AS (
  SELECT pg_temp.rand_chars('159Y', 1) || pg_temp.rand_chars('123', 1)
         || (pg_temp.province_prefixes())[1 + floor(random() * 34)::int] || lpad((floor(random() * 20) * 100)::text, 4, '0') AS head,
         pg_temp.rand_chars('0123456789ABCDEFGHJKLMNPQRTUWXY', 8) AS org
  FROM generate_series(1, 300)
), with_org AS (
  SELECT head || org || pg_temp.ref_org_check(org) AS p17 FROM parts
)
SELECT p17 || pg_temp.ref_uscc_check(p17) AS v, true AS generated_valid FROM with_org;
-- An organisation check of 'X' is outside the USCC alphabet: such codes cannot exist.
DELETE FROM uscc_cases WHERE substr(v, 17, 1) = 'X';
INSERT INTO uscc_cases SELECT pg_temp.mutate(v), false FROM uscc_cases;

SELECT cmp_ok((SELECT count(*) FROM uscc_cases WHERE generated_valid), '>=', 250::bigint,
              'at least 250 generated USCCs');
SELECT is_empty($$SELECT v FROM uscc_cases WHERE generated_valid AND NOT elicense.is_valid_uscc(v)$$,
                'every USCC generated by the reference is valid for elicense');
SELECT is_empty($$SELECT v, elicense.is_valid_uscc(v), pg_temp.ref_uscc_ok(v) FROM uscc_cases
                  WHERE elicense.is_valid_uscc(v) <> pg_temp.ref_uscc_ok(v)$$,
                'elicense and the reference agree on every generated and mutated USCC');
SELECT is_empty($$SELECT v FROM uscc_cases WHERE elicense.is_valid_uscc(v) <> (elicense.uscc_problem(v) IS NULL)$$,
                'is_valid_uscc and uscc_problem agree');
SELECT cmp_ok((SELECT count(*) FROM uscc_cases WHERE NOT generated_valid AND NOT pg_temp.ref_uscc_ok(v)),
              '>=', 200::bigint, 'most mutations are caught');

-- 300 resident ID numbers: random real and impossible dates, the reference's check digit.
CREATE TEMP TABLE id_cases AS
WITH parts AS (
  SELECT (pg_temp.province_prefixes())[1 + floor(random() * 34)::int] || lpad((1 + floor(random() * 20))::text, 2, '0')
         || lpad((1 + floor(random() * 30))::text, 2, '0') AS area,
         (1840 + floor(random() * 270))::text || lpad((1 + floor(random() * 12))::text, 2, '0')
         || lpad((1 + floor(random() * 31))::text, 2, '0') AS ymd,
         pg_temp.rand_chars('0123456789', 3) AS seq
  FROM generate_series(1, 300)
), payloads AS (SELECT area || ymd || seq AS p FROM parts)
SELECT p || c AS v FROM payloads, LATERAL (
  SELECT d AS c FROM unnest('{0,1,2,3,4,5,6,7,8,9,X}'::text[]) d WHERE pg_temp.ref_mod11_2_ok(p || d)) k;
INSERT INTO id_cases SELECT pg_temp.mutate(v) FROM id_cases;

SELECT cmp_ok((SELECT count(*) FROM id_cases WHERE pg_temp.ref_resident_id_ok(v)), '>=', 100::bigint,
              'at least 100 generated ID numbers are valid by the reference');
SELECT cmp_ok((SELECT count(*) FROM id_cases WHERE NOT pg_temp.ref_resident_id_ok(v)), '>=', 100::bigint,
              'at least 100 generated ID numbers are invalid by the reference');
SELECT is_empty($$SELECT v, elicense.is_valid_resident_id(v), pg_temp.ref_resident_id_ok(v) FROM id_cases
                  WHERE elicense.is_valid_resident_id(v) <> pg_temp.ref_resident_id_ok(v)$$,
                'elicense and the reference agree on every generated and mutated ID number');
SELECT is_empty($$SELECT v FROM id_cases
                  WHERE CASE WHEN pg_temp.ref_resident_id_ok(v)
                             THEN elicense.resident_id_birth_date(v) IS DISTINCT FROM to_date(substr(v, 7, 8), 'YYYYMMDD')
                             ELSE elicense.resident_id_birth_date(v) IS NOT NULL END$$,
                'birth dates agree for every valid ID number, NULL for every invalid one');

-- Division codes: every 4-digit prefix pattern over a sample.
CREATE TEMP TABLE division_cases AS
SELECT pg_temp.rand_chars('0123456789', 2) || (ARRAY['00','01','15','90'])[1 + floor(random() * 4)::int]
       || (ARRAY['00','01','02','23'])[1 + floor(random() * 4)::int] AS v
FROM generate_series(1, 300);
SELECT is_empty($$SELECT v FROM division_cases WHERE elicense.is_valid_division(v) <> pg_temp.ref_division_ok(v, NULL)$$,
                'elicense and the reference agree on 300 division codes');
SELECT is_empty($$SELECT v FROM division_cases
                  WHERE elicense.is_valid_province_code(v) <> (pg_temp.ref_division_ok(v, NULL) AND v LIKE '__0000')$$,
                'elicense and the reference agree on province codes');

-- 300 identifiers built by elicense from random parts, then mutated.
CREATE TEMP TABLE identifier_cases AS
SELECT elicense.build_identifier(
         (ARRAY['11100000000013338W050', '11100000000013338W032', '11100000000013338W011', '11100000000013338W009'])[1 + floor(random() * 4)::int],
         (SELECT v FROM uscc_cases WHERE generated_valid ORDER BY random() LIMIT 1 OFFSET g % 3),
         pg_temp.rand_chars('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1 + floor(random() * 12)::int),
         1 + floor(random() * 999)::int) AS v, true AS built
FROM generate_series(1, 300) g;
INSERT INTO identifier_cases SELECT pg_temp.mutate(v), false FROM identifier_cases;

SELECT is_empty($$SELECT v FROM identifier_cases WHERE built AND NOT pg_temp.ref_identifier_ok(v)$$,
                'every identifier elicense builds is valid by the reference');
SELECT is_empty($$SELECT v, elicense.is_valid_identifier(v), pg_temp.ref_identifier_ok(v) FROM identifier_cases
                  WHERE elicense.is_valid_identifier(v) <> pg_temp.ref_identifier_ok(v)$$,
                'elicense and the reference agree on every built and mutated identifier');
SELECT is_empty($$SELECT v FROM identifier_cases WHERE built
                  AND (SELECT elicense.build_identifier(p.type_code, p.issuer, p.sequence, p.version)
                       FROM elicense.parse_identifier(v) p) <> v$$,
                'parse then build gives every identifier back');
SELECT cmp_ok((SELECT count(*) FROM identifier_cases WHERE NOT built AND NOT elicense.is_valid_identifier(v)),
              '>=', 280::bigint, 'at least 280 of 300 single-character mutations are detected');

-- Published examples.
SELECT ok(elicense.is_valid_uscc('11100000000013338W'), 'MOHURD''s USCC is valid');
SELECT ok(elicense.is_valid_uscc('91350100M000100Y43'), 'GB 32100-2015 example is valid');
SELECT ok(elicense.is_valid_resident_id('11010519491231002X'), 'GB 11643-1999 example 11010519491231002X is valid');
SELECT ok(elicense.is_valid_resident_id('440524188001010014'), 'GB 11643-1999 example 440524188001010014 is valid');
SELECT is(elicense.build_identifier('11100000000013338W050', '113700000045030270', '2023087974', 1),
          '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E', 'worked example, version 1');

-- Catalogue: the functions are fit for CHECK constraints and indexes.
SELECT is_empty($$SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'elicense' AND (p.proname LIKE 'is\_valid\_%' OR p.proname LIKE 'check\_%'
                                                    OR p.proname LIKE '%\_problem' OR p.proname = 'build_identifier')
                    AND (p.provolatile <> 'i' OR p.proparallel <> 's' OR NOT p.proisstrict)$$,
                'validators are IMMUTABLE, PARALLEL SAFE and STRICT');
SELECT has_domain('elicense', 'uscc', 'domain elicense.uscc exists');
SELECT is_empty($$SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'elicense' AND p.proname LIKE '\_selftest%'
                    AND has_function_privilege('public', p.oid, 'EXECUTE')$$,
                'PUBLIC cannot execute the self-test functions');

SELECT * FROM finish();
ROLLBACK;
