#!/usr/bin/env bash
# The QR PNG decodes, with an independent reader (zbarimg, package
# zbar-tools), to exactly the URL it was made from: 20 codes for each of the
# two licence types, every error correction level and several module sizes.
# The URLs are real elicense.qr_url output (k raw, with + / =). The PNGs
# are kept in $1/qr_png_zbar for inspection.
# Runs inside a throwaway cluster (PG* set); $1 is the output directory.
set -euo pipefail
out=${1:-/tmp}/qr_png_zbar
rm -rf "$out" && mkdir -p "$out"
db=elicense_qr_png_zbar
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
command -v zbarimg >/dev/null || fail "zbarimg is missing: apt-get install zbar-tools"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$out/priv.pem" 2>/dev/null
openssl pkey -in "$out/priv.pem" -pubout -out "$out/pub.pem"
sql -v pem="$(cat "$out/pub.pem")" <<'EOF'
CREATE EXTENSION elicense;
INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('510000', :'pem');
EOF

levels=(L M Q H)
sizes=(2 3 4 6)
decoded=0
for certype in 11100000000013338W050 11100000000013338W032; do
  for i in $(seq 1 20); do
    code=$(printf '2024510000%08d' $((i * 104729)))
    level=${levels[$((i % 4))]}
    px=${sizes[$(((i / 4) % 4))]}
    png=$out/${certype: -4}_${i}_${level}_${px}.png
    url=$(sql <<<"SELECT elicense.qr_url('$code', '$certype', '510000')")
    sql -v url="$url" -v level="$level" -v px="$px" \
      <<<"SELECT encode(elicense.qr_png(:'url', :'level', :'px'), 'base64')" | base64 -d >"$png"
    got=$("$(dirname "$0")/../support/decode_qr" "$png" 2>>"$out/zbarimg.stderr") || fail "zbarimg cannot read $png (see $out/zbarimg.stderr)"
    [ "$got" = "$url" ] || fail "$png decodes to '$got', expected '$url'"
    decoded=$((decoded + 1))
  done
done
[ "$decoded" -eq 40 ] || fail "decoded $decoded PNGs, expected 40"
echo "qr_png_zbar: $decoded PNGs decode to exactly their URL"
