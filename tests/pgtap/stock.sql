-- Stock conversion (64_stock.sql): each rejection reason with its SQLSTATE
-- and field, a mixed batch (the good rows converted, every bad one kept),
-- converting twice, a row already delivered keeping its identifier and code,
-- sequences from the number or the counter, lease_steps serving the live
-- lane before the stock lane, and the status_update after confirm of a
-- licence converted in certState 02 to 06. Runs in one transaction that is rolled back.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(72);

-- A valid W032 row n (a person), with changes.
CREATE FUNCTION pg_temp.w032(n integer, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('name', '王五' || n, 'gender', '男', 'id_number', '350102199001011238',
    'category', '建筑电工', 'licence_number', format('闽A%s', lpad(n::text, 12, '0')),
    'valid_from', '2020-01-01', 'valid_to', '2030-01-01', 'issue_date', '2020-01-01', 'first_issue_date', '2014-05-01',
    'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R', 'authority_division', '350000') || changes)
$$;
CREATE FUNCTION pg_temp.w050(n integer, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('enterprise_name', '福建某建筑工程有限公司' || n, 'uscc', '91350100M000100Y43',
    'principal', '张三', 'principal_id', '350102199001011238', 'address', '福州市某路1号', 'economic_type', '有限责任公司',
    'permit_scope', '建筑施工', 'licence_number', format('(闽)JZ安许证字[2019]%s', lpad(n::text, 6, '0')),
    'valid_from', '2019-06-01', 'valid_to', '2030-06-01', 'issue_date', '2019-06-01',
    'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R', 'authority_division', '350000') || changes)
$$;
CREATE FUNCTION pg_temp.error_of(b bigint, r bigint) RETURNS text LANGUAGE sql AS $$
  SELECT e.sqlstate || ' ' || e.field FROM elicense.stock_error e WHERE e.batch_id = b AND e.row_no = r
$$;

-- 1. A mixed batch: rows 1-3 good, every other row breaks one rule.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (1, '11100000000013338W032', 'mixed');
INSERT INTO elicense.stock_row (batch_id, row_no, data, status) VALUES
  (1, 1, pg_temp.w032(1), '01'),
  (1, 2, pg_temp.w032(2), '02'),
  (1, 3, pg_temp.w032(3, '{"first_issue_date": null, "employer": "某公司"}'), '01'),
  (1, 10, pg_temp.w032(10, '{"name": null}'), '01'),                          -- missing required item
  (1, 11, pg_temp.w032(11, '{"id_number": "350102199001011239"}'), '01'),    -- bad resident ID check digit
  (1, 12, pg_temp.w032(12, '{"issue_date": "2020-02-30"}'), '01'),           -- not a calendar date
  (1, 13, pg_temp.w032(13, '{"issue_date": "2020/01/01"}'), '01'),           -- not YYYY-MM-DD
  (1, 14, pg_temp.w032(14, '{"gender": "X"}'), '01'),                        -- value not allowed
  (1, 15, pg_temp.w032(15, '{"valid_to": "2019-01-01"}'), '01'),             -- validity ends before it starts
  (1, 16, pg_temp.w032(16, '{"colour": "red"}'), '01'),                      -- unknown item
  (1, 17, pg_temp.w032(17, '{"licence_number": "bad number!"}'), '01'),      -- number pattern
  (1, 18, pg_temp.w032(18, jsonb_build_object('name', repeat('名', 51))), '01'),  -- too long
  (1, 19, pg_temp.w032(19, '{"id_number": "350102201001011238"}'), '01'),    -- under 18 on the issue date
  (1, 20, pg_temp.w032(20), '07'),                                           -- not a certState
  (1, 21, pg_temp.w032(1), '01'),                                            -- number also in row 1
  (1, 22, pg_temp.w032(22, '{"issue_date": "2999-01-01", "valid_from": "2999-01-01", "valid_to": "2999-12-01"}'), '01');

SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(1) c), '(3,13,0)',
          'a mixed batch converts the 3 good rows and rejects the 13 bad ones');
