# Shared by the sync integration tests (tests/integration/sync_*.sh), sourced:
# a database with the extension and keys, the national-platform test double,
# worker configs, licences to deliver, and the checks every test ends with.
# Runs inside a throwaway cluster (PG* set). Every process it starts is
# stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/build/cmake
[ -x "$bin/elicense-sync" ] && [ -x "$bin/elicense-platform-double" ] || { echo "build the worker first (cmake)"; exit 1; }

sync_name=$(basename "$0" .sh)
out=${1:-/tmp}/$sync_name
rm -rf "$out" && mkdir -p "$out"
db=elicense_$sync_name
pids=()
cleanup() {
  exec 2>/dev/null  # no "Killed" notices for our own children
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  dropdb --if-exists "$db" >/dev/null 2>&1 || true
  [ -z "${logging_everything:-}" ] || restore_logging
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# Database, extension (version $EXTENSION_VERSION if set, else the default),
# and the two key pairs a province has: the platform's public key (QR k) and
# the province's private key (assignments).
setup_database() {
  dropdb --if-exists "$db" >/dev/null 2>&1 || true
  createdb "$db"
  sql -c "CREATE EXTENSION elicense${EXTENSION_VERSION:+ VERSION '$EXTENSION_VERSION'}"
  for who in platform province; do
    [ -f "$out/$who.key" ] && continue  # a new database keeps the keys the double knows
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$out/$who.key" 2>/dev/null
    openssl pkey -in "$out/$who.key" -pubout -out "$out/$who.pub"
  done
  sql -v pub="$(cat "$out/platform.pub")" <<'SQL'
INSERT INTO elicense.platform_key (province, public_key_pem) VALUES ('350000', :'pub');
INSERT INTO elicense.delivery_config (preview_url_template) VALUES ('https://preview.example.test/l/{identifier}');
SQL
  load_province_key "$out/province.key"
  create_worker_login
  [ -f "$out/client_secret" ] || printf 'test-secret-%s\n' "$RANDOM$RANDOM" >"$out/client_secret"
  chmod 600 "$out/client_secret"
}

# The province's private key (PEM file), as a release stores it: 0.3.0 only
# encrypted, loaded by elicense-admin as a bind parameter (never SQL text);
# an older release (EXTENSION_VERSION, extension_upgrade.sh) in clear.
load_province_key() {  # PEM-FILE
  if [ -n "${EXTENSION_VERSION:-}" ]; then
    sql -v priv="$(cat "$1")" <<<"INSERT INTO elicense.province_secret (province, private_key_pem) VALUES ('350000', :'priv')"
  else
    "$bin/elicense-admin" -d "dbname=$db" load-province-secret --province 350000 --key-file "$1" >/dev/null
  fi
}

# Waits for a server we started to print "listening on host:port"; sets
# listening to its http://host:port, or fails naming WHAT and its log.
wait_listening() {  # OUT-FILE LOG-FILE WHAT
  for _ in $(seq 100); do
    grep -q "listening on" "$1" 2>/dev/null && break
    sleep 0.05
  done
  listening="http://$(sed -n 's/^listening on //p' "$1")"
  [ "$listening" != "http://" ] || fail "$3 did not start: $(cat "$2")"
}

# The platform profile the sync tests run in: SYNC_PROFILE=direct (default:
# the national gateway's observed paths) or relay-sm4 (a provincial relay:
# SM4-encrypted bodies with a citynum, its own token endpoint and paths).
profile=${SYNC_PROFILE:-direct}
w050=11100000000013338W050
w032=11100000000013338W032
# Paths PLATFORM.md leaves open (W050's production paths, a query endpoint
# for either type, the relay's), made up here and given to both the double
# and the worker; the observed W032 and token paths are built into both.
write_paths() {
  cat >"$out/paths.json" <<JSON
{
  "$w050": {"validate": "/epoint-gateway/axztest/rest/axzrest/Axz_Check",
            "assign_code": "/epoint-gateway/axztest/rest/axzrest/Axz_Fm",
            "collect": "/epoint-gateway/axztest/rest/axzrest/Axz_Gj",
            "status_update": "/epoint-gateway/axztest/rest/axzrest/Axz_Update"},
  "query": {"$w050": "/epoint-gateway/test/query/Axz_Query", "$w032": "/epoint-gateway/test/query/Tzry_Query"}
}
JSON
}

# Starts the double; sets double_url.
start_double() {  # [extra args]
  write_paths
  local relay=()
  if [ "$profile" = relay-sm4 ]; then
    [ -f "$out/sm4_key" ] || { printf '%s' "$(openssl rand -hex 8)" >"$out/sm4_key"; chmod 600 "$out/sm4_key"; }
    relay=(--relay-sm4-key-file "$out/sm4_key" --relay-citynums 350100,350200
           --relay-client-id elicense-relay --relay-client-secret-file "$out/client_secret" --relay-wrap-custom)
  fi
  "$bin/elicense-platform-double" --client-id elicense-test --client-secret-file "$out/client_secret" \
    --province-public-key "$out/province.pub" --paths-file "$out/paths.json" "${relay[@]}" "$@" \
    >"$out/double.out" 2>"$out/double.err" &
  pids+=($!)
  wait_listening "$out/double.out" "$out/double.err" "the double"
  double_url=$listening
}

# The authority's seal: a throw-away SM2 key, certificate and seal image made
# by tests/ofd/make_fixtures.sh in $out/seal (tests read the certificate
# there), stored for the fixtures' authority with elicense-admin (the key
# as a bind parameter, never in SQL text), its certificate a trust anchor.
# Files rendered after it are sealed.
install_seal() {
  bash "$root/tests/ofd/make_fixtures.sh" "$out/seal" >/dev/null
  [ -x "$bin/elicense-admin" ] || { echo "build elicense-admin first (cmake)"; exit 1; }
  "$bin/elicense-admin" -d "dbname=$db" load-seal --authority 11350000003591037R --es-id fj-jst-seal \
    --name 福建省住房和城乡建设厅行政审批专用章 --key-file "$out/seal/seal-key.pem" \
    --cert-file "$out/seal/seal-cert.pem" --seal-png "$out/seal/seal.png" >/dev/null
  sql -v cert="$(cat "$out/seal/seal-cert.pem")" <<'SQL'
INSERT INTO elicense.trust_anchor (name, certificate_pem, note)
VALUES ('test seal', :'cert', 'self-signed test seal: its own trust anchor');
SQL
}

# A login role that is a member of ROLE and nothing else, with the cluster's
# password (pg_virtualenv sets PGPASSWORD): the worker and the preview server
# run as such logins, so the tests show they need no more than their role.
# As README recommends for every daemon's login: bind parameters (business
# data, holder IDs) are not written to the server log by log_statement
# (log_parameter_max_length is superuser-only, so a superuser sets it on the login).
# The password goes as its SCRAM verifier, computed here (like psql's
# \password): under log_statement = 'all' the log holds the verifier only.
create_login() {  # LOGIN ROLE
  local verifier
  verifier=$(scram_verifier)  # (an assignment of its own: set -e stops on a failure)
  psql -X -q -d "$db" -v login="$1" -v role="$2" -v verifier="$verifier" <<'SQL' >/dev/null
SELECT format('CREATE ROLE %I LOGIN IN ROLE %I', :'login', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'login') \gexec
ALTER ROLE :"login" PASSWORD :'verifier';
ALTER ROLE :"login" SET log_parameter_max_length = 0;
SQL
}
# The SCRAM-SHA-256 verifier of the cluster's password (pg_virtualenv's PGPASSWORD).
scram_verifier() { printf '%s\n' "$PGPASSWORD" | python3 "$root/tests/support/scram_verifier.py"; }
create_worker_login() { create_login elicense_worker_test elicense_worker; }
create_preview_login() { create_login elicense_preview_test elicense_preview; }

# Starts elicense-preview with the JSON config given, as that login role, on
# a free port; sets preview to its http://host:port.
start_preview() {  # NAME CONFIG-JSON
  printf '%s\n' "$2" >"$out/$1.json"
  "$bin/elicense-preview" --config "$out/$1.json" --conninfo "dbname=$db user=elicense_preview_test" --port 0 \
    >"$out/$1.out" 2>"$out/$1.log" &
  pids+=($!)
  wait_listening "$out/$1.out" "$out/$1.log" "the preview server"
  preview=$listening
}

faults() { curl -fsS -X POST --data "$1" "$double_url/_admin/faults" >/dev/null; }
double_state() { curl -fsS "$double_url/_admin/state"; }

# Writes $out/worker.json for the double in the profile under test; fast
# timings for tests. The connect timeout outlasts one SYN retransmission
# (1 s). An unknown outcome is resolved by a query (direct: the double serves
# one) or by resending the same eCertID (relay: the double answers a repeated
# eCertID as it did the first time), so both rules run under the fault tests.
# Group commit on (result_batch_ms 5, the default, written out) so that every sync test
# runs the batched path with its faults. No expiry schedule (expire_interval_ms 0): issue_licences' licences are past
# valid_to; a test of expiry sets it (sync_lifecycle.sh).
write_config() {  # [in_flight] [lease_seconds]
  local profile_json
  if [ "$profile" = relay-sm4 ]; then
    profile_json='"profile": "relay-sm4",
  "unknown_outcome": "resend",
  "relay": {"citynum": "350100", "sm4_key_file": "'"$out/sm4_key"'"},
  "credentials": {"*": {"client_id": "elicense-relay", "client_secret_file": "'"$out/client_secret"'"}},
  "paths": {'
    local sep=""
    for t in W050 W032; do
      profile_json+="$sep\"11100000000013338$t\": {\"validate\": \"/relay/$t/check\", \"assign_code\": \"/relay/$t/push\",
      \"collect\": \"/relay/$t/collect\", \"status_update\": \"/relay/$t/status\"}"
      sep=","
    done
    profile_json+='},
  "platform": {"base_url": "'"$double_url"'", "token_path": "/relay/oauth2/token",'
  else
    profile_json='"profile": "direct",
  "unknown_outcome": "query",
  "paths": {"'$w050'": {"validate": "/epoint-gateway/axztest/rest/axzrest/Axz_Check",
                        "assign_code": "/epoint-gateway/axztest/rest/axzrest/Axz_Fm",
                        "collect": "/epoint-gateway/axztest/rest/axzrest/Axz_Gj",
                        "status_update": "/epoint-gateway/axztest/rest/axzrest/Axz_Update",
                        "query": "/epoint-gateway/test/query/Axz_Query"},
            "'$w032'": {"query": "/epoint-gateway/test/query/Tzry_Query"}},
  "platform": {"base_url": "'"$double_url"'", "client_id": "elicense-test", "client_secret_file": "'"$out/client_secret"'",'
  fi
  cat >"$out/worker.json" <<JSON
{
  "in_flight": ${1:-8},
  "lease_seconds": ${2:-5},
  "poll_interval_ms": 200,
  "summary_interval_ms": 1000,
  "expire_interval_ms": 0,
  "result_batch_ms": 5,
  $profile_json
    "request_timeout_ms": 1500,
    "connect_timeout_ms": 3000
  },
  "backoff": {"base_ms": 50, "cap_ms": 1000, "max_attempts": 60}
}
JSON
}

# Sets top-level keys of the worker config write_config wrote.
config_set() {  # JSON-MEMBERS, e.g. '"expire_batch": 1'
  python3 - "$out/worker.json" "{$1}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(json.loads(sys.argv[2]))
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}

# Starts a worker in the background; its pid is the last of ${pids[@]}.
start_worker() {  # NAME [extra args]
  local name=$1
  shift
  "$bin/elicense-sync" --config "$out/worker.json" --conninfo "dbname=$db user=elicense_worker_test" --worker-id "$name" "$@" \
    2>>"$out/$name.log" &
  pids+=($!)
}

# Fails unless every line of a daemon's log is one JSON object (libpq's own
# "FATAL: ..." lines once broke that during a database restart).
check_json_log() {  # FILE
  python3 - "$1" <<'PY' || fail "$1 has lines that are not JSON objects"
import json, sys
bad = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    for number, line in enumerate(log, 1):
        try:
            ok = isinstance(json.loads(line), dict)
        except ValueError:
            ok = False
        if not ok:
            bad += 1
            if bad <= 5:
                print(f"{sys.argv[1]}:{number}: not a JSON object: {line.rstrip()[:200]}")
sys.exit(1 if bad else 0)
PY
}

# SIGKILLs a process we started and reaps it quietly.
kill_hard() {  # PID
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Issues N W050 and N W032 licences (numbers start at FIRST). principal_id
# only where the installed version has the item (0.3.0 on; the upgrade test
# issues under 0.1.0 and 0.2.0 too).
issue_licences() {  # N [FIRST]
  sql -v n="$1" -v first="${2:-1}" <<'SQL'
SELECT count(elicense.issue('11100000000013338W050', jsonb_build_object(
         'enterprise_name', '测试建筑有限公司' || g, 'uscc', '91350100M000100Y43', 'principal', '张三',
         'address', '福州市鼓楼区' || g || '号', 'economic_type', '有限责任公司', 'permit_scope', '建筑施工',
         'licence_number', '(闽)JZ安许证字[2023]' || lpad(g::text, 6, '0'),
         'valid_from', '2023-06-01', 'valid_to', '2026-05-31', 'authority_name', '福建省住房和城乡建设厅',
         'authority_uscc', '11350000003591037R', 'authority_division', '350000', 'issue_date', '2023-06-01')
         || CASE WHEN EXISTS (SELECT FROM elicense.licence_item
                               WHERE type_code = '11100000000013338W050' AND item = 'principal_id')
                 THEN '{"principal_id": "350102199001011238"}'::jsonb ELSE '{}' END,
         'approval-test'))
     + count(elicense.issue('11100000000013338W032', jsonb_build_object(
         'name', '李四', 'gender', '男', 'id_number', '350102199001011238', 'category', '建筑电工',
         'licence_number', '闽A' || lpad(g::text, 10, '0'), 'valid_from', '2024-01-01', 'valid_to', '2026-01-01',
         'authority_name', '福建省住房和城乡建设厅', 'authority_uscc', '11350000003591037R',
         'authority_division', '350000', 'issue_date', '2024-01-01'), 'approval-test'))
  FROM generate_series(:first, :first + :n - 1) g \g /dev/null
SQL
}

# Waits until the SQL condition is true, or fails after SECONDS.
wait_for() {  # SECONDS CONDITION
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(sql -c "SELECT ($2)")" != t ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after $1 s waiting for: $2 ($(sql -c "SELECT status || ':' || count(*) FROM elicense.outbox GROUP BY status" | tr '\n' ' '))"
    sleep 0.2
  done
}

all_delivered() { echo "NOT EXISTS (SELECT FROM elicense.outbox WHERE status <> 'done')"; }

# The checks every sync test ends with: every step done, every step that has
# an effect took effect on the platform exactly once, every licence with a
# new code has its QR URL, and no token reached the database.
check_exactly_once() {  # [items the double was meant to refuse: 0]
  double_state >"$out/double_state.json"
  # A status update names the identifier the platform holds (the last
  # version with a new QR code), so several of them may land on one licence.
  sql -c "SELECT CASE WHEN o.step = 'status_update' THEN coalesce(c.platform_identifier, c.identifier) ELSE o.identifier END
                 || ' ' || o.step
            FROM elicense.outbox o JOIN elicense.certificate c ON c.identifier = o.identifier
           WHERE o.step IN ('assign_code', 'collect', 'status_update')" >"$out/expected_steps.txt"
  python3 - "$out/double_state.json" "$out/expected_steps.txt" "${1:-0}" <<'PY'
import collections, json, sys
whole = json.load(open(sys.argv[1]))
state = whole["licences"]
expected = collections.Counter(tuple(l.split(" ")) for l in open(sys.argv[2]).read().split("\n") if l)
bad = []
for (identifier, step), want in expected.items():
    n = state.get(identifier, {}).get("processed", {}).get(step, 0)
    if n != want:
        bad.append(f"{identifier} {step}: took effect {n} times, not {want}")
# The same licence step taking effect under two eCertIDs, and any item the
# strict double refused (a field missing, misnamed or misformatted against
# PLATFORM.md), are failures too.
bad += [f"natural key {k} took effect more than once" for k in whole.get("duplicates", [])]
if whole.get("refused", 0) != int(sys.argv[3]):
    bad += [f"refused by the platform: {r}" for r in whole.get("refusals", [])] or [f"{whole.get('refused')} refused"]
print(f"{sum(expected.values())} steps with an effect; {len(bad)} not exactly once or refused")
for b in bad[:20]:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
  [ "$(sql -c "SELECT count(*) FROM elicense.outbox WHERE status <> 'done'")" = 0 ] || fail "undelivered steps remain"
  # Each step queues the next: every version has all its steps, each once.
  [ "$(sql -c "SELECT count(*) FROM elicense.certificate c
                 WHERE (SELECT array_agg(o.step ORDER BY o.step_order) FROM elicense.outbox o WHERE o.identifier = c.identifier)
                       IS DISTINCT FROM elicense._delivery_steps(c.operate_type)")" = 0 ] || fail "a version lacks some of its steps"
  [ "$(sql -c "SELECT count(*) FROM elicense.certificate c WHERE c.operate_type IN ('01','02','08')
                 AND (c.qr_url IS NULL OR c.qr_url NOT LIKE 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=%')")" = 0 ] \
    || fail "a licence with a new code has no QR URL"
  [ "$(sql -c "SELECT count(*) FROM elicense.code_assignment")" = \
    "$(sql -c "SELECT count(*) FROM elicense.outbox WHERE step = 'assign_code'")" ] || fail "codes recorded more or less than once"
  [ "$(sql -c "SELECT count(*) FROM elicense.delivery_attempt WHERE endpoint LIKE '%token%' OR return_message LIKE '%access_token=%'")" = 0 ] \
    || fail "a token reached the database"
  ! grep -hF "$(tr -d "\n" <"$out/client_secret")" "$out"/*.log >/dev/null 2>&1 || fail "the client secret is in a log"
}

# --- Secret scan (issue 19): tests/integration/secret_scan.sh, the demo's end ---
cluster_sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
set_logging() {  # LOG_STATEMENT LINE_PREFIX
  cluster_sql -c "ALTER SYSTEM SET log_statement = '$1'" -c "ALTER SYSTEM SET log_line_prefix = '$2'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 100); do
    [ "$(cluster_sql -c 'SHOW log_statement')" = "$1" ] && return 0
    sleep 0.1
  done
  fail "the server did not take log_statement = '$1'"
}
restore_logging() {
  cluster_sql -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM RESET log_line_prefix" \
    -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
# From here on the whole cluster logs every statement, each line naming its
# application (reset on exit); sets server_log and log_start.
log_everything() {
  local pid
  pid=$(head -n1 "$(cluster_sql -c 'SHOW data_directory')/postmaster.pid")
  server_log=$(readlink "/proc/$pid/fd/2" || true)
  [ -f "$server_log" ] || fail "cannot find the server log (postmaster $pid stderr is '${server_log:-?}')"
  logging_everything=1
  set_logging all '%m [%p] app=%a user=%u '
  log_start=$(($(stat -c %s "$server_log") + 1))
}
# Dumps the whole database and scans the dump and the log since
# log_everything (tests/support/secret_scan.py) for every private key of the
# run, the master key, the preview keys, the client secrets and every full
# resident ID number the run used; OUTSIDE-APP's own statements (the approval
# system's) are counted apart. Writes $out/scan.txt; fails on a leak.
scan_for_secrets() {  # OUTSIDE-APP [LABEL=SECRET-FILE...]
  local outside=$1 master status=0 a
  shift
  master=$(cluster_sql -c 'SHOW elicense.master_key_file')
  [ -r "$master" ] || fail "cannot read the master key file '$master' (scripts/throwaway-cluster sets one)"
  python3 -c 'import cryptography' || fail "python3-cryptography is missing (scripts/install-deps)"
  pg_dump -d "$db" >"$out/dump.sql"
  sql -c "SELECT 'secret scan: end of the run'" >/dev/null  # logged last: the log is complete up to here
  for _ in $(seq 100); do
    tail -c +"$log_start" "$server_log" >"$out/server.log"
    grep -q "secret scan: end of the run" "$out/server.log" && break
    sleep 0.1
  done
  # The full ID numbers of the run: stored rows keep them masked, sealed in
  # id_box (issue 19), so they are read through _reveal_ids; also from where
  # they came from (the approval system's tables, the stock export), so that
  # the list does not depend on how elicense stores them; only what has the
  # form of one.
  {
    sql -c "SELECT x.holder_id FROM elicense.certificate c, elicense._reveal_ids(c) x WHERE c.type_code = '11100000000013338W032'"
    sql -c "SELECT x.business_data ->> 'principal_id' FROM elicense.certificate c, elicense._reveal_ids(c) x
             WHERE x.business_data ? 'principal_id'"
    sql -c "SELECT data ->> 'id_number' FROM elicense.stock_row WHERE data ? 'id_number'"
    sql -c "SELECT idno FROM public.worker_approval UNION SELECT boss_idno FROM public.company_approval"
    [ ! -f "$out/stock.jsonl" ] || jq -r '.id_number // empty' "$out/stock.jsonl"
  } | grep -E '^[0-9]{17}[0-9X]$' | sort -u >"$out/ids.txt"
  # The logins' password (every test login has the cluster's): only its SCRAM verifier may be logged.
  printf '%s\n' "$PGPASSWORD" >"$out/login_password"
  local needles=("province key=$out/province.key" "seal key=$out/seal/seal-key.pem" "--master=$master"
                 "--text=platform client secret=$out/client_secret" "--text=login password=$out/login_password")
  for a in "$@"; do needles+=("--text=$a"); done
  python3 "$root/tests/support/secret_scan.py" needles "${needles[@]}" >"$out/needles.txt"
  python3 "$root/tests/support/secret_scan.py" preview-keys "$master" "$out/dump.sql" >>"$out/needles.txt"
  grep -q "^preview key" "$out/needles.txt" || fail "the dump holds no preview key to look for"
  python3 "$root/tests/support/secret_scan.py" scan "$out/server.log" "$out/dump.sql" "$out/needles.txt" "$out/ids.txt" \
    "--outside-app=$outside" "--allowed-columns=$root/tests/support/id_columns.txt" >"$out/scan.txt" || status=$?
  cat "$out/scan.txt"
  grep -q "parameters: .*(secret)" "$out/server.log" || fail "the keys were not loaded as bound (secret) parameters"
  [ "$status" = 0 ] || fail "secrets or full ID numbers leaked (see $out/scan.txt)"
}
