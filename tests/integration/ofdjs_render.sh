#!/usr/bin/env bash
# An independent reader opens our licence files: ofd.js 0.2.6 (DLTech21, the
# 0.2.x line with a known source; pinned in tests/ofdjs/package-lock.json)
# renders a sealed W050 and a sealed W032 in headless Chromium. Checks, per
# file: the page rendered, its DOM carries the holder's name and the
# watermark, the QR code decodes with zbarimg from the screenshot (so the
# reader really drew it), and ofd.js's own seal check (sm-crypto SM2 verify
# of the SES signature, SM3 of every Reference) passes; with one byte of
# Content.xml changed, ofd.js reports the digests as wrong. Screenshots:
# $1/ofdjs/*.png.
# Needs chromium (scripts/install-deps) and the npm registry on first run
# (packages go to build/ofdjs, reused while the lock file is unchanged).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$(realpath -m "${1:-build/test-output}")/ofdjs
rm -rf "$out" && mkdir -p "$out"
fail() { echo "FAIL: $*"; exit 1; }

tool=build/cmake/elicense-ofd
if [ ! -x "$tool" ]; then
  cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/cmake -j2 --target elicense-ofd >/dev/null
fi
modules=build/ofdjs
if ! cmp -s tests/ofdjs/package-lock.json "$modules/package-lock.json" || [ ! -f "$modules/node_modules/ofd.js/lib/ofd.umd.js" ]; then
  rm -rf "$modules" && mkdir -p "$modules"
  cp tests/ofdjs/package.json tests/ofdjs/package-lock.json "$modules/"
  (cd "$modules" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi

bash tests/ofd/make_fixtures.sh "$out/fixtures"
fx=$out/fixtures
url=$(cat "$fx/qr-url.txt")
seal=(--key "$fx/seal-key.pem" --cert "$fx/seal-cert.pem" --seal "$fx/seal.png")
"$tool" render --template extension/templates/W050.json --fields tests/ofd/w050_fields.json --qr "$fx/qr.png" \
  "${seal[@]}" -o "$out/w050.ofd"
"$tool" render --template extension/templates/W032.json --fields tests/ofd/w032_fields.json --qr "$fx/qr.png" \
  "${seal[@]}" --purpose "招投标资格审查" --valid-until "2026-12-31" -o "$out/w032.ofd"

# A static site on a free local port: the page, ofd.js's UMD build, the file.
site=$out/site
mkdir -p "$site"
cp tests/ofdjs/render.html "$site/index.html"
cp "$modules/node_modules/ofd.js/lib/ofd.umd.js" "$site/"
(cd "$site" && exec python3 -u -m http.server 0 --bind 127.0.0.1) >"$out/http.log" 2>&1 &
server=$!
profile=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; rm -rf "$profile"' EXIT
for _ in $(seq 50); do
  port=$(sed -nE '/port [0-9]+/{s/.*port ([0-9]+).*/\1/p;q}' "$out/http.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "http.server did not start: $(cat "$out/http.log")"

chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
        --disable-component-update --disable-sync --user-data-dir="$profile" --window-size=1700,2300
        --virtual-time-budget=15000)
# Twice A4 at 96 dpi, so the QR modules are ~4 px and zbarimg reads the screenshot.
page="http://127.0.0.1:$port/index.html?width=1600"

check() {  # check NAME SEAL-REPORT HOLDER [MORE TEXT THE PAGE MUST SHOW...]
  local name=$1 seals=$2 holder=$3
  shift 3
  cp "$out/$name.ofd" "$site/licence.ofd"
  timeout 90 "${chrome[@]}" --dump-dom "$page" >"$out/$name.dom.html" 2>>"$out/chromium.log"
  timeout 90 "${chrome[@]}" --screenshot="$out/$name.png" "$page" >>"$out/chromium.log" 2>&1
  grep -q '<title>rendered 1</title>' "$out/$name.dom.html" ||
    fail "$name: ofd.js did not render: $(grep -o '<title>[^<]*</title>' "$out/$name.dom.html")"
  # ofd.js draws every character as its own SVG <text>: join the text nodes.
  local text
  text=$(python3 -c 'import re, sys; print(re.sub(r"<[^>]+>", "", open(sys.argv[1], encoding="utf-8").read()))' \
    "$out/$name.dom.html")
  [[ $text == *"$holder"* ]] || fail "$name: the page does not show $holder"
  [[ $text == *仅供全国工程质量安全监管信息平台信息公开使用* ]] || fail "$name: the page does not show the watermark"
  grep -q "<pre id=\"seals\">$seals</pre>" "$out/$name.dom.html" ||
    fail "$name: ofd.js seal check: $(grep -o '<pre id="seals">[^<]*' "$out/$name.dom.html")"
  local more
  for more in "$@"; do
    [[ $text == *"$more"* ]] || fail "$name: the page does not show $more"
  done
  local decoded
  decoded=$("$root/tests/support/decode_qr" "$out/$name.png" 2>/dev/null) || fail "$name: no QR code in the screenshot"
  [ "$decoded" = "$url" ] || fail "$name: the QR in the screenshot decodes to '$decoded'"
  echo "$name: ofd.js rendered it ($seals); page shows $holder and the watermark; QR in $out/$name.png decodes to the URL"
}
ok_seal="seal 1 signature=true digests=true"
check w050 "$ok_seal" 福建省榕城建设工程有限公司
check w032 "$ok_seal" 林晓峰 "用途：招投标资格审查　有效期至：2026-12-31"
python3 tests/ofd/flip_byte.py "$out/w050.ofd" Doc_0/Pages/Page_0/Content.xml "$out/w050-tampered.ofd"
check w050-tampered "seal 1 signature=true digests=false" 福建省榕城建设工程有限公司
echo "ofdjs_render: all checks passed"
