#!/usr/bin/env bash
# Keys never reach the server log or a dump in normal use: with log_statement = all
# and verbose error logging, QR URLs are built and assignments decrypted
# as the worker's delivery functions do, as their owner (successes and
# failures, whose CONTEXT lines quote our
# PL/pgSQL), and the log then holds those statements but no piece of the
# province's private key, of its DES key or of a DES key drawn for a URL.
# The keys are loaded inside the logged stretch too, as an admin does, with
# elicense-admin load-province-secret (a binary bind parameter, logged as
# "(secret)"), and the table holds only ciphertext.
# Runs inside a throwaway cluster (PG* set); $1 is the output directory.
set -euo pipefail
bin=$(cd "$(dirname "$0")/../.." && pwd)/build/cmake
[ -x "$bin/elicense-admin" ] || { echo "FAIL: build elicense-admin first (cmake)"; exit 1; }
out=${1:-/tmp}/qr_keys_not_logged
rm -rf "$out" && mkdir -p "$out"
db=elicense_qr_keys_not_logged
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
bin_to_hex() { od -An -v -tx1 | tr -d ' \n'; }

# The server's log file: the postmaster's stderr (Debian's pg_ctlcluster
# points it at /var/log/postgresql/..., or the log dir in pg_virtualenv -t's temp dir).
pid=$(head -n1 "$(sql -c 'SHOW data_directory')/postmaster.pid")
log=$(readlink "/proc/$pid/fd/2" || true)
[ -f "$log" ] || fail "cannot find the server log (postmaster $pid stderr is '${log:-?}')"
echo "server log: $log"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$out/province.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$out/platform.pem" 2>/dev/null
des_key=Zq7Wm2Kx
sql -v pub="$(openssl pkey -in "$out/platform.pem" -pubout)" <<'EOF'
CREATE EXTENSION elicense;
INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('510000', :'pub');
EOF
sql -c "ALTER DATABASE $db SET log_statement = 'all'"
sql -c "ALTER DATABASE $db SET log_error_verbosity = 'verbose'"
sql -c "ALTER DATABASE $db SET log_min_error_statement = 'error'"
start=$(($(stat -c %s "$log") + 1))
printf '%s\n' "$des_key" >"$out/des.key"
"$bin/elicense-admin" -d "dbname=$db" load-province-secret --province 510000 --key-file "$out/province.pem" >/dev/null
"$bin/elicense-admin" -d "dbname=$db" load-province-secret --province 350000 --scheme des --secret-file "$out/des.key" >/dev/null
# A key that fails its check is refused without being quoted, in the log too.
head -c 300 "$out/province.pem" >"$out/truncated.pem"
"$bin/elicense-admin" -d "dbname=$db" load-province-secret --province 440000 --key-file "$out/truncated.pem" \
  2>"$out/refused.txt" && fail "a truncated private key was loaded"
grep -q "22023: .*RSA private key is not a valid PEM" "$out/refused.txt" || fail "refusal: $(cat "$out/refused.txt")"

# An assignment as the platform would send it (made with openssl).
key8=Ab3dE5g7
certid=$(printf 202251000001000009 | openssl enc -des-ecb -provider legacy -provider default \
  -K "$(printf %s "$key8" | bin_to_hex)" | bin_to_hex)
encry_key=$(printf %s "$key8" | openssl pkeyutl -encrypt -pubin -inkey <(openssl pkey -in "$out/province.pem" -pubout) \
  -pkeyopt rsa_padding_mode:pkcs1 | base64 -w0)
psql -X -At -d "$db" -v c="$certid" -v k="$encry_key" >"$out/session.txt" 2>&1 <<'EOF'
SELECT elicense.qr_url('202251000001000001', '11100000000013338W050', '510000');
SELECT elicense.qr_url('202251000001000002', '11100000000013338W032', '510000');
SELECT code FROM elicense.decrypt_assignment(:'c', :'k', '510000');
SELECT code FROM elicense.decrypt_assignment('5353694DE19F0844170B462090902EC5DDCD676751F31AFB', NULL, '350000');
SELECT code FROM elicense.decrypt_assignment(:'c', NULL, '350000');
SELECT code FROM elicense.decrypt_assignment(:'c', 'AAAA', '510000');
SELECT code FROM elicense.decrypt_assignment(:'c', encode(decode(repeat('22', 64), 'hex'), 'base64'), '510000');
SELECT elicense.qr_url('202251000001000003', '11100000000013338W050', '440000');
EOF
sleep 1  # the server writes its log asynchronously to our session's end
tail -c +"$start" "$log" >"$out/server.log"
grep -q "202251000001000009" "$out/session.txt" || fail "the assignment did not decrypt: $(cat "$out/session.txt")"
grep -q "statement: SELECT elicense.qr_url('202251000001000001'" "$out/server.log" || fail "log_statement did not log our calls"
grep -q "does not decrypt under" "$out/server.log" || fail "the failing calls are not in the log"
grep -q "load_province_secret.*" "$out/server.log" || fail "log_statement did not log the key loading"
grep -q "parameters: .*(secret)" "$out/server.log" || fail "the loaded secrets are not logged as (secret)"
[ "$(sql -c "SELECT count(*) FROM elicense.province_secret WHERE elicense._secret_key_id(secret_box) = elicense.master_key_id()")" = 2 ] \
  || fail "province_secret does not hold the two keys encrypted under the master key"
pg_dump -d "$db" >"$out/dump.sql"
cat "$out/dump.sql" "$out/refused.txt" >>"$out/server.log"  # scanned alike

leaks=0
check_absent() {  # WHAT STRING
  if grep -qF -- "$2" "$out/server.log"; then
    echo "LEAK: $1 appears in the server log, the dump or an error"
    leaks=$((leaks + 1))
  fi
}
check_absent "the province DES key" "$des_key"
while read -r line; do
  [ ${#line} -ge 16 ] && check_absent "private key line '${line:0:8}...'" "$line"
done < <(grep -v -- ----- "$out/province.pem")
# The DES keys drawn for the URLs: recover them with the platform's key.
for url in $(grep '^https://' "$out/session.txt"); do
  k=$(sed -E 's/.*[?&]k=([^&]*).*/\1/' <<<"$url")
  drawn=$(base64 -d <<<"$k" | openssl pkeyutl -decrypt -inkey "$out/platform.pem" -pkeyopt rsa_padding_mode:pkcs1)
  [ ${#drawn} -eq 8 ] || fail "could not recover the drawn key of $url"
  check_absent "a drawn DES key" "$drawn"
done
[ "$leaks" -eq 0 ] || fail "$leaks leaks (see $out/server.log)"
echo "qr_keys_not_logged: $(wc -l <"$out/server.log") log and dump lines, no key material"
