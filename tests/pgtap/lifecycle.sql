-- The life of a licence: every allowed transition of
-- elicense.licence_transition (status, history row, outbox step, operateType,
-- QR code reassigned or kept, platform identifier) and every refused one
-- (SQLSTATE 55L01, nothing written); renewal's associatedZzeCertID; the
-- status update item against PLATFORM.md's field list; the one rule for what
-- a verifier sees; expire_due; the approval trigger's ACTION arguments;
-- precheck. Runs in one transaction that is rolled back.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(260);

CREATE FUNCTION pg_temp.w050(n integer, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('enterprise_name', '山东某建筑工程有限公司' || n, 'uscc', '91350100M000100Y43',
    'principal', '张三', 'principal_id', '350102199001011238', 'address', '济南市历下区某路1号', 'economic_type', '有限责任公司',
    'permit_scope', '建筑施工', 'licence_number', format('(鲁)JZ安许证字[2023]%s', lpad(n::text, 6, '0')),
    'valid_from', '2023-06-01', 'valid_to', to_char(current_date + 365, 'YYYY-MM-DD'),
    'authority_name', '山东省住房和城乡建设厅', 'authority_uscc', '113700000045030270', 'authority_division', '370000',
    'issue_date', '2023-06-01') || changes)
$$;
CREATE FUNCTION pg_temp.rows() RETURNS text LANGUAGE sql AS $$
  SELECT format('certificate=%s history=%s outbox=%s counters=%s precheck=%s', (SELECT count(*) FROM elicense.certificate),
                (SELECT count(*) FROM elicense.status_history), (SELECT count(*) FROM elicense.outbox),
                (SELECT coalesce(sum(last_value), 0) FROM elicense.sequence_counter), (SELECT count(*) FROM elicense.precheck))
$$;
CREATE FUNCTION pg_temp.cert(id text) RETURNS elicense.certificate LANGUAGE sql AS $$
  SELECT * FROM elicense.certificate WHERE identifier = id
