-- Valid, distinct holder IDs for the demo's approvals, from a number: a USCC
-- (GB 32100 mod 31, with a GB 11714 organisation code inside) per company and
-- a resident ID (GB 11643 MOD 11-2, born 1960-1987) per worker, so that each
-- holder has its own licence (the sharing step opens one holder's licences).
-- The same formulas as bench/sharing.sh.
CREATE FUNCTION demo_uscc(i integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  WITH o AS (SELECT lpad(i::text, 8, '0') AS s),
       org AS (SELECT s || CASE 11 - (SELECT sum(substr(s, k, 1)::int * (ARRAY[3,7,9,10,5,8,4,2])[k]) FROM generate_series(1, 8) k)::int % 11
                             WHEN 10 THEN 'X' WHEN 11 THEN '0'
                             ELSE (11 - (SELECT sum(substr(s, k, 1)::int * (ARRAY[3,7,9,10,5,8,4,2])[k]) FROM generate_series(1, 8) k)::int % 11)::text END AS s FROM o),
       u AS (SELECT '91350100' || s AS s FROM org)
  SELECT s || substr('0123456789ABCDEFGHJKLMNPQRTUWXY',
                     (31 - (SELECT sum((strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(s, k, 1)) - 1)
                                       * (ARRAY[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28])[k]) FROM generate_series(1, 17) k)::int % 31) % 31 + 1, 1)
    FROM u
$$;
CREATE FUNCTION demo_resident_id(i integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  WITH b AS (SELECT '350102' || to_char(date '1960-01-01' + i % 10000, 'YYYYMMDD') || lpad((i / 10000 % 1000)::text, 3, '0') AS s)
  SELECT s || substr('10X98765432', (SELECT sum(substr(s, k, 1)::int * (ARRAY[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2])[k]) FROM generate_series(1, 17) k)::int % 11 + 1, 1)
    FROM b
$$;