SELECT is((SELECT count(*) FROM elicense.stock_row WHERE batch_id = 1), 16::bigint, 'every row is still in the staging table');
SELECT is(pg_temp.error_of(1, 10), '23502 name', 'missing required item: 23502, field name');
SELECT is(pg_temp.error_of(1, 11), '22P02 id_number', 'bad resident ID: 22P02, field id_number');
SELECT is(pg_temp.error_of(1, 12), '22008 issue_date', 'not a calendar date: 22008, field issue_date');
SELECT is(pg_temp.error_of(1, 13), '22007 issue_date', 'not YYYY-MM-DD: 22007, field issue_date');
SELECT is(pg_temp.error_of(1, 14), '22023 gender', 'value not allowed: 22023, field gender');
SELECT is(pg_temp.error_of(1, 15), '22023 valid_to', 'validity ending before it starts: 22023, field valid_to');
SELECT is(pg_temp.error_of(1, 16), '22023 colour', 'unknown item: 22023, the field is the item');
SELECT matches((SELECT message FROM elicense.stock_error WHERE batch_id = 1 AND row_no = 16), '"colour"', 'the message names the unknown item');
SELECT is(pg_temp.error_of(1, 17), '22P02 licence_number', 'number not of the type''s pattern: 22P02, field licence_number');
SELECT is(pg_temp.error_of(1, 18), '22001 name', 'item too long: 22001, field name');
SELECT is(pg_temp.error_of(1, 19), '22023 holder_id', 'holder under the minimum age: 22023, field holder_id');
SELECT is(pg_temp.error_of(1, 20), '22023 status', 'status not a certState: 22023, field status');
SELECT is(pg_temp.error_of(1, 21), '23505 licence_number', 'number twice in the batch: the later row is 23505');
SELECT is(pg_temp.error_of(1, 22), '22023 issue_date', 'issue date in the future: 22023, field issue_date');
SELECT is((SELECT count(*) FROM elicense.stock_error WHERE message = '' OR field = ''), 0::bigint, 'every error has a field and message');

SELECT is((SELECT row(c.status, c.operate_type, c.version, c.issue_date, c.valid_from, c.valid_to, c.business_data ->> 'first_issue_date',
                      c.licence_number)::text
             FROM elicense.certificate c WHERE c.licence_number = '闽A000000000002'),
          '(02,01,1,2020-01-01,2020-01-01,2030-01-01,2014-05-01,闽A000000000002)',
          'number, dates, validity, first issue date and status are kept');
SELECT is((SELECT array_agg(c.sequence ORDER BY c.licence_number) FROM elicense.certificate c), '{0000001,0000002,0000003}',
          'W032 (no sequence pattern): sequences from the gap-free counter');
SELECT is((SELECT last_value FROM elicense.sequence_counter WHERE type_code = '11100000000013338W032'), 3::bigint,
          'the counter advanced by the converted rows only');
SELECT is((SELECT count(*) FROM elicense.status_history h JOIN elicense.stock_converted s ON s.identifier = h.identifier
            WHERE h.from_status IS NULL AND h.operate_type = '01' AND h.reason LIKE 'stock conversion, batch 1%'), 3::bigint,
          'one status_history row per converted licence');
SELECT is((SELECT array_agg(o.lane || ':' || o.step || ':' || o.step_order ORDER BY o.id) FROM elicense.outbox o),
          '{stock:validate:1,stock:validate:1,stock:validate:1}', 'one first outbox step per licence, in the stock lane');

-- 2. The DBA fixes rows and converts again: fixed rows convert, converted rows are skipped.
UPDATE elicense.stock_row SET data = pg_temp.w032(10) WHERE batch_id = 1 AND row_no = 10;
UPDATE elicense.stock_row SET status = '01' WHERE batch_id = 1 AND row_no = 20;
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(1) c), '(2,11,3)',
          'converting again: the two fixed rows convert, 11 still rejected, the 3 converted before are skipped');
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(1) c), '(0,11,5)',
          'a third conversion converts nothing');
