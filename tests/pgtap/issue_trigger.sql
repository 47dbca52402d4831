-- elicense.issue_from_trigger (55_issue.sql): how the row
-- becomes licence data (column types, DateStyle, NULLs, constants, actor),
-- when it issues (INSERT, UPDATE, when:), and each error, which leaves no
-- row anywhere.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(28);

CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
  SELECT format('certificate=%s history=%s outbox=%s',
    (SELECT count(*) FROM elicense.certificate), (SELECT count(*) FROM elicense.status_history),
    (SELECT count(*) FROM elicense.outbox))
$$;
\ir ../support/pgtap_as_role.sql

-- An approval table with typed columns: a boolean flag, a domain over date,
-- varchar, an integer number part; DateStyle that would print 31/12/2025.
CREATE DOMAIN pg_temp.approval_day AS date;
CREATE TABLE approval (
  id serial PRIMARY KEY, approved boolean NOT NULL DEFAULT false, clerk text, note text[],
  person varchar(20), sex text, idno text, work text, employer text, cert_serial integer,
  start_date pg_temp.approval_day, end_date date, decided date);
CREATE TRIGGER issue_licence AFTER INSERT OR UPDATE ON approval FOR EACH ROW
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W032',
    'name=person', 'gender=sex', 'id_number=idno', 'category=work', 'employer=employer', 'licence_number=cert_serial',
    'valid_from=start_date', 'valid_to=end_date', 'issue_date=decided',
    'const:authority_name=福建省住房和城乡建设厅', 'const:authority_uscc=11350000003591037R', 'const:authority_division=350000',
    'when:approved=true', 'actor:clerk');
SET LOCAL DateStyle = 'SQL, DMY';

INSERT INTO approval (person, sex, idno, work, employer, cert_serial, start_date, end_date, decided, clerk)
VALUES ('王五', '女', '11010519491231002X', '建筑架子工', '福建建工集团', 35000001, '2024-01-02', '2025-12-31', '2024-01-02', '  ');
SELECT is(pg_temp.counts(), 'certificate=0 history=0 outbox=0', 'a row not approved issues nothing');
UPDATE approval SET approved = true;
SELECT results_eq($$SELECT holder_name, licence_number, to_char(valid_from, 'YYYY-MM-DD'), to_char(valid_to, 'YYYY-MM-DD'), business_data FROM elicense.certificate$$,
                  $$VALUES ('王五'::text, '35000001'::text, '2024-01-02', '2025-12-31', '{"gender": "女", "category": "建筑架子工", "employer": "福建建工集团"}'::jsonb)$$,
                  'boolean when:, varchar, integer and (domain over) date columns map as to_jsonb text, whatever the DateStyle');
SELECT is((SELECT actor FROM elicense.status_history), session_user::text, 'a blank actor column falls back to the login role');
UPDATE approval SET clerk = '审批员甲';
UPDATE approval SET approved = true;
SELECT is(pg_temp.counts(), 'certificate=1 history=1 outbox=1', 'updates of an approved row issue nothing more');

INSERT INTO approval (approved, person, sex, idno, work, cert_serial, start_date, end_date, decided, clerk)
VALUES (true, '赵六', '男', '350102199001011238', '建筑电工', 35000002, '2024-01-01', '2026-01-01', '2024-01-01', ' 审批员乙 ');
SELECT results_eq($$SELECT c.business_data, h.actor FROM elicense.certificate c JOIN elicense.status_history h USING (identifier) WHERE c.licence_number = '35000002'$$,
                  $$VALUES ('{"gender": "男", "category": "建筑电工"}'::jsonb, '审批员乙')$$, 'an approved INSERT issues; a NULL column leaves its item out; the actor is trimmed');

-- Errors: each names the trigger and what is wrong, and leaves no row.
SELECT throws_ok($$INSERT INTO approval (approved, person, sex, idno, work, cert_serial, start_date, end_date, decided)
                   VALUES (true, '赵六', '男', '350102199001011239', '建筑电工', 35000003, '2024-01-01', '2026-01-01', '2024-01-01')$$,
                 '22P02', 'invalid resident ID number in field "id_number": "350102********1239"', 'elicense.issue''s validation errors come through');
