-- Resident ID numbers at rest (48_resident_id_vault.sql, issue 19): the
-- vault's round trip, the blind index, what a stored row keeps (masked,
-- sealed, indexed), the rows that refuse a clear number, the change of a
-- licence, the platform's request (the full number) and the outbox's copy
-- (masked), a precheck's item, stock data at rest. Needs elicense.master_key_file (every
-- throwaway cluster sets one); rotation and "no master key" (55000) need the
-- server's settings changed: tests/integration/resident_id_vault.sh.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(29);

-- 1. The vault: sealed under the master key, a random nonce per box, the
-- purpose bound (a box of another kind does not open as ID numbers).
SELECT is(substr(elicense._ids_seal('{"holder_id": "350102199001011238"}'), 1, 4), '\x45534231'::bytea, 'a box is an ESB1 secret box');
SELECT is(elicense._ids_open(elicense._ids_seal('{"holder_id": "350102199001011238"}')), '{"holder_id": "350102199001011238"}',
          'round trip: what is sealed opens');
SELECT isnt(elicense._ids_seal('x'), elicense._ids_seal('x'), 'two boxes of the same numbers differ (random nonce)');
SELECT ok(position(convert_to('350102199001011238', 'UTF8') IN elicense._ids_seal('{"holder_id": "350102199001011238"}')) = 0,
          'the box does not hold the number in clear');
SELECT throws_ok($$SELECT elicense._ids_open(elicense._preview_key_box(NULL))$$, '22023',
                 'the stored elicense resident ids does not authenticate', 'a box of another purpose (a preview key) does not open as ID numbers');
SELECT throws_ok($$SELECT elicense._ids_open(overlay(elicense._ids_seal('x') PLACING '\x00'::bytea FROM 30))$$, '22023',
                 'the stored elicense resident ids does not authenticate', 'a changed box does not open');

-- 2. A W032 licence (resident ID holder) and a W050 one (USCC holder, a
-- resident ID item): stored masked, sealed, the resident holder indexed.
SELECT elicense.issue('11100000000013338W032', '{"name": "李四", "gender": "男", "id_number": "350102199001011238",
  "category": "建筑电工", "licence_number": "闽A012025000001", "valid_from": "2025-01-01", "valid_to": "2029-01-01",
  "issue_date": "2025-01-01", "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R",
  "authority_division": "350000"}', 'tap') AS w032 \gset