SELECT is((SELECT count(*) FROM elicense.certificate), 5::bigint, 'each licence exists once');
SELECT is((SELECT count(*) FROM elicense.outbox), 5::bigint, 'each licence has one outbox step');
SELECT is((SELECT count(*) FROM elicense.status_history), 5::bigint, 'and one status_history row');
SELECT is(pg_temp.error_of(1, 10), NULL, 'the fixed row has no error any more');

-- 3. A number already used by a current licence (issued live) is 23505.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (2, '11100000000013338W032', 'again');
INSERT INTO elicense.stock_row (batch_id, row_no, data) VALUES (2, 1, pg_temp.w032(1));
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(2) c), '(0,1,0)',
          'a row whose number another batch converted is rejected');
SELECT is(pg_temp.error_of(2, 1), '23505 licence_number', 'number of a current licence: 23505, field licence_number');

-- 4. Already delivered: identifier and code kept, no assignment again.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (3, '11100000000013338W032', 'delivered');
INSERT INTO elicense.stock_row (batch_id, row_no, data, identifier, assigned_code, qr_url) VALUES
  (3, 1, pg_temp.w032(31), elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000500', 1), '123456789012345678', 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?k=old'),
  (3, 2, pg_temp.w032(32), elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000501', 2), '123456789012345679', NULL),
  (3, 3, pg_temp.w032(33), elicense.build_identifier('11100000000013338W050', '11350000003591037R', '0000502', 1), '123456789012345670', NULL),
  (3, 4, pg_temp.w032(34), '1.2.156.3005.2.bad', '123456789012345671', NULL),
  (3, 5, pg_temp.w032(35), elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000505', 1), 'ABC', NULL),
  (3, 6, pg_temp.w032(36), NULL, '123456789012345672', NULL),
  (3, 7, pg_temp.w032(37), NULL, NULL, 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?x'),
  (3, 8, pg_temp.w032(38), elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000500', 1), '123456789012345673', 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?k=dup'),
  (3, 9, pg_temp.w032(39), elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000509', 1), '123456789012345674', NULL);
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(3) c), '(1,8,0)',
          'of the delivered rows, the one with a right identifier and code converts');
SELECT is((SELECT row(c.identifier::text, c.sequence, c.assigned_code, c.qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?k=old')::text
             FROM elicense.certificate c WHERE c.licence_number = '闽A000000000031'),
          row(elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000500', 1), '0000500', '123456789012345678', true)::text,
          'an already delivered row keeps its identifier, sequence, code and QR URL');
SELECT is(pg_temp.error_of(3, 9), '22023 qr_url', 'a code without QR URL and no platform key to build one: 22023, field qr_url');
SELECT is((SELECT array_agg(o.step || ':' || o.step_order) FROM elicense.outbox o JOIN elicense.certificate c ON c.identifier = o.identifier
            WHERE c.licence_number = '闽A000000000031'), '{collect:3}', 'its outbox step skips validation and assignment: collect');
SELECT is(pg_temp.error_of(3, 2), '22023 identifier', 'identifier of version 002: 22023, field identifier');
SELECT is(pg_temp.error_of(3, 3), '22023 identifier', 'identifier of another type: 22023, field identifier');
SELECT is(pg_temp.error_of(3, 4), '22P02 identifier', 'malformed identifier: 22P02, field identifier');
SELECT is(pg_temp.error_of(3, 5), '22023 assigned_code', 'code not of the platform''s pattern: 22023, field assigned_code');
SELECT is(pg_temp.error_of(3, 6), '23502 identifier', 'a code without its identifier: 23502, field identifier');
SELECT is(pg_temp.error_of(3, 7), '23502 assigned_code', 'a QR URL without its code: 23502, field assigned_code');
SELECT is(pg_temp.error_of(3, 8), '23505 identifier', 'an identifier that is already a licence: 23505, field identifier');
SELECT cmp_ok((SELECT last_value FROM elicense.sequence_counter WHERE type_code = '11100000000013338W032'), '>=', 500::bigint,
              'the counter moved past the kept sequence 0000500, so it never hands it out again');

-- 5. W050: the sequence comes from the number (sequence_pattern).
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (4, '11100000000013338W050', 'w050');
INSERT INTO elicense.stock_row (batch_id, row_no, data) VALUES (4, 1, pg_temp.w050(87974)), (4, 2, pg_temp.w050(5, '{"uscc": "91350100M000100Y44"}'));
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(4) c), '(1,1)', 'W050 batch: one converted, one rejected');
SELECT is((SELECT sequence FROM elicense.certificate WHERE type_code = '11100000000013338W050'), '2019087974',
          'W050: the sequence is year and serial of the number');
SELECT is(pg_temp.error_of(4, 2), '22P02 uscc', 'bad USCC: 22P02, field uscc');
SELECT is((SELECT count(*) FROM elicense.sequence_counter WHERE type_code = '11100000000013338W050'), 0::bigint,
          'W050: no counter used');

-- 6. Unknown batch and unknown type.
SELECT throws_ok('SELECT elicense.convert_stock(999)', 'P0002', NULL, 'an unknown batch is P0002');
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (5, 'NOPE', 'unknown type');
INSERT INTO elicense.stock_row (batch_id, row_no, data) VALUES (5, 1, pg_temp.w032(50));
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(5) c), '(0,1)', 'unknown type: the row is rejected');
SELECT is(pg_temp.error_of(5, 1), '42704 type_code', 'unknown type: 42704, field type_code');

