#!/usr/bin/env bash
# The preview service end to end. The worker delivers licences to
# the platform double with the preview URL template pointing at a running
# elicense-preview (logged in as a member of elicense_preview, no other
# rights); the URL the double received in the collect step (归集) is opened
# in headless Chromium, and the screenshot of the sealed licence shows the holder's name and the
# platform watermark (tesseract OCR) and a QR code that zbarimg decodes to
# the licence's stored QR URL. Then: a tampered token is 404 and leaves no
# row in elicense.preview_access, an expired token is 410, revoked, changed
# and expired licences show their status and no picture, no path returns
# the OFD file (no body starts with PK), every genuine access has a row,
# the server's log never holds a token, a full render gate answers 503 with
# Retry-After, and an oversized request is refused. Screenshots in $1.
source "$(dirname "$0")/../sync/lib.sh"
[ -x "$bin/elicense-preview" ] || fail "build elicense-preview first (cmake)"
setup_database
start_double
write_config 8 5

# The service's login role: a member of elicense_preview and nothing else.
create_preview_login

start_preview preview '{"threads": 4, "max_concurrent_renders": 2, "render_wait_ms": 3000}'
# The authority seals its files: the preview draws sealed (SM2) files too.
install_seal
sql -c "UPDATE elicense.delivery_config SET preview_url_template = '$preview/p/{token}'"

