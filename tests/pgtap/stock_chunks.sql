-- Stock conversion in chunks (64_stock.sql): the set-based check
-- (_stock_check_query) against issue()'s own validation (_licence_from_data)
-- on values at the edges of its rules, bad rows in the middle of a batch
-- larger than a chunk (10,000 rows), a batch of several chunks converted
-- twice, a certificate number repeated across chunks, and a sequence kept
-- from an earlier delivery in a later chunk than the counter's. Runs in one
-- transaction that is rolled back.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(38);

CREATE FUNCTION pg_temp.w032(n integer, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('name', '王五' || n, 'gender', '男', 'id_number', '350102199001011238',
    'category', '建筑电工', 'licence_number', format('闽A%s', lpad(n::text, 12, '0')),
    'valid_from', '2020-01-01', 'valid_to', '2030-01-01', 'issue_date', '2020-01-01', 'first_issue_date', '2014-05-01',
    'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R', 'authority_division', '350000') || changes)
$$;
CREATE FUNCTION pg_temp.error_of(b bigint, r bigint) RETURNS text LANGUAGE sql AS $$
  SELECT e.sqlstate || ' ' || e.field FROM elicense.stock_error e WHERE e.batch_id = b AND e.row_no = r
$$;
-- What a converted licence holds, and what _licence_from_data makes of its
-- row: with the full resident ID numbers its id_box seals (issue 19).
CREATE FUNCTION pg_temp.held(c elicense.certificate) RETURNS text LANGUAGE sql AS $$
  SELECT row(x.licence_number, x.holder_name, x.holder_id_type, x.holder_id, x.authority_name, x.authority_uscc, x.authority_division,
             x.issue_date, x.valid_from, x.valid_to, x.business_data)::text FROM elicense._reveal_ids(c) x
$$;

-- 1. Values at the edges of the rules: every good row converts with the
-- columns issue() would give it, every bad row is rejected as issue() would.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (1, '11100000000013338W032', 'edges');
INSERT INTO elicense.stock_row (batch_id, row_no, data) VALUES
  (1, 1, pg_temp.w032(1, '{"issue_date": "2020-02-29", "valid_from": "2020-02-29"}')),       -- leap day
  (1, 2, pg_temp.w032(2, '{"valid_to": "2030-01-31", "first_issue_date": "2014-04-30"}')),    -- last days of months
  (1, 3, pg_temp.w032(3, '{"name": "  王五3  ", "employer": " 某公司 "}')),                    -- trimmed
  (1, 4, pg_temp.w032(4, '{"employer": "", "category_code": null}')),                         -- empty and null items absent
  (1, 5, pg_temp.w032(5, '{"category_code": "01"}')),                                         -- an allowed value
  (1, 6, pg_temp.w032(6, '{"employer": 12}')),                                               -- a JSON number
  (1, 7, pg_temp.w032(7, '{"photo": "/9j/4A=="}')),                                           -- an image (JPG magic bytes)
  (1, 8, pg_temp.w032(8, '{"valid_to": null}') - 'valid_to'),                                 -- no end of validity: required
  (1, 20, pg_temp.w032(20, '{"issue_date": "2019-02-29"}')),                                  -- not a leap year
  (1, 21, pg_temp.w032(21, '{"valid_to": "2030-04-31"}')),                                    -- April has 30 days
  (1, 22, pg_temp.w032(22, '{"first_issue_date": "1899-12-31"}')),                            -- before 1900
  (1, 23, pg_temp.w032(23, '{"first_issue_date": "2014-5-01"}')),                             -- not YYYY-MM-DD
  (1, 24, pg_temp.w032(24, '{"employer": "某\u0009公司"}')),                                   -- a control character
  (1, 25, pg_temp.w032(25, '{"name": "王\u202e五"}')),                                         -- a bidi override
  (1, 26, pg_temp.w032(26, '{"employer": true}')),                                            -- not a string
  (1, 27, pg_temp.w032(27, '{"name": "   "}')),                                               -- blank required item
  (1, 28, pg_temp.w032(28, '{"category_code": "00"}')),                                       -- a value not allowed
  (1, 29, pg_temp.w032(29, '{"authority_division": "35000X"}')),                              -- not a division
  (1, 30, pg_temp.w032(30, '{"photo": "not base64!"}')),                                      -- a bad image
  (1, 31, '["not", "an", "object"]'),                                                         -- not an object
  (1, 32, pg_temp.w032(32, '{"id_number": "350102201001011238"}')),                           -- 10 on the issue date
  (1, 33, pg_temp.w032(33, jsonb_build_object('employer', repeat('某', 201))));                -- too long
