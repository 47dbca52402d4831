-- Request items built in SQL: elicense.platform_request against
-- GOLDEN items written by hand from ../shared/PLATFORM.md ("Request items, as
-- public clients send them", per-step table), NOT generated from the
-- catalogue, compared field by field (key sets and every value). Then: a DBA's
-- rename, removal and addition through the view, code maps, the new licence
-- items and their validators (SQLSTATE, nothing written), privileges.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(82);

-- Differences between an item and its golden form: missing keys, unexpected
-- keys, differing values; NULL when they are equal.
CREATE FUNCTION pg_temp.item_diff(got jsonb, want jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN got IS NULL OR jsonb_typeof(got) <> 'object' THEN 'no item: ' || coalesce(got::text, 'NULL') ELSE nullif(concat_ws('; ',
    (SELECT 'missing ' || string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(want) k WHERE NOT got ? k),
    (SELECT 'unexpected ' || string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(got) k WHERE NOT want ? k),
    (SELECT 'differs ' || string_agg(format('%s=%s (want %s)', k, got -> k, want -> k), ', ' ORDER BY k)
       FROM jsonb_object_keys(want) k WHERE got ? k AND got -> k <> want -> k)), '') END
$$;
CREATE FUNCTION pg_temp.req(identifier text, step text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT elicense.platform_request(identifier, step, 'c0ffee00-1234-4abc-8def-0123456789ab')
$$;
CREATE FUNCTION pg_temp.w050(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls('{"enterprise_name": "山东某建筑工程有限公司", "uscc": "91350100M000100Y43",
    "principal": "张三", "principal_id": "350102199001011238", "address": "济南市历下区某路1号", "economic_type": "有限责任公司",
    "permit_scope": "建筑施工", "licence_number": "(鲁)JZ安许证字[2023]087974", "valid_from": "2023-06-01", "valid_to": "2026-05-31",
    "authority_name": "山东省住房和城乡建设厅", "authority_uscc": "113700000045030270", "authority_division": "370000",
    "issue_date": "2023-06-01"}'::jsonb || changes)
$$;
CREATE FUNCTION pg_temp.w032(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls('{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "licence_number": "闽A012023000123", "valid_from": "2023-06-01", "valid_to": "2025-05-31",
    "authority_name": "福州市城乡建设局", "authority_uscc": "11350000003591037R", "authority_division": "350100",
    "issue_date": "2023-06-01"}'::jsonb || changes)
$$;
CREATE FUNCTION pg_temp.rows() RETURNS text LANGUAGE sql AS $$
  SELECT format('certificate=%s outbox=%s history=%s', (SELECT count(*) FROM elicense.certificate),
                (SELECT count(*) FROM elicense.outbox), (SELECT count(*) FROM elicense.status_history))
$$;
INSERT INTO elicense.delivery_config (preview_url_template) VALUES ('https://preview.example/p/{identifier}');
CREATE TEMP TABLE lic (name text PRIMARY KEY, id text);
-- A 1x1 PNG.
CREATE FUNCTION pg_temp.png() RETURNS text LANGUAGE sql AS $$
  SELECT 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='::text
$$;

-- Fixture licences.
INSERT INTO lic VALUES ('w050', elicense.issue('11100000000013338W050', pg_temp.w050(), 'tester'));
UPDATE elicense.certificate SET assigned_code = '202232000001000001' WHERE identifier = (SELECT id FROM lic WHERE name = 'w050');
INSERT INTO lic VALUES ('w050_v2', elicense.change((SELECT id FROM lic WHERE name = 'w050'),
                        '{"address": "济南市市中区某路2号", "issue_date": "2024-01-10"}', '地址变更', 'tester'));
UPDATE elicense.certificate SET assigned_code = '202232000001000002' WHERE identifier = (SELECT id FROM lic WHERE name = 'w050_v2');
INSERT INTO lic VALUES ('w050_v3', elicense.revoke((SELECT id FROM lic WHERE name = 'w050_v2'), '吊销', 'tester'));
INSERT INTO lic VALUES ('w032', elicense.issue('11100000000013338W032',
                        pg_temp.w032(jsonb_build_object('first_issue_date', '2019-03-15', 'photo', pg_temp.png())), 'tester'));
UPDATE elicense.certificate SET assigned_code = '202235000001000003' WHERE identifier = (SELECT id FROM lic WHERE name = 'w032');
INSERT INTO lic VALUES ('w032_v2', elicense.cancel((SELECT id FROM lic WHERE name = 'w032'), '注销', 'tester'));
INSERT INTO lic VALUES ('w032_other', elicense.issue('11100000000013338W032',
                        pg_temp.w032('{"licence_number": "闽A992023000001", "gender": "女", "category": "建筑焊工"}'), 'tester'));
INSERT INTO lic VALUES ('w032_other_v2', elicense.change((SELECT id FROM lic WHERE name = 'w032_other'),
                        '{"employer": "某公司"}', '聘用单位变更', 'tester'));
INSERT INTO lic VALUES ('w032_coded', elicense.issue('11100000000013338W032',
                        pg_temp.w032('{"licence_number": "闽A052023000001", "category": "塔吊司机", "category_code": "05"}'), 'tester'));

-- 1. W050 golden items (PLATFORM.md: check = eCertID provinceNum certNum
-- creditCode operateType; assign = the whole item; collect = ID zzeCertID
-- url; status update = eCertID zzeCertID provinceNum certNum creditCode
-- certState certStatusDescription operateType).
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "370000", "certNum": "（鲁）JZ安许证字[2023]087974",
  "creditCode": "91350100M000100Y43", "operateType": "01"}'), NULL, 'W050 check (01)');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'assign_code'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "370000", "certNum": "（鲁）JZ安许证字[2023]087974",
  "issuAuth": "山东省住房和城乡建设厅", "issuAuthCode": "113700000045030270", "issuDate": "2023-06-01",
  "effectiveDate": "2023-06-01", "expiringDate": "2026-05-31", "certState": "01", "operateType": "01",
  "companyName": "山东某建筑工程有限公司", "creditCode": "91350100M000100Y43", "companyAddress": "济南市历下区某路1号",
  "economicType": "有限责任公司", "responsiblePerson": "张三", "responsiblePersonID": "350102199001011238",
  "responsiblePersonIDType": "111", "licenseScope": "建筑施工", "firstIssuDate": "2023-06-01"}'), NULL,
  'W050 assign (01): the whole item, no associatedZzeCertID, responsiblePersonIDType defaults to 111');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050_v2'), 'validate'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "370000", "certNum": "（鲁）JZ安许证字[2023]087974",
  "creditCode": "91350100M000100Y43", "operateType": "08"}'), NULL, 'W050 check (08)');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050_v2'), 'assign_code'), jsonb_build_object(
  'associatedZzeCertID', (SELECT id FROM lic WHERE name = 'w050')) || '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "370000", "certNum": "（鲁）JZ安许证字[2023]087974",
  "issuAuth": "山东省住房和城乡建设厅", "issuAuthCode": "113700000045030270", "issuDate": "2024-01-10",
  "effectiveDate": "2023-06-01", "expiringDate": "2026-05-31", "certState": "01", "operateType": "08",
  "companyName": "山东某建筑工程有限公司", "creditCode": "91350100M000100Y43", "companyAddress": "济南市市中区某路2号",
  "economicType": "有限责任公司", "responsiblePerson": "张三", "responsiblePersonID": "350102199001011238",
  "responsiblePersonIDType": "111", "licenseScope": "建筑施工", "firstIssuDate": "2023-06-01"}'), NULL,
  'W050 assign (08): associatedZzeCertID = the superseded version, firstIssuDate = version 001''s issue date');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050_v2'), 'collect'), jsonb_build_object(
  'ID', '202232000001000002', 'zzeCertID', (SELECT id FROM lic WHERE name = 'w050_v2'),
  'url', 'https://preview.example/p/' || (SELECT id FROM lic WHERE name = 'w050_v2'))), NULL, 'W050 collect');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050_v3'), 'status_update'), jsonb_build_object(
  'zzeCertID', (SELECT id FROM lic WHERE name = 'w050_v2')) || '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "370000", "certNum": "（鲁）JZ安许证字[2023]087974",
  "creditCode": "91350100M000100Y43", "certState": "03", "operateType": "05"}'), NULL,
  'W050 status update (revoked): no certStatusDescription outside 99');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050_v3'), 'query'), jsonb_build_object(
  'eCertID', 'c0ffee00-1234-4abc-8def-0123456789ab', 'zzeCertID', (SELECT id FROM lic WHERE name = 'w050_v2'))), NULL,
  'W050 query (inferred): eCertID and zzeCertID');