-- 6b. The progress view, readable by admins and analysts.
SELECT is((SELECT row(p.rows, p.converted, p.rejected, p.delivered, p.failed)::text FROM elicense.stock_batch_progress p WHERE p.batch_id = 1),
          '(16,5,11,0,0)', 'progress of batch 1: rows, converted, rejected, none delivered or failed yet');
SELECT is((SELECT p.rejected_by_reason ->> '23505 licence_number' FROM elicense.stock_batch_progress p WHERE p.batch_id = 1), '1',
          'rejections by SQLSTATE and field');
UPDATE elicense.outbox o SET status = 'dead' FROM elicense.stock_converted s
 WHERE s.identifier = o.identifier AND s.batch_id = 1 AND s.row_no = 1;
UPDATE elicense.outbox o SET status = 'done' FROM elicense.stock_converted s
 WHERE s.identifier = o.identifier AND s.batch_id = 1 AND s.row_no IN (2, 3);
INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type, status, lane)
SELECT s.identifier, 1, 'confirm', 4, '01', 'done', 'stock' FROM elicense.stock_converted s WHERE s.batch_id = 1 AND s.row_no IN (2, 3);
UPDATE elicense.outbox o SET status = 'pending' FROM elicense.stock_converted s
 WHERE s.identifier = o.identifier AND s.batch_id = 1 AND s.row_no = 2 AND o.step <> 'confirm';
SELECT is((SELECT row(p.delivered, p.failed)::text FROM elicense.stock_batch_progress p WHERE p.batch_id = 1), '(1,1)',
          'a licence whose confirm step is done and no other step open is delivered; one with a dead step failed');
UPDATE elicense.outbox o SET status = 'pending' FROM elicense.stock_converted s
 WHERE s.identifier = o.identifier AND s.batch_id = 1 AND s.row_no IN (1, 3);
DELETE FROM elicense.outbox o WHERE o.step = 'confirm';
SELECT ok(has_table_privilege('elicense_analyst', 'elicense.stock_batch_progress', 'SELECT')
          AND has_table_privilege('elicense_admin', 'elicense.stock_batch_progress', 'SELECT'), 'analysts and admins read the view');
SELECT ok(NOT has_table_privilege('elicense_analyst', 'elicense.stock_error', 'SELECT')
          AND NOT has_table_privilege('elicense_analyst', 'elicense.stock_row', 'SELECT'), 'analysts do not read the rows (personal data)');