-- The rows as loaded: a converted row keeps its resident ID number masked only.
CREATE TEMP TABLE loaded AS SELECT batch_id, row_no, data FROM elicense.stock_row;
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(1) c), '(7,15)',
          'of the rows at the edges of the rules, the 7 good ones convert and the 15 bad ones are rejected');
SELECT is((SELECT count(*) FROM elicense.stock_converted s JOIN loaded r ON r.batch_id = s.batch_id AND r.row_no = s.row_no
             JOIN elicense.certificate c ON c.identifier = s.identifier
            WHERE s.batch_id = 1 AND pg_temp.held(c) = pg_temp.held(elicense._licence_from_data('11100000000013338W032', r.data))),
          7::bigint, 'each converted licence holds what issue()''s validation makes of its row');
SELECT results_eq($$SELECT count(*) FILTER (WHERE s.row_no IS NOT NULL AND r.data ->> 'id_number' = '350102********1238'
                                                  AND c.holder_id = '350102********1238'),
                           count(*) FILTER (WHERE s.row_no IS NULL AND r.data IS NOT DISTINCT FROM l.data)
                      FROM elicense.stock_row r JOIN loaded l USING (batch_id, row_no)
                      LEFT JOIN elicense.stock_converted s USING (batch_id, row_no)
                      LEFT JOIN elicense.certificate c ON c.identifier = s.identifier WHERE r.batch_id = 1$$,
                  $$VALUES (7::bigint, 15::bigint)$$,
                  'a converted row and its licence keep the resident ID masked; a rejected row keeps it as loaded, to be corrected (issue 19)');
SELECT is((SELECT c.business_data FROM elicense.certificate c WHERE c.licence_number = '闽A000000000003'),
          '{"gender": "男", "category": "建筑电工", "employer": "某公司", "first_issue_date": "2014-05-01"}'::jsonb,
          'trimmed values are kept trimmed');
SELECT is((SELECT c.business_data ? 'employer' OR c.business_data ? 'category_code' FROM elicense.certificate c
            WHERE c.licence_number = '闽A000000000004'), false, 'an empty or null item is not kept');
SELECT is((SELECT c.business_data -> 'employer' FROM elicense.certificate c WHERE c.licence_number = '闽A000000000006'), '"12"'::jsonb,
          'a JSON number is kept as text, as issue() keeps it');
SELECT is((SELECT c.issue_date FROM elicense.certificate c WHERE c.licence_number = '闽A000000000001'), '2020-02-29'::date,
          'a leap day is a date');
SELECT is((SELECT array_agg(e.row_no || ' ' || e.sqlstate || ' ' || e.field ORDER BY e.row_no) FROM elicense.stock_error e WHERE e.batch_id = 1),
          ARRAY['8 23502 valid_to', '20 22008 issue_date', '21 22008 valid_to', '22 22008 first_issue_date', '23 22007 first_issue_date',
                '24 22021 employer', '25 22021 name', '26 22023 employer', '27 23502 name', '28 22023 category_code',
                '29 22P02 authority_division', '30 22P02 photo', '31 22023 data', '32 22023 holder_id', '33 22001 employer'],
          'each bad row is rejected with the SQLSTATE and field issue() raises');
SELECT is((SELECT count(*) FROM elicense.stock_error e JOIN elicense.stock_row r ON r.batch_id = e.batch_id AND r.row_no = e.row_no
            CROSS JOIN LATERAL elicense._stock_licence('11100000000013338W032', r.data) v
            WHERE e.batch_id = 1 AND e.sqlstate = v.err_state AND e.message = v.err_message), 15::bigint,
          'and with the very message issue() raises');