SELECT is(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'key_change'), NULL, 'W050 has no key-data change item (unknown)');

-- 2. W032 golden items (check = eCertID provinceNum identityCard
-- operationCategory categoryDescription certNum operateType, certNum not on
-- 01; status update with identityCard operationCategory categoryDescription
-- instead of creditCode; key-data change = eCertID provinceNum certNum
-- categoryCode birthDate identityCardType identityCard url).
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032'), 'validate'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "350000", "identityCard": "350102199001011238",
  "operationCategory": "01", "operateType": "01"}'), NULL, 'W032 check (01): no certNum, category name 建筑电工 -> 01, province of a city authority');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032'), 'assign_code'), jsonb_build_object('photo', pg_temp.png()) || '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "350000", "certNum": "闽A012023000123",
  "issuAuth": "福州市城乡建设局", "issuAuthCode": "11350000003591037R", "issuDate": "2023-06-01",
  "effectiveDate": "2023-06-01", "expiringDate": "2025-05-31", "certState": "01", "operateType": "01",
  "name": "李四", "gender": "1", "identityCard": "350102199001011238", "identityCardType": "111",
  "issuedDate": "2019-03-15", "operationCategory": "01"}'), NULL, 'W032 assign (01): the whole item with gender 1, photo, first issue date');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032_v2'), 'status_update'), jsonb_build_object(
  'zzeCertID', (SELECT id FROM lic WHERE name = 'w032')) || '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "350000", "certNum": "闽A012023000123",
  "identityCard": "350102199001011238", "operationCategory": "01", "certState": "05", "operateType": "05"}'), NULL,
  'W032 status update (cancelled)');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032'), 'key_change'), jsonb_build_object(
  'url', 'https://preview.example/p/' || (SELECT id FROM lic WHERE name = 'w032')) || '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "350000", "certNum": "闽A012023000123",
  "categoryCode": "01", "birthDate": "1990-01-01", "identityCardType": "111", "identityCard": "350102199001011238"}'), NULL,
  'W032 key-data change');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032'), 'collect'), jsonb_build_object(
  'ID', '202235000001000003', 'zzeCertID', (SELECT id FROM lic WHERE name = 'w032'),
  'url', 'https://preview.example/p/' || (SELECT id FROM lic WHERE name = 'w032'))), NULL, 'W032 collect');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032_other'), 'validate'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "350000", "identityCard": "350102199001011238",
  "operationCategory": "99", "categoryDescription": "经省级以上住房和城乡建设主管部门认定的其他工种类别（建筑焊工）",
  "operateType": "01"}'), NULL, 'W032 check: a category outside the list is 99 with the fixed description');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032_other_v2'), 'validate'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "350000", "identityCard": "350102199001011238",
  "operationCategory": "99", "categoryDescription": "经省级以上住房和城乡建设主管部门认定的其他工种类别（建筑焊工）",
  "certNum": "闽A992023000001", "operateType": "08"}'), NULL, 'W032 check (08) carries certNum');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w032_other_v2'), 'assign_code'), jsonb_build_object(
  'associatedZzeCertID', (SELECT id FROM lic WHERE name = 'w032_other')) || '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "350000", "certNum": "闽A992023000001",
  "issuAuth": "福州市城乡建设局", "issuAuthCode": "11350000003591037R", "issuDate": "2023-06-01",
  "effectiveDate": "2023-06-01", "expiringDate": "2025-05-31", "certState": "01", "operateType": "08",
  "name": "李四", "gender": "2", "identityCard": "350102199001011238", "identityCardType": "111",
  "issuedDate": "2023-06-01", "operationCategory": "99",
  "categoryDescription": "经省级以上住房和城乡建设主管部门认定的其他工种类别（建筑焊工）"}'), NULL,
  'W032 assign (08): associatedZzeCertID = superseded version, gender 2, issuedDate falls back to version 001, no photo');
