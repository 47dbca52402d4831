-- Certificates: issuing, validation errors (each its own SQLSTATE and message,
-- nothing written), rollback, version chains, expiry, the approval trigger,
-- append-only history. Runs in one transaction that is rolled back.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(74);

-- Valid licence data; tests override single items.
CREATE FUNCTION pg_temp.w050(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls('{"enterprise_name": "山东某建筑工程有限公司", "uscc": "91350100M000100Y43",
    "principal": "张三", "principal_id": "350102199001011238", "address": "济南市历下区某路1号", "economic_type": "有限责任公司", "permit_scope": "建筑施工",
    "licence_number": "(鲁)JZ安许证字[2023]087974", "valid_from": "2023-06-01", "valid_to": "2026-05-31",
    "authority_name": "山东省住房和城乡建设厅", "authority_uscc": "113700000045030270", "authority_division": "370000",
    "issue_date": "2023-06-01"}'::jsonb || changes)
$$;
CREATE FUNCTION pg_temp.w032(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls('{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "category_code": "01", "employer": "福建某建筑有限公司", "licence_number": "闽A012023000123",
    "valid_from": "2023-06-01", "valid_to": "2025-05-31", "authority_name": "福建省住房和城乡建设厅",
    "authority_uscc": "11350000003591037R", "authority_division": "350000", "issue_date": "2023-06-01"}'::jsonb || changes)
$$;
-- Rows in every table issuing writes to: a failed call must leave this unchanged.
CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
  SELECT format('certificate=%s history=%s outbox=%s counters=%s',
    (SELECT count(*) FROM elicense.certificate), (SELECT count(*) FROM elicense.status_history),
    (SELECT count(*) FROM elicense.outbox), (SELECT coalesce(sum(last_value), 0) FROM elicense.sequence_counter))
$$;

-- 1. A valid 安许证: the identifier is the PLATFORM.md worked example.
SELECT is(elicense.issue('11100000000013338W050', pg_temp.w050(), 'tester'),
          '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E',
          'W050: sequence = year + serial of the certificate number; identifier as in PLATFORM.md');
SELECT is(pg_temp.counts(), 'certificate=1 history=1 outbox=1 counters=0', 'issue writes 1 certificate, 1 history row, its first outbox step; no counter for a derived sequence');
SELECT results_eq($$SELECT step, step_order, status, operate_type FROM elicense.outbox$$,
                  $$VALUES ('validate', 1, 'pending', '01')$$, 'a new licence queues its first step, validate');
SELECT is((SELECT idempotency_key FROM elicense.outbox WHERE step = 'validate'),
          '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E:1:validate', 'idempotency key = identifier:version:step');
SELECT results_eq($$SELECT holder_name, holder_id_type, holder_id, authority_division::text, issue_date, valid_to, status, business_data
                     FROM elicense.certificate$$,
                  $$VALUES ('山东某建筑工程有限公司'::text, 'USCC'::text, '91350100M000100Y43'::text, '370000'::text, '2023-06-01'::date, '2026-05-31'::date, '01'::text,
                      '{"address": "济南市历下区某路1号", "principal": "张三", "principal_id": "350102********1238", "permit_scope": "建筑施工", "economic_type": "有限责任公司"}'::jsonb)$$,
                  'metadata items fill columns, the rest goes to business_data (a resident ID item stored masked)');
SELECT is((SELECT (elicense._reveal_ids(c)).business_data ->> 'principal_id' FROM elicense.certificate c),
          '350102199001011238', '... and its full number sealed in id_box (a USCC holder: no blind index)');
SELECT results_eq($$SELECT from_status, to_status, operate_type, reason, actor FROM elicense.status_history$$,
                  $$VALUES (NULL::text, '01', '01', 'issued', 'tester')$$, 'history records the issue');

-- 2. W032: the sequence comes from the gap-free counter.
SELECT is(elicense.issue('11100000000013338W032', pg_temp.w032(), 'tester'),
          elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000001', 1), 'W032: first counter value 0000001');
SELECT is(pg_temp.counts(), 'certificate=2 history=2 outbox=2 counters=1', 'second licence written');

-- 3. Each bad input: its own SQLSTATE and message, and nothing written.
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"uscc": "91350100M000100Y44", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22P02', 'invalid USCC in field "uscc": "91350100M000100Y44"', 'bad USCC: 22P02 naming the item');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"authority_uscc": "11370000004503027X", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22P02', 'invalid USCC in field "authority_uscc": "11370000004503027X"', 'bad authority USCC: 22P02 naming the item');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"id_number": "350102199001011239", "licence_number": "X1000001"}'), 'tester')$$,
                 '22P02', 'invalid resident ID number in field "id_number": "350102********1239"', 'bad ID number: 22P02 naming the item');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"valid_to": "2023-05-31", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22023', 'valid_to 2023-05-31 is not after valid_from 2023-06-01', 'end before start: 22023');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W051', pg_temp.w050(), 'tester')$$,
                 '42704', 'unknown licence type "11100000000013338W051"', 'unknown type: 42704');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal": null, "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '23502', 'missing required item "principal" (主要负责人) of licence type 11100000000013338W050', 'missing required item: 23502');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal": "  "}'), 'tester')$$,
                 '23502', 'missing required item "principal" (主要负责人) of licence type 11100000000013338W050', 'blank required item counts as missing');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050(), 'tester')$$,
                 '23505', 'certificate number "(鲁)JZ安许证字[2023]087974" of licence type 11100000000013338W050 is already used by licence 1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E',
                 'duplicate certificate number: 23505 naming the licence');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"colour": "red", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22023', 'unknown item "colour" for licence type 11100000000013338W050 (建筑施工企业安全生产许可证)', 'unknown item: 22023');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050(jsonb_build_object('principal', repeat('长', 51), 'licence_number', '(鲁)JZ安许证字[2023]000001')), 'tester')$$,
                 '22001', 'item "principal" (主要负责人) is 51 characters long, more than its maximum of 50', 'item too long: 22001');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"principal": ["a"], "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22023', 'item "principal" (主要负责人) must be a string, not a JSON array', 'item of the wrong JSON type: 22023');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"licence_number": "闽JZ2023087974"}'), 'tester')$$,
                 '22P02', 'invalid certificate number "闽JZ2023087974" for licence type 11100000000013338W050 (建筑施工企业安全生产许可证)', 'bad certificate number format: 22P02');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"valid_from": "2023-02-30", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22008', 'item "valid_from" (有效期起): "2023-02-30" is not a calendar date', 'impossible date: 22008');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"valid_from": "01/06/2023", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$,
                 '22007', 'item "valid_from" (有效期起): "01/06/2023" is not a date in the form YYYY-MM-DD', 'date in another format: 22007');