# Licences valid today (issue_licences' ones have expired by now: they show
# status 'expired').
holder=闽江预览建设有限公司
issue_one() {  # TYPE-CODE JSON
  sql -c "SELECT elicense.issue('$1', '$2'::jsonb, 'approval-test')"
}
valid=$(issue_one 11100000000013338W050 '{"enterprise_name": "'$holder'", "uscc": "91350100M000100Y43",
  "principal": "王五", "principal_id": "350102199001011238", "address": "福州市仓山区1号", "economic_type": "有限责任公司", "permit_scope": "建筑施工",
  "licence_number": "(闽)JZ安许证字[2026]000901", "valid_from": "2026-01-01", "valid_to": "2029-12-31",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2026-01-01"}')
to_revoke=$(issue_one 11100000000013338W032 '{"name": "赵六", "gender": "男", "id_number": "350102199001011238",
  "category": "建筑电工", "licence_number": "闽A0000000901", "valid_from": "2026-01-01", "valid_to": "2029-01-01",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2026-01-01"}')
to_change=$(issue_one 11100000000013338W050 '{"enterprise_name": "闽侯变更建设有限公司", "uscc": "91350100M000100Y43",
  "principal": "王五", "principal_id": "350102199001011238", "address": "福州市仓山区2号", "economic_type": "有限责任公司", "permit_scope": "建筑施工",
  "licence_number": "(闽)JZ安许证字[2026]000902", "valid_from": "2026-01-01", "valid_to": "2029-12-31",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2026-01-01"}')
for n in 1 2 3 4 5; do  # more valid licences: cold renders for the render gate check
  issue_one 11100000000013338W050 '{"enterprise_name": "闽清并发建设有限公司'$n'", "uscc": "91350100M000100Y43",
    "principal": "王五", "principal_id": "350102199001011238", "address": "福州市仓山区'$n'号", "economic_type": "有限责任公司", "permit_scope": "建筑施工",
    "licence_number": "(闽)JZ安许证字[2026]00091'$n'", "valid_from": "2026-01-01", "valid_to": "2029-12-31",
    "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
    "issue_date": "2026-01-01"}' >/dev/null
done
issue_licences 3
old=$(sql -c "SELECT identifier FROM elicense.certificate WHERE valid_to < current_date ORDER BY identifier LIMIT 1")

start_worker w1
wait_for 60 "$(all_delivered)"
double_state >"$out/double_state.json"
url_of() {  # IDENTIFIER: the preview URL the platform received in the collect step
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["licences"][sys.argv[2]]["url"])' "$out/double_state.json" "$1"
}
url=$(url_of "$valid")
[[ $url == "$preview/p/"* ]] || fail "the collect step sent '$url', not a preview URL of $preview"
token=${url#"$preview/p/"}
echo "collect step sent $preview/p/<${#token}-character token>"

# The licence page: headers, and no OFD in it.
curl -sS -D "$out/valid.headers" -o "$out/valid.html" "$url"
[[ $(head -n1 "$out/valid.headers") == *" 200"* ]] || fail "valid preview: $(head -n1 "$out/valid.headers")"
for h in "Cache-Control: no-store" "X-Content-Type-Options: nosniff" "Content-Security-Policy: default-src 'none'" \
         "Content-Type: text/html" "X-Licence-Status: valid"; do
  grep -qi "^$h" "$out/valid.headers" || fail "valid preview lacks header $h"
done
grep -q 'src="data:image/png;base64,' "$out/valid.html" || fail "the page has no inline PNG"
! grep -q "$holder" "$out/valid.html" || fail "the holder is in the HTML: the screenshot check would prove nothing"

# Headless Chromium: what a person at the platform sees.
profile=$(mktemp -d)
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
        --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars --window-size=1280,1800)
timeout 90 "${chrome[@]}" --screenshot="$out/valid.png" "$url" >"$out/chromium.log" 2>&1 || fail "chromium: $(tail -3 "$out/chromium.log")"
rm -rf "$profile"
[ -s "$out/valid.png" ] || fail "no screenshot"
tesseract "$out/valid.png" - -l chi_sim 2>/dev/null | tr -d ' \n' >"$out/valid.ocr.txt"
grep -q "$holder" "$out/valid.ocr.txt" || fail "OCR of the screenshot does not find $holder: $(cat "$out/valid.ocr.txt")"
# The watermark is grey (128,128,128) over black text: keep grey pixels
# only; the outlines left by antialiased black text vanish when the picture
# is scaled down (or blurred). The best of the two readings counts.
for v in "-resize 50%" "-blur 0x1 -threshold 60%"; do
  convert "$out/valid.png" -fuzz 25% -fill white -opaque black -fuzz 12% -fill black -opaque 'rgb(128,128,128)' \
    -fuzz 0 -fill white +opaque black $v "$out/valid-watermark.png"
  tesseract "$out/valid-watermark.png" - -l chi_sim --psm 6 2>/dev/null | tr -d ' \n'
  echo
done >"$out/valid-watermark.ocr.txt"
python3 - "$out/valid-watermark.ocr.txt" <<'PY' || fail "OCR does not find the watermark: $(cat "$out/valid-watermark.ocr.txt")"
import sys
mark = "仅供全国工程质量安全监管信息平台信息公开使用"
pairs = [mark[i:i + 2] for i in range(len(mark) - 1)]
found = max(sum(p in line for p in pairs) for line in open(sys.argv[1], encoding="utf-8"))
print(f"watermark: {found} of {len(pairs)} character pairs read back from the grey text")
sys.exit(0 if found >= len(pairs) // 2 else 1)
PY
qr=$("$root/tests/support/decode_qr" "$out/valid.png" 2>/dev/null || true)
[ "$qr" = "$(sql -c "SELECT qr_url FROM elicense.certificate WHERE identifier = '$valid'")" ] \
  || fail "the QR in the screenshot reads '$qr', not the licence's QR URL"
echo "screenshot: holder and watermark read by OCR, QR decodes to the stored QR URL"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
rows() { sql -c "SELECT count(*) FROM elicense.preview_access"; }

# Tampered and garbage tokens: 404, no row.
before=$(rows)
mid=$(( ${#token} / 2 ))
c=${token:$mid:1}; [ "$c" = A ] && r=B || r=A
tampered=${token:0:$mid}$r${token:$((mid + 1))}
[ "$(code "$preview/p/$tampered")" = 404 ] || fail "a tampered token is not 404"
[ "$(code "$preview/p/${token}A")" = 404 ] || fail "a lengthened token is not 404"
[ "$(code "$preview/p/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")" = 404 ] || fail "a garbage token is not 404"
[ "$(rows)" = "$before" ] || fail "tokens that are not ours left rows in elicense.preview_access"

# An expired token (made with the real key) is 410, and logged.
expired=$(sql -c "SELECT elicense._preview_token(secret_box, id, '$valid', extract(epoch FROM now())::bigint - 60)
                    FROM elicense.preview_key ORDER BY id DESC LIMIT 1")
[ "$(code "$preview/p/$expired")" = 410 ] || fail "an expired token is not 410"
[ "$(sql -c "SELECT count(*) FROM elicense.preview_access WHERE identifier = '$valid' AND code = 410 AND status = 'token_expired'")" = 1 ] \
  || fail "the expired token's access has no row"

# Status instead of a licence.
sql -c "SELECT elicense.revoke('$to_revoke', '违法违规', 'approval-test')" >/dev/null
sql -c "SELECT elicense.change('$to_change', '{\"address\": \"福州市台江区1号\"}', '地址变更', 'approval-test')" >/dev/null
wait_for 60 "$(all_delivered)"
double_state >"$out/double_state.json"
for case in "$to_revoke revoked" "$to_change superseded" "$old expired"; do
  read -r id want <<<"$case"
  curl -sS -D "$out/$want.headers" -o "$out/$want.html" "$(url_of "$id")"
  [[ $(head -n1 "$out/$want.headers") == *" 200"* ]] || fail "$want: $(head -n1 "$out/$want.headers")"
  grep -qi "^X-Licence-Status: $want" "$out/$want.headers" || fail "$want licence: $(grep -i X-Licence-Status "$out/$want.headers")"
  grep -q "data-status=\"$want\"" "$out/$want.html" || fail "$want licence: the page does not say $want"
  ! grep -q "<img" "$out/$want.html" || fail "$want licence: the page shows a picture"
done
echo "revoked, superseded and expired licences show their status, no picture"

# No path returns the OFD file.
: >"$out/paths.txt"
for path in "/p/$token/licence.ofd" "/p/$token.ofd" "/p/$token?format=ofd" "/p/$token/original" "/p/$token/../../OFD.xml" \
            "/licence.ofd" "/Doc_0/Document.xml" "/p/" "/" "/ofd/$token" "/download/$token" "/p/$token/" "/..%2f..%2fetc/passwd" \
            "/healthz" "/p/$token"; do
  for method in GET POST HEAD; do
    : >"$out/path.body"
    if [ "$method" = HEAD ]; then
      status=$(curl -s --head -o "$out/path.body" -w '%{http_code}' "$preview$path" || true)
    else
      status=$(curl -s -X "$method" --data-binary '' -o "$out/path.body" -w '%{http_code}' "$preview$path" || true)
    fi
    echo "$method $path $status" >>"$out/paths.txt"
    [ "$(head -c2 "$out/path.body")" != PK ] || fail "$method $path returned a ZIP (OFD)"
    ! grep -qa "OFD.xml" "$out/path.body" || fail "$method $path returned OFD content"
    # Only the token's page (whatever query string comes with it) and the probe answer 200.
    if [ "$status" = 200 ] && [ "${path%%\?*}" != "/p/$token" ] && [ "$path" != /healthz ]; then
      fail "$method $path answered 200"
    fi
  done
done
echo "$(wc -l <"$out/paths.txt") method/path pairs tried, none returned the OFD file"

# Every genuine access is logged: time, version, client, code, status.
[ "$(sql -c "SELECT count(*) FROM elicense.preview_access WHERE identifier = '$valid' AND version = 1 AND code = 200
               AND status = 'valid' AND client = '127.0.0.1' AND at > now() - interval '5 minutes'")" -ge 2 ] \
  || fail "the valid accesses have no rows"
[ "$(sql -c "SELECT count(*) FROM elicense.preview_access WHERE status IN ('revoked', 'superseded', 'expired')")" -ge 3 ] \
  || fail "status accesses have no rows"
grep -q '"code":404' "$out/preview.log" || fail "the server log has no 404 line"
! grep -qF "$token" "$out/preview.log" || fail "a token is in the server's log"
[ "$(sql -c "SELECT count(*) FROM elicense.preview_access WHERE client LIKE '%$token%'")" = 0 ] || fail "a token in the access table"

# Bounded: one render at a time, no waiting: concurrent cold pages get 503 + Retry-After.
main=$preview
start_preview gated '{"threads": 4, "max_concurrent_renders": 1, "render_wait_ms": 0}'
mapfile -t ids < <(sql -c "SELECT identifier FROM elicense.certificate WHERE superseded_at IS NULL AND status = '01'
                            AND qr_url IS NOT NULL AND (valid_to IS NULL OR valid_to >= current_date)")
curls=()
for id in "${ids[@]}" "${ids[@]}"; do
  u=$(sql -c "SELECT elicense.preview_url('$id')")
  curl -s -o /dev/null -D - "${u/#$main/$preview}" | tr -d '\r' | grep -E "^HTTP|^Retry-After" | tr '\n' ' ' >>"$out/gated.txt" &
  curls+=($!)
done
for p in "${curls[@]}"; do wait "$p" || true; done
grep -q "503 Service Unavailable Retry-After: 2" "$out/gated.txt" || fail "no 503 with Retry-After from a full render gate: $(cat "$out/gated.txt")"
grep -q "HTTP/1.1 200" "$out/gated.txt" || fail "nothing rendered through the gate: $(cat "$out/gated.txt")"
# Request size: a body over max_request_bytes is refused.
[ "$(head -c 20000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @- "$url")" = 413 ] \
  || fail "an oversized request is not refused with 413"
echo "render gate 503 + Retry-After, 413 for an oversized request"
echo "preview service: all checks passed"