SELECT is(pg_temp.req((SELECT id FROM lic WHERE name = 'w032_coded'), 'validate') ->> 'operationCategory', '05',
          'category_code wins over the category name');
SELECT ok(NOT pg_temp.req((SELECT id FROM lic WHERE name = 'w032_coded'), 'validate') ? 'categoryDescription',
          '... and no categoryDescription outside 99');

-- 3. eCertID: a GUID; a fresh one without an argument.
SELECT matches(elicense.platform_request((SELECT id FROM lic WHERE name = 'w050'), 'validate') ->> 'eCertID',
               '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$', 'eCertID is a fresh GUID');
SELECT isnt(elicense.platform_request((SELECT id FROM lic WHERE name = 'w050'), 'validate') ->> 'eCertID',
            elicense.platform_request((SELECT id FROM lic WHERE name = 'w050'), 'validate') ->> 'eCertID', '... a new one per call');
SELECT is(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate') ->> 'eCertID', 'c0ffee00-1234-4abc-8def-0123456789ab',
          '... or the one given');
SELECT ok(NOT pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate') ? 'zzeCertID', 'eCertID is not the identifier: check carries no zzeCertID');

-- 4. A DBA renames, removes and adds fields through the view.
SELECT is((SELECT count(*) FROM elicense.platform_field_local), 0::bigint, 'no local field at first');
SET LOCAL ROLE elicense_admin;
SELECT lives_ok($$UPDATE elicense.platform_field SET field = 'certNo'
                   WHERE type_code = '11100000000013338W050' AND step = 'validate' AND field = 'certNum'$$, 'the admin renames a field with one UPDATE');
RESET ROLE;
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "370000", "certNo": "（鲁）JZ安许证字[2023]087974",
  "creditCode": "91350100M000100Y43", "operateType": "01"}'), NULL, 'the next request carries the new name');
