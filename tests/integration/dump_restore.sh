#!/usr/bin/env bash
# pg_dump / pg_restore of a database that uses elicense keeps every row the
# extension holds: certificates (all versions), status history, outbox,
# delivery attempts, usage audit (month partitions and DEFAULT partitions
# alike), sequence counters, and the catalogue rows a DBA added
# or changed, request fields included (shipped catalogue rows come back from
# CREATE EXTENSION, not the dump).
# After the restore, issuing continues the counters and identity sequences.
# Runs inside a throwaway cluster (PG* set); $1 = output dir.
set -euo pipefail
out=${1:-/tmp}
src=elicense_dump_src
dst=elicense_dump_dst
work=$(mktemp -d)
cleanup() { rm -rf "$work"; dropdb --if-exists "$src" >/dev/null 2>&1 || true; dropdb --if-exists "$dst" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
work=$(mktemp -d)
createdb "$src"

psql -X -q -v ON_ERROR_STOP=1 -d "$src" <<'SQL'
CREATE EXTENSION elicense;
CREATE FUNCTION w032(no text, changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
  SELECT '{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
    "valid_from": "2023-06-01", "valid_to": "2025-05-31", "authority_name": "福建省住房和城乡建设厅",
    "authority_uscc": "11350000003591037R", "authority_division": "350000", "issue_date": "2023-06-01"}'::jsonb
    || jsonb_build_object('licence_number', no) || changes
$$;
SELECT elicense.issue('11100000000013338W032', w032('D' || lpad(i::text, 7, '0')), 'loader') FROM generate_series(1, 20) i;
SELECT elicense.issue('11100000000013338W050', '{"enterprise_name": "山东某建筑工程有限公司", "uscc": "91350100M000100Y43",
    "principal": "张三", "principal_id": "350102199001011238", "address": "济南市", "economic_type": "有限责任公司", "permit_scope": "建筑施工",
    "licence_number": "(鲁)JZ安许证字[2023]087974", "valid_from": "2023-06-01", "valid_to": "2026-05-31",
    "authority_name": "山东省住房和城乡建设厅", "authority_uscc": "113700000045030270", "authority_division": "370000",
    "issue_date": "2023-06-01"}', 'loader');
SELECT elicense.change(elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000001', 1), '{"employer": "某公司"}', '变更', 'clerk');
SELECT elicense.revoke(elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000001', 2), '吊销', 'chief');
SELECT elicense.cancel(elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000002', 1), '注销', 'clerk');
-- A type and items added by a DBA.
INSERT INTO elicense.licence_type (type_code, name, holder_id_type, number_pattern, number_example)
VALUES ('11100000000013338W099', '测试证', 'RESIDENT_ID', '^T[0-9]{4}$', 'T0001');
INSERT INTO elicense.licence_item (type_code, position, item, label, data_type, required, max_length, metadata_column)
SELECT '11100000000013338W099', position, item, label, data_type, required, max_length, metadata_column
  FROM elicense.licence_item WHERE type_code = '11100000000013338W032' AND metadata_column IS NOT NULL;
SELECT elicense.issue('11100000000013338W099', w032('T0001') - 'gender' - 'category', 'dba');
-- History by month: rows of January 2025 and of now move from the DEFAULT
-- partitions into month partitions (ordinary tables, dumped as such); a row
-- two years ahead stays in DEFAULT (an extension member, dumped as config).
SELECT elicense._audit_insert(jsonb_build_object('at', t, 'db_user', 'loader', 'function', 'licence_info',
  'result', 'ok', 'recorded_by', 'writer'))
  FROM (VALUES (timestamptz '2025-01-10 12:00+00'), (now()), (now() + interval '2 years')) v (t);
SELECT count(*) FROM elicense.create_history_partitions(1);
-- What the worker would record.
UPDATE elicense.outbox SET status = 'done', attempts = 1 WHERE id <= 10;
UPDATE elicense.certificate SET assigned_code = '202232000001000001', qr_url = 'https://example.invalid/q' WHERE sequence = '0000003';
INSERT INTO elicense.delivery_attempt (outbox_id, identifier, step, endpoint, http_status, return_code, return_message, duration_ms, worker_id)
SELECT o.id, o.identifier, o.step, '/collect', 200, '1', '归集成功', 35, 'worker-1' FROM elicense.outbox o WHERE o.id <= 10;
-- A DBA's request-field edits: a rename, a removed shipped field
-- and an added one, also for the DBA's own type.
UPDATE elicense.platform_field SET field = 'certNo'
 WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'cert_num';
DELETE FROM elicense.platform_field WHERE type_code = '11100000000013338W032' AND step = 'assign_code' AND slot = 'photo';
INSERT INTO elicense.platform_field (type_code, step, slot, position, field, source_kind, source, required, note)
VALUES ('11100000000013338W099', 'validate', 'cert_num', 1, 'certNum', 'column', 'licence_number', true, 'local: DBA''s type');
-- An application table next to the extension's.
CREATE TABLE approval (id int PRIMARY KEY, note text);
INSERT INTO approval VALUES (1, 'kept');
SQL

# One line per table: name, rows, md5 of all rows.
fingerprint() {
  psql -X -v ON_ERROR_STOP=1 -At -d "$1" <<'SQL'
SELECT 'certificate', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.identifier), '')) FROM elicense.certificate t;
SELECT 'status_history', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM elicense.status_history t;
SELECT 'outbox', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM elicense.outbox t;
SELECT 'delivery_attempt', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM elicense.delivery_attempt t;
SELECT 'usage_audit', count(*), md5(coalesce(string_agg(t::text || t.tableoid::regclass::text, '|' ORDER BY t.id), '')) FROM elicense.usage_audit t;
SELECT 'history_partitions', count(*), md5(coalesce(string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), '|' ORDER BY c.relname), ''))
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent IN ('elicense.status_history'::regclass,
       'elicense.delivery_attempt'::regclass, 'elicense.delivery_event'::regclass, 'elicense.usage_audit'::regclass, 'elicense.preview_access'::regclass);