SELECT elicense.issue('11100000000013338W050', '{"enterprise_name": "福建示范建设工程有限公司", "uscc": "91350100M000100Y43",
  "principal": "张三", "principal_id": "440304198506121230", "address": "福州市鼓楼区五四路1号", "economic_type": "有限责任公司",
  "permit_scope": "建筑施工", "licence_number": "(闽)JZ安许证字[2025]000001", "valid_from": "2025-03-01", "valid_to": "2028-02-28",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2025-03-01"}', 'tap') AS w050 \gset
SELECT results_eq($$SELECT holder_id, length(holder_ref), holder_ref = elicense._holder_ref('350102199001011238'),
                           elicense._ids_open(id_box)::jsonb FROM elicense.certificate WHERE identifier = '$$ || :'w032' || $$'$$,
                  $$VALUES ('350102********1238', 16, true, '{"holder_id": "350102199001011238"}'::jsonb)$$,
                  'W032: holder_id masked, the 16-byte blind index of the number, the full number sealed');
SELECT results_eq($$SELECT holder_id, holder_ref, business_data ->> 'principal_id', elicense._ids_open(id_box)::jsonb
                      FROM elicense.certificate WHERE identifier = '$$ || :'w050' || $$'$$,
                  $$VALUES ('91350100M000100Y43', NULL::bytea, '440304********1230', '{"items": {"principal_id": "440304198506121230"}}'::jsonb)$$,
                  'W050: the USCC as it is (no index), the principal''s number masked in business_data and sealed');
SELECT results_eq($$SELECT x.holder_id, x.business_data ->> 'principal_id' FROM elicense.certificate c, elicense._reveal_ids(c) x
                     WHERE c.identifier IN ('$$ || :'w032' || $$', '$$ || :'w050' || $$') ORDER BY c.type_code$$,
                  $$VALUES ('350102199001011238', NULL), ('91350100M000100Y43', '440304198506121230')$$,
                  '_reveal_ids gives the full numbers back');
SELECT is((SELECT count(*) FROM elicense.certificate c
            WHERE to_jsonb(c)::text LIKE '%350102199001011238%' OR to_jsonb(c)::text LIKE '%440304198506121230%'), 0::bigint,
          'no stored column holds a full number');

-- 3. The blind index: keyed (not a plain hash), one per number, the same
-- for every row of a holder; the key is one boxed row.
SELECT isnt(elicense._holder_ref('350102199001011238'), substr(sha256(convert_to('350102199001011238', 'UTF8')), 1, 16),
            'the index is not an unkeyed hash of the number');
SELECT isnt(elicense._holder_ref('350102199001011238'), elicense._holder_ref('440304198506121230'), 'two numbers, two indexes');
SELECT is(elicense._holder_ref('91350100M000100Y43'), NULL, 'a USCC has none (found by holder_id)');
SELECT results_eq($$SELECT count(*), bool_and(substr(key_box, 1, 4) = '\x45534231'::bytea) FROM elicense.holder_index_key$$,
                  $$VALUES (1::bigint, true)$$, 'the index key: one row, kept only in a box under the master key');

-- 4. A stored row refuses a clear number (and a resident holder without
-- its box or index).
SELECT throws_ok(format($$UPDATE elicense.certificate SET holder_id = '350102199001011238' WHERE identifier = %L$$, :'w032'), '23514',
                 NULL, 'certificate: a clear resident ID number in holder_id is refused (certificate_holder_id_valid)');
SELECT throws_ok(format($$UPDATE elicense.certificate SET id_box = NULL WHERE identifier = %L$$, :'w032'), '23514',
                 NULL, 'certificate: a resident ID holder without its sealed number is refused');

-- 5. A change keeps the full number (opened, checked, sealed anew); a new
-- number gets its own index.
SELECT elicense.change(:'w032', '{"category": "建筑架子工"}', '工种变更', 'tap') AS changed \gset
SELECT results_eq($$SELECT c.holder_id, x.holder_id, c.holder_ref = elicense._holder_ref('350102199001011238')
                      FROM elicense.certificate c, elicense._reveal_ids(c) x WHERE c.identifier = '$$ || :'changed' || $$'$$,
                  $$VALUES ('350102********1238', '350102199001011238', true)$$, 'a changed version keeps the holder''s number, sealed and indexed');
SELECT elicense.change(:'changed', '{"id_number": "11010519491231002X"}', '身份证号更正', 'tap') AS corrected \gset
SELECT results_eq($$SELECT c.holder_id, x.holder_id, c.holder_ref = elicense._holder_ref('11010519491231002X')
                      FROM elicense.certificate c, elicense._reveal_ids(c) x WHERE c.identifier = '$$ || :'corrected' || $$'$$,
                  $$VALUES ('110105********002X', '11010519491231002X', true)$$, 'a corrected number: masked, sealed and indexed anew');

-- 6. The platform receives the full number; the outbox keeps it masked.
SELECT is(elicense.platform_request(:'w032', 'validate') ->> 'identityCard', '350102199001011238',
          'the platform''s request carries the full number');
SELECT is(elicense.platform_request(:'w050', 'assign_code') ->> 'responsiblePersonID', '440304198506121230',
          '... a resident ID item too');
SELECT is(elicense._request_at_rest('{"identityCard": "350102199001011238", "creditCode": "91350100M000100Y43", "n": "1"}'),
          '{"identityCard": "350102********1238", "creditCode": "91350100M000100Y43", "n": "1"}'::jsonb,
          'a request at rest: resident ID numbers masked, the rest as sent');
SELECT is((SELECT count(*) FROM elicense.lease_steps('tap-worker', 10, 60)), 2::bigint, 'the two licences'' first steps lease');
SELECT is((SELECT count(*) FROM elicense.outbox WHERE request::text LIKE '%350102199001011238%' OR request::text LIKE '%440304198506121230%'),
          0::bigint, 'the outbox keeps no full number of the requests it leased');
SELECT is((SELECT request ->> 'identityCard' FROM elicense.outbox WHERE identifier = :'w032' AND step = 'validate'),
          '350102********1238', '... it keeps them masked');

-- A check before approval (precheck): kept masked, sent whole.
SELECT elicense.precheck('11100000000013338W032', '{"name": "王五", "gender": "男", "id_number": "11010519491231002X",
  "category": "建筑电工", "licence_number": "闽A012025000005", "valid_from": "2025-01-01", "valid_to": "2029-01-01",
  "issue_date": "2025-01-01", "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R",
  "authority_division": "350000"}') AS ticket \gset
SELECT results_eq($$SELECT request ->> 'identityCard', elicense._ids_open(request_box)::jsonb ->> 'identityCard' FROM elicense.precheck$$,
                  $$VALUES ('110105********002X', '11010519491231002X')$$, 'a precheck keeps its check item masked, the item as sent sealed');
SELECT is((SELECT request ->> 'identityCard' FROM elicense.lease_prechecks('tap-worker', 10, 60)), '11010519491231002X',
          'the worker leases the check item with the full number');

-- 7. Stock data at rest: the resident ID items masked, once only.
SELECT is(elicense._stock_data_at_rest('{"id_number": "350102199001011238", "name": "李四"}', '{id_number}'),
          '{"id_number": "350102********1238", "name": "李四"}'::jsonb, 'stock data: the resident ID item masked');
SELECT is(elicense._stock_data_at_rest('{"id_number": "350102********1238"}', '{id_number}'),
          '{"id_number": "350102********1238"}'::jsonb, '... and a masked one left as it is');

-- 8. An error about a holder's birth date names the number masked.
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', '{"name": "王五", "gender": "男", "id_number": "350102202001011232",
  "category": "建筑电工", "licence_number": "闽A012025000009", "valid_from": "2025-01-01", "valid_to": "2029-01-01",
  "issue_date": "2019-01-01", "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R",
  "authority_division": "350000"}', 'tap')$$, '22023', 'holder_id 350102********1232 gives birth date 2020-01-01, after the issue date 2019-01-01',
                 'an error names the holder''s number masked');

SELECT * FROM finish();
ROLLBACK;