SELECT is(pg_temp.item_diff(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate'), '{
  "eCertID": "c0ffee00-1234-4abc-8def-0123456789ab", "provinceNum": "370000", "certNum": "（鲁）JZ安许证字[2023]087974",
  "creditCode": "91350100M000100Y43", "operateType": "01"}'), 'missing certNum; unexpected certNo', 'the golden comparison notices a renamed field');
SELECT results_eq($$SELECT slot, field, removed FROM elicense.platform_field_local$$, $$VALUES ('cert_num', 'certNo', false)$$,
                  'the rename is one local row');
SELECT is((SELECT field FROM elicense.platform_field_shipped WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'cert_num'),
          'certNum', 'the shipped row is untouched');
-- What a later update script does: it changes only shipped rows.
UPDATE elicense.platform_field_shipped SET field = 'certNumber', note = 'observed: a later release'
 WHERE type_code = '11100000000013338W050' AND step IN ('validate', 'status_update') AND slot = 'cert_num';
SELECT is((SELECT field FROM elicense.platform_field WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'cert_num'),
          'certNo', 'a shipped change of a later release leaves the DBA''s rename in force');
SELECT is((SELECT field FROM elicense.platform_field WHERE type_code = '11100000000013338W050' AND step = 'status_update' AND slot = 'cert_num'),
          'certNumber', '... and reaches the rows the DBA did not touch');
UPDATE elicense.platform_field_shipped SET field = 'certNum', note = 'observed; full-width parentheses as one client sends them'
 WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'cert_num';
UPDATE elicense.platform_field_shipped SET field = 'certNum', note = 'observed'
 WHERE type_code = '11100000000013338W050' AND step = 'status_update' AND slot = 'cert_num';
SELECT lives_ok($$UPDATE elicense.platform_field SET field = 'certNum'
                   WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'cert_num'$$, 'renamed back');
SELECT is((SELECT count(*) FROM elicense.platform_field_local), 0::bigint, '... a row equal to the shipped one is no override');
SELECT lives_ok($$DELETE FROM elicense.platform_field WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'credit_code'$$,
                'a shipped field is removed');
SELECT ok(NOT pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate') ? 'creditCode', '... and no longer sent');
SELECT results_eq($$SELECT slot, removed FROM elicense.platform_field_local$$, $$VALUES ('credit_code', true)$$, '... kept as a tombstone');
SELECT is((SELECT count(*) FROM elicense.platform_field WHERE type_code = '11100000000013338W050' AND step = 'validate'), 4::bigint,
          '... that hides the shipped row in the view');
SELECT lives_ok($$INSERT INTO elicense.platform_field (type_code, step, slot, position, field, source_kind, source, required, note)
                  VALUES ('11100000000013338W050', 'validate', 'channel', 9, 'channel', 'constant', 'elicense', true, 'local: test')$$,
                'a field is added');
SELECT is(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate') ->> 'channel', 'elicense', '... and sent');
SELECT lives_ok($$INSERT INTO elicense.platform_field (type_code, step, slot, position, field, source_kind, source)
                  VALUES ('11100000000013338W050', 'validate', 'credit_code', 4, 'creditCode', 'column', 'holder_id')$$,
                'a removed shipped field is added back');
SELECT ok(pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'validate') ? 'creditCode', '... and sent again');
SELECT throws_ok($$INSERT INTO elicense.platform_field (type_code, step, slot, position, field, source_kind, source)
                   VALUES ('11100000000013338W050', 'validate', 'channel', 10, 'x', 'constant', 'y')$$, '23505',
                 'request field slot "channel" already exists for licence type 11100000000013338W050 step validate', 'a slot exists once');
SELECT throws_ok($$UPDATE elicense.platform_field SET field = 'certNum'
                   WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'channel'$$, '23505',
                 'field "certNum" is already sent by slot "cert_num" of licence type 11100000000013338W050 step validate',
                 'a JSON name appears once per item');
SELECT throws_ok($$UPDATE elicense.platform_field SET source_kind = 'computed', source = 'nonsense'
                   WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'channel'$$, '23514', NULL,
                 'an unknown computed source is refused');
SELECT lives_ok($$DELETE FROM elicense.platform_field WHERE slot = 'channel'$$, 'a local field is deleted');
SELECT is((SELECT count(*) FROM elicense.platform_field_local), 1::bigint, '... and its local row goes (the re-added field stays an override: it is optional and has no note)');

-- 5. Code maps: gender, holder ID type, operation categories; a value a map
-- does not cover is an error naming the field.
SELECT is((SELECT (code_map ->> '男') || (code_map ->> '女') FROM elicense.platform_field
            WHERE type_code = '11100000000013338W032' AND step = 'assign_code' AND slot = 'gender'), '12', 'gender 男 -> 1, 女 -> 2');
SELECT is((SELECT code_map FROM elicense.platform_field
            WHERE type_code = '11100000000013338W032' AND step = 'assign_code' AND slot = 'identity_card_type'),
          '{"RESIDENT_ID": "111", "USCC": "001", "*": "999"}'::jsonb, 'holder ID type -> 111 / 001 / 999');
SELECT is((SELECT string_agg(coalesce(code_map ->> n, '-'), ',' ORDER BY i) FROM elicense.platform_field,
                  unnest(ARRAY['建筑电工', '建筑架子工（普通脚手架）', '建筑起重机械安装拆卸工（物料提升机）', '高处作业吊篮安装拆卸工', '其他']) WITH ORDINALITY u(n, i)
            WHERE type_code = '11100000000013338W032' AND step = 'validate' AND slot = 'operation_category'),
          '01,02,10,11,-', 'operation categories: names map to their codes (其他 has none: the "*" default applies)');
SELECT is((SELECT code_map ->> '*' FROM elicense.platform_field
            WHERE type_code = '11100000000013338W032' AND step = 'validate' AND slot = 'operation_category'), '99', '... anything else is 99');
UPDATE elicense.certificate SET business_data = business_data || '{"gender": "未知"}' WHERE identifier = (SELECT id FROM lic WHERE name = 'w032_coded');
SELECT throws_ok($$SELECT pg_temp.req((SELECT id FROM lic WHERE name = 'w032_coded'), 'assign_code')$$, '22023',
                 format('licence %s, step assign_code: field "gender" has value "未知", which its code map does not cover', (SELECT id FROM lic WHERE name = 'w032_coded')),
                 'an unmapped value: 22023 naming licence, step, field and value');
-- The item gone from the row and from its sealed numbers (a USCC holder: id_box holds only it).
UPDATE elicense.certificate SET business_data = business_data - 'principal_id', id_box = NULL WHERE identifier = (SELECT id FROM lic WHERE name = 'w050');
SELECT throws_ok($$SELECT pg_temp.req((SELECT id FROM lic WHERE name = 'w050'), 'assign_code')$$, '23502',
                 format('licence %s, step assign_code: required field "responsiblePersonID" has no value (item principal_id)', (SELECT id FROM lic WHERE name = 'w050')),
                 'a missing required value: 23502 naming licence, step and field');
SELECT throws_ok($$SELECT elicense.platform_request((SELECT id FROM lic WHERE name = 'w050'), 'push')$$, '22023',
                 'unknown platform step "push"', 'an unknown step');
SELECT throws_ok($$SELECT elicense.platform_request('nope', 'validate')$$, 'P0002', 'licence "nope" does not exist', 'an unknown licence');

-- 6. New items and their validators: each error with its SQLSTATE, nothing written.
CREATE TEMP TABLE before_errors AS SELECT pg_temp.rows() AS r;
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal_id": null, "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '23502', 'missing required item "principal_id" (主要负责人身份证号) of licence type 11100000000013338W050', 'W050 principal_id is required');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal_id": "350102199001011239", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22P02', NULL, 'W050 principal_id must be a valid resident ID');
SELECT throws_like($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal_id": "350102199001011239", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                   '%principal_id%350102********1239%', '... the error names the field and the value (masked)');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal_id_type": "112", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22023', 'item "principal_id_type" (主要负责人证件类型) has value "112", which is not one of 111, 999, 001', 'principal_id_type: 111, 999 or 001');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"first_issue_date": "2023-02-30", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22008', 'item "first_issue_date" (初次发证日期): "2023-02-30" is not a calendar date', 'W050 first_issue_date is a date');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"category_code": "12", "licence_number": "闽A012023000999"}'), 'tester')$$,
                 '22023', 'item "category_code" (操作类别代码) has value "12", which is not one of 01, 02, 03, 04, 05, 06, 07, 08, 09, 10, 11, 99',
                 'category_code: 01-11 or 99');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"photo": "not base64!", "licence_number": "闽A012023000999"}'), 'tester')$$,
                 '22P02', 'item "photo" (照片): the value (11 characters, starting "not base64!") is not Base64', 'photo: Base64');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(jsonb_build_object('photo', 'R0lGODlhAQABAAAAACw=', 'licence_number', '闽A012023000999')), 'tester')$$,
                 '22023', 'item "photo" (照片): the image is neither a JPG nor a PNG (it starts with bytes 4749463839610100)', 'photo: a GIF is refused by its magic bytes');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(jsonb_build_object('photo',
                     encode('\xffd8ff'::bytea || decode(repeat('00', 51198), 'hex'), 'base64'), 'licence_number', '闽A012023000999')), 'tester')$$,
                 '22001', 'item "photo" (照片): the image has 51201 bytes, more than 50 KB (51200 bytes)', 'photo: at most 50 KB');
