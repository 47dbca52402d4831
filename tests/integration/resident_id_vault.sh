#!/usr/bin/env bash
# Resident ID numbers at rest (issue 19, docs/personal-data.md): what needs
# the server's settings changed, so not a pgTAP file.
#   1. a master key rotation: with only the new key, the sealed numbers do
#      not open; with the old one as elicense.previous_master_key_file,
#      elicense.reencrypt_secrets re-encrypts the index key's box, every
#      certificate's, usage code's and precheck's sealed numbers; then without the old
#      key the numbers open, and the blind index, hence every lookup by
#      holder, is unchanged (the index key itself never changes);
#   2. no master key at all: issuing a resident ID licence (trigger or
#      call), a W050 with a principal's ID, and a lookup by resident ID fail
#      with 55000 and a HINT naming elicense.master_key_file; a search
#      without a holder ID, under a grant that sees masked numbers, still works.
# Runs inside a throwaway cluster (PG* set, superuser); $1 is the output directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "${1:-/tmp}"
out=$(cd "${1:-/tmp}" && pwd)/resident_id_vault  # absolute: the server reads the key files here
rm -rf "$out" && mkdir -p "$out"
chmod 755 "$out"
db=elicense_resident_id_vault
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
own() { [ "$(id -u)" != 0 ] || chown -R postgres: "$@"; }
first_master=$(psql -X -At -d postgres -c "LOAD 'elicense'" -c 'SHOW elicense.master_key_file' | tail -n1)
[ -n "$first_master" ] || fail "the cluster has no elicense.master_key_file (scripts/throwaway-cluster sets one)"
cleanup() {
  psql -X -q -d postgres -v f="$first_master" >/dev/null 2>&1 <<'SQL' || true
LOAD 'elicense';
ALTER SYSTEM RESET elicense.previous_master_key_file;
ALTER SYSTEM SET elicense.master_key_file = :'f';
SELECT pg_reload_conf();
SQL
  dropdb --if-exists "$db" 2>/dev/null || true
}
trap cleanup EXIT
set_setting() {  # NAME VALUE (may be ''); waits until a new session sees it
  sql -c "LOAD 'elicense'" -c "ALTER SYSTEM SET $1 = '$2'" -c "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 100); do
    [ "$(psql -X -At -d "$db" -c "LOAD 'elicense'" -c "SHOW $1" | tail -n1)" = "$2" ] && return 0
    sleep 0.1
  done
  fail "the server did not take $1 = '$2'"
}
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
sql -c "CREATE EXTENSION elicense"