SELECT is(pg_temp.counts() || ' approvals=' || (SELECT count(*) FROM approval), 'certificate=2 history=2 outbox=2 approvals=2',
          '... and neither the approval row nor any licence row is written');

CREATE TABLE approval_bad (LIKE approval INCLUDING DEFAULTS);
CREATE FUNCTION pg_temp.bad_trigger(args text) RETURNS void LANGUAGE plpgsql SET client_min_messages = warning AS $$
BEGIN
  DROP TRIGGER IF EXISTS issue_licence ON approval_bad;
  EXECUTE format('CREATE TRIGGER issue_licence AFTER INSERT OR UPDATE ON approval_bad FOR EACH ROW EXECUTE FUNCTION elicense.issue_from_trigger(%s)', args);
END
$$;
CREATE FUNCTION pg_temp.approve_bad() RETURNS void LANGUAGE sql AS $$
  INSERT INTO approval_bad (approved, person, sex, idno, work, cert_serial, start_date, end_date, decided, clerk)
  VALUES (true, '钱七', '男', '350102199001011238', '建筑电工', 35000009, '2024-01-01', '2026-01-01', '2024-01-01', 'x')
$$;

SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'name=person', 'gender'$$);
SELECT throws_ok('SELECT pg_temp.approve_bad()', '22023',
                 'trigger issue_licence on public.approval_bad: argument "gender" is not item=column, const:item=value, when:column=value, actor:column, licence:column, reason:column, until:column or ACTION:column=value',
                 'an argument without = is refused');
SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'name='$$);
SELECT throws_ok('SELECT pg_temp.approve_bad()', '22023',
                 'trigger issue_licence on public.approval_bad: argument "name=" is not item=column, const:item=value, when:column=value, actor:column, licence:column, reason:column, until:column or ACTION:column=value',
                 'an item without a column is refused');
SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'actor:'$$);
SELECT throws_ok('SELECT pg_temp.approve_bad()', '22023',
                 'trigger issue_licence on public.approval_bad: argument "actor:" is not item=column, const:item=value, when:column=value, actor:column, licence:column, reason:column, until:column or ACTION:column=value',
                 'actor: without a column is refused');
SELECT pg_temp.bad_trigger('');
SELECT throws_ok('SELECT pg_temp.approve_bad()', '22023',
                 'trigger issue_licence on public.approval_bad gives elicense.issue_from_trigger no licence type code',
                 'a trigger without a type code is refused');
SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'name=person', 'gender=gender'$$);
SELECT throws_ok('SELECT pg_temp.approve_bad()', '42703',
                 'trigger issue_licence on public.approval_bad: column "gender" (mapped to item "gender") does not exist',
                 'a mapped column that does not exist is named with its item');
SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'name=person', 'when:state=ok'$$);
SELECT throws_ok('SELECT pg_temp.approve_bad()', '42703',
                 'trigger issue_licence on public.approval_bad: column "state" does not exist', 'a when: column that does not exist');
SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'name=person', 'actor:officer'$$);
SELECT throws_ok('SELECT pg_temp.approve_bad()', '42703',
                 'trigger issue_licence on public.approval_bad: actor column "officer" does not exist', 'an actor column that does not exist');
SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'name=person', 'gender=note'$$);
SELECT throws_ok($$INSERT INTO approval_bad (person) VALUES ('钱七')$$, '23502',
                 'missing required item "gender" (性别) of licence type 11100000000013338W032',
                 'a NULL mapped column is a missing item');
