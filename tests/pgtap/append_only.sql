-- Every append-only table refuses UPDATE, DELETE and TRUNCATE with 42501,
-- as the owner (a superuser) too: status_history, delivery_event,
-- code_assignment, usage_audit, preview_access. Each table holds a row
-- first, so that the row triggers fire. DELETE on delivery_event used to fail
-- with 22004 (its trigger had no HINT argument, and RAISE refuses a NULL HINT).
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(19);

SELECT elicense.issue('11100000000013338W032', '{"name": "李四", "gender": "男", "id_number": "350102199001011238",
  "category": "建筑电工", "licence_number": "闽A012023000123", "valid_from": "2023-06-01", "valid_to": "2025-05-31",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2023-06-01"}', 'tester') AS identifier \gset
INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, actor)
SELECT id, identifier, step, 'pending', 'in_flight', 'tester' FROM elicense.outbox LIMIT 1;
INSERT INTO elicense.code_assignment (identifier, assigned_code, qr_url, outbox_id, worker_id)
SELECT identifier, '123456789012345678', 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?x', id, 'w' FROM elicense.outbox LIMIT 1;
SELECT elicense._audit_insert(jsonb_build_object('at', now(), 'db_user', 'tester', 'function', 'licence_info',
  'result', 'ok', 'recorded_by', 'writer'));
INSERT INTO elicense.preview_access (identifier, version, client, code, status) VALUES (:'identifier', 1, '127.0.0.1', 200, '01');

SELECT is((SELECT count(*) FROM elicense.status_history) > 0 AND (SELECT count(*) FROM elicense.delivery_event) > 0
          AND (SELECT count(*) FROM elicense.code_assignment) > 0 AND (SELECT count(*) FROM elicense.usage_audit) > 0
          AND (SELECT count(*) FROM elicense.preview_access) > 0, true, 'every append-only table holds a row');

SELECT throws_ok(format(q, t), '42501', format('elicense.%s is append-only: %s is not allowed', t, op),
                 format('%s on %s is refused with 42501', op, t))
  FROM unnest(ARRAY['status_history', 'delivery_event', 'code_assignment', 'usage_audit', 'preview_access']) t,
       (VALUES ('UPDATE', 'UPDATE elicense.%s SET id = DEFAULT'), ('DELETE', 'DELETE FROM elicense.%s'),
               ('TRUNCATE', 'TRUNCATE elicense.%s')) o (op, q)
 ORDER BY t, op;
SELECT is((SELECT count(*) FROM elicense.delivery_event) > 0 AND (SELECT count(*) FROM elicense.preview_access) > 0,
          true, 'the rows are still there');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('elicense.status_history'::regclass, 'elicense.delivery_event'::regclass,
            'elicense.code_assignment'::regclass, 'elicense.usage_audit'::regclass, 'elicense.preview_access'::regclass)
            AND tgname LIKE '%no_truncate'), 5::bigint, 'each table has its TRUNCATE trigger');
SELECT is((SELECT count(*) FROM pg_trigger t WHERE tgrelid IN ('elicense.status_history'::regclass, 'elicense.delivery_event'::regclass,
            'elicense.code_assignment'::regclass, 'elicense.usage_audit'::regclass, 'elicense.preview_access'::regclass)
            AND tgfoid = 'elicense.reject_history_change'::regproc AND tgnargs = 0), 0::bigint, 'every append-only trigger names its HINT');

SELECT * FROM finish();
ROLLBACK;
