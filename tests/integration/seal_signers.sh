#!/usr/bin/env bash
# Seals through each signer, verified by the same code, with no secret in the
# server log or in a dump (issue 19; docs/seal-signers.md):
#   1. seals per authority and city, loaded with elicense-admin (secrets as
#      binary bind parameters): the authority's fallback seal signs with a
#      key (SM2), Fuzhou's (350100) with a SoftHSM2 token (ECDSA P-256 over
#      PKCS#11), Xiamen's (350200) through the seal-service double (SM2);
#      each file verifies with verify_licence_ofd and carries its seal's esID;
#      licences issued in Fuzhou and Xiamen: their originals, sealed by
#      render_certificate_ofd through the token and the service, are archived
#      encrypted and valid for licence_verify;
#   2. errors that name the problem and never the secret: a bad key, a NULL
#      key, a secret in clear written around load_seal, a preview key in clear,
#      a wrong PIN, a wrong client secret, a slow service (timeout_ms) and a
#      cancelled one (statement_timeout);
#   3. rotation: a new seal key replaces the old one; a new province key
#      replaces the old one (elicense-admin load-province-secret); a new
#      master key, with the old as elicense.previous_master_key_file,
#      re-encrypts every secret (seals, the province's, preview keys, the
#      archived files, the sealed resident ID numbers with their index key:
#      elicense-admin reencrypt-secrets), after which the old key can go and
#      an assignment still decrypts, an earlier preview token still opens and
#      an archived original still verifies;
#   4. with log_statement = 'all' throughout, the server log and a pg_dump
#      hold no PEM body, DER or raw scalar of any private key (hex or
#      Base64), no PIN, no client secret and no master key.
# Runs inside a throwaway cluster (PG* set, superuser); $1 is the output directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/cmake
mkdir -p "${1:-/tmp}"
out=$(cd "${1:-/tmp}" && pwd)/seal_signers  # absolute: the server and SoftHSM2 read files here
rm -rf "$out" && mkdir -p "$out"
chmod 755 "$out"
db=elicense_seal_signers
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$bin/elicense-admin" ] && [ -x "$bin/elicense-seal-service-double" ] || fail "build elicense-admin and the seal-service double first (cmake)"
softhsm=/usr/lib/softhsm/libsofthsm2.so
[ -f "$softhsm" ] && command -v softhsm2-util >/dev/null || fail "SoftHSM2 is missing (scripts/install-deps)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql -X -q -d postgres -v f="${first_master:-}" >/dev/null 2>&1 <<'SQL' || true
LOAD 'elicense';
ALTER SYSTEM RESET elicense.pkcs11_modules;
ALTER SYSTEM RESET elicense.pkcs11_environment;
ALTER SYSTEM RESET elicense.previous_master_key_file;
ALTER SYSTEM RESET log_statement;
ALTER SYSTEM SET elicense.master_key_file = :'f';
SELECT pg_reload_conf();
SQL
  dropdb --if-exists "$db" 2>/dev/null || true
}
trap cleanup EXIT
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
own() { [ "$(id -u)" != 0 ] || chown -R postgres: "$@"; }
hex() { od -An -v -tx1 | tr -d ' \n'; }
# Waits until a new session sees a setting (pg_reload_conf only signals).
wait_setting() {
  for _ in $(seq 100); do
    [ "$(psql -X -At -d "$db" -c "SHOW $1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "the server did not take $1 = $2"
}

pid=$(head -n1 "$(sql -c 'SHOW data_directory')/postmaster.pid")
log=$(readlink "/proc/$pid/fd/2" || true)
[ -f "$log" ] || fail "cannot find the server log (postmaster $pid stderr is '${log:-?}')"
first_master=$(sql -c 'SHOW elicense.master_key_file')
[ -n "$first_master" ] || fail "the cluster has no elicense.master_key_file (scripts/throwaway-cluster sets one)"

# --- keys, token, service -------------------------------------------------------
bash "$root/tests/ofd/make_fixtures.sh" "$out/fix" >/dev/null                 # SM2 seal-* and other-*, seal.png
bash "$root/tests/ofd/make_fixtures.sh" "$out/svc" >/dev/null                 # the service's SM2 key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/hsm-key.pem" 2>/dev/null
openssl req -new -x509 -key "$out/hsm-key.pem" -sha256 -days 30 -subj "/CN=elicense test HSM seal" \
  -out "$out/hsm-cert.pem" 2>/dev/null
mkdir -p "$out/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$out/tokens" >"$out/softhsm2.conf"
pin=$(openssl rand -hex 6) && printf '%s\n' "$pin" >"$out/pin"
export SOFTHSM2_CONF=$out/softhsm2.conf
softhsm2-util --init-token --free --label elicense-seals --pin "$pin" --so-pin "$(openssl rand -hex 6)" >/dev/null
softhsm2-util --import "$out/hsm-key.pem" --token elicense-seals --label fuzhou-seal --id 01 --pin "$pin" >/dev/null
own "$out/tokens" "$out/softhsm2.conf"
client_secret=$(openssl rand -hex 20) && printf '%s\n' "$client_secret" >"$out/client_secret"
# NAME DELAY_MS VAR: starts a double and sets VAR to its signing URL. Not
# called in $(...): its pid must reach this shell's pids, which cleanup kills.
start_double() {
  "$bin/elicense-seal-service-double" --key "$out/svc/seal-key.pem" --cert "$out/svc/seal-cert.pem" \
    --seal-id fj-350200-svc --client-secret-file "$out/client_secret" --delay-ms "$2" >"$out/$1.out" 2>"$out/$1.err" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -qs '^listening on' "$out/$1.out" && break
    sleep 0.1
  done
  printf -v "$3" '%s' "$(sed -n 's/^listening on \(.*\)$/http:\/\/\1\/v1\/sign/p' "$out/$1.out")"
}
start_double double 0 service_url
start_double slow 3000 slow_url
[ -n "$service_url" ] && [ -n "$slow_url" ] || fail "the seal-service double did not start: $(cat "$out"/*.err)"

# ALTER SYSTEM knows the elicense.* settings once the library is loaded.
sql -c "LOAD 'elicense'" -c "ALTER SYSTEM SET elicense.pkcs11_modules = '$softhsm'" -c "ALTER SYSTEM SET elicense.pkcs11_environment = 'SOFTHSM2_CONF=$out/softhsm2.conf'" \
    -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
wait_setting log_statement all
wait_setting elicense.pkcs11_modules "$softhsm"
start=$(($(stat -c %s "$log") + 1))

# --- 1. seals per authority and city, through each signer -------------------------
sql -c "CREATE EXTENSION elicense"
uscc=11350000003591037R
admin() { "$bin/elicense-admin" -d "dbname=$db" "$@"; }
admin load-seal --authority $uscc --es-id fj-key --name 福建省住房和城乡建设厅行政审批专用章 \
  --key-file "$out/fix/seal-key.pem" --cert-file "$out/fix/seal-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null
admin load-seal --authority $uscc --city 350100 --es-id fj-350100-hsm --signer pkcs11 \
  --config "{\"module\": \"$softhsm\", \"token\": \"elicense-seals\", \"key\": \"fuzhou-seal\"}" \
  --secret-file "$out/pin" --cert-file "$out/hsm-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null
admin load-seal --authority $uscc --city 350200 --es-id fj-350200-svc --signer http \
  --config "{\"url\": \"$service_url\", \"timeout_ms\": 5000}" \
  --secret-file "$out/client_secret" --cert-file "$out/svc/seal-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null
# The test certificates are self-signed: each is its own trust anchor (the
# "other" one becomes the fallback seal's after its rotation below).
for cert in "$out/fix/seal-cert.pem" "$out/hsm-cert.pem" "$out/svc/seal-cert.pem" "$out/fix/other-cert.pem"; do
  sql -v c="$(cat "$cert")" <<<"INSERT INTO elicense.trust_anchor (name, certificate_pem) VALUES ('test seal ' || md5(:'c'), :'c')" >/dev/null
done
[ "$(sql -c "SELECT count(*) FROM elicense.seal WHERE elicense._secret_key_id(secret_box) = elicense.master_key_id()")" = 3 ] \
  || fail "the three seals are not stored encrypted under the master key"
sql -c "CREATE TABLE unsigned_file AS SELECT elicense.render_licence_ofd(t.template, jsonb_build_object('cert_no', '闽建安A（2024）0001', 'unit_name', '测试建设有限公司',
          'uscc', '91350100MA00000000', 'principal', '张三', 'address', '福州市', 'economic_type', '有限责任公司', 'scope', '施工',
          'valid_period', '2025年01月02日 至 2028年01月01日', 'issuer', '福建省住房和城乡建设厅', 'issue_date', '2025年01月02日'),
          elicense.qr_png('https://example.test/qr'), false, '', '', '00112233445566778899aabbccddeeff', '2025-01-02') AS file
        FROM elicense.ofd_template t WHERE t.type_code = '11100000000013338W050'"
