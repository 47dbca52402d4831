#!/usr/bin/env bash
# A download link of the HTTP gateway in headless Chromium: the browser
# saves the file (Content-Disposition: attachment) under the link's file
# name, the file is the sealed OFD copy with the purpose note (用途：… 有效期至：…)
# and verifies as valid through the gateway; after the link's expiry the
# same URL shows the envelope's 105 and no file arrives.
set -euo pipefail
out=${1:-/tmp}/gateway_browser
db=elicense_gateway_browser
source "$(dirname "$0")/../gateway/lib.sh"
rm -rf "$out" && mkdir -p "$out"
chrome_group=
browser_cleanup() {
  [ -z "$chrome_group" ] || kill -- "-$chrome_group" 2>/dev/null || true
  gw_cleanup
}
trap browser_cleanup EXIT
gw_setup_database
gw_register dept_app dept_app
gw_start gw '{"threads": 2, "token_cache_s": 0}'
token=$(token_for dept_app "$secret")
ctx='{"applicant": "李四", "business_id": "YW-9", "step": "受理", "office": "鼓楼", "department": "市场监管", "officer": "王五"}'
code=$(as_app -c "SELECT elicense.create_usage_code('bidding', '$person_a', '{$w032}', '$ctx')")
call "$token" /api/v1/licences/file "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i, delivery: "link", expirySeconds: 300}')"
expect 200 0 "a download link"
url=$(jq -r .data.url "$out/answer.json")
expires=$(jq -r .data.expiresAt "$out/answer.json")

home=$out/home
mkdir -p "$home/Downloads" "$out/profile"
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
        --disable-component-update --disable-sync --user-data-dir="$out/profile")
# The browser is kept open by its DevTools port (nothing connects to it):
# with --dump-dom, headless Chromium ended on the download's aborted page
# load (net::ERR_ABORTED) before the file was written, in 2 of 4 full runs.
# It runs in a process group of its own; the group ends once the file is
# there.
saved=$home/Downloads/$id_a.ofd
HOME=$home setsid "${chrome[@]}" --remote-debugging-port=0 "$url" >"$out/download.out" 2>>"$out/chromium.log" &
chrome_group=$!
deadline=$((SECONDS + 60))
until [ -s "$saved" ] && ! ls "$home/Downloads/"*.crdownload >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "Chromium saved no file in 60 s: $(ls -la "$home/Downloads") $(tail -3 "$out/chromium.log")"
  sleep 0.5
done
kill -- "-$chrome_group" 2>/dev/null || true
wait "$chrome_group" 2>/dev/null || true
chrome_group=
note=$(unzip -p "$saved" Doc_0/Pages/Page_0/Annotation.xml | xmllint --xpath "//*[local-name()='TextCode']/text()" - | tr -d '\n')
[[ $note == *"用途：招投标资格审查　有效期至："* ]] || fail "the downloaded file lacks the purpose note: $note"
call "$token" /api/v1/licences/verify "$(jq -nc --arg f "$(base64 -w0 "$saved")" '{scenario: "bidding", fileBase64: $f}')"
expect 200 0 "verify the downloaded file"
[ "$(jq -r .data.verdict "$out/answer.json")" = valid ] || fail "the downloaded file: $(cat "$out/answer.json")"
echo "ok: Chromium saved $(basename "$saved") ($(stat -c %s "$saved") bytes) from the link; it carries \"${note:0:30}…\" and verifies as valid"

# After expiry: the browser gets the 404 envelope and saves nothing. The link
# lives 300 s, so that a slow machine downloads it in time; its expiry is
# then moved into the past, which is what the passing of time does to it.
sql -c "UPDATE elicense.gateway_download SET expires_at = now() - interval '1 second'" >/dev/null
expires=$(sql -c "SELECT max(expires_at) FROM elicense.gateway_download")
deadline=$((SECONDS + 60))
while [ "$(curl -sS -o /dev/null -w '%{http_code}' "$url")" = 200 ]; do
  [ $SECONDS -lt $deadline ] || fail "the link (expiring $expires) still works"
  sleep 1
done
rm -f "$home/Downloads/"*
HOME=$home timeout 90 "${chrome[@]}" --dump-dom "$url" >"$out/expired.dom" 2>>"$out/chromium.log" || fail "chromium on the expired link: $(tail -3 "$out/chromium.log")"
grep -q '"status":105' "$out/expired.dom" || fail "the expired link shows: $(head -c 300 "$out/expired.dom")"
[ -z "$(ls -A "$home/Downloads")" ] || fail "a file arrived from the expired link: $(ls "$home/Downloads")"
echo "ok: after its expiry ($expires) the link shows status 105 in the browser and no file arrives"