SELECT is(pg_temp.rows(), (SELECT r FROM before_errors), 'no refused licence wrote a row');
SELECT lives_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(jsonb_build_object('photo',
                    encode('\xffd8ff'::bytea || decode(repeat('00', 51197), 'hex'), 'base64'), 'licence_number', '闽A012023000998')), 'tester')$$,
                'a JPG of exactly 50 KB (Base64 with line breaks) is accepted');
SELECT lives_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032(jsonb_build_object('photo',
                    'data:image/jpg;base64, ' || pg_temp.png(), 'licence_number', '闽A012023000997')), 'tester')$$,
                'a photo with a data: prefix is accepted');
SELECT is((SELECT business_data ->> 'photo' FROM elicense.certificate WHERE licence_number = '闽A012023000997'), pg_temp.png(),
          '... and stored as bare Base64');
SELECT lives_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal_id_type": "999", "first_issue_date": "2010-05-04", "licence_number": "(鲁)JZ安许证字[2023]000002"}'), 'tester')$$,
                'W050 with principal_id_type and first_issue_date');
SELECT is((SELECT (r ->> 'responsiblePersonIDType') || ' ' || (r ->> 'firstIssuDate')
             FROM (SELECT pg_temp.req(identifier, 'assign_code') r FROM elicense.certificate WHERE licence_number = '(鲁)JZ安许证字[2023]000002') s),
          '999 2010-05-04', '... sent as given');