-- 7. Lanes: with stock steps due, lease_steps leases a live step first.
UPDATE elicense.outbox SET next_attempt_at = now() - interval '1 hour';  -- stock steps queued long before
SELECT isnt(elicense.issue('11100000000013338W032', pg_temp.w032(70), 'clerk'), NULL, 'a live approval is issued');
SELECT is((SELECT array_agg(o.lane || '/' || l.lane) FROM elicense.lease_steps('w1', 1, 60) l JOIN elicense.outbox o ON o.id = l.outbox_id),
          '{live/live}', 'lease_steps takes the live step first though the stock steps are older, and names its lane');
SELECT is((SELECT row(count(*), array_agg(DISTINCT l.lane))::text FROM elicense.lease_steps('w1', 100, 60, 2) l), '(2,{stock})',
          'with max_stock 2, only 2 of the 7 stock steps, named stock');
SELECT is((SELECT count(*) FROM elicense.lease_steps('w1', 100, 60, 0)), 0::bigint, 'with max_stock 0, none');
SELECT is((SELECT count(*) FROM elicense.lease_steps('w1', 100, 60)), 5::bigint, 'without a cap, the other 5');

-- 8. A converted licence not in certState 01 gets, after its confirm step,
-- the status_update step the lifecycle would have sent, with its operateType.
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (6, '11100000000013338W032', 'states');
INSERT INTO elicense.stock_row (batch_id, row_no, data, status)
SELECT 6, n, pg_temp.w032(80 + n), '0' || n FROM generate_series(1, 6) n;
SELECT is((SELECT row(c.converted, c.rejected)::text FROM elicense.convert_stock(6) c), '(6,0)', 'a licence in each certState 01 to 06 converts');
CREATE FUNCTION pg_temp.of6(n integer) RETURNS text LANGUAGE sql AS $$
  SELECT s.identifier FROM elicense.stock_converted s WHERE s.batch_id = 6 AND s.row_no = n
$$;
SELECT is((SELECT count(*) FROM elicense.outbox o JOIN elicense.stock_converted s ON s.identifier = o.identifier
            WHERE s.batch_id = 6 AND o.step = 'status_update'), 0::bigint, 'no status_update is queued before the licence is collected');
-- Collect of each is done; its confirm step leased and answered.
UPDATE elicense.outbox o SET status = 'done' FROM elicense.stock_converted s WHERE s.identifier = o.identifier AND s.batch_id = 6;
INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type, lane, status, lease_owner, lease_expires_at)
SELECT s.identifier, 1, 'confirm', 4, '01', 'stock', 'in_flight', 'w9', now() + interval '1 hour'
  FROM elicense.stock_converted s WHERE s.batch_id = 6;
SELECT is((SELECT bool_and(elicense.step_succeeded(o.id, 'w9', '{"return_code": "0", "message": "shown"}'))
             FROM elicense.outbox o JOIN elicense.stock_converted s ON s.identifier = o.identifier
            WHERE s.batch_id = 6 AND o.step = 'confirm'), true, 'the six confirm steps succeed');
SELECT is((SELECT array_agg(c.status || ':' || o.step_order || ':' || o.operate_type || ':' || o.lane || ':' || o.status ORDER BY c.status)
             FROM elicense.outbox o JOIN elicense.certificate c ON c.identifier = o.identifier
             JOIN elicense.stock_converted s ON s.identifier = o.identifier
            WHERE s.batch_id = 6 AND o.step = 'status_update'),
          '{02:5:03:stock:pending,03:5:05:stock:pending,04:5:05:stock:pending,05:5:05:stock:pending,06:5:04:stock:pending}',
          'after confirm, certState 02 to 06 each get a stock-lane status_update with the operateType of suspend, revoke, withdraw, cancel, expire; 01 none');