-- 1b. Every item of W032 given each of a pool of awkward values (one item
-- per row, 480 rows): the check and issue()'s validation agree on every row.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (7, '11100000000013338W032', 'pool');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT 7, i * 100 + v, pg_temp.w032(500000 + i * 100 + v) || jsonb_build_object(items[i], pool[v])
  FROM (SELECT ARRAY['name', 'gender', 'id_number', 'category', 'category_code', 'employer', 'first_issue_date', 'valid_from',
                     'valid_to', 'issue_date', 'authority_name', 'authority_uscc', 'authority_division', 'photo', 'colour'] AS items,
               ARRAY['""', '"  "', '" 男 "', '"女"', '"X"', '"2020-02-29"', '"2019-02-29"', '"2020-13-01"', '"1899-12-31"', '"2020-1-1"',
                     '"2031-01-01"', '"35000X"', '"350000"', '"11350000003591037R"', '"350102199001011238"', '"350102201001011238"',
                     to_jsonb(repeat('长', 60)), '"a\tb"', '"a\u202eb"', '"01"', 'null', '5', 'true',
                     '"/9j/4A=="', '"iVBORw0KGgo="', '"data:image/png;base64,iVBORw0KGgo="', '"/9j/\n4A=="', '"AAAA"', '"/9j/4A="',
                     to_jsonb(encode('\xffd8ff'::bytea || convert_to(repeat('x', 51200), 'UTF8'), 'base64')),  -- over 50 KB, with line breaks
                     to_jsonb(translate(encode('\xffd8ff'::bytea || convert_to(repeat('x', 51197), 'UTF8'), 'base64'), E'\n', '')),  -- 50 KB
                     to_jsonb(translate(encode('\xffd8ff'::bytea || convert_to(repeat('x', 51198), 'UTF8'), 'base64'), E'\n', ''))]::jsonb[] AS pool) x
 CROSS JOIN generate_series(1, 15) i CROSS JOIN generate_series(1, 32) v;
CREATE TEMP TABLE pool_expected AS
SELECT r.row_no, v.err_state, v.err_message, v.licence FROM elicense.stock_row r
 CROSS JOIN LATERAL elicense._stock_licence('11100000000013338W032', r.data) v WHERE r.batch_id = 7;
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(7) c),
          (SELECT row(count(*) FILTER (WHERE err_state IS NULL), count(*) FILTER (WHERE err_state IS NOT NULL))::text FROM pool_expected),
          'of the pool''s rows, exactly those issue()''s validation accepts convert');
SELECT is((SELECT count(*) FROM pool_expected x JOIN elicense.stock_converted s ON s.batch_id = 7 AND s.row_no = x.row_no
             JOIN elicense.certificate c ON c.identifier = s.identifier WHERE pg_temp.held(c) = pg_temp.held(x.licence)),
          (SELECT count(*) FROM pool_expected WHERE err_state IS NULL), 'each with the columns issue() would give it');
SELECT is((SELECT count(*) FROM pool_expected x JOIN elicense.stock_error e ON e.batch_id = 7 AND e.row_no = x.row_no
            WHERE e.sqlstate = x.err_state AND e.message = x.err_message),
          (SELECT count(*) FROM pool_expected WHERE err_state IS NOT NULL), 'each other with the SQLSTATE and message issue() raises');

-- 1c. W050 (held by a company, sequence from the number) takes the same check.
CREATE FUNCTION pg_temp.w050(n integer, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('enterprise_name', '福建某建筑工程有限公司' || n, 'uscc', '91350100M000100Y43',
    'principal', '张三', 'principal_id', '350102199001011238', 'address', '福州市某路1号', 'economic_type', '有限责任公司',
    'permit_scope', '建筑施工', 'licence_number', format('(闽)JZ安许证字[2019]%s', lpad(n::text, 6, '0')),
    'valid_from', '2019-06-01', 'valid_to', '2030-06-01', 'issue_date', '2019-06-01',
    'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R', 'authority_division', '350000') || changes)
$$;
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (8, '11100000000013338W050', 'w050');
INSERT INTO elicense.stock_row (batch_id, row_no, data) VALUES
  (8, 1, pg_temp.w050(1)), (8, 2, pg_temp.w050(2, '{"address": " 福州市某路2号 ", "valid_to": "2030-06-30"}')),
  (8, 3, pg_temp.w050(3, '{"uscc": "91350100M000100Y44"}'));
