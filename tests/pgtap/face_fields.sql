-- licence_face_fields: the face values of each type come from the catalogue
-- (licence_item.face_key) and the template's keys, not from a rule per type.
-- The expected objects are written by hand from the shipped templates
-- (extension/templates/*.json) and the items of 40_catalogue.sql.
-- Runs in one transaction that is rolled back.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(6);

SELECT elicense.issue('11100000000013338W050', '{"enterprise_name": "福建某建筑工程有限公司", "uscc": "91350100M000100Y43",
  "principal": "张三", "principal_id": "350102199001011238", "address": "福州市鼓楼区某路1号", "economic_type": "有限责任公司",
  "permit_scope": "建筑施工", "licence_number": "(闽)JZ安许证字[2019]000001", "valid_from": "2019-06-01",
  "valid_to": "2030-06-01", "issue_date": "2019-06-01", "authority_name": "福建省住房和城乡建设厅",
  "authority_uscc": "11350000003591037R", "authority_division": "350000"}', 'tap') AS w050 \gset
SELECT elicense.issue('11100000000013338W032', '{"name": "李四", "gender": "男", "id_number": "350102199001011238",
  "category": "建筑电工", "licence_number": "闽A042023000123", "valid_from": "2023-05-06", "valid_to": "2025-05-05",
  "issue_date": "2023-05-06", "first_issue_date": "2014-05-01", "authority_name": "福建省住房和城乡建设厅",
  "authority_uscc": "11350000003591037R", "authority_division": "350000"}', 'tap') AS w032 \gset

SELECT is(elicense.licence_face_fields(c), '{"cert_no": "(闽)JZ安许证字[2019]000001", "unit_name": "福建某建筑工程有限公司",
  "uscc": "91350100M000100Y43", "principal": "张三", "address": "福州市鼓楼区某路1号", "economic_type": "有限责任公司",
  "scope": "建筑施工", "valid_period": "2019年06月01日 至 2030年06月01日", "issuer": "福建省住房和城乡建设厅",
  "issue_date": "2019年06月01日"}'::jsonb, 'W050: every key of its template, from items, face keys and the period')
  FROM elicense.certificate c WHERE c.identifier = :'w050';
SELECT is(elicense.licence_face_fields(c), '{"name": "李四", "gender": "男", "id_no": "350102199001011238",
  "category": "建筑电工", "cert_no": "闽A042023000123", "first_issue_date": "2014年05月01日",
  "valid_period": "2023年05月06日 至 2025年05月05日", "issuer": "福建省住房和城乡建设厅"}'::jsonb,
  'W032: every key of its template; first_issue_date from its item (the full resident ID: the original file''s row, revealed)')
  FROM elicense.certificate x, elicense._reveal_ids(x) c WHERE x.identifier = :'w032';
SELECT is(elicense.licence_face_fields(c) ->> 'first_issue_date', '2023年05月06日',
  'W032 without a first issue date: the version''s issue date')
  FROM elicense.certificate x,
       jsonb_populate_record(x, jsonb_build_object('business_data', x.business_data - 'first_issue_date')) c
 WHERE x.identifier = :'w032';
SELECT is(elicense.licence_face_fields(c) ->> 'id_no', '350102********1238',
  'a row whose holder ID is masked prints masked (the metadata column wins over business_data)')
  FROM elicense.certificate x, jsonb_populate_record(x, '{"holder_id": "350102********1238"}') c
 WHERE x.identifier = :'w032';

-- A DBA renames a face key (经济类型, field 5) in the template and the catalogue.
UPDATE elicense.ofd_template SET template = jsonb_set(template, '{fields,5,key}', '"economic"')
 WHERE type_code = '11100000000013338W050';
UPDATE elicense.licence_item SET face_key = 'economic' WHERE type_code = '11100000000013338W050' AND item = 'economic_type';
SELECT is(elicense.licence_face_fields(c) ->> 'economic', '有限责任公司', 'a face_key set by a DBA names the item on the face')
  FROM elicense.certificate c WHERE c.identifier = :'w050';
SELECT ok(NOT elicense.licence_face_fields(c) ? 'economic_type', 'a key the template no longer names is left out (the renderer refuses others)')
  FROM elicense.certificate c WHERE c.identifier = :'w050';

SELECT * FROM finish();
ROLLBACK;
