#!/usr/bin/env bash
# A licence type added by a DBA through SQL only (elicense.licence_type, its
# licence_item rows and its ofd_template row; no rebuild, no shipped row)
# is issued, gets its QR URL from elicense.qr_url (which checks the type
# against the catalogue, not a list compiled into the core), renders to an
# OFD file whose face carries its own items and whose QR code decodes to that
# URL, and previews (the preview server's renderer draws the watermarked
# file). Delivering it through the platform double is out of reach: the
# double knows only PLATFORM.md's two types (W050, W032).
# Runs inside a throwaway cluster (PG* set); $1 is the output directory.
set -euo pipefail
out=${1:-/tmp}/licence_type_added
rm -rf "$out" && mkdir -p "$out"
db=elicense_licence_type_added
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
type=11100000000013338W099

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$out/priv.pem" 2>/dev/null
openssl pkey -in "$out/priv.pem" -pubout -out "$out/pub.pem"
sql -v pem="$(cat "$out/pub.pem")" <<'EOF_SQL'
CREATE EXTENSION elicense;
INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('350000', :'pem');
EOF_SQL
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

id=$(sql -v type="$type" <<'EOF_SQL'
SELECT elicense.issue(:'type', '{"unit_name": "福州起重设备租赁有限公司", "uscc": "91350100M000100Y43", "machine_model": "QTZ80-6010",
  "licence_number": "闽Q-000123", "valid_from": "2026-01-01", "valid_to": "2030-12-31",
  "authority_name": "福州市城乡建设局", "authority_uscc": "11350100003591037Y", "authority_division": "350100",
  "issue_date": "2026-01-01"}'::jsonb, 'issuer');
EOF_SQL
)
[ -n "$id" ] || fail "issue returned nothing"
echo "issued $id"
# What the worker does after 赋码: the QR URL from the catalogue's type.
url=$(sql -v type="$type" -v id="$id" <<<"SELECT elicense.qr_url('202235000001000123', :'type', '350000')")
case $url in
  *"&certype=$type&province=350000") ;;
  *) fail "qr_url for the added type: '$url'" ;;
esac
sql -v id="$id" -v url="$url" <<<"UPDATE elicense.certificate SET assigned_code = '202235000001000123', qr_url = :'url' WHERE identifier = :'id'"
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
got=$("$(dirname "$0")/../support/decode_qr" "$out/original.d/Doc_0/Res/qr.png" 2>"$out/zbarimg.stderr") || fail "cannot decode the QR code"
[ "$got" = "$url" ] || fail "the QR code decodes to '$got', expected '$url'"

# The preview server's renderer (elicense-preview --render) draws the watermarked file.
preview=build/cmake/elicense-preview
if [ ! -x "$preview" ]; then
  cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/cmake -j2 --target elicense-preview >/dev/null
fi
"$preview" --render "$out/watermarked.ofd" --output "$out/preview.png" --svg "$out/preview.svg"
[ "$(head -c 8 "$out/preview.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the preview is no PNG"
# The SVG draws one <text> per character: join them.
svg=$({ grep -o '<text[^>]*>[^<]*' "$out/preview.svg" || true; } | sed 's/<text[^>]*>//' | tr -d '\n')
[[ $svg == *QTZ80-6010* ]] || fail "the preview picture lacks the type's own item (see $out/preview.svg)"
echo "ok: type $type added through SQL: issued $id, QR URL, OFD face with its items, QR decodes, preview drawn"
