#!/usr/bin/env bash
# Test inputs for the OFD tests, written to $1: a throw-away SM2 seal key and
# self-signed SM2-with-SM3 certificate (seal-key.pem, seal-cert.pem), a second
# signer (other-*.pem), a seal picture (seal.png), a QR code of a licence URL
# (qr.png) and that URL (qr-url.txt).
set -euo pipefail
dir=$1
here=$(dirname "$0")
mkdir -p "$dir"
for who in seal other; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out "$dir/$who-key.pem" 2>/dev/null
  openssl req -new -x509 -key "$dir/$who-key.pem" -sm3 -sigopt distid:1234567812345678 -days 30 \
    -subj "/CN=elicense test $who" -out "$dir/$who-cert.pem" 2>/dev/null
done
python3 "$here/make_seal_png.py" "$dir/seal.png"
url='https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=5353694DE19F0844170B462090902EC5DDCD676751F31AFB&k=kZ3+q/Jt1yD0bH5cVvQw8rXh2Lm9aB4sNf7eT6uYi0Gp1Oz3Rj8Wk5Xc2Ld9Ms4Ha7Qe6Uf0Tn1Bg3Vy8Zr5Po2Iw==&certype=11100000000013338W050&province=350000'
printf '%s' "$url" >"$dir/qr-url.txt"
qrencode -s 4 -m 2 -o "$dir/qr.png" "$url"
