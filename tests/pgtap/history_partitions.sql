-- History tables partitioned by month (76_history_partitions.sql): the five
-- tables are partitioned with a DEFAULT partition, each partition with its
-- primary key and indexes; create_history_partitions makes this month's and the next
-- months' partitions and moves rows out of the DEFAULT partition, keeping
-- their ids; drop_expired_history_partitions drops whole months older than
-- history_retention keeps (detach + drop: the append-only triggers, which
-- refuse any row DELETE, stay in place), and nothing of a table without a
-- retention row.
BEGIN;
CREATE EXTENSION elicense;
SELECT plan(25);

SELECT is((SELECT count(*) FROM pg_class c JOIN pg_partitioned_table p ON p.partrelid = c.oid
            WHERE c.oid IN ('elicense.status_history'::regclass, 'elicense.delivery_attempt'::regclass,
                            'elicense.delivery_event'::regclass, 'elicense.usage_audit'::regclass,
                            'elicense.preview_access'::regclass) AND p.partstrat = 'r'), 5::bigint,
          'the five history tables are partitioned by range');
SELECT is((SELECT array_agg(pg_get_constraintdef(oid) ORDER BY conrelid::regclass::text) FROM pg_constraint
            WHERE contype = 'p' AND conrelid IN ('elicense.status_history_default'::regclass, 'elicense.delivery_attempt_default'::regclass,
                 'elicense.delivery_event_default'::regclass, 'elicense.usage_audit_default'::regclass, 'elicense.preview_access_default'::regclass)),
          array_fill('PRIMARY KEY (id)'::text, ARRAY[5]), 'each DEFAULT partition has its primary key');
SELECT is((SELECT count(*) FROM elicense._history_months('status_history')), 0::bigint,
          'a fresh install has no month partitions (only DEFAULT ones, which are extension members)');