UPDATE elicense.outbox o SET status = 'done' WHERE o.identifier = pg_temp.of6(2) AND o.step = 'confirm';
SELECT is((SELECT count(*) FROM elicense.outbox o WHERE o.identifier = pg_temp.of6(2) AND o.step = 'status_update'), 1::bigint,
          'a confirm step written done again queues no second status_update');
SELECT is((SELECT row(p.converted, p.delivered)::text FROM elicense.stock_batch_progress p WHERE p.batch_id = 6), '(6,1)',
          'only the licence in certState 01 is delivered while the others'' status_update is open');
SELECT is((SELECT array_agg((l.request ->> 'operateType') || '/' || (l.request ->> 'certState') || '/' || (l.request ->> 'zzeCertID' = l.identifier)
                            ORDER BY l.request ->> 'certState')
             FROM elicense.lease_steps('w9', 100, 60) l WHERE l.step = 'status_update'),
          '{03/02/true,05/03/true,05/04/true,05/05/true,04/06/true}',
          'lease_steps sends each status_update with the transition''s operateType, the kept certState and the identifier collected');
SELECT is((SELECT bool_and(elicense.step_succeeded(o.id, 'w9', '{"return_code": "0"}'))
             FROM elicense.outbox o JOIN elicense.stock_converted s ON s.identifier = o.identifier
            WHERE s.batch_id = 6 AND o.step = 'status_update'), true, 'the status updates succeed');
SELECT is((SELECT row(p.delivered, p.failed)::text FROM elicense.stock_batch_progress p WHERE p.batch_id = 6), '(6,0)',
          'then all six are delivered');
-- A live licence's confirm step never queues a status_update.
INSERT INTO elicense.outbox (identifier, version, step, step_order, operate_type, lane, status, lease_owner, lease_expires_at)
SELECT c.identifier, 1, 'confirm', 4, '01', 'live', 'in_flight', 'w9', now() + interval '1 hour'
  FROM elicense.certificate c WHERE c.licence_number = '闽A000000000070';
UPDATE elicense.certificate SET status = '02' WHERE licence_number = '闽A000000000070';  -- as if it were suspended in place
SELECT ok((SELECT elicense.step_succeeded(o.id, 'w9', '{"return_code": "0"}') FROM elicense.outbox o
            JOIN elicense.certificate c ON c.identifier = o.identifier
           WHERE c.licence_number = '闽A000000000070' AND o.step = 'confirm')
          AND NOT EXISTS (SELECT FROM elicense.outbox o JOIN elicense.certificate c ON c.identifier = o.identifier
                           WHERE c.licence_number = '闽A000000000070' AND o.step = 'status_update'),
          'a live licence''s confirm step queues no status_update');

-- 9. Bad rows among 2,500 good ones: each is rejected, the others convert
-- (tests/pgtap/stock_chunks.sql: batches of several 5,000-row chunks).
INSERT INTO elicense.stock_batch (id, type_code, label) OVERRIDING SYSTEM VALUE VALUES (7, '11100000000013338W032', 'chunks');
INSERT INTO elicense.stock_row (batch_id, row_no, data)
SELECT 7, n, CASE WHEN n IN (1000, 1001, 2500) THEN pg_temp.w032(100000 + n, '{"gender": "X"}') ELSE pg_temp.w032(100000 + n) END
  FROM generate_series(1, 2500) n;
SELECT is((SELECT row(c.converted, c.rejected, c.skipped)::text FROM elicense.convert_stock(7) c), '(2497,3,0)',
          'a batch of three chunks converts every good row and rejects the bad rows at both ends of a chunk');
SELECT is((SELECT array_agg(e.row_no || ' ' || e.sqlstate || ' ' || e.field ORDER BY e.row_no) FROM elicense.stock_error e WHERE e.batch_id = 7),
          '{"1000 22023 gender","1001 22023 gender","2500 22023 gender"}', 'each bad row is kept with its reason');
SELECT is((SELECT count(DISTINCT s.identifier) FROM elicense.stock_converted s WHERE s.batch_id = 7), 2497::bigint,
          'each good row became one licence');

SELECT * FROM finish();
ROLLBACK;
