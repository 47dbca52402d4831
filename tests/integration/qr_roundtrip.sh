#!/usr/bin/env bash
# Interoperability of the QR crypto with the openssl command-line tools, in
# both directions, with key pairs made here by openssl (512 and 2048 bits):
#   1. elicense.qr_url -> parse ID and k -> `openssl pkeyutl -decrypt` (k)
#      and `openssl enc -d -des-ecb -provider legacy` (ID) -> the code,
#      for k in base64 (raw and percent-encoded) and hex, with the public key
#      given as "BEGIN PUBLIC KEY" and as "BEGIN RSA PUBLIC KEY".
#   2. an assignment made by openssl (`openssl enc -des-ecb`, `openssl
#      pkeyutl -encrypt`) -> elicense.decrypt_assignment -> the code, with the
#      province's private key given as PKCS#8 and as PKCS#1.
#   3. a 256-bit key (crafted with openssl asn1parse; openssl refuses to
#      generate one), bad PEM, bad hex and bad base64 give their SQLSTATE and
#      a clear message that shows no key material.
# Runs inside a throwaway cluster (PG* set); $1 is the output directory.
set -euo pipefail
out=${1:-/tmp}/qr_roundtrip
rm -rf "$out" && mkdir -p "$out"
db=elicense_qr_roundtrip
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
sql -c "CREATE EXTENSION elicense"
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$root/build/cmake/elicense-admin" ] || { echo "FAIL: build elicense-admin first (cmake)"; exit 1; }

fail() { echo "FAIL: $*"; exit 1; }
hex_to_bin() { perl -e 'print pack("H*", $ARGV[0])' "$1"; }
bin_to_hex() { od -An -v -tx1 | tr -d ' \n'; }
url_decode() { perl -pe 's/%([0-9A-Fa-f]{2})/chr(hex($1))/ge'; }
param() { sed -E "s/.*[?&]$1=([^&]*).*/\1/" <<<"$2"; }

# The PEM goes in through a psql variable (:'pem' quotes it), never spliced
# into SQL text by the shell.
set_platform_key() {  # PEM_FILE K_FORMAT PERCENT_ENCODE
  sql -v pem="$(cat "$1")" -v fmt="$2" -v pct="$3" <<'EOF'
DELETE FROM elicense.platform_key WHERE province = '510000';
INSERT INTO elicense.platform_key (province, public_key_pem, k_format, percent_encode_k)
VALUES ('510000', :'pem', :'fmt', :'pct');
EOF
}
# The province's private key goes in as an admin loads it: elicense-admin
# binds it (stored only encrypted under the master key).
admin() { "$root/build/cmake/elicense-admin" -d "dbname=$db" "$@"; }
set_province_secret() {  # PEM_FILE
  admin load-province-secret --province 510000 --key-file "$1" >/dev/null
}