person=350102199001011238
w032() {  # LICENCE-NUMBER ID-NUMBER
  printf '{"name": "李四", "gender": "男", "id_number": "%s", "category": "建筑电工", "licence_number": "%s",
    "valid_from": "2025-01-01", "valid_to": "2029-01-01", "issue_date": "2025-01-01", "authority_name": "福建省住房和城乡建设厅",
    "authority_uscc": "11350000003591037R", "authority_division": "350000"}' "$2" "$1"
}
w050() {  # LICENCE-NUMBER
  printf '{"enterprise_name": "福建示范建设工程有限公司", "uscc": "91350100M000100Y43", "principal": "张三",
    "principal_id": "%s", "address": "福州市鼓楼区五四路1号", "economic_type": "有限责任公司", "permit_scope": "建筑施工",
    "licence_number": "%s", "valid_from": "2025-03-01", "valid_to": "2028-02-28", "authority_name": "福建省住房和城乡建设厅",
    "authority_uscc": "11350000003591037R", "authority_division": "350000", "issue_date": "2025-03-01"}' "$person" "$1"
}
sql -c "SELECT elicense.issue('11100000000013338W032', '$(w032 闽A012025000001 $person)', 'vault-test')" >/dev/null
sql -c "SELECT elicense.issue('11100000000013338W050', '$(w050 '(闽)JZ安许证字[2025]000001')', 'vault-test')" >/dev/null
sql -c "SELECT elicense.precheck('11100000000013338W032', '$(w032 闽A012025000009 $person)')" >/dev/null  # a check before approval
# A usage code for the person, as a department's application makes it.
sql >/dev/null <<SQL
CREATE ROLE vault_app LOGIN IN ROLE elicense_consumer;
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes, max_code_minutes)
VALUES ('vault', '核验', '核验', '{11100000000013338W032}', 60);
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes, may_see_id_numbers)
VALUES ('vault_app', '测试部门', 'vault', '{11100000000013338W032}', true);
SQL
ctx='{"applicant": "李四", "business_id": "V-1", "step": "受理", "office": "鼓楼", "department": "测试部门", "officer": "王五"}'
as_app() { PGOPTIONS="-c role=vault_app" sql "$@"; }
code=$(as_app -c "SELECT elicense.create_usage_code('vault', '$person', '{11100000000013338W032}', '$ctx', 30)")
lookups() {  # what a department gets by holder: the licences of the code's holder and a search, full numbers
  as_app -c "SELECT string_agg(holder_id, ',') FROM elicense.licence_info_by_holder('$code', '$person')" \
         -c "SELECT string_agg(holder_id, ',') FROM elicense.licence_search('vault', holder_id => '$person')" \
         -c "SELECT holder_id FROM elicense.usage_code_info('$code')" | tr '\n' ' '
}
expected_lookups="$person $person $person "
[ "$(lookups)" = "$expected_lookups" ] || fail "lookups by holder before the rotation: $(lookups)"
refs_before=$(sql -c "SELECT md5(string_agg(encode(holder_ref, 'hex'), ',' ORDER BY identifier)) FROM elicense.certificate")
index_key_before=$(sql -c "SELECT encode(key_box, 'hex') FROM elicense.holder_index_key")
boxed=$(sql -c "SELECT (SELECT count(*) FROM elicense.certificate WHERE id_box IS NOT NULL)
                      + (SELECT count(*) FROM elicense.usage_code WHERE id_box IS NOT NULL)
                      + (SELECT count(*) FROM elicense.precheck WHERE request_box IS NOT NULL) + 1")
[ "$boxed" = 5 ] || fail "expected 2 sealed licences, 1 sealed usage code, 1 sealed precheck and the index key, found $boxed boxes"

# 1. Rotation.
head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$out/master-2.key"
chmod 600 "$out/master-2.key" && own "$out/master-2.key"
set_setting elicense.master_key_file "$out/master-2.key"
if sql -c "SELECT (elicense._reveal_ids(c)).holder_id FROM elicense.certificate c" 2>"$out/err-rotated" >/dev/null; then
  fail "a sealed number opened under a master key that is no longer configured"
fi
grep -q "encrypted under a master key that is not configured" "$out/err-rotated" || fail "unexpected error: $(cat "$out/err-rotated")"
set_setting elicense.previous_master_key_file "$first_master"
[ "$(sql -c "SELECT elicense.reencrypt_secrets()")" = "$boxed" ] || fail "reencrypt_secrets did not re-encrypt the $boxed boxes"
[ "$(sql -c "SELECT elicense.reencrypt_secrets()")" = 0 ] || fail "a second reencrypt_secrets found boxes under the old key"
set_setting elicense.previous_master_key_file ""
new_id=$(sql -c "SELECT elicense.master_key_id()")
[ "$(sql -c "SELECT count(*) FROM elicense.certificate WHERE id_box IS NOT NULL AND elicense._secret_key_id(id_box) <> '$new_id'")" = 0 ] \
  || fail "a certificate's numbers are still under the old master key"
[ "$(sql -c "SELECT elicense._secret_key_id(key_box) = '$new_id' AND encode(key_box, 'hex') <> '$index_key_before' FROM elicense.holder_index_key")" = t ] \
  || fail "the index key's box was not re-encrypted"
[ "$(sql -c "SELECT md5(string_agg(encode(holder_ref, 'hex'), ',' ORDER BY identifier)) FROM elicense.certificate")" = "$refs_before" ] \
  || fail "the blind index changed with the master key"
[ "$(lookups)" = "$expected_lookups" ] || fail "lookups by holder after the rotation, without the old key: $(lookups)"
[ "$(sql -c "SELECT request ->> 'identityCard' FROM elicense.lease_prechecks('vault-worker', 10, 60)")" = "$person" ] \
  || fail "the precheck's item does not open after the rotation"
[ "$(sql -c "SELECT (elicense._reveal_ids(c)).business_data ->> 'principal_id' FROM elicense.certificate c WHERE type_code = '11100000000013338W050'")" = "$person" ] \
  || fail "the W050 principal's number does not open after the rotation"
sql -c "SELECT elicense.issue('11100000000013338W032', '$(w032 闽A012025000002 $person)', 'vault-test')" >/dev/null
[ "$(as_app -c "SELECT count(*) FROM elicense.licence_info_by_holder('$code', '$person')")" = 2 ] \
  || fail "a licence issued after the rotation is not found by the same holder's index"

# 2. No master key.
set_setting elicense.master_key_file ""
expect_55000() {  # WHAT SQL...
  local what=$1
  shift
  if sql "$@" 2>"$out/err" >/dev/null; then fail "$what worked without a master key"; fi
  grep -q "ERROR:  elicense.master_key_file is not set: resident ID numbers cannot be stored or looked up" "$out/err" \
    && grep -q "HINT:  Set elicense.master_key_file in postgresql.conf" "$out/err" \
    || fail "$what without a master key: $(cat "$out/err")"
  [ "$(sql -v VERBOSITY=verbose "$@" 2>&1 | grep -c 'ERROR:  55000')" = 1 ] || fail "$what: not SQLSTATE 55000"
}
expect_55000 "issuing a W032 licence" -c "SELECT elicense.issue('11100000000013338W032', '$(w032 闽A012025000003 $person)', 'vault-test')"
expect_55000 "issuing a W050 licence with a principal's ID" -c "SELECT elicense.issue('11100000000013338W050', '$(w050 '(闽)JZ安许证字[2025]000002')', 'vault-test')"
sql -c "CREATE TABLE approval (idno text, cert_no text)" \
    -c "CREATE TRIGGER issue AFTER INSERT ON approval FOR EACH ROW EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W032',
          'id_number=idno', 'licence_number=cert_no', 'const:name=李四', 'const:gender=男', 'const:category=建筑电工',
          'const:valid_from=2025-01-01', 'const:valid_to=2029-01-01', 'const:issue_date=2025-01-01',
          'const:authority_name=福建省住房和城乡建设厅', 'const:authority_uscc=11350000003591037R', 'const:authority_division=350000')"
expect_55000 "an approval's trigger" -c "INSERT INTO approval VALUES ('$person', '闽A012025000004')"
expect_55000 "a search by resident ID" -c "SET role vault_app" -c "SELECT * FROM elicense.licence_search('vault', holder_id => '$person')"
# A grant that may not see ID numbers needs no key to search without one: the rows hold the masked form.
sql -c "UPDATE elicense.usage_grant SET may_see_id_numbers = false WHERE grantee = 'vault_app'::regrole" >/dev/null
[ "$(as_app -c "SELECT string_agg(DISTINCT holder_id, ',') FROM elicense.licence_search('vault')")" = "350102********1238" ] \
  || fail "a search without a holder ID, masked, failed without a master key"
echo "resident_id_vault: rotation re-encrypted $boxed boxes, the blind index unchanged; without a master key 55000"