SELECT pg_temp.bad_trigger($$'11100000000013338W032', 'name=person', 'when:approved=true', 'gender=nothing'$$);
SELECT lives_ok($$INSERT INTO approval_bad (person) VALUES ('未批')$$, 'a row that is not approved is not read further (no error for the bad mapping)');
DROP TRIGGER issue_licence ON approval_bad;
CREATE TRIGGER issue_licence BEFORE INSERT ON approval_bad FOR EACH ROW
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W032');
SELECT throws_ok('SELECT pg_temp.approve_bad()', '39P01',
                 'elicense.issue_from_trigger must run AFTER INSERT OR UPDATE FOR EACH ROW (trigger issue_licence on public.approval_bad)',
                 'a BEFORE trigger is refused');
DROP TRIGGER issue_licence ON approval_bad;
CREATE TRIGGER issue_licence AFTER INSERT ON approval_bad FOR EACH STATEMENT
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W032');
SELECT throws_ok('SELECT pg_temp.approve_bad()', '39P01', NULL, 'a statement trigger is refused');
SELECT pg_temp.bad_trigger($$'11100000000013338W099', 'name=person'$$);
SELECT throws_ok('SELECT pg_temp.approve_bad()', '42704', 'unknown licence type "11100000000013338W099"', 'an unknown type code is elicense.issue''s error');
SELECT is(pg_temp.counts() || ' approvals=' || (SELECT count(*) FROM approval_bad), 'certificate=2 history=2 outbox=2 approvals=1',
          'no failed approval wrote anything');

-- The call of elicense.issue checks EXECUTE for the inserting role, as a call
-- from SQL would: an approval clerk needs elicense_issuer.
CREATE ROLE elicense_test_clerk;
GRANT INSERT, UPDATE, SELECT ON approval TO elicense_test_clerk;
GRANT USAGE ON SEQUENCE approval_id_seq TO elicense_test_clerk;
SELECT throws_ok($$SELECT pg_temp.as_role('elicense_test_clerk', 'INSERT INTO approval (approved, person, sex, idno, work, cert_serial, start_date, end_date, decided)
                   VALUES (true, ''孙八'', ''男'', ''350102199001011238'', ''建筑电工'', 35000004, ''2024-01-01'', ''2026-01-01'', ''2024-01-01'')')$$,
                 '42501', 'permission denied for function issue', 'a role without elicense_issuer cannot issue through the trigger');
GRANT elicense_issuer TO elicense_test_clerk;
SELECT lives_ok($$SELECT pg_temp.as_role('elicense_test_clerk', 'INSERT INTO approval (approved, person, sex, idno, work, cert_serial, start_date, end_date, decided)
                   VALUES (true, ''孙八'', ''男'', ''350102199001011238'', ''建筑电工'', 35000004, ''2024-01-01'', ''2026-01-01'', ''2024-01-01'')')$$,
                'with elicense_issuer it can');
SELECT is((SELECT h.actor FROM elicense.status_history h JOIN elicense.certificate c USING (identifier) WHERE c.licence_number = '35000004'),
          session_user::text, 'without an actor column value the actor is the login role, not the current role');
SELECT is(pg_temp.counts(), 'certificate=3 history=3 outbox=3', 'three licences issued in all');

-- The arguments are parsed once per backend and argument list
-- (elicense._trigger_plan): a trigger re-created with other arguments in
-- the same session uses the new ones, and a list refused once is refused
-- again (a refusal is not kept).
SELECT is((elicense._trigger_plan(ARRAY['t', 'const:authority_name=甲'], 'x', 'y')).consts ->> 'authority_name', '甲',
          'the cached plan of one list');
SELECT is((elicense._trigger_plan(ARRAY['t', 'const:authority_name=乙'], 'x', 'y')).consts ->> 'authority_name', '乙',
          'another list, another plan (the key is the whole list)');
SELECT throws_ok($$SELECT elicense._trigger_plan(ARRAY['t', 'gender'], 'x', 'y')$$, '22023', NULL,
                 'a refused list is refused again, not cached');
SELECT throws_ok($$SELECT elicense._trigger_plan(array_fill('a=b'::text, ARRAY[30000]), 'x', 'y')$$, '54000', NULL,
                 'an argument list over 64 KB is refused before it is parsed or kept');

SELECT * FROM finish();
ROLLBACK;
