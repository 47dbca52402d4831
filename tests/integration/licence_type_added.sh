#!/usr/bin/env bash
# A licence type added by a DBA through SQL only (elicense.licence_type, its
# licence_item rows, its request fields in elicense.platform_field and its
# ofd_template row; no rebuild, no shipped row) is issued, delivered to the
# platform double (validate, 赋码, collect: the worker's QR URL comes from
# elicense.qr_url, which checks the type against the catalogue, not a list
# compiled into the core), renders to an OFD file whose face carries its own
# items and whose QR code decodes to that URL, and previews (the preview
# server's renderer draws the watermarked file).
# The double is strict and knows only PLATFORM.md's types: the test gives it
# the platform's spec of the new type as a province would get it, in a
# --spec-file that is the shipped spec plus that type.
# Runs inside a throwaway cluster (PG* set); $1 is the output directory.
source "$(dirname "$0")/../sync/lib.sh"
type=11100000000013338W099

setup_database
# Before the type exists, qr_url refuses its code as not in the catalogue.
if refused=$(sql -v type="$type" <<<"SELECT elicense.qr_url('202235000001000001', :'type', '350000')" 2>&1); then
  fail "qr_url made a URL for a type not in elicense.licence_type: $refused"
fi
[[ $refused == *"The type is not in elicense.licence_type"* ]] || fail "qr_url refused for another reason: $refused"
sql -v type="$type" <<'EOF_SQL'
INSERT INTO elicense.licence_type (type_code, name, standard, holder_id_type, number_pattern, number_example)
VALUES (:'type', '建筑起重机械使用登记证明', 'local', 'USCC', '^闽Q-[0-9]{6}$', '闽Q-000001');
INSERT INTO elicense.licence_item (type_code, position, item, label, data_type, required, max_length, metadata_column) VALUES
(:'type', 1, 'unit_name',          '使用单位',                 'text',          true, 200, 'holder_name'),
(:'type', 2, 'uscc',               '统一社会信用代码',         'uscc',          true,  18, 'holder_id'),
(:'type', 3, 'machine_model',      '设备型号',                 'text',          true,  50, NULL),
(:'type', 4, 'licence_number',     '登记编号',                 'text',          true,  50, 'licence_number'),
(:'type', 5, 'valid_from',         '有效期起',                 'date',          true, NULL, 'valid_from'),
(:'type', 6, 'valid_to',           '有效期止',                 'date',          false, NULL, 'valid_to'),
(:'type', 7, 'authority_name',     '登记机关',                 'text',          true, 100, 'authority_name'),
(:'type', 8, 'authority_uscc',     '登记机关统一社会信用代码', 'uscc',          true,  18, 'authority_uscc'),
(:'type', 9, 'authority_division', '登记机关行政区划代码',     'division_code', true,   6, 'authority_division'),
(:'type', 10, 'issue_date',        '登记日期',                 'date',          true, NULL, 'issue_date');
INSERT INTO elicense.ofd_template (type_code, template) VALUES (:'type', jsonb_build_object(
  'type_code', :'type', 'name', '建筑起重机械使用登记证明',
  'page', '{"width": 210, "height": 297}'::jsonb,
  'frame', '{"margin": 10, "line_width": 1.2, "color": "32 64 144"}'::jsonb,
  'title', '{"text": "建筑起重机械使用登记证明", "y": 66, "font": "黑体", "size": 24}'::jsonb,
  'qr', '{"x": 164, "y": 18, "size": 30}'::jsonb,
  'seal', '{"x": 122, "y": 195, "size": 42}'::jsonb,
  'label', '{"font": "黑体", "size": 14}'::jsonb,
  'fields', '[{"key": "holder_name", "label": "使用单位", "x": 30, "y": 88, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
              {"key": "machine_model", "label": "设备型号", "x": 30, "y": 102, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
              {"key": "licence_number", "label": "登记编号", "x": 30, "y": 172, "value_x": 75, "width": 105, "font": "宋体", "size": 14}]'::jsonb));
EOF_SQL

# Its request fields: the common ones as W050 sends them (a company holder),
# and in the whole item (赋码) its own machineModel instead of W050's items.
sql -v type="$type" <<'EOF_SQL'
INSERT INTO elicense.platform_field (type_code, step, slot, position, field, source_kind, source, format, code_map, required, operate_types, note)
SELECT :'type', step, slot, position, field, source_kind, source, format, code_map, required, operate_types, 'as W050'
  FROM elicense.platform_field
 WHERE type_code = '11100000000013338W050' AND (step <> 'assign_code' OR position <= 14);
INSERT INTO elicense.platform_field (type_code, step, slot, position, field, source_kind, source, format, code_map, required, operate_types, note)
VALUES (:'type', 'assign_code', 'machine_model', 15, 'machineModel', 'item', 'machine_model', NULL, NULL, true, NULL, 'the type''s own item'),
       (:'type', 'assign_code', 'first_issu_date', 16, 'firstIssuDate', 'computed', 'first_issue_date', 'date', NULL, true, NULL, 'as W050');
EOF_SQL

# The platform's spec of the type, given to the double: W050's steps with the
# whole item's W050-only fields replaced by machineModel.
python3 - "$root/tests/double/platform_spec.json" "$out/spec.json" <<'PY'
import copy, json, sys
spec = json.load(open(sys.argv[1]))
w099 = copy.deepcopy(spec["types"]["W050"])
w099["type_code"] = "11100000000013338W099"
w050_only = {"companyAddress", "economicType", "responsiblePerson", "responsiblePersonID", "responsiblePersonIDType",
             "licenseScope", "businessInformation"}
fields = [f for f in w099["steps"]["assign"]["fields"] if f["name"] not in w050_only]
fields.insert(len(fields) - 1, {"name": "machineModel", "required": True, "format": "text"})
w099["steps"]["assign"]["fields"] = fields
spec["types"]["W099"] = w099
json.dump(spec, open(sys.argv[2], "w"), ensure_ascii=False)
PY
# Paths of the new type, for the double and the worker.
write_paths() {
  cat >"$out/paths.json" <<JSON
{
  "$type": {"validate": "/epoint-gateway/test/W099/Check", "assign_code": "/epoint-gateway/test/W099/Fm",
            "collect": "/epoint-gateway/test/W099/Gj", "status_update": "/epoint-gateway/test/W099/Update"},
  "query": {"$type": "/epoint-gateway/test/query/W099_Query"}
}
JSON
}
start_double --spec-file "$out/spec.json"
write_config 4 5
python3 - "$out/worker.json" "$out/paths.json" "$type" <<'PY'
import json, sys
config, paths, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
config["paths"][t] = dict(paths[t], query=paths["query"][t])
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY

id=$(sql -v type="$type" <<'EOF_SQL'
SELECT elicense.issue(:'type', '{"unit_name": "福州起重设备租赁有限公司", "uscc": "91350100M000100Y43", "machine_model": "QTZ80-6010",
  "licence_number": "闽Q-000123", "valid_from": "2026-01-01", "valid_to": "2030-12-31",
  "authority_name": "福州市城乡建设局", "authority_uscc": "11350100003591037Y", "authority_division": "350100",
  "issue_date": "2026-01-01"}'::jsonb, 'issuer');
EOF_SQL
)
[ -n "$id" ] || fail "issue returned nothing"
echo "issued $id"
start_worker w1
wait_for 60 "$(all_delivered)"
check_exactly_once
steps=$(sql -v id="$id" <<<"SELECT string_agg(step || ':' || status, ',' ORDER BY step_order) FROM elicense.outbox WHERE identifier = :'id'")
[ "$steps" = "$(sql -v t="$type" <<<"SELECT string_agg(s || ':done', ',') FROM unnest(elicense._delivery_steps('01')) s")" ] \
  || fail "the added type's licence was not delivered step by step: $steps"
code=$(sql -v id="$id" <<<"SELECT assigned_code FROM elicense.certificate WHERE identifier = :'id'")
[ "$code" = "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["licences"][sys.argv[2]]["assignedCode"])' "$out/double_state.json" "$id")" ] \
  || fail "the code stored for $id ('$code') is not the one the platform assigned"
url=$(sql -v id="$id" <<<"SELECT qr_url FROM elicense.certificate WHERE identifier = :'id'")
case $url in
  *"&certype=$type&province=350000") ;;
  *) fail "the QR URL of the added type: '$url'" ;;