SELECT throws_ok(format($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"issue_date": "%s", "licence_number": "(鲁)JZ安许证字[2023]000001"}'), 'tester')$$, current_date + 1),
                 '22023', format('issue_date %s is in the future', to_char(current_date + 1, 'YYYY-MM-DD')), 'issue date in the future: 22023');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"id_number": "350102201001011238", "licence_number": "X1000001"}'), 'tester')$$,
                 '22023', 'holder born 2010-01-01 is younger than 18 on the issue date 2023-06-01', 'W032 holder under 18: 22023');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W032', pg_temp.w032('{"gender": "M", "licence_number": "X1000001"}'), 'tester')$$,
                 '22023', 'item "gender" (性别) has value "M", which is not one of 男, 女', 'value outside allowed_values: 22023');
SELECT throws_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"licence_number": "(鲁)JZ安许证字[2023]000001"}'), ' ')$$,
                 '23502', 'actor is required', 'blank actor: 23502');
SELECT is(pg_temp.counts(), 'certificate=2 history=2 outbox=2 counters=1', 'no failed call left a row or used a counter value');

-- 4. A rolled-back issue leaves nothing, and its counter value is reused (no gap).
SAVEPOINT before_issue;
SELECT isnt(elicense.issue('11100000000013338W032', pg_temp.w032('{"licence_number": "X1000001"}'), 'tester'), NULL, 'issue inside a savepoint');
SELECT is(pg_temp.counts(), 'certificate=3 history=3 outbox=3 counters=2', 'rows written before the rollback');
ROLLBACK TO SAVEPOINT before_issue;
SELECT is(pg_temp.counts(), 'certificate=2 history=2 outbox=2 counters=1', 'rollback leaves no row anywhere');
SELECT is(elicense.issue('11100000000013338W032', pg_temp.w032('{"licence_number": "X1000001"}'), 'tester'),
          elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000002', 1), 'next licence gets 0000002: no gap after the rollback');

-- 5. Change, then revoke: a chain of versions traceable from any of them.
CREATE TEMP TABLE chain (step text PRIMARY KEY, identifier text);
INSERT INTO chain VALUES ('v1', elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000001', 1));
INSERT INTO chain SELECT 'v2', elicense.change((SELECT identifier FROM chain WHERE step = 'v1'), '{"employer": "厦门某建设集团有限公司", "category_code": null}', '聘用单位变更', 'clerk');
INSERT INTO chain SELECT 'v3', elicense.revoke((SELECT identifier FROM chain WHERE step = 'v2'), '违规作业', 'chief');
SELECT is((SELECT identifier FROM chain WHERE step = 'v2'),
          elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000001', 2), 'change: same sequence, version 002');
SELECT is((SELECT identifier FROM chain WHERE step = 'v3'),
          elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000001', 3), 'revoke: version 003');
SELECT results_eq($$SELECT version, original_identifier, previous_identifier, status, operate_type, superseded_at IS NULL
                     FROM elicense.licence_versions((SELECT identifier FROM chain WHERE step = 'v2'))$$,
                  $$SELECT * FROM (VALUES
                      (1, (SELECT identifier FROM chain WHERE step = 'v1'), NULL, '01', '01', false),
                      (2, (SELECT identifier FROM chain WHERE step = 'v1'), (SELECT identifier FROM chain WHERE step = 'v1'), '01', '08', false),
                      (3, (SELECT identifier FROM chain WHERE step = 'v1'), (SELECT identifier FROM chain WHERE step = 'v2'), '03', '05', true)) v$$,
                  'the chain from the middle version: all three, linked to the original and the previous one');
SELECT set_eq($$SELECT identifier FROM elicense.licence_versions((SELECT identifier FROM chain WHERE step = 'v3'))$$,
              $$SELECT identifier FROM chain$$, 'the same chain from the last version');
SELECT set_eq($$SELECT identifier FROM elicense.licence_versions((SELECT identifier FROM chain WHERE step = 'v1'))$$,
              $$SELECT identifier FROM chain$$, 'the same chain from the first version');
SELECT is((SELECT business_data FROM elicense.certificate WHERE identifier = (SELECT identifier FROM chain WHERE step = 'v2')),
          '{"gender": "男", "category": "建筑电工", "employer": "厦门某建设集团有限公司"}'::jsonb,
          'change merges the changed items; JSON null removes an optional one');
SELECT results_eq($$SELECT h.from_status, h.to_status, h.operate_type, h.reason, h.actor FROM elicense.status_history h
                     WHERE h.original_identifier = (SELECT identifier FROM chain WHERE step = 'v1') ORDER BY h.id$$,
                  $$VALUES (NULL::text, '01', '01', 'issued', 'tester'), ('01', '01', '08', '聘用单位变更', 'clerk'), ('01', '03', '05', '违规作业', 'chief')$$,
                  'status history of the chain');
SELECT results_eq($$SELECT o.step, o.operate_type FROM elicense.outbox o WHERE o.identifier = (SELECT identifier FROM chain WHERE step = 'v2') ORDER BY o.step_order$$,
                  $$VALUES ('validate', '08')$$, 'a change queues a new QR assignment, starting with validate (operateType 08)');
SELECT results_eq($$SELECT o.step, o.operate_type FROM elicense.outbox o WHERE o.identifier = (SELECT identifier FROM chain WHERE step = 'v3')$$,
                  $$VALUES ('status_update', '05')$$, 'a revocation queues a status update (operateType 05)');
SELECT is((SELECT count(*) FROM elicense.certificate_current WHERE original_identifier = (SELECT identifier FROM chain WHERE step = 'v1')), 1::bigint,
          'certificate_current shows one version of the chain');
SELECT is((SELECT identifier::text FROM elicense.certificate_current WHERE original_identifier = (SELECT identifier FROM chain WHERE step = 'v1')),
          (SELECT identifier FROM chain WHERE step = 'v3'), '... the latest');
SELECT throws_ok($$SELECT elicense.change((SELECT identifier FROM chain WHERE step = 'v1'), '{"employer": "x"}', 'r', 'a')$$,
                 '55000', format('cannot change licence version %s: it was superseded by a later version', (SELECT identifier FROM chain WHERE step = 'v1')),
                 'a superseded version cannot be changed');
SELECT throws_ok($$SELECT elicense.cancel((SELECT identifier FROM chain WHERE step = 'v3'), 'r', 'a')$$,
                 '55L01', format('cannot cancel licence %s: cancel leads from revoked (certState 03) to cancelled (certState 05), which is not an allowed transition', (SELECT identifier FROM chain WHERE step = 'v3')),
                 'a revoked licence cannot be cancelled (55L01, naming the licence and both states)');
SELECT throws_ok($$SELECT elicense.revoke('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E', '', 'a')$$,
                 '23502', 'reason is required', 'revoke needs a reason');
SELECT throws_ok($$SELECT elicense.revoke('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E', 'r', 'a', '05')$$,
                 '22023', 'revoke needs status 03 (吊销, revoked) or 04 (撤销, withdrawn), not 05', 'revoke only to 03 or 04');
SELECT throws_ok($$SELECT elicense.change('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E', '{"licence_number": "(鲁)JZ安许证字[2023]000002"}', 'r', 'a')$$,
                 '22023', 'the certificate number of licence 1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E cannot change ((鲁)JZ安许证字[2023]087974 to (鲁)JZ安许证字[2023]000002)',
                 'a change keeps the certificate number');
SELECT throws_ok($$SELECT elicense.change('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E', '{"principal": "张三"}', 'r', 'a')$$,
                 '22023', 'the change to licence 1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E changes nothing',
                 'a change that changes nothing is refused');
SELECT throws_ok($$SELECT elicense.cancel('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.009.5', 'r', 'a')$$,
                 'P0002', NULL, 'unknown licence: P0002');
SELECT is(elicense.cancel('1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E', '企业申请注销', 'clerk'),
          '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.C', 'cancel: version 002 (PLATFORM.md vector .002.C)');
SELECT is((SELECT status FROM elicense.certificate_current WHERE original_identifier = '1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E'),
          '05', 'cancelled licence shows status 05');

-- 6. Expiry without a job.
SELECT lives_ok($$SELECT elicense.issue('11100000000013338W050', pg_temp.w050('{"licence_number": "(鲁)JZ安许证字[2019]000321", "issue_date": "2019-03-01", "valid_from": "2019-03-01", "valid_to": "2022-02-28"}'), 'tester')$$,
                'a licence that has run out can be recorded');
SELECT results_eq($$SELECT status, effective_status FROM elicense.certificate_current WHERE licence_number = '(鲁)JZ安许证字[2019]000321'$$,
                  $$VALUES ('01', '06')$$, 'stored as valid (01), shown as expired (06)');

-- 7. The approval-table trigger.
CREATE TABLE pg_temp.approval (
  id serial PRIMARY KEY, approved text NOT NULL DEFAULT 'no', clerk text,
  person text, sex text, idno text, work text, cert_no text, start_date date, end_date date, decided date);
CREATE TRIGGER issue_licence AFTER INSERT OR UPDATE ON pg_temp.approval FOR EACH ROW
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W032',
    'name=person', 'gender=sex', 'id_number=idno', 'category=work', 'licence_number=cert_no',
    'valid_from=start_date', 'valid_to=end_date', 'issue_date=decided',
    'const:authority_name=福建省住房和城乡建设厅', 'const:authority_uscc=11350000003591037R', 'const:authority_division=350000',
    'when:approved=yes', 'actor:clerk');
INSERT INTO pg_temp.approval (person, sex, idno, work, cert_no, start_date, end_date, decided, clerk)
VALUES ('王五', '女', '11010519491231002X', '建筑架子工', 'T0000001', '2024-01-01', '2026-01-01', '2024-01-01', '审批员甲');
SELECT is(pg_temp.counts(), 'certificate=7 history=7 outbox=7 counters=2', 'a row not yet approved issues nothing');
UPDATE pg_temp.approval SET approved = 'yes';
SELECT results_eq($$SELECT holder_name, holder_id, licence_number, sequence, created_by, business_data FROM elicense.certificate WHERE licence_number = 'T0000001'$$,
                  $$VALUES ('王五', '110105********002X', 'T0000001', '0000003', '审批员甲', '{"gender": "女", "category": "建筑架子工"}'::jsonb)$$,
                  'approving the row issues the licence with mapped columns, constants and actor (the holder''s ID stored masked)');
SELECT is((SELECT (elicense._reveal_ids(c)).holder_id FROM elicense.certificate c WHERE licence_number = 'T0000001'),
          '11010519491231002X', '... its full number sealed in id_box');
UPDATE pg_temp.approval SET clerk = '审批员乙';
SELECT is((SELECT count(*) FROM elicense.certificate WHERE licence_number = 'T0000001'), 1::bigint, 'a later update of an approved row issues nothing more');
SELECT throws_ok($$INSERT INTO pg_temp.approval (approved, person, sex, idno, work, cert_no, start_date, end_date, decided)
                   VALUES ('yes', '赵六', '男', '350102199001011239', '建筑电工', 'T0000002', '2024-01-01', '2026-01-01', '2024-01-01')$$,
                 '22P02', 'invalid resident ID number in field "id_number": "350102********1239"', 'a bad approval row fails with the validator''s error');
SELECT is((SELECT count(*) FROM pg_temp.approval), 1::bigint, '... and the approval row itself is not inserted');

-- 8. status_history is append-only, even for a superuser.
SELECT throws_ok($$UPDATE elicense.status_history SET reason = 'x'$$, '42501',
                 'elicense.status_history is append-only: UPDATE is not allowed', 'history UPDATE rejected');
SELECT throws_ok($$DELETE FROM elicense.status_history$$, '42501',
                 'elicense.status_history is append-only: DELETE is not allowed', 'history DELETE rejected');
SELECT throws_ok($$TRUNCATE elicense.status_history CASCADE$$, '42501',
                 'elicense.status_history is append-only: TRUNCATE is not allowed', 'history TRUNCATE rejected');

-- 9. A DBA can add a licence type and items: issuing follows the catalogue.
INSERT INTO elicense.licence_type (type_code, name, holder_id_type, number_pattern, number_example)
VALUES ('11100000000013338W099', '测试证', 'USCC', '^T[0-9]{4}$', 'T0001');
INSERT INTO elicense.licence_item (type_code, position, item, label, data_type, required, max_length, metadata_column)
SELECT '11100000000013338W099', position, item, label, data_type, required, max_length, metadata_column
  FROM elicense.licence_item WHERE type_code = '11100000000013338W050' AND metadata_column IS NOT NULL;
SELECT is(elicense.issue('11100000000013338W099', pg_temp.w050('{"licence_number": "T0001", "principal": null, "principal_id": null, "address": null, "economic_type": null, "permit_scope": null}'), 'dba'),
          elicense.build_identifier('11100000000013338W099', '113700000045030270', '0000001', 1), 'a type added by a DBA issues');
-- A type with licences is kept (no foreign key: 46_licence_type_guard.sql);
-- tests/integration/licence_type_guard.sh races the two.
SELECT throws_ok($$DELETE FROM elicense.licence_type WHERE type_code = '11100000000013338W099'$$, '23503',
                 'licence type 11100000000013338W099 cannot be deleted: licences of it exist', 'a used type cannot be deleted');
SELECT throws_ok($$UPDATE elicense.licence_type SET type_code = '11100000000013338W098' WHERE type_code = '11100000000013338W099'$$, '23503',
                 'licence type 11100000000013338W099 cannot be renamed: licences of it exist', '... nor renamed');
SELECT throws_ok($$TRUNCATE elicense.licence_type CASCADE$$, '23503',
                 'elicense.licence_type cannot be truncated: licences exist', '... nor truncated');
SELECT lives_ok($$UPDATE elicense.licence_type SET name = '测试证（改）' WHERE type_code = '11100000000013338W099'$$, '... but its other columns can change');
INSERT INTO elicense.licence_type (type_code, name, holder_id_type, number_pattern, number_example)
VALUES ('11100000000013338W097', '未用证', 'USCC', '^U[0-9]{4}$', 'U0001');
SELECT lives_ok($$UPDATE elicense.licence_type SET type_code = '11100000000013338W096' WHERE type_code = '11100000000013338W097'$$, 'an unused type can be renamed');
SELECT lives_ok($$DELETE FROM elicense.licence_type WHERE type_code = '11100000000013338W096'$$, '... and deleted');
SELECT is((SELECT count(*) FROM elicense.licence_type WHERE type_code IN ('11100000000013338W096', '11100000000013338W097')), 0::bigint, '... and is gone');

-- 10. Each step the worker finishes queues the next one, in the same
-- transaction. Only the licence issued here is due.
UPDATE elicense.outbox SET next_attempt_at = now() + interval '1 day';
SELECT isnt(elicense.issue('11100000000013338W032', pg_temp.w032('{"licence_number": "X1000009"}'), 'tester'), NULL, 'a licence to deliver');
CREATE TEMP TABLE chained (step text);
DO $$
DECLARE
  l record;
BEGIN
  LOOP
    SELECT * INTO l FROM elicense.lease_steps('tap-worker', 1, 60);
    EXIT WHEN NOT FOUND;
    INSERT INTO chained VALUES (l.step);
    PERFORM elicense.step_succeeded(l.outbox_id, 'tap-worker',
      CASE WHEN l.step = 'assign_code' THEN NULL ELSE '{"return_code": "1"}'::jsonb END);
    EXIT WHEN l.step = 'assign_code';  -- without a province key the code cannot be stored: the chain stops dead
  END LOOP;
END
$$;
SELECT results_eq($$SELECT step FROM chained$$, $$VALUES ('validate'), ('assign_code')$$, 'validate done queues assign_code');
SELECT results_eq($$SELECT o.step, o.step_order, o.status FROM elicense.outbox o JOIN elicense.certificate c USING (identifier)
                     WHERE c.licence_number = 'X1000009' ORDER BY o.step_order$$,
                  $$VALUES ('validate', 1, 'done'), ('assign_code', 2, 'dead')$$,
                  'a dead step queues nothing after it');

SELECT * FROM finish();
ROLLBACK;