-- Rows before any month partition exists: an issued licence (now), usage
-- audit rows of January 2025 and of now.
SELECT elicense.issue('11100000000013338W032', '{"name": "李四", "gender": "男", "id_number": "350102199001011238",
  "category": "建筑电工", "licence_number": "闽A012023000123", "valid_from": "2023-06-01", "valid_to": "2025-05-31",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2023-06-01"}', 'tester') AS identifier \gset
SELECT elicense._audit_insert(jsonb_build_object('at', t, 'db_user', 'tester', 'function', 'licence_info',
  'result', 'ok', 'recorded_by', 'writer'))
  FROM (VALUES (timestamptz '2025-01-10 12:00+00'), ('2025-01-31 23:59:59+00'), ('2025-03-01 00:00+00'), (now())) v (t);
CREATE TEMP TABLE before_rows AS SELECT id, at FROM elicense.usage_audit;
SELECT is((SELECT count(*) FROM elicense.usage_audit_default), 4::bigint, 'without month partitions rows land in DEFAULT');

CREATE TEMP TABLE made AS SELECT * FROM elicense.create_history_partitions(2);
SELECT is((SELECT count(*) FROM made WHERE table_name = 'status_history'), 3::bigint,
          'status_history: this month and the next two');
SELECT set_eq($$SELECT partition_name FROM made WHERE table_name = 'usage_audit'$$,
              $$SELECT 'usage_audit_p' || to_char(m, 'YYYYMM')
                  FROM generate_series(date '2025-01-01', date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months', interval '1 month') m$$,
              'usage_audit: every month from its oldest row in DEFAULT to two months ahead');
SELECT is((SELECT count(*) FROM elicense.usage_audit_default) + (SELECT count(*) FROM elicense.status_history_default),
          0::bigint, 'the rows moved out of DEFAULT');
SELECT set_eq($$SELECT id, at FROM elicense.usage_audit$$, $$SELECT id, at FROM before_rows$$,
              'the moved rows keep their ids and times');
SELECT is((SELECT tableoid::regclass::text FROM elicense.usage_audit WHERE at = '2025-01-31 23:59:59+00'),
          'elicense.usage_audit_p202501', 'a row is in the partition of its UTC month');
SELECT is((SELECT tableoid::regclass::text FROM elicense.usage_audit WHERE at = '2025-03-01 00:00+00'),
          'elicense.usage_audit_p202503', 'the first instant of a month belongs to that month');
SELECT is((SELECT tableoid::regclass::text FROM elicense.status_history WHERE identifier = :'identifier'),
          'elicense.status_history_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM'), 'this month''s status change is in this month''s partition');
SELECT is((SELECT count(*) FROM elicense.create_history_partitions(2)), 0::bigint, 'a second run makes nothing');
SELECT is((SELECT array_agg(indexrelid::regclass::text ORDER BY indexrelid::regclass::text) FROM pg_index
            WHERE indrelid = 'elicense.usage_audit_p202501'::regclass),
          ARRAY['elicense.usage_audit_p202501_at', 'elicense.usage_audit_p202501_file', 'elicense.usage_audit_p202501_holder',
                'elicense.usage_audit_p202501_identifier', 'elicense.usage_audit_p202501_pkey'], 'a month partition has the primary key and indexes');
SELECT is((SELECT count(*) FROM elicense.create_history_partitions(3)), 5::bigint, 'one more month ahead: one partition per table');

-- New rows go to their month directly.
SELECT elicense._audit_insert(jsonb_build_object('at', now() + interval '1 month', 'db_user', 'tester',
  'function', 'licence_info', 'result', 'ok', 'recorded_by', 'writer'));
SELECT is((SELECT count(*) FROM elicense.usage_audit_default), 0::bigint, 'a row of next month goes to its partition');

-- The append-only triggers fire on the month partitions too.
SELECT throws_ok($$DELETE FROM elicense.usage_audit WHERE at < '2025-02-01'$$, '42501',
                 'elicense.usage_audit is append-only: DELETE is not allowed', 'a month partition refuses DELETE, naming the table');
SELECT throws_ok($$UPDATE elicense.usage_audit_p202501 SET message = 'x'$$, '42501',
                 'elicense.usage_audit is append-only: UPDATE is not allowed', 'a month partition refuses UPDATE when addressed directly');

-- Retention: nothing without a row; then whole months older than keep_months.
SELECT is((SELECT count(*) FROM elicense.drop_expired_history_partitions()), 0::bigint, 'no retention row: nothing dropped');
INSERT INTO elicense.history_retention VALUES ('usage_audit', 1);
CREATE TEMP TABLE dropped AS SELECT * FROM elicense.drop_expired_history_partitions();
SELECT set_eq($$SELECT table_name, partition_name FROM dropped$$,
              $$SELECT 'usage_audit' AS t, 'usage_audit_p' || to_char(m, 'YYYYMM') AS p
                  FROM generate_series(date '2025-01-01', date_trunc('month', now() AT TIME ZONE 'UTC') - interval '2 months', interval '1 month') m$$,
              'the months before the previous one are dropped');
SELECT is(to_regclass('elicense.usage_audit_p202501'), NULL, 'the partition of January 2025 is gone');
SELECT is((SELECT count(*) FROM elicense.usage_audit WHERE at < date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month'),
          0::bigint, 'with it its rows');
SELECT is((SELECT count(*) FROM elicense.usage_audit), 2::bigint, 'this month''s and next month''s rows are kept');
SELECT isnt(to_regclass('elicense.usage_audit_default'), NULL, 'the DEFAULT partition is never dropped');
SELECT is((SELECT count(*) FROM elicense.status_history), 1::bigint, 'tables without a retention row keep everything');

-- Who may run them.
SELECT is(ARRAY[has_function_privilege('elicense_admin', 'elicense.drop_expired_history_partitions()', 'EXECUTE'),
                has_function_privilege('elicense_admin', 'elicense.create_history_partitions(integer)', 'EXECUTE'),
                has_function_privilege('elicense_analyst', 'elicense.create_history_partitions(integer)', 'EXECUTE'),
                has_function_privilege('elicense_worker', 'elicense.create_history_partitions(integer)', 'EXECUTE'),
                has_function_privilege('elicense_worker', 'elicense.drop_expired_history_partitions()', 'EXECUTE')],
          ARRAY[true, true, false, false, false], 'admins create and drop (pg_cron or cron as an admin), analysts and the worker neither');

SELECT * FROM finish();
ROLLBACK;