# Seals a file for a division ($1) and checks the verdict of the one verifier.
seal_for() {
  sql -c "SELECT encode(elicense._seal_ofd(file, elicense._seal_for('$uscc', '$1'), 100, 200, 40), 'base64') FROM unsigned_file" \
    | base64 -d >"$out/$2.ofd"
}
check_sealed() {  # DIVISION NAME ES_ID SIGNER_CN CERT
  seal_for "$1" "$2"
  verdict=$(sql -F ' ' -v f="$(base64 -w0 "$out/$2.ofd")" -v c="$(cat "$5")" \
    <<<"SELECT v.ok, v.status, w.status, v.signer FROM elicense.verify_licence_ofd(decode(:'f', 'base64')) v,
               elicense.verify_licence_ofd(decode(:'f', 'base64'), :'c') w")
  [ "$verdict" = "t ok ok CN=$4" ] || fail "$2: verify_licence_ofd says '$verdict'"
  unzip -p "$out/$2.ofd" Doc_0/Signs/Sign_0/SignedValue.dat >"$out/$2.ses"
  grep -qaF "$3" "$out/$2.ses" || fail "$2: the SES seal does not carry esID $3"
  ! grep -qaF elicense-seal "$out/$2.ses" || fail "$2: the constant esID elicense-seal is still there"
  echo "ok: $2 sealed (esID $3, signer $4) and verified"
}
check_sealed 350300 fallback-key fj-key "elicense test seal" "$out/fix/seal-cert.pem"
check_sealed 350100 fuzhou-softhsm2 fj-350100-hsm "elicense test HSM seal" "$out/hsm-cert.pem"
check_sealed 350200 xiamen-service fj-350200-svc "elicense test seal" "$out/svc/seal-cert.pem"
[ "$(curl -s "${service_url%/v1/sign}/v1/stats")" = '{"signed":2}' ] \
  || fail "the service double did not sign the seal and the signature: $(curl -s "${service_url%/v1/sign}/v1/stats")"
# The SoftHSM2 file is ECDSA-with-SHA256 (no SM2 in PKCS#11 / SoftHSM2 2.6).
grep -qaF "$(printf '\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02')" "$out/fuzhou-softhsm2.ses" || fail "the SoftHSM2 seal is not ecdsa-with-SHA256"
# A tampered byte is caught whichever signer sealed the file.
for f in fuzhou-softhsm2 xiamen-service; do
  python3 - "$out/$f.ofd" "$out/$f-tampered.ofd" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], 'w') as dst:
    for info in src.infolist():
        data = src.read(info)
        if info.filename == 'Doc_0/Pages/Page_0/Content.xml':
            data += b' '
        dst.writestr(info, data)
