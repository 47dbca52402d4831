# Shared by the gateway tests (tests/integration/gateway_*.sh) and
# bench/gateway.sh: a database with two licence holders, a department
# application role with a grant, the gateway's NOINHERIT login, the
# applications registered with fresh secrets, and elicense-gateway started
# on a free port. Runs inside a throwaway cluster (PG* set).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/build/cmake
w032=11100000000013338W032
w050=11100000000013338W050
person_a=350102199001011238  # holder of the W032 licence
person_b=110101199003074258  # holder of another W032 licence
company=91350100M000100Y43   # holder of a W050 licence (a type outside the grant)
gw_pids=()
gw_cleanup() {
  for p in "${gw_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
}
fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
as_app() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "SET SESSION AUTHORIZATION dept_app" "$@"; }

gw_setup_database() {
  [ -x "$bin/elicense-gateway" ] || fail "build elicense-gateway first (cmake)"
  dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
  createdb "$db"
  sql -c "CREATE EXTENSION elicense" -f "$root/tests/fixtures/sharing_seal.sql" >/dev/null
  # gateway_login's password as its SCRAM verifier (tests/support/scram_verifier.py).
  local verifier
  verifier=$(printf '%s\n' "$PGPASSWORD" | python3 "$root/tests/support/scram_verifier.py")
  sql -v verifier="$verifier" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dept_app') THEN
    CREATE ROLE dept_app LOGIN IN ROLE elicense_consumer;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dept_nogrant') THEN
    CREATE ROLE dept_nogrant LOGIN IN ROLE elicense_consumer;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_login') THEN
    CREATE ROLE gateway_login LOGIN NOINHERIT IN ROLE elicense_gateway;
  END IF;
END $$;
ALTER ROLE gateway_login PASSWORD :'verifier';
GRANT dept_app, dept_nogrant TO gateway_login;
SELECT elicense.issue('11100000000013338W032', jsonb_build_object(
  'name', '李四', 'gender', '男', 'id_number', '350102199001011238', 'category', '建筑电工',
  'licence_number', '闽A012025000001', 'valid_from', '2025-01-01', 'valid_to', '2029-01-01',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', '350000', 'issue_date', '2025-01-01'), 'clerk');
SELECT elicense.issue('11100000000013338W032', jsonb_build_object(
  'name', '王五', 'gender', '男', 'id_number', '110101199003074258', 'category', '建筑架子工',
  'licence_number', '闽A012025000002', 'valid_from', '2025-01-01', 'valid_to', '2029-01-01',
  'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
  'authority_division', '350000', 'issue_date', '2025-01-01'), 'clerk');
SELECT elicense.issue('11100000000013338W050', '{"enterprise_name": "闽江测试建设有限公司", "uscc": "91350100M000100Y43",
  "principal": "赵六", "principal_id": "350102199001011238", "address": "福州市仓山区1号", "economic_type": "有限责任公司",
  "permit_scope": "建筑施工", "licence_number": "(闽)JZ安许证字[2026]000901", "valid_from": "2026-01-01",
  "valid_to": "2029-12-31", "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R",
  "authority_division": "350000", "issue_date": "2026-01-01"}'::jsonb, 'clerk');
UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || md5(identifier);
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes, max_code_minutes)
VALUES ('bidding', '招投标资格审查', '招投标资格审查', '{11100000000013338W032,11100000000013338W050}', 240);
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes)
VALUES ('dept_app', '福州市市场监督管理局', 'bidding', '{11100000000013338W032}');
SQL
  id_a=$(sql -c "SELECT identifier FROM elicense.certificate WHERE holder_ref = elicense._holder_ref('$person_a') AND type_code = '$w032'")
  id_b=$(sql -c "SELECT identifier FROM elicense.certificate WHERE holder_ref = elicense._holder_ref('$person_b')")
  id_company=$(sql -c "SELECT identifier FROM elicense.certificate WHERE holder_id = '$company'")
}

# Registers APP-ID for ROLE with a new secret; sets secret. [RATE BURST]
gw_register() {
  local pair
  pair=$("$bin/elicense-gateway" new-secret)
  secret=$(sed -n 1p <<<"$pair")
  sql -v app="$1" -v role="$2" -v hash="$(sed -n 2p <<<"$pair")" -v rate="${3:-1000}" -v burst="${4:-2000}" >/dev/null <<'SQL'
INSERT INTO elicense.gateway_application (app_id, db_role, name, requests_per_second, burst)
VALUES (:'app', :'role', :'app', :rate, :burst);
INSERT INTO elicense.gateway_secret (app_id, secret_hash) VALUES (:'app', :'hash');
SQL
}

# Starts elicense-gateway as gateway_login with CONFIG-JSON; sets gw to its URL.
gw_start() {  # NAME CONFIG-JSON
  printf '%s\n' "$2" >"$out/$1.json"
  "$bin/elicense-gateway" --config "$out/$1.json" --port 0 \
    --conninfo "host=$PGHOST port=$PGPORT dbname=$db user=gateway_login password=$PGPASSWORD" \
    >"$out/$1.out" 2>"$out/$1.log" &
  gw_pids+=($!)
  for _ in $(seq 200); do
    grep -q "listening on" "$out/$1.out" 2>/dev/null && break
    kill -0 "${gw_pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  gw="http://$(sed -n 's/^listening on //p' "$out/$1.out")"
  [ "$gw" != "http://" ] || fail "the gateway did not start: $(cat "$out/$1.log")"
}

# POST PATH BODY-JSON: writes the answer to $out/answer.json, sets http.
post() {
  http=$(curl -sS -o "$out/answer.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @- "$gw$1" <<<"$2")
}
head_status() { jq -r '.head.status' "$out/answer.json"; }
# TOKEN PATH DATA-JSON: the envelope call.
call() {
  post "$2" "$(jq -nc --arg t "$1" --argjson d "$3" '{accessToken: $t, data: $d}')"
}
# expect HTTP STATUS WHAT: the last answer had this HTTP code and head.status.
expect() {
  [ "$http" = "$1" ] && [ "$(head_status)" = "$2" ] || fail "$3: HTTP $http, $(head -c 600 "$out/answer.json")"
}
token_for() {  # APP SECRET
  post /api/v1/token "$(jq -nc --arg a "$1" --arg s "$2" '{accessId: $a, accessSecret: $s}')"
  expect 200 0 "token for $1"
  jq -r .data.accessToken "$out/answer.json"
}
