#!/usr/bin/env bash
# Licence OFD files end to end, without the database: renders a sealed W050
# (with the platform watermark), a sealed W032 (with a purpose-and-validity
# note) and an unsigned W050 with elicense-ofd, then checks with tools that
# share no code with the writer: unzip -t, xmllint (well-formed, every
# element in the OFD namespace), the face text, zbarimg on the QR image in
# the package, and the seal verifying before and failing after one byte of
# Content.xml, OFD.xml or qr.png is changed (re-zipped with python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build/test-output}/ofd
rm -rf "$out" && mkdir -p "$out"
tool=build/cmake/elicense-ofd
if [ ! -x "$tool" ]; then
  cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/cmake -j2 --target elicense-ofd >/dev/null
fi
fail() { echo "FAIL: $*"; exit 1; }

# Throw-away SM2 seal key and certificate, another signer, seal picture, QR.
bash tests/ofd/make_fixtures.sh "$out"
url=$(cat "$out/qr-url.txt")

seal=(--key "$out/seal-key.pem" --cert "$out/seal-cert.pem" --seal "$out/seal.png")
"$tool" render --template extension/templates/W050.json --fields tests/ofd/w050_fields.json --qr "$out/qr.png" \
  "${seal[@]}" -o "$out/w050.ofd"
"$tool" render --template extension/templates/W032.json --fields tests/ofd/w032_fields.json --qr "$out/qr.png" \
  "${seal[@]}" --purpose "招投标资格审查" --valid-until "2026-12-31" -o "$out/w032.ofd"
"$tool" render --template extension/templates/W050.json --fields tests/ofd/w050_fields.json --qr "$out/qr.png" \
  --no-watermark -o "$out/w050-unsigned.ofd"

ns=http://www.ofdspec.org/2016
for f in w050 w032 w050-unsigned; do
  pkg=$out/$f.ofd
  unzip -tq "$pkg" >/dev/null || fail "$f: unzip -t"
  dir=$out/$f.d
  unzip -q -o "$pkg" -d "$dir"
  count=0
  while IFS= read -r -d '' xml; do
    xmllint --noout "$xml" || fail "$f: $xml is not well-formed"
    foreign=$(xmllint --xpath "count(//*[namespace-uri()!='$ns' or not(starts-with(name(), 'ofd:'))])" "$xml")
    [ "$foreign" = 0 ] || fail "$f: $xml has $foreign elements outside ofd:"
    count=$((count + 1))
  done < <(find "$dir" -name '*.xml' -print0)
  echo "$f: unzip -t ok, $count XML parts well-formed, all elements ofd:"
  decoded=$("$(dirname "$0")/../support/decode_qr" "$dir/Doc_0/Res/qr.png" 2>/dev/null)
  [ "$decoded" = "$url" ] || fail "$f: QR decodes to '$decoded'"
  echo "$f: QR image in the package decodes to the licence URL"
done

# The face shows the field values (xmllint prints text nodes escaped: undo that).
face_text() {
  xmllint --xpath "//*[local-name()='TextCode']/text()" "$1" | tr -d '\n' |
    sed -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&amp;/\&/g'
}
w050_face=$(face_text "$out/w050.d/Doc_0/Pages/Page_0/Content.xml")
for v in "福建省榕城建设工程有限公司" "91350100MA2Y3B4C5D" "陈建国" "福建省福州市鼓楼区五四路88号<A&B座>"; do
  [[ $w050_face == *"$v"* ]] || fail "w050 face lacks $v"
done
w032_face=$(face_text "$out/w032.d/Doc_0/Pages/Page_0/Content.xml")
for v in 林晓峰 350102199001011234 建筑电工 闽A042023000123; do
  [[ $w032_face == *"$v"* ]] || fail "w032 face lacks $v"
done
grep -q '&lt;A&amp;B座&gt;' "$out/w050.d/Doc_0/Pages/Page_0/Content.xml" || fail "markup in a value is not escaped"
[[ $(face_text "$out/w050.d/Doc_0/Pages/Page_0/Annotation.xml") == 仅供全国工程质量安全监管信息平台信息公开使用 ]] ||
  fail "w050 watermark text"
[[ $(face_text "$out/w032.d/Doc_0/Pages/Page_0/Annotation.xml") == *"用途：招投标资格审查　有效期至：2026-12-31"* ]] ||
  fail "w032 purpose annotation"
[ ! -e "$out/w050-unsigned.d/Doc_0/Annots.xml" ] || fail "unsigned copy without watermark has annotations"
echo "faces carry the field values, the watermark and the purpose note"

# The seal verifies, with and without naming the expected signer.
"$tool" verify --cert "$out/seal-cert.pem" --anchors "$out/seal-cert.pem" "$out/w050.ofd" || fail "w050 does not verify"
"$tool" verify --anchors "$out/other-cert.pem,$out/seal-cert.pem" "$out/w032.ofd" >/dev/null || fail "w032 does not verify"
# Without its certificate among the trust anchors the same file is untrusted.
if "$tool" verify --anchors "$out/other-cert.pem" "$out/w032.ofd" >"$out/verify-untrusted.txt"; then fail "untrusted file verifies"; fi
grep -q '^untrusted untrusted ' "$out/verify-untrusted.txt" || fail "not untrusted: $(cat "$out/verify-untrusted.txt")"
if "$tool" verify "$out/w050-unsigned.ofd" >"$out/verify-unsigned.txt"; then fail "unsigned file verifies"; fi
grep -q '^unsigned' "$out/verify-unsigned.txt" || fail "unsigned file not reported as unsigned"
if "$tool" verify --cert "$out/other-cert.pem" "$out/w050.ofd" >"$out/verify-other.txt"; then
  fail "verifies against another signer's certificate"
fi
grep -q '^wrong_signer' "$out/verify-other.txt" || fail "wrong signer not reported: $(cat "$out/verify-other.txt")"

# One byte changed in a signed part: verification fails and names the part.
for part in Doc_0/Pages/Page_0/Content.xml OFD.xml Doc_0/Res/qr.png; do
  python3 tests/ofd/flip_byte.py "$out/w050.ofd" "$part" "$out/tampered.ofd"
  unzip -tq "$out/tampered.ofd" >/dev/null || fail "re-zipped file is not a valid ZIP"
  if "$tool" verify "$out/tampered.ofd" >"$out/verify-tampered.txt"; then fail "tampered $part verifies"; fi
  grep -q "^digest_mismatch tampered $part " "$out/verify-tampered.txt" || fail "tampered $part: $(cat "$out/verify-tampered.txt")"
  echo "one byte of $part changed: $(cat "$out/verify-tampered.txt")"
done
echo "ofd_package: all checks passed"