$$;
-- An action with the arguments a caller would pass.
CREATE FUNCTION pg_temp.act(action text, id text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN CASE action
    WHEN 'change' THEN elicense.change(id, jsonb_build_object('address', '济南市市中区某路' || (random() * 1e6)::int || '号'), '地址变更', 'clerk')
    WHEN 'renew' THEN elicense.renew(id, jsonb_build_object('valid_to', to_char(current_date + 1500, 'YYYY-MM-DD')), '延续', 'clerk')
    WHEN 'suspend' THEN elicense.suspend(id, '暂扣', 'clerk')
    WHEN 'lift_suspension' THEN elicense.lift_suspension(id, '暂扣发还', 'clerk')
    WHEN 'expire' THEN elicense.expire(id, '到期', 'clerk')
    WHEN 'other' THEN elicense.other(id, '停业整顿', '其他', 'clerk')
    WHEN 'revoke' THEN elicense.revoke(id, '吊销', 'clerk')
    WHEN 'withdraw' THEN elicense.withdraw(id, '撤销', 'clerk')
    WHEN 'cancel' THEN elicense.cancel(id, '注销', 'clerk') END;
END
$$;
-- A fresh licence in the given certState, with a QR code assigned (as the
-- worker would after collect).
CREATE SEQUENCE pg_temp.n START 100;
CREATE FUNCTION pg_temp.licence_in(state text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  id text := elicense.issue('11100000000013338W050', pg_temp.w050(nextval('pg_temp.n')::integer), 'tester');
BEGIN
  UPDATE elicense.certificate SET assigned_code = '2022320000010' || lpad(currval('pg_temp.n')::text, 5, '0'),
         qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || currval('pg_temp.n')
   WHERE identifier = id;
  RETURN CASE state WHEN '01' THEN id WHEN '02' THEN pg_temp.act('suspend', id) WHEN '03' THEN pg_temp.act('revoke', id)
                    WHEN '04' THEN pg_temp.act('withdraw', id) WHEN '05' THEN pg_temp.act('cancel', id)
                    WHEN '06' THEN pg_temp.act('expire', id) WHEN '99' THEN pg_temp.act('other', id) END;
END
$$;

-- 1. The table: every action, the issue row, new QR code exactly for 01/02/08.
SELECT is((SELECT count(*) FROM elicense.licence_transition WHERE action <> 'issue'), 20::bigint, 'twenty transitions besides issue');
SELECT results_eq($$SELECT DISTINCT operate_type, new_qr, steps FROM elicense.licence_transition ORDER BY 1$$,
                  $$VALUES ('01', true, '{validate,assign_code,collect,confirm}'::text[]), ('02', true, '{validate,assign_code,collect,confirm}'),
                           ('03', false, '{status_update}'), ('04', false, '{status_update}'), ('05', false, '{status_update}'),
                           ('06', false, '{status_update}'), ('07', false, '{status_update}'), ('08', true, '{validate,assign_code,collect,confirm}')$$,
                  'operateType -> new QR code and delivery steps as PLATFORM.md says (01, 02, 08 get a new code)');
SELECT results_eq($$SELECT action, from_status, to_status, operate_type FROM elicense.licence_transition
                    WHERE action IN ('renew', 'suspend', 'lift_suspension', 'expire', 'other', 'change') ORDER BY action, from_status$$,
                  $$VALUES ('change', '01', '01', '08'), ('change', '02', '02', '08'), ('expire', '01', '06', '04'), ('expire', '02', '06', '04'),
                           ('lift_suspension', '02', '01', '06'), ('other', '01', '99', '07'), ('other', '02', '99', '07'),
                           ('renew', '01', '01', '02'), ('renew', '06', '01', '02'), ('suspend', '01', '02', '03')$$,
                  'renew 02, suspend 03, lift 06, expire 04, other 07, change stays 08');

-- 2. Every allowed transition: 5 checks each (20 x 5 = 100).
CREATE FUNCTION pg_temp.allowed() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t record;
  old_id text;
  new_id text;
  o elicense.certificate;
  n elicense.certificate;
BEGIN
  FOR t IN SELECT * FROM elicense.licence_transition WHERE action <> 'issue' ORDER BY action, from_status LOOP
    old_id := pg_temp.licence_in(t.from_status);
    o := pg_temp.cert(old_id);
    new_id := pg_temp.act(t.action, old_id);
    n := pg_temp.cert(new_id);
    RETURN NEXT is(ARRAY[n.status, n.operate_type, n.version::text, n.previous_identifier],
                   ARRAY[t.to_status, t.operate_type, (o.version + 1)::text, old_id],
                   format('%s from %s: version n+1 in certState %s with operateType %s', t.action, t.from_status, t.to_status, t.operate_type));
    RETURN NEXT results_eq(format('SELECT from_status, to_status, operate_type, actor FROM elicense.status_history WHERE identifier = %L', new_id),
                           format('VALUES (%L, %L, %L, ''clerk'')', t.from_status, t.to_status, t.operate_type),
                           format('%s from %s: its history row', t.action, t.from_status));
    RETURN NEXT results_eq(format('SELECT step, step_order, operate_type, status FROM elicense.outbox WHERE identifier = %L', new_id),
                           format('VALUES (%L, 1, %L, ''pending'')', t.steps[1], t.operate_type),
                           format('%s from %s: its first delivery step %s', t.action, t.from_status, t.steps[1]));
    IF t.new_qr THEN
      RETURN NEXT is(ARRAY[n.qr_url, n.assigned_code, n.platform_identifier], ARRAY[NULL, NULL, NULL]::text[],
                     format('%s from %s: a new QR code to come, a new identifier at the platform', t.action, t.from_status));
    ELSE
      RETURN NEXT is(ARRAY[n.qr_url, n.assigned_code, n.platform_identifier],
                     ARRAY[o.qr_url, o.assigned_code, coalesce(o.platform_identifier, o.identifier)],
                     format('%s from %s: QR code, assigned code and platform identifier kept', t.action, t.from_status));
    END IF;
    RETURN NEXT is((SELECT array_agg(identifier::text) FROM elicense.certificate WHERE original_identifier = n.original_identifier AND superseded_at IS NULL),
                   ARRAY[new_id], format('%s from %s: the new version is the only current one', t.action, t.from_status));
  END LOOP;
END
$$;
SELECT * FROM pg_temp.allowed();

-- 3. Every refused pair (action x certState not in the table): 55L01 and
-- nothing written (43 x 2 = 86).
CREATE TEMP TABLE state_licence AS
SELECT s AS state, pg_temp.licence_in(s) AS id FROM unnest(ARRAY['01', '02', '03', '04', '05', '06', '99']) s;
CREATE FUNCTION pg_temp.refused() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  r record;
  before text;
BEGIN
  FOR r IN SELECT a.action, sl.state, sl.id
             FROM (SELECT DISTINCT action FROM elicense.licence_transition WHERE action <> 'issue') a, state_licence sl
            WHERE NOT EXISTS (SELECT FROM elicense.licence_transition t WHERE t.action = a.action AND t.from_status = sl.state)
            ORDER BY a.action, sl.state LOOP
    before := pg_temp.rows();
    RETURN NEXT throws_ok(format('SELECT pg_temp.act(%L, %L)', r.action, r.id), '55L01', NULL,
                          format('%s refused from certState %s: 55L01', r.action, r.state));
    RETURN NEXT is(pg_temp.rows(), before, format('%s refused from certState %s: nothing written', r.action, r.state));
  END LOOP;
END
$$;
SELECT * FROM pg_temp.refused();
SELECT throws_ok($$SELECT elicense.renew((SELECT id FROM state_licence WHERE state = '03'), '{"valid_to": "2040-01-01"}', '延续', 'clerk')$$,
                 '55L01', format('cannot renew licence %s: renew leads from revoked (certState 03) to valid (certState 01), which is not an allowed transition',
                                 (SELECT id FROM state_licence WHERE state = '03')),
                 'renewing a revoked licence: the message names the licence and both states');

-- 4. Renewal: operateType 02, associatedZzeCertID = the identifier the
-- platform holds for the superseded version, even after status changes.
CREATE TEMP TABLE lic (name text PRIMARY KEY, id text);
INSERT INTO lic VALUES ('v1', pg_temp.licence_in('01'));
INSERT INTO lic VALUES ('v2', elicense.suspend((SELECT id FROM lic WHERE name = 'v1'), '暂扣', 'clerk', current_date + 30));
INSERT INTO lic VALUES ('v3', elicense.lift_suspension((SELECT id FROM lic WHERE name = 'v1'), '暂扣发还', 'clerk'));
SELECT is((SELECT id FROM lic WHERE name = 'v3'), elicense.build_identifier('11100000000013338W050', '113700000045030270',
          (SELECT sequence FROM elicense.certificate WHERE identifier = (SELECT id FROM lic WHERE name = 'v1')), 3),
          'an action on the identifier the platform holds applies to the current version when only status changes followed');
INSERT INTO lic VALUES ('v4', elicense.renew((SELECT id FROM lic WHERE name = 'v3'),
                                              jsonb_build_object('valid_to', to_char(current_date + 1000, 'YYYY-MM-DD')), '延续', 'clerk'));
SELECT is((SELECT (operate_type, valid_to, qr_url, platform_identifier)::text FROM elicense.certificate WHERE identifier = (SELECT id FROM lic WHERE name = 'v4')),
          (SELECT ('02', current_date + 1000, NULL::text, NULL::text)::text), 'renew: operateType 02, the new validity, a new QR code to come');
SELECT is(elicense.platform_request((SELECT id FROM lic WHERE name = 'v4'), 'assign_code') ->> 'associatedZzeCertID',
          (SELECT id FROM lic WHERE name = 'v1'), 'renew: associatedZzeCertID is version 001, which the platform holds, not the local 003');
SELECT is(elicense.platform_request((SELECT id FROM lic WHERE name = 'v4'), 'assign_code') ->> 'operateType', '02', 'renew: the assign item sends 02');
SELECT throws_ok($$SELECT elicense.suspend((SELECT id FROM lic WHERE name = 'v1'), 'r', 'a')$$, '55000',
                 format('cannot suspend licence version %s: it was superseded by a later version', (SELECT id FROM lic WHERE name = 'v1')),
                 'an identifier replaced by a version with a new QR code is 55000');
SELECT throws_ok($$SELECT elicense.renew((SELECT id FROM lic WHERE name = 'v4'), '{"valid_to": "2024-01-01"}', '延续', 'clerk')$$, '22023', NULL,
                 'renew needs a later valid_to: 22023');
SELECT throws_ok($$SELECT elicense.suspend((SELECT id FROM lic WHERE name = 'v4'), 'r', 'a', current_date - 1)$$, '22023', NULL,
                 'a suspension cannot end in the past: 22023');
SELECT throws_ok($$SELECT elicense.other((SELECT id FROM lic WHERE name = 'v4'), ' ', 'r', 'a')$$, '23502', 'description is required',
                 'other needs its description: 23502');
SELECT throws_ok($$SELECT pg_temp.act('suspend', 'no such licence')$$, 'P0002', NULL, 'an unknown licence: P0002');

-- 5. The status update names what the platform knows (PLATFORM.md: eCertID
-- zzeCertID provinceNum certNum creditCode certState certStatusDescription
-- operateType for W050).
SELECT is((SELECT array_agg(field ORDER BY position) FROM elicense.platform_field WHERE type_code = '11100000000013338W050' AND step = 'status_update'),
          ARRAY['eCertID', 'zzeCertID', 'provinceNum', 'certNum', 'creditCode', 'certState', 'certStatusDescription', 'operateType'],
          'W050 status update fields are PLATFORM.md''s list');
SELECT is((SELECT array_agg(field ORDER BY position) FROM elicense.platform_field WHERE type_code = '11100000000013338W032' AND step = 'status_update'),
          ARRAY['eCertID', 'zzeCertID', 'provinceNum', 'certNum', 'identityCard', 'operationCategory', 'categoryDescription', 'certState',
                'certStatusDescription', 'operateType'],
          'W032 status update fields are PLATFORM.md''s list');
SELECT is(elicense.platform_request((SELECT id FROM lic WHERE name = 'v2'), 'status_update', 'c0ffee00-1234-4abc-8def-0123456789ab'),
          jsonb_build_object('eCertID', 'c0ffee00-1234-4abc-8def-0123456789ab', 'zzeCertID', (SELECT id FROM lic WHERE name = 'v1'),
                             'provinceNum', '370000', 'certNum', (SELECT translate(licence_number, '()', '（）') FROM elicense.certificate WHERE identifier = (SELECT id FROM lic WHERE name = 'v1')),
                             'creditCode', '91350100M000100Y43', 'certState', '02', 'operateType', '03'),
          'golden W050 suspension: zzeCertID is the collected identifier (001), certState 02, operateType 03, no description');
INSERT INTO lic VALUES ('o1', pg_temp.licence_in('01'));
INSERT INTO lic VALUES ('o2', elicense.other((SELECT id FROM lic WHERE name = 'o1'), '停业整顿', '其他', 'clerk'));
SELECT is(elicense.platform_request((SELECT id FROM lic WHERE name = 'o2'), 'status_update', 'c0ffee00-1234-4abc-8def-0123456789ab'),
          jsonb_build_object('eCertID', 'c0ffee00-1234-4abc-8def-0123456789ab', 'zzeCertID', (SELECT id FROM lic WHERE name = 'o1'),
                             'provinceNum', '370000', 'certNum', (SELECT translate(licence_number, '()', '（）') FROM elicense.certificate WHERE identifier = (SELECT id FROM lic WHERE name = 'o1')),
                             'creditCode', '91350100M000100Y43', 'certState', '99', 'certStatusDescription', '停业整顿', 'operateType', '07'),
          'golden W050 other: certState 99 with its description, operateType 07');
INSERT INTO lic VALUES ('e1', pg_temp.licence_in('01'));
INSERT INTO lic VALUES ('e2', elicense.expire((SELECT id FROM lic WHERE name = 'e1'), '到期', 'clerk'));
SELECT is(elicense.platform_request((SELECT id FROM lic WHERE name = 'e2'), 'status_update') ->> 'operateType', '04', 'expiry sends 04 by default');
UPDATE elicense.platform_field SET code_map = '{"03": "03", "04": "05", "05": "05", "06": "06", "07": "07"}'
 WHERE type_code = '11100000000013338W050' AND step = 'status_update' AND slot = 'operate_type';
SELECT is(elicense.platform_request((SELECT id FROM lic WHERE name = 'e2'), 'status_update') ->> 'operateType', '05',
          'a receiver that refuses 04: one code map on the operate_type slot sends expiry as 05');
SELECT is(elicense.platform_request((SELECT id FROM lic WHERE name = 'v2'), 'status_update') ->> 'operateType', '03', '... and leaves the others');
UPDATE elicense.platform_field SET code_map = NULL
 WHERE type_code = '11100000000013338W050' AND step = 'status_update' AND slot = 'operate_type';

-- 6. One rule for what a verifier sees.
SELECT results_eq($$SELECT sl.state, elicense.effective_state(c) FROM state_licence sl JOIN elicense.certificate c ON c.identifier = sl.id ORDER BY 1$$,
                  $$VALUES ('01', 'valid'), ('02', 'suspended'), ('03', 'revoked'), ('04', 'withdrawn'), ('05', 'cancelled'), ('06', 'expired'), ('99', 'other')$$,
                  'effective_state of each certState');
SELECT results_eq($$SELECT elicense.effective_state(c) FROM elicense.certificate c WHERE c.identifier IN (SELECT id FROM lic WHERE name IN ('v1', 'v2', 'v3')) ORDER BY c.version$$,
                  $$VALUES ('superseded'), ('superseded'), ('superseded')$$, 'versions before a renewal: superseded');
SELECT is(elicense.effective_state(pg_temp.cert((SELECT id FROM lic WHERE name = 'o1'))), 'other', 'an older version shows the licence''s end state');
INSERT INTO lic VALUES ('s1', pg_temp.licence_in('01'));
INSERT INTO lic VALUES ('s2', elicense.suspend((SELECT id FROM lic WHERE name = 's1'), '暂扣', 'clerk'));
SELECT is(elicense._preview_status(pg_temp.cert((SELECT id FROM lic WHERE name = 's1'))), 'suspended',
          'the preview of the collected version of a suspended licence says suspended');
INSERT INTO lic VALUES ('s3', elicense.lift_suspension((SELECT id FROM lic WHERE name = 's2'), '暂扣发还', 'clerk'));
SELECT is(elicense._preview_status(pg_temp.cert((SELECT id FROM lic WHERE name = 's1'))), 'valid',
          '... and valid again once it is lifted (status changes supersede nothing)');
UPDATE elicense.certificate SET valid_to = current_date - 1, valid_from = current_date - 400 WHERE identifier = (SELECT id FROM lic WHERE name = 's3');
SELECT results_eq($$SELECT effective_status, effective_state FROM elicense.certificate_current WHERE identifier = (SELECT id FROM lic WHERE name = 's3')$$,
                  $$VALUES ('06', 'expired')$$, 'past valid_to: expired at once, before expire_due');
SELECT is((SELECT effective_state FROM elicense.analyst_holder_history WHERE identifier = (SELECT id FROM lic WHERE name = 's1')), 'expired',
          'the analysts'' history uses the same rule');
SELECT is(elicense.effective_status('02', current_date - 1), '06', 'a suspended licence past valid_to counts as expired');

-- 7. expire_due: each due licence once; suspensions with an end date lifted.
UPDATE elicense.certificate SET suspended_until = current_date - 1 WHERE identifier = (SELECT id FROM lic WHERE name = 'v2');  -- superseded: ignored
INSERT INTO lic VALUES ('d1', pg_temp.licence_in('01'));
INSERT INTO lic VALUES ('d2', pg_temp.licence_in('02'));
INSERT INTO lic VALUES ('d3', pg_temp.licence_in('01'));
INSERT INTO lic VALUES ('d4', elicense.suspend((SELECT id FROM lic WHERE name = 'd3'), '暂扣', 'clerk', current_date));
UPDATE elicense.certificate SET valid_from = current_date - 400, valid_to = current_date - 1
 WHERE identifier IN (SELECT id FROM lic WHERE name IN ('d1', 'd2'));
SELECT results_eq($$SELECT expired, lifted FROM elicense.expire_due()$$, $$VALUES (3, 0)$$,
                  'expire_due: the two licences past valid_to and s3 expire; a suspension ending today is not lifted yet');
SELECT results_eq($$SELECT c.status, c.operate_type, o.step, o.operate_type, h.actor FROM elicense.certificate_current c
                     JOIN elicense.outbox o ON o.identifier = c.identifier JOIN elicense.status_history h ON h.identifier = c.identifier
                    WHERE c.original_identifier IN (SELECT original_identifier FROM elicense.certificate WHERE identifier IN (SELECT id FROM lic WHERE name IN ('d1', 'd2')))$$,
                  $$VALUES ('06', '04', 'status_update', '04', 'elicense.expire_due'), ('06', '04', 'status_update', '04', 'elicense.expire_due')$$,
                  'each expiry: certState 06, operateType 04, its status update queued, recorded as expire_due');
SELECT results_eq($$SELECT expired, lifted FROM elicense.expire_due()$$, $$VALUES (0, 0)$$, 'a second run finds nothing');
UPDATE elicense.certificate SET suspended_until = current_date - 1 WHERE identifier = (SELECT id FROM lic WHERE name = 'd4');
SELECT results_eq($$SELECT expired, lifted FROM elicense.expire_due()$$, $$VALUES (0, 1)$$, 'a suspension past its last day is lifted');
SELECT results_eq($$SELECT status, operate_type, suspended_until FROM elicense.certificate_current WHERE original_identifier = (SELECT id FROM lic WHERE name = 'd3')$$,
                  $$VALUES ('01', '06', NULL::date)$$, '... certState 01, operateType 06');
INSERT INTO lic VALUES ('m1', pg_temp.licence_in('01'));
INSERT INTO lic VALUES ('m2', pg_temp.licence_in('01'));
UPDATE elicense.certificate SET valid_from = current_date - 400, valid_to = current_date - 1 WHERE identifier IN (SELECT id FROM lic WHERE name IN ('m1', 'm2'));
SELECT results_eq($$SELECT expired, lifted FROM elicense.expire_due(1)$$, $$VALUES (1, 0)$$, 'max_rows bounds a run');
SELECT results_eq($$SELECT expired, lifted FROM elicense.expire_due(1)$$, $$VALUES (1, 0)$$, '... the next run takes the rest');
INSERT INTO lic VALUES ('g1', pg_temp.licence_in('02'));
UPDATE elicense.certificate SET valid_from = current_date - 400, valid_to = current_date - 1, suspended_until = current_date - 1
 WHERE identifier = (SELECT id FROM lic WHERE name = 'g1');
SELECT results_eq($$SELECT expired, lifted FROM elicense.expire_due()$$, $$VALUES (1, 0)$$,
                  'a suspension past its last day and past valid_to: expired, not lifted');

-- 8. The approval trigger maps status changes of the row.
CREATE TABLE approval (id serial PRIMARY KEY, state text, cert_no text, company text, ends date, until_day text, note text, clerk text);
CREATE TRIGGER licence_life AFTER INSERT OR UPDATE ON approval FOR EACH ROW
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W050',
    'licence_number=cert_no', 'enterprise_name=company', 'valid_to=ends',
    'const:uscc=91350100M000100Y43', 'const:principal=张三', 'const:principal_id=350102199001011238', 'const:address=济南市历下区某路1号',
    'const:economic_type=有限责任公司', 'const:permit_scope=建筑施工', 'const:valid_from=2023-06-01', 'const:issue_date=2023-06-01',
    'const:authority_name=山东省住房和城乡建设厅', 'const:authority_uscc=113700000045030270', 'const:authority_division=370000',
    'when:state=批准', 'suspend:state=暂扣', 'lift_suspension:state=正常', 'renew:state=延续', 'revoke:state=吊销',
    'until:until_day', 'reason:note', 'actor:clerk');
INSERT INTO approval (state, cert_no, company, ends, clerk) VALUES ('批准', '(鲁)JZ安许证字[2023]900001', '某公司', current_date + 100, '审批员');
SELECT is((SELECT status FROM elicense.certificate_current WHERE licence_number = '(鲁)JZ安许证字[2023]900001'), '01', 'trigger: approval issues');
UPDATE approval SET state = '暂扣', until_day = to_char(current_date + 10, 'YYYY-MM-DD'), note = '安全事故暂扣';
SELECT results_eq($$SELECT c.status, c.suspended_until, h.reason, h.actor FROM elicense.certificate_current c JOIN elicense.status_history h ON h.identifier = c.identifier
                     WHERE c.licence_number = '(鲁)JZ安许证字[2023]900001'$$,
                  $$VALUES ('02', current_date + 10, '安全事故暂扣', '审批员')$$, 'trigger: suspend:state=暂扣 suspends until until:, with reason: and actor:');
UPDATE approval SET note = '补充说明';
SELECT is((SELECT count(*) FROM elicense.certificate WHERE licence_number = '(鲁)JZ安许证字[2023]900001'), 2::bigint, 'trigger: an update that does not change the state does nothing');
UPDATE approval SET state = '正常', note = NULL;
SELECT results_eq($$SELECT c.status, h.reason FROM elicense.certificate_current c JOIN elicense.status_history h ON h.identifier = c.identifier
                     WHERE c.licence_number = '(鲁)JZ安许证字[2023]900001'$$,
                  $$VALUES ('01', 'approval approval: state = 正常')$$, 'trigger: lift_suspension:state=正常 lifts it; the default reason names the column');
UPDATE approval SET state = '延续', ends = current_date + 1200;
SELECT results_eq($$SELECT status, operate_type, valid_to FROM elicense.certificate_current WHERE licence_number = '(鲁)JZ安许证字[2023]900001'$$,
                  $$VALUES ('01', '02', current_date + 1200)$$, 'trigger: renew:state=延续 renews with the row''s items');
UPDATE approval SET state = '吊销';
SELECT throws_ok($$UPDATE approval SET state = '暂扣'$$, '55L01', NULL, 'trigger: a refused transition aborts the update (55L01)');
CREATE TABLE approval2 (id serial PRIMARY KEY, state text);
CREATE TRIGGER bad AFTER INSERT OR UPDATE ON approval2 FOR EACH ROW
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W050', 'frobnicate:state=x');
SELECT throws_ok($$INSERT INTO approval2 (state) VALUES ('x')$$, '22023', NULL, 'trigger: an unknown ACTION is 22023');

-- 9. precheck: a ticket, a check item, no licence, no sequence number.
SELECT lives_ok($$SELECT set_config('test.before', pg_temp.rows(), true)$$, 'rows counted');
SELECT isnt(elicense.precheck('11100000000013338W050', pg_temp.w050(999)), NULL, 'precheck returns a ticket');
SELECT is(pg_temp.rows(), replace(current_setting('test.before'), 'precheck=0', 'precheck=1'), 'precheck writes one precheck row and nothing else');
SELECT is((SELECT request - 'eCertID' FROM elicense.precheck),
          jsonb_build_object('provinceNum', '370000', 'certNum', '（鲁）JZ安许证字[2023]000999', 'creditCode', '91350100M000100Y43', 'operateType', '01'),
          'the check item is PLATFORM.md''s W050 check');
SELECT is((SELECT (request ->> 'eCertID')::uuid = ticket FROM elicense.precheck), true, 'its eCertID is the ticket');
SELECT throws_ok($$SELECT elicense.precheck('11100000000013338W050', pg_temp.w050(998, '{"uscc": "91350100M000100Y44"}'))$$, '22P02', NULL,
                 'bad data is refused like an issue');
SELECT results_eq($$SELECT ticket, attempts FROM elicense.lease_prechecks('w1', 10, 60)$$, $$SELECT ticket, 1 FROM elicense.precheck$$,
                  'the worker leases it');
SELECT is((SELECT request_box FROM elicense.precheck), NULL, 'a check item without resident ID numbers is kept as it is (no box)');
SELECT is(elicense.precheck_failed((SELECT ticket FROM elicense.precheck), 'w1', 'connection refused (not sent)', 0, 1, true),
          'pending', 'never sent (not_sent): pending again even with max_attempts used up');
SELECT is((SELECT attempts FROM elicense.precheck), 0, '... the attempt given back');
SELECT results_eq($$SELECT ticket, attempts FROM elicense.lease_prechecks('w1', 10, 60)$$, $$SELECT ticket, 1 FROM elicense.precheck$$,
                  '... and leased again as its first attempt');
SELECT is(elicense.precheck_answered((SELECT ticket FROM elicense.precheck), 'w2', '{"return_code": "1"}'), false, 'another worker cannot answer it');
SELECT is(elicense.precheck_answered((SELECT ticket FROM elicense.precheck), 'w1',
          '{"return_code": "0", "message": "校验失败", "errors": [{"guid": "x", "message": "证书编号已存在"}]}'), true, 'the answer is recorded');
SELECT results_eq($$SELECT status, passed, return_code, message FROM elicense.precheck$$,
                  $$VALUES ('answered', false, '0', '校验失败; 证书编号已存在')$$, 'readable: refused, with the platform''s messages');

-- 10. Who may call what.
SELECT ok(has_function_privilege('elicense_issuer', f, 'EXECUTE'), 'elicense_issuer may run ' || f)
  FROM unnest(ARRAY['elicense.renew(text, jsonb, text, text)', 'elicense.suspend(text, text, text, date)',
                    'elicense.lift_suspension(text, text, text)', 'elicense.expire(text, text, text)',
                    'elicense.other(text, text, text, text)', 'elicense.withdraw(text, text, text)',
                    'elicense.precheck(text, jsonb, text)']) f;
SELECT ok(has_function_privilege('elicense_worker', f, 'EXECUTE'), 'elicense_worker may run ' || f)
  FROM unnest(ARRAY['elicense.expire_due(integer, text)', 'elicense.lease_prechecks(text, integer, integer)',
                    'elicense.precheck_answered(uuid, text, jsonb)', 'elicense.precheck_failed(uuid, text, text, bigint, integer, boolean)']) f;
SELECT ok(NOT has_function_privilege('elicense_analyst', f, 'EXECUTE'), 'elicense_analyst may not run ' || f)
  FROM unnest(ARRAY['elicense.suspend(text, text, text, date)', 'elicense.expire_due(integer, text)',
                    'elicense.precheck(text, jsonb, text)', 'elicense.lease_prechecks(text, integer, integer)']) f;
SELECT ok(NOT has_function_privilege('elicense_worker', 'elicense.suspend(text, text, text, date)', 'EXECUTE'),
          'the worker cannot suspend a licence');
SELECT ok(NOT has_table_privilege('elicense_issuer', 'elicense.licence_transition', 'INSERT, UPDATE, DELETE'),
          'nobody but the extension writes licence_transition');

SELECT * FROM finish();
ROLLBACK;