checks=0
for bits in 512 2048; do
  dir=$out/rsa$bits
  mkdir -p "$dir"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$bits -out "$dir/priv.pem" 2>/dev/null
  openssl pkey -in "$dir/priv.pem" -pubout -out "$dir/pub_spki.pem"
  openssl rsa -in "$dir/priv.pem" -RSAPublicKey_out -out "$dir/pub_pkcs1.pem" 2>/dev/null
  openssl rsa -in "$dir/priv.pem" -traditional -out "$dir/priv_pkcs1.pem" 2>/dev/null
  grep -q "BEGIN RSA PUBLIC KEY" "$dir/pub_pkcs1.pem" || fail "openssl did not write a PKCS#1 public key"
  grep -q "BEGIN RSA PRIVATE KEY" "$dir/priv_pkcs1.pem" || fail "openssl did not write a PKCS#1 private key"

  # 1. our URLs decrypt with openssl.
  for variant in "pub_spki.pem base64 false" "pub_pkcs1.pem base64 true" "pub_spki.pem hex false"; do
    read -r pem fmt pct <<<"$variant"
    set_platform_key "$dir/$pem" "$fmt" "$pct"
    for i in 1 2 3 4 5; do
      code=$(printf '2022510000%08d' $((i * 7919 + bits)))
      certype=11100000000013338W050
      ((i % 2)) && certype=11100000000013338W032
      url=$(sql -c "SELECT elicense.qr_url('$code', '$certype', '510000')")
      echo "$bits $variant: $url" >>"$out/urls.txt"
      id=$(param ID "$url")
      k=$(param k "$url" | url_decode)
      [ "$(param certype "$url")" = "$certype" ] || fail "certype in $url"
      [ "$(param province "$url")" = 510000 ] || fail "province in $url"
      [[ $id =~ ^[0-9A-F]{48}$ ]] || fail "ID is not 48 upper-case hex digits: $id"
      if [ "$fmt" = hex ]; then
        [[ $k =~ ^[0-9A-F]+$ ]] && [ ${#k} -eq $((bits / 4)) ] || fail "k is not $((bits / 4)) hex digits: $k"
        hex_to_bin "$k" >"$dir/k.bin"
      else
        [ ${#k} -eq $(((bits / 8 + 2) / 3 * 4)) ] || fail "k has ${#k} base64 characters for $bits bits"
        if [ "$pct" = true ]; then
          [[ $url != *"+"* && $url != *"=="* ]] || fail "percent-encoding asked, raw k in $url"
        fi
        base64 -d <<<"$k" >"$dir/k.bin"
      fi
      openssl pkeyutl -decrypt -inkey "$dir/priv.pem" -pkeyopt rsa_padding_mode:pkcs1 -in "$dir/k.bin" -out "$dir/key8"
      [ "$(wc -c <"$dir/key8")" -eq 8 ] || fail "k does not decrypt to 8 bytes"
      grep -qE '^[0-9A-Za-z]{8}$' "$dir/key8" || fail "key is not 8 characters of [0-9A-Za-z]"
      hex_to_bin "$id" >"$dir/id.bin"
      plain=$(openssl enc -d -des-ecb -provider legacy -provider default -K "$(bin_to_hex <"$dir/key8")" -in "$dir/id.bin")
      [ "$plain" = "$code" ] || fail "openssl decrypts ID to '$plain', expected '$code'"
      checks=$((checks + 1))
    done
  done

  # 2. openssl-made assignments decrypt with elicense.decrypt_assignment.
  for priv in priv.pem priv_pkcs1.pem; do
    set_province_secret "$dir/$priv"
    for i in 1 2 3; do
      code=$(printf '2023510000%08d' $((i + bits)))
      key8=$(openssl rand -base64 12 | tr -dc 'A-Za-z0-9')
      key8=${key8:0:8}
      [ ${#key8} -eq 8 ] || key8=Ab3dE5g7
      certid=$(printf '%s' "$code" | openssl enc -des-ecb -provider legacy -provider default \
        -K "$(printf '%s' "$key8" | bin_to_hex)" | bin_to_hex | tr a-f A-F)
      encry_key=$(printf '%s' "$key8" | openssl pkeyutl -encrypt -pubin -inkey "$dir/pub_spki.pem" \
        -pkeyopt rsa_padding_mode:pkcs1 | base64 -w0)
      got=$(sql -v c="$certid" -v k="$encry_key" <<<"SELECT kind || ' ' || code FROM elicense.decrypt_assignment(:'c', :'k', '510000')")
      [ "$got" = "code $code" ] || fail "decrypt_assignment gives '$got', expected 'code $code' ($priv)"
      checks=$((checks + 1))
    done
  done
done

# 3. clear errors without key material.
printf 'asn1=SEQUENCE:pubkey\n[pubkey]\nn=INTEGER:0xC7A3F1D9E26B4805A1F3C96D0B2E84F7C5D1A3B9E60F2847D3C1B5A9E7F20D63\ne=INTEGER:65537\n' >"$out/rsa256.cnf"
openssl asn1parse -genconf "$out/rsa256.cnf" -out "$out/rsa256.der" >/dev/null
openssl rsa -RSAPublicKey_in -inform DER -in "$out/rsa256.der" -pubout -out "$out/rsa256.pem" 2>/dev/null
grep -q "BEGIN PUBLIC KEY" "$out/rsa256.pem" || fail "could not craft a 256-bit public key"
head -c 200 "$out/rsa512/priv.pem" >"$out/truncated.pem"

expect_error() {  # SQLSTATE MESSAGE_PART SECRET_PART SQL [psql args...]; SQL is read from stdin
  local state=$1 part=$2 secret=$3 statement=$4
  shift 4
  local err
  if err=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$db" "$@" 2>&1 >/dev/null <<<"$statement"); then
    fail "no error, expected $state $part"
  fi
  echo "$err" >>"$out/errors.txt"
  grep -q "ERROR:  $state: .*$part" <<<"$err" || fail "expected $state '$part', got: $err"
  if [ -n "$secret" ] && grep -qF -- "$secret" <<<"$err"; then
    fail "error shows key material: $err"
  fi
  checks=$((checks + 1))
}
body() { sed -n 2p "$1" | cut -c1-24; }  # a piece of a PEM's base64 body

insert_key="INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('440000', :'pem')"
expect_error 22023 "has 256 bits, fewer than the 512" "$(body "$out/rsa256.pem")" "$insert_key" \
  -v pem="$(cat "$out/rsa256.pem")"
expect_error 22023 "RSA public key is not a valid PEM RSA key" "$(body "$out/truncated.pem")" "$insert_key" \
  -v pem="$(cat "$out/truncated.pem")"
expect_error 22023 "RSA public key is not a valid PEM RSA key" "$(body "$out/rsa512/priv.pem")" "$insert_key" \
  -v pem="$(cat "$out/rsa512/priv.pem")"
admin load-province-secret --province 440000 --key-file "$out/truncated.pem" >/dev/null 2>"$out/err-secret" \
  && fail "a truncated private key was loaded"
grep -q "22023: .*RSA private key is not a valid PEM RSA key" "$out/err-secret" || fail "truncated key: $(cat "$out/err-secret")"
grep -qF -- "$(body "$out/truncated.pem")" "$out/err-secret" && fail "error shows key material: $(cat "$out/err-secret")"
checks=$((checks + 1))
printf 'Ab3dE5g7' >"$out/des.key"
admin load-province-secret --province 350000 --scheme des --secret-file "$out/des.key" >/dev/null
expect_error 22P02 'field "encryCertid" is not hexadecimal' "Ab3dE5g7" \
  "SELECT elicense.decrypt_assignment('ZZ94DDABA73007', NULL, '350000')"
expect_error 22023 'field "encryCertid" does not decrypt under the DES key' "Ab3dE5g7" \
  "SELECT elicense.decrypt_assignment('$(printf 202232000001000001 | openssl enc -des-ecb -provider legacy -provider default -K 3132333435363738 | bin_to_hex)', NULL, '350000')"
expect_error 22P02 'field "encryKey" is not base64' "" \
  "SELECT elicense.decrypt_assignment('8B9704DDABA73007', 'AA*A', '510000')"
expect_error 22023 'field "encryKey" does not decrypt under the RSA private key' "" \
  "SELECT elicense.decrypt_assignment('8B9704DDABA73007', encode(decode(repeat('11', 256), 'hex'), 'base64'), '510000')"

echo "qr_roundtrip: $checks checks passed"