INSERT INTO loaded SELECT batch_id, row_no, data FROM elicense.stock_row WHERE batch_id = 8;
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(8) c), '(2,1)', 'W050: the good rows convert, the bad one not');
SELECT is((SELECT count(*) FROM elicense.stock_converted s JOIN loaded r ON r.batch_id = s.batch_id AND r.row_no = s.row_no
             JOIN elicense.certificate c ON c.identifier = s.identifier
            WHERE s.batch_id = 8 AND pg_temp.held(c) = pg_temp.held(elicense._licence_from_data('11100000000013338W050', r.data))
              AND c.sequence = '201900000' || s.row_no), 2::bigint,
          'W050: with the columns issue() gives and the sequence from the number');

-- 2. A batch of two and a half chunks with bad rows in the middle and at the
-- ends of chunks, converted twice.
CREATE TEMP TABLE counter_before AS SELECT last_value FROM elicense.sequence_counter WHERE type_code = '11100000000013338W032';
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (2, '11100000000013338W032', 'chunks');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT 2, n, CASE WHEN n IN (1, 5000, 10000, 10001, 17777, 25000) THEN pg_temp.w032(100000 + n, '{"gender": "X"}')
                  ELSE pg_temp.w032(100000 + n) END
  FROM generate_series(1, 25000) n;
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(2) c), '(24994,6,0)',
          'a batch of three chunks converts every good row and rejects the bad ones in the middle and at both ends of chunks');
SELECT is((SELECT array_agg(e.row_no || ' ' || e.sqlstate || ' ' || e.field ORDER BY e.row_no) FROM elicense.stock_error e WHERE e.batch_id = 2),
          ARRAY['1 22023 gender', '5000 22023 gender', '10000 22023 gender', '10001 22023 gender', '17777 22023 gender', '25000 22023 gender'],
          'each bad row is kept with its reason');
SELECT is((SELECT count(DISTINCT s.identifier) FROM elicense.stock_converted s WHERE s.batch_id = 2), 24994::bigint,
          'each good row became one licence');
SELECT is((SELECT max(c.sequence::integer) - min(c.sequence::integer) + 1 FROM elicense.certificate c
             JOIN elicense.stock_converted s ON s.identifier = c.identifier WHERE s.batch_id = 2), 24994,
          'their sequences from the counter have no gap across chunks');
SELECT is((SELECT bool_and(c.sequence::integer < d.sequence::integer) FROM elicense.stock_converted a
             JOIN elicense.stock_converted z ON z.batch_id = a.batch_id AND z.row_no = a.row_no + 1
             JOIN elicense.certificate c ON c.identifier = a.identifier JOIN elicense.certificate d ON d.identifier = z.identifier
            WHERE a.batch_id = 2), true, 'and follow the row order');
SELECT is((SELECT count(*) FROM elicense.status_history h JOIN elicense.stock_converted s ON s.identifier = h.identifier WHERE s.batch_id = 2),
          24994::bigint, 'one status_history row per licence');
SELECT is((SELECT count(*) FROM elicense.outbox o JOIN elicense.stock_converted s ON s.identifier = o.identifier
            WHERE s.batch_id = 2 AND o.lane = 'stock' AND o.step = 'validate'), 24994::bigint, 'one stock-lane outbox step per licence');
UPDATE elicense.stock_row SET data = pg_temp.w032((100000 + row_no)::integer) WHERE batch_id = 2 AND row_no IN (5000, 17777);
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(2) c), '(2,4,24994)',
          'converting again: the two fixed rows convert, the others are still rejected, the converted ones skipped');
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(2) c), '(0,4,24996)',
          'a third conversion converts nothing');
SELECT is((SELECT count(*) FROM elicense.certificate c WHERE c.licence_number LIKE '闽A0000001%'), 24996::bigint, 'each licence exists once');
SELECT is((SELECT count(*) FROM elicense.outbox o JOIN elicense.stock_converted s ON s.identifier = o.identifier WHERE s.batch_id = 2),
          24996::bigint, 'with one outbox step each');
SELECT is((SELECT c.last_value - b.last_value FROM elicense.sequence_counter c, counter_before b WHERE c.type_code = '11100000000013338W032'),
          24996::bigint, 'the counter advanced by the converted rows only');