SELECT 'sequence_counter', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.type_code, t.authority_uscc), '')) FROM elicense.sequence_counter t;
SELECT 'licence_type', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.type_code), '')) FROM elicense.licence_type t;
SELECT 'licence_item', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.type_code, t.item), '')) FROM elicense.licence_item t;
SELECT 'approval', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM approval t;
SELECT 'platform_field_local', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.type_code, t.step, t.slot), '')) FROM elicense.platform_field_local t;
SELECT 'platform_field', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.type_code, t.step, t.slot), '')) FROM elicense.platform_field t;
SELECT 'platform_request', count(*), md5(string_agg(k, ',' ORDER BY k)) FROM jsonb_object_keys(elicense.platform_request(
  (SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338W050'), 'validate')) k;
SQL
}
fingerprint "$src" | tee "$work/before.txt"

pg_dump -Fc -d "$src" -f "$work/dump.pgc"
createdb "$dst"
pg_restore --exit-on-error -d "$dst" "$work/dump.pgc" 2>&1 | tee "$out/dump_restore.pg_restore.log"
fingerprint "$dst" | tee "$work/after.txt"

if ! diff -u "$work/before.txt" "$work/after.txt"; then
  echo "FAIL: rows differ after pg_dump/pg_restore"
  exit 1
fi
awk -F'|' '$2 == 0 { print "FAIL: table " $1 " is empty, so the test proves nothing for it"; bad = 1 } END { exit bad }' "$work/before.txt"

# Issuing goes on where it stopped: next counter value, new identity values.
psql -X -v ON_ERROR_STOP=1 -At -d "$dst" <<'SQL' | tee "$work/after_issue.txt"
SELECT elicense.issue('11100000000013338W032', w032('D9999999'), 'after restore')
     = elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000021', 1);
SELECT count(*) = 1 FROM elicense.outbox WHERE identifier = elicense.build_identifier('11100000000013338W032', '11350000003591037R', '0000021', 1);
SELECT (SELECT pg_catalog.count(*) FROM pg_trigger WHERE tgrelid = 'elicense.status_history'::regclass AND tgname = 'status_history_append_only') = 1;
-- The renamed field is what the restored database sends.
SELECT elicense.platform_request((SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338W050'), 'validate') ? 'certNo';
SELECT (SELECT count(*) FROM elicense.platform_field_shipped) > 0;  -- from CREATE EXTENSION, not the dump
-- The month partitions are back as partitions: this month's rows go there.
SELECT tableoid::regclass::text = 'elicense.status_history_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')
  FROM elicense.status_history WHERE actor = 'after restore';
SELECT count(*) = 0 FROM elicense.create_history_partitions(1);
SQL
if [ "$(sort -u "$work/after_issue.txt")" != "t" ]; then
  echo "FAIL: issuing after the restore"
  exit 1
fi
echo "PASS"