-- 7. The catalogue: every shipped field says whether it was observed or inferred.
SELECT is((SELECT count(*) FROM elicense.platform_field_shipped WHERE note !~ '^(observed|inferred)'), 0::bigint,
          'every shipped field notes observed or inferred');
SELECT is((SELECT count(*) FROM elicense.platform_field_shipped WHERE step = 'query' AND note !~ '^inferred'), 0::bigint,
          'query fields are inferred');
SELECT results_eq($$SELECT type_code, step, count(*)::integer FROM elicense.platform_field_shipped GROUP BY 1, 2 ORDER BY 1, 2$$,
                  $$VALUES ('11100000000013338W032', 'assign_code', 20), ('11100000000013338W032', 'collect', 3),
                           ('11100000000013338W032', 'key_change', 8), ('11100000000013338W032', 'query', 2),
                           ('11100000000013338W032', 'status_update', 10), ('11100000000013338W032', 'validate', 7),
                           ('11100000000013338W050', 'assign_code', 21), ('11100000000013338W050', 'collect', 3),
                           ('11100000000013338W050', 'query', 2), ('11100000000013338W050', 'status_update', 8),
                           ('11100000000013338W050', 'validate', 5)$$, 'field counts per type and step');

-- 8. Privileges.
SELECT table_privs_are('elicense', 'platform_field', 'elicense_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'the admin edits the view');
SELECT table_privs_are('elicense', 'platform_field', 'elicense_worker', ARRAY[]::text[], 'the worker does not read it (its delivery functions do, as their owner)');
SELECT table_privs_are('elicense', 'platform_field', 'elicense_analyst', ARRAY['SELECT'], 'the analyst reads it');
SELECT table_privs_are('elicense', 'platform_field_shipped', 'elicense_worker', ARRAY[]::text[], 'the worker has no right on the shipped table');
SELECT table_privs_are('elicense', 'platform_field_local', 'elicense_analyst', ARRAY[]::text[], 'nor the analyst on the local one');
SELECT function_privs_are('elicense', 'platform_request', ARRAY['text', 'text', 'uuid'], 'elicense_worker', ARRAY[]::text[], 'the worker does not call platform_request (lease_steps does)');
SELECT function_privs_are('elicense', 'platform_request', ARRAY['text', 'text', 'uuid'], 'elicense_admin', ARRAY['EXECUTE'], 'the admin too');
SELECT function_privs_are('elicense', 'platform_request', ARRAY['text', 'text', 'uuid'], 'elicense_analyst', ARRAY[]::text[], 'the analyst does not');
SET LOCAL ROLE elicense_analyst;
SELECT throws_ok($$UPDATE elicense.platform_field SET field = 'x' WHERE slot = 'cert_num'$$, '42501', NULL, 'the analyst cannot edit fields');
RESET ROLE;
SELECT is((SELECT extcondition[array_position(extconfig, 'elicense.platform_field_local'::regclass::oid)] FROM pg_extension WHERE extname = 'elicense'),
          '', 'pg_dump keeps every local field');
SELECT is((SELECT array_position(extconfig, 'elicense.platform_field_shipped'::regclass::oid) FROM pg_extension WHERE extname = 'elicense'),
          NULL, '... and no shipped one');

SELECT * FROM finish();
ROLLBACK;