PY
  status=$(sql -v f="$(base64 -w0 "$out/$f-tampered.ofd")" <<<"SELECT status FROM elicense.verify_licence_ofd(decode(:'f', 'base64'))")
  [ "$status" = digest_mismatch ] || fail "$f tampered: '$status'"
done
echo "ok: a changed page is a digest_mismatch for the SoftHSM2 and the service seals"
# The issuing path: a licence issued in each division, its original rendered
# by render_certificate_ofd (sealed by that division's signer, archived
# encrypted in elicense.sealed_file) and judged by licence_verify as a
# department's application calls it.
sql >/dev/null <<'SQL'
CREATE ROLE seal_signers_app LOGIN IN ROLE elicense_consumer;
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes) VALUES ('bidding', '招投标资格审查', '招投标资格审查', '{11100000000013338W032}');
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes) VALUES ('seal_signers_app', '福州市市场监督管理局', 'bidding', '{11100000000013338W032}');
SELECT elicense.issue('11100000000013338W032', jsonb_build_object(
  'name', '李四', 'gender', '男', 'id_number', '350102199001011238', 'category', '建筑电工',
  'licence_number', '闽A01202500' || d, 'valid_from', '2025-01-01', 'valid_to', '2029-01-01',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', d, 'issue_date', '2025-01-01'), 'clerk')
  FROM unnest(ARRAY['350100', '350200']) d;
UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || md5(identifier);
SQL
licence_verdict() {  # FILE -> "<verdict> <signature_status>"
  sql -v f="$(base64 -w0 "$1")" <<'SQL'
SET SESSION AUTHORIZATION seal_signers_app;
SELECT verdict || ' ' || signature_status FROM elicense.licence_verify('bidding', decode(:'f', 'base64'));
SQL
}
for division in 350100 350200; do
  sql -c "SELECT encode(elicense.render_certificate_ofd(identifier, false), 'base64') FROM elicense.certificate
           WHERE authority_division = '$division'" | base64 -d >"$out/original-$division.ofd"
  [ "$(licence_verdict "$out/original-$division.ofd")" = "valid ok" ] \
    || fail "the original issued in $division: licence_verify says '$(licence_verdict "$out/original-$division.ofd")'"
done
unzip -p "$out/original-350100.ofd" Doc_0/Signs/Sign_0/SignedValue.dat >"$out/original-350100.ses"
unzip -p "$out/original-350200.ofd" Doc_0/Signs/Sign_0/SignedValue.dat >"$out/original-350200.ses"
grep -qaF fj-350100-hsm "$out/original-350100.ses" && grep -qaF fj-350200-svc "$out/original-350200.ses" \
  || fail "the originals are not sealed by their division's seal (SoftHSM2, service)"
[ "$(sql -c "SELECT count(*) FROM elicense.sealed_file WHERE kind = 'original'
               AND elicense._secret_key_id(file_box) = elicense.master_key_id()")" = 2 ] \
  || fail "the two originals are not archived encrypted under the master key"
echo "ok: originals issued in Fuzhou (SoftHSM2) and Xiamen (service) are archived encrypted and licence_verify says valid"

# --- 2. errors name the problem, never the secret -------------------------------
printf 'not a key at all\n' >"$out/bad-key.pem"
expect_error() {  # STATE WHAT FILE
  grep -q "$1" "$3" || fail "$2: expected $1, got: $(head -n 3 "$3")"
  echo "ok: $2 -> $1"
}
admin load-seal --authority $uscc --es-id fj-bad --key-file "$out/fix/other-cert.pem" --cert-file "$out/fix/other-cert.pem" \
  --seal-png "$out/fix/seal.png" >/dev/null 2>"$out/err-badkey" && fail "a certificate as private key was loaded"
expect_error "22023: the seal's private key" "a certificate given as the private key" "$out/err-badkey"
admin load-seal --authority $uscc --es-id fj-bad --key-file "$out/fix/seal-key.pem" --cert-file "$out/fix/other-cert.pem" \
  --seal-png "$out/fix/seal.png" >/dev/null 2>"$out/err-mismatch" && fail "a key with another's certificate was loaded"
expect_error "22023: the seal certificate does not belong to the seal private key" "a key with another's certificate" "$out/err-mismatch"
psql -X -q -d "$db" -v VERBOSITY=verbose -v cert="$(cat "$out/fix/seal-cert.pem")" >/dev/null 2>"$out/err-null" <<'SQL' || true
SELECT elicense.load_seal('11350000003591037R', '', 'fj-null', 'x', 'key', '{}', NULL, :'cert', '\x00');
SQL
expect_error "22004: the seal's secret is NULL" "a NULL key" "$out/err-null"
# (A made-up key: a literal in SQL text is logged like any literal.)
psql -X -q -d "$db" -v VERBOSITY=verbose -v key="$(printf -- '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbCwganVzdCB0ZXh0\n-----END PRIVATE KEY-----')" \
  -v cert="$(cat "$out/fix/seal-cert.pem")" >/dev/null 2>"$out/err-clear" <<'SQL' || true
INSERT INTO elicense.seal (authority_uscc, city_code, es_id, signer, secret_box, certificate_pem, seal_png)
VALUES ('11350000003591037R', '350900', 'fj-clear', 'key', convert_to(:'key', 'UTF8'), :'cert', '\x00');
SQL
expect_error "22023: elicense.seal.secret_box is not an encrypted secret" "a key in clear written around load_seal" "$out/err-clear"
psql -X -q -d "$db" -v VERBOSITY=verbose >/dev/null 2>"$out/err-preview" <<'SQL' || true
INSERT INTO elicense.preview_key (id, secret_box) VALUES (200, decode(repeat('5a', 32), 'hex'));
SQL
expect_error "23514: elicense.preview_key.secret_box is not an encrypted secret" "a preview key in clear" "$out/err-preview"
grep -qi "5a5a\|ZZZZ\|failing row" "$out/err-preview" && fail "the preview key error shows the key: $(cat "$out/err-preview")"
printf '000000\n' >"$out/wrong-pin"
admin load-seal --authority $uscc --city 350400 --es-id fj-350400-hsm --signer pkcs11 \
  --config "{\"module\": \"$softhsm\", \"token\": \"elicense-seals\", \"key\": \"fuzhou-seal\"}" \
  --secret-file "$out/wrong-pin" --cert-file "$out/hsm-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null
seal_for 350400 wrong-pin 2>"$out/err-pin" && fail "a wrong PIN sealed"
expect_error 'the PIN of PKCS#11 token "elicense-seals" is wrong' "a wrong PIN" "$out/err-pin"
admin load-seal --authority $uscc --city 350500 --es-id fj-350500-bad --signer pkcs11 \
  --config '{"module": "/usr/lib/x86_64-linux-gnu/libc.so.6", "token": "t", "key": "k"}' \
  --secret-file "$out/pin" --cert-file "$out/hsm-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null 2>"$out/err-module" \
  && fail "a module outside elicense.pkcs11_modules was accepted"
expect_error "42501: PKCS#11 module /usr/lib/x86_64-linux-gnu/libc.so.6 is not listed" "a module not allowed" "$out/err-module"
printf 'wrong-secret\n' >"$out/wrong_secret"
admin load-seal --authority $uscc --city 350600 --es-id fj-350600-svc --signer http --config "{\"url\": \"$service_url\"}" \
  --secret-file "$out/wrong_secret" --cert-file "$out/svc/seal-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null
seal_for 350600 wrong-secret 2>"$out/err-secret" && fail "a wrong client secret sealed"
expect_error "answered HTTP 401: unknown client" "a wrong client secret" "$out/err-secret"
admin load-seal --authority $uscc --city 350700 --es-id fj-350700-slow --signer http \
  --config "{\"url\": \"$slow_url\", \"timeout_ms\": 500}" \
  --secret-file "$out/client_secret" --cert-file "$out/svc/seal-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null
t0=$(date +%s%N)
seal_for 350700 slow 2>"$out/err-slow" && fail "a service slower than timeout_ms sealed"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_error "Timeout was reached" "a service slower than timeout_ms (500 ms; $ms ms)" "$out/err-slow"
[ "$ms" -lt 2900 ] || fail "the 500 ms timeout took $ms ms"
sql -c "UPDATE elicense.seal SET signer_config = jsonb_set(signer_config, '{timeout_ms}', '20000') WHERE es_id = 'fj-350700-slow'"
t0=$(date +%s%N)
PGOPTIONS='-c statement_timeout=300' seal_for 350700 cancelled 2>"$out/err-cancel" && fail "a cancelled seal succeeded"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_error "canceling statement due to statement timeout" "statement_timeout during a service call ($ms ms)" "$out/err-cancel"
[ "$ms" -lt 2900 ] || fail "cancelling took $ms ms: the transfer did not stop"
for f in "$out"/err-*; do
  ! grep -qF -e "BEGIN" -e "$pin" -e "$client_secret" -e "wrong-secret" "$f" || fail "$f quotes a secret: $(cat "$f")"
done
echo "ok: no error message quotes a key, a PIN or a client secret"

# --- 3. rotation ------------------------------------------------------------------
admin load-seal --authority $uscc --es-id fj-key --name 福建省住房和城乡建设厅行政审批专用章 \
  --key-file "$out/fix/other-key.pem" --cert-file "$out/fix/other-cert.pem" --seal-png "$out/fix/seal.png" >/dev/null
check_sealed 350300 fallback-rotated fj-key "elicense test other" "$out/fix/other-cert.pem"
status=$(sql -v f="$(base64 -w0 "$out/fallback-rotated.ofd")" -v c="$(cat "$out/fix/seal-cert.pem")" \
  <<<"SELECT status FROM elicense.verify_licence_ofd(decode(:'f', 'base64'), :'c')")
[ "$status" = wrong_signer ] || fail "after the seal key rotation, the old certificate still matches: '$status'"
echo "ok: a seal key rotation (load-seal again) seals with the new key"
# The province's secret (loaded, then replaced: a key rotation) and a
# preview key go through the master key rotation too.
des_assignment() {  # CODE DES-KEY -> encryCertid
  printf %s "$1" | openssl enc -des-ecb -provider legacy -provider default -K "$(printf %s "$2" | hex)" | hex | tr a-f A-F
}
printf 'Qx4Vb8Nm\n' >"$out/des-old.key" && printf 'Hw2Ty6Lp\n' >"$out/des.key"
admin load-province-secret --province 350000 --scheme des --secret-file "$out/des-old.key" >/dev/null
old_province=$(sql -c "SELECT secret_box FROM elicense.province_secret WHERE province = '350000'")
admin load-province-secret --province 350000 --scheme des --secret-file "$out/des.key" >/dev/null
[ "$(sql -c "SELECT secret_box <> '$old_province' FROM elicense.province_secret WHERE province = '350000'")" = t ] \
  || fail "load-province-secret did not replace the province's secret"
sql -c "SELECT code FROM elicense.decrypt_assignment('$(des_assignment 202235000001000007 Qx4Vb8Nm)', NULL, '350000')" \
  >/dev/null 2>&1 && fail "an assignment under the replaced province key still decrypts"
preview_id=$(sql -c "SELECT elicense.rotate_preview_key()")
token=$(sql -c "SELECT elicense._preview_token(secret_box, id, 'RT-ROTATION-1', 4000000000) FROM elicense.preview_key WHERE id = $preview_id")
echo "ok: a province key rotation (load-province-secret again) decrypts with the new key only"
old_id=$(sql -c "SELECT elicense.master_key_id()")
head -c 32 /dev/urandom | hex >"$out/master-2.key"
chmod 600 "$out/master-2.key" && own "$out/master-2.key"
sql -c "LOAD 'elicense'" -c "ALTER SYSTEM SET elicense.master_key_file = '$out/master-2.key'" -c "SELECT pg_reload_conf()" >/dev/null
wait_setting elicense.master_key_file "$out/master-2.key"
seal_for 350100 before-reencrypt 2>"$out/err-rotated" && fail "a secret under a master key no longer configured opened"
expect_error "encrypted under a master key that is not configured" "the old master key gone before re-encryption" "$out/err-rotated"
sql -c "LOAD 'elicense'" -c "ALTER SYSTEM SET elicense.previous_master_key_file = '$first_master'" -c "SELECT pg_reload_conf()" >/dev/null
wait_setting elicense.previous_master_key_file "$first_master"
stored=$(sql -f "$root/tests/fixtures/count_stored_secrets.sql")
[ "$(admin reencrypt-secrets)" = "re-encrypted $stored stored secrets under the current master key" ] \
  || fail "reencrypt-secrets (expected $stored): $(admin reencrypt-secrets 2>&1)"
new_id=$(sql -c "SELECT elicense.master_key_id()")
[ "$new_id" != "$old_id" ] || fail "the master key ID did not change"
[ "$(sql -c "SELECT count(*) FROM elicense.seal WHERE elicense._secret_key_id(secret_box) <> '$new_id'")" = 0 ] \
  || fail "some secrets are still under the old master key"
sql -c "LOAD 'elicense'" -c "ALTER SYSTEM RESET elicense.previous_master_key_file" -c "SELECT pg_reload_conf()" >/dev/null
wait_setting elicense.previous_master_key_file ""
[ "$(sql -c "SELECT count(*) FROM elicense.province_secret WHERE elicense._secret_key_id(secret_box) <> '$new_id'")" = 0 ] \
  && [ "$(sql -c "SELECT count(*) FROM elicense.preview_key WHERE elicense._secret_key_id(secret_box) <> '$new_id'")" = 0 ] \
  || fail "a province secret or preview key is still under the old master key"
[ "$(sql -c "SELECT code FROM elicense.decrypt_assignment('$(des_assignment 202235000001000008 Hw2Ty6Lp)', NULL, '350000')")" \
  = 202235000001000008 ] || fail "the province's secret does not decrypt after the master key rotation"
[ "$(sql -c "SELECT identifier FROM elicense._preview_claims('$token')")" = RT-ROTATION-1 ] \
  || fail "a preview token made before the master key rotation does not open after it"
check_sealed 350100 fuzhou-after-rotation fj-350100-hsm "elicense test HSM seal" "$out/hsm-cert.pem"
check_sealed 350200 xiamen-after-rotation fj-350200-svc "elicense test seal" "$out/svc/seal-cert.pem"
check_sealed 350300 fallback-after-rotation fj-key "elicense test other" "$out/fix/other-cert.pem"
[ "$(sql -c "SELECT count(*) FROM elicense.sealed_file WHERE elicense._secret_key_id(file_box) <> '$new_id'")" = 0 ] \
  && [ "$(licence_verdict "$out/original-350100.ofd")" = "valid ok" ] \
  || fail "after the master key rotation, the archived originals are not under the new key or do not verify"
echo "ok: master key rotation: re-encrypted under the new key, the old one removed, every signer still seals, archived originals still verify"

# --- 4. nothing secret in the log or in a dump -------------------------------------
pg_dump -d "$db" >"$out/dump.sql"
sleep 1  # the server writes its log asynchronously to our sessions' end
tail -c +"$start" "$log" >"$out/server.log"
grep -q "elicense.load_seal" "$out/server.log" || fail "log_statement = all did not log the load_seal calls"
grep -q "(secret)" "$out/server.log" || fail "the bound secrets are not logged as (secret)"
grep -q "secret_box" "$out/dump.sql" || fail "the dump has no elicense.seal"
needles=("$pin" "$client_secret" "$(cat "$out/master-2.key")" "$(hex <"$first_master")" "$(base64 -w0 <"$first_master")")
# Of each private key, what only the private key holds: the scalar d in hex
# and in Base64 (three alignments), and the stretch of the PEM body whose
# characters come from d alone, cut where the PEM breaks its lines. (The
# rest of a PKCS#8 PEM is a header and the public key, which the
# certificate, logged and dumped by design, holds too.)
for key in "$out/fix/seal-key.pem" "$out/fix/other-key.pem" "$out/svc/seal-key.pem" "$out/hsm-key.pem"; do
  scalar=$(openssl pkey -in "$key" -noout -text 2>/dev/null | sed -n '/^priv:/,/^pub:/{/^priv:/d;/^pub:/d;p}' | tr -d ' :\n')
  scalar=$(printf '%064s' "${scalar: -64}" | tr ' ' 0)  # 32 bytes: no sign byte, leading zeros kept
  [[ $scalar =~ ^[0-9a-f]{64}$ ]] || fail "cannot read the private scalar of $key"
  while read -r n; do needles+=("$n"); done < <(python3 - "$key" "$scalar" <<'PY'
import base64, sys
der = base64.b64decode(''.join(l for l in open(sys.argv[1]) if not l.startswith('-----')))  # the PEM body as stored
d = bytes.fromhex(sys.argv[2])
print(d.hex())
for pad in range(3):
    b = base64.b64encode(b'\0' * pad + d + b'\0\0').decode()
    print(b[4:36])
pos = der.find(d)
assert pos >= 0, 'the scalar is not in the DER'
b64 = base64.b64encode(der).decode()
first, last = -(-8 * pos // 6), 8 * (pos + 32) // 6
for line_start in range(0, len(b64), 64):
    a, z = max(first, line_start), min(last, line_start + 64)
    if z - a >= 12:
        print(b64[a:z])
PY
)
  # The scan can fail: the last stretch is in the key file itself.
  grep -qF -- "${needles[-1]}" "$key" || fail "the needles of $key do not match the key itself"
done
found=0
for n in "${needles[@]}"; do
  [ ${#n} -ge 12 ] || continue
  for f in "$out/server.log" "$out/dump.sql"; do
    if grep -qiF -- "$n" "$f"; then echo "secret found in $(basename "$f"): ${n:0:6}…"; found=1; fi
  done
done
[ $found = 0 ] || fail "the server log or the dump holds key material"
echo "ok: log_statement = all and pg_dump: ${#needles[@]} pieces of keys, PINs, client and master secrets, none found"