-- 3. A certificate number repeated in a later chunk: the first row keeps it.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (3, '11100000000013338W032', 'repeated');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT 3, n, pg_temp.w032(200000 + CASE WHEN n = 10500 THEN 3 ELSE n END) FROM generate_series(1, 10600) n;
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(3) c), '(10599,1)',
          'a number repeated in the next chunk is converted once');
SELECT is((SELECT e.sqlstate || ' ' || e.field || ' ' || e.message FROM elicense.stock_error e WHERE e.batch_id = 3),
          '23505 licence_number certificate number "闽A000000200003" is also in row 3 of the batch',
          'the later row is rejected and named as a repeat within the batch');
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (4, '11100000000013338W032', 'again');
INSERT INTO elicense.stock_row (batch_id, row_no, data) VALUES (4, 1, pg_temp.w032(200003));
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(4) c), '(0,1,0)', 'another batch''s row with that number is rejected');
SELECT matches((SELECT e.message FROM elicense.stock_error e WHERE e.batch_id = 4), 'is already used by licence 1\.2\.156',
               'named as the number of a current licence');

-- 4. A sequence kept from an earlier delivery in the second chunk: the
-- counter moves past it before the first chunk draws from it.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (5, '11100000000013338W032', 'kept');
INSERT INTO elicense.stock_row (batch_id, row_no, data, identifier)
SELECT 5, n, pg_temp.w032(300000 + n),
       CASE WHEN n = 10002 THEN elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0040000', 1) END
  FROM generate_series(1, 10002) n;
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(5) c), '(10002,0)',
          'a batch with a kept sequence in its second chunk converts whole');
SELECT is((SELECT c.sequence FROM elicense.stock_converted s JOIN elicense.certificate c ON c.identifier = s.identifier
            WHERE s.batch_id = 5 AND s.row_no = 10002), '0040000', 'the delivered row keeps its sequence');
SELECT is((SELECT min(c.sequence) FROM elicense.stock_converted s JOIN elicense.certificate c ON c.identifier = s.identifier
            WHERE s.batch_id = 5 AND s.row_no < 10002), '0040001', 'the first chunk draws after it');
SELECT is((SELECT last_value FROM elicense.sequence_counter WHERE type_code = '11100000000013338W032'), 40000 + 10001::bigint,
          'the counter ends past every sequence given');

-- 5. The check is generated from the catalogue: a new item is checked too.
INSERT INTO elicense.licence_item (type_code, item, label, data_type, required, max_length, position)
VALUES ('11100000000013338W032', 'remark', '备注', 'text', false, 5, 99);
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (6, '11100000000013338W032', 'new item');
INSERT INTO elicense.stock_row (batch_id, row_no, data) VALUES
  (6, 1, pg_temp.w032(400001, '{"remark": "短"}')), (6, 2, pg_temp.w032(400002, '{"remark": "太长的备注文字"}'));
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(6) c), '(1,1)', 'an item a DBA added is checked');
SELECT is(pg_temp.error_of(6, 2), '22001 remark', 'its max_length too');

-- 6. A wide catalogue: 120 more items (over the 100 arguments of one
-- function call), one of them with a control character in the second row.
INSERT INTO elicense.licence_item (type_code, item, label, data_type, required, max_length, position)
SELECT '11100000000013338W032', 'extra_' || g, '附加' || g, 'text', false, 20, 100 + g FROM generate_series(1, 120) g;
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (9, '11100000000013338W032', 'wide');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT 9, n, pg_temp.w032(600000 + n)
             || (SELECT jsonb_object_agg('extra_' || g, CASE WHEN n = 2 AND g = 110 THEN E'v\t' ELSE ' v' || g END) FROM generate_series(1, 120) g)
  FROM generate_series(1, 2) n;
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(9) c), '(1,1)',
          'a catalogue of 135 items: the good row converts, the one with a tab in its 110th extra item not');
SELECT is((SELECT row(e.sqlstate, e.field, (SELECT count(*) FROM jsonb_object_keys(c.business_data)), c.business_data ->> 'extra_120')::text
             FROM elicense.stock_error e, elicense.stock_converted s JOIN elicense.certificate c ON c.identifier = s.identifier
            WHERE e.batch_id = 9 AND s.batch_id = 9),
          '(22021,extra_110,123,v120)', 'the error names the item; the licence keeps every item, trimmed');

SELECT * FROM finish();
ROLLBACK;