esac
sql -v id="$id" <<<"SELECT encode(elicense.render_certificate_ofd(:'id', false), 'base64')" | base64 -d >"$out/original.ofd"
sql -v id="$id" <<<"SELECT encode(elicense.render_certificate_ofd(:'id'), 'base64')" | base64 -d >"$out/watermarked.ofd"
verdict=$(sql -F ' ' -v f="$(base64 -w0 "$out/original.ofd")" <<<"SELECT ok, status FROM elicense.verify_licence_ofd(decode(:'f', 'base64'))")
[ "$verdict" = "f unsigned" ] || fail "verify_licence_ofd of the original (no seal row: well-formed, unsigned): '$verdict'"

unzip -tq "$out/original.ofd" >/dev/null || fail "the OFD file is no valid zip"
unzip -q -o "$out/original.ofd" -d "$out/original.d"
content=$(xmllint --xpath "//*[local-name()='TextCode']/text()" "$out/original.d/Doc_0/Pages/Page_0/Content.xml")
for text in 建筑起重机械使用登记证明 福州起重设备租赁有限公司 QTZ80-6010 闽Q-000123 设备型号; do
  [[ $content == *"$text"* ]] || fail "the face lacks '$text' (see $out/original.d)"
done
got=$("$root/tests/support/decode_qr" "$out/original.d/Doc_0/Res/qr.png" 2>"$out/zbarimg.stderr") || fail "cannot decode the QR code"
[ "$got" = "$url" ] || fail "the QR code decodes to '$got', expected '$url'"

# The preview server's renderer (elicense-preview --render) draws the watermarked file.
"$bin/elicense-preview" --render "$out/watermarked.ofd" --output "$out/preview.png" --svg "$out/preview.svg"
[ "$(head -c 8 "$out/preview.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the preview is no PNG"
# The SVG draws one <text> per character: join them.
svg=$({ grep -o '<text[^>]*>[^<]*' "$out/preview.svg" || true; } | sed 's/<text[^>]*>//' | tr -d '\n')
[[ $svg == *QTZ80-6010* ]] || fail "the preview picture lacks the type's own item (see $out/preview.svg)"
echo "ok: type $type added through SQL: issued $id, delivered ($steps), code $code, QR URL, OFD face with its items, QR decodes, preview drawn"
