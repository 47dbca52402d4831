#!/usr/bin/env bash
# Primary failover: a primary and a streaming standby made with pg_basebackup,
# synchronous_standby_names set so that every commit waits for the standby.
# The worker is given both hosts (target_session_attrs=read-write); mid-
# delivery the standby is promoted and the old primary stopped. The worker
# follows to the new primary, and there every step took effect on the
# platform exactly once and no licence or delivery record is missing. The
# preview server, given both hosts too, answers from the new primary.
# The pair runs beside the throwaway cluster (same binaries and extension).
source "$(dirname "$0")/../sync/lib.sh"
pgbin=/usr/lib/postgresql/15/bin
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && [ ! -e "/var/run/postgresql/.s.PGSQL.$1.lock" ]
}
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12768))
    port_free "$p" && [ "$p" != "${1:-}" ] && { echo "$p"; return; }
  done
  fail "no free port"
}
# The extension as the outer cluster loads it (a staged copy under test).
destdir=$(psql -X -At -d postgres -c "SHOW extension_destdir")
libpath=$(psql -X -At -d postgres -c "SHOW dynamic_library_path")
pair=$(mktemp -d -t elicense-failover.XXXXXX)
[ "$(id -u)" != 0 ] || chown postgres: "$pair"
stop_pair() {
  for d in "$pair/a" "$pair/b"; do
    [ -f "$d/postmaster.pid" ] && as_postgres "$pgbin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$pair"
}
trap 'cleanup; stop_pair' EXIT

port_a=$(free_port)
port_b=$(free_port "$port_a")
user=$(psql -X -At -d postgres -c "SELECT current_user")
# The pair opens the province's key with the throwaway cluster's master key
# (the standby's copy of postgresql.conf names the same file).
master_key_file=$(psql -X -At -d postgres -c "SHOW elicense.master_key_file")
as_postgres "$pgbin/initdb" -D "$pair/a" -U "$user" --auth=trust >"$out/initdb.log" 2>&1
cat >>"$pair/a/postgresql.conf" <<CONF
port = $port_a
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pair'
synchronous_standby_names = 'standby_b'
synchronous_commit = on
extension_destdir = '$destdir'
dynamic_library_path = '$libpath'
elicense.master_key_file = '$master_key_file'
CONF
as_postgres "$pgbin/pg_ctl" -D "$pair/a" -l "$pair/a.log" -w start >/dev/null
as_postgres "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$port_a" -U "$user" -D "$pair/b" -R -X stream >"$out/basebackup.log" 2>&1
# The standby names itself for synchronous_standby_names; promoted, it has no
# standby of its own, so it must not wait for one.
cat >>"$pair/b/postgresql.auto.conf" <<CONF
port = $port_b
primary_conninfo = 'host=127.0.0.1 port=$port_a user=$user application_name=standby_b'
synchronous_standby_names = ''
CONF
as_postgres "$pgbin/pg_ctl" -D "$pair/b" -l "$pair/b.log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$port_a
deadline=$(( $(date +%s) + 30 ))
until [ "$(psql -X -At -d postgres -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby_b'")" = sync ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the standby is not a synchronous standby: $(tail -n 5 "$pair/b.log")"
  sleep 0.2
done
echo "primary :$port_a, synchronous standby :$port_b"

setup_database
start_double
write_config 8 5
faults '{"latency_ms": 20}'
issue_licences 40
# The preview server on both hosts too; each page it answers writes a
# preview_access row, so an answer other than 503 means the primary answered.
# (A token URL made under a relative template, which the collect step's
# request would refuse: the template is put back at once.)
create_preview_login
template=$(sql -c "SELECT preview_url_template FROM elicense.delivery_config")
sql -c "UPDATE elicense.delivery_config SET preview_url_template = '/p/{token}'" >/dev/null
page=$(sql -c "SELECT elicense.preview_url(min(identifier)) FROM elicense.certificate")
sql -v t="$template" >/dev/null <<'SQL'
UPDATE elicense.delivery_config SET preview_url_template = :'t';
SQL
printf '{"threads": 2}\n' >"$out/preview.json"
"$bin/elicense-preview" --config "$out/preview.json" --port 0 \
  --conninfo "host=127.0.0.1,127.0.0.1 port=$port_a,$port_b dbname=$db user=elicense_preview_test target_session_attrs=read-write connect_timeout=3" \
  >"$out/preview.out" 2>"$out/preview.log" &
pids+=($!)
wait_listening "$out/preview.out" "$out/preview.log" "the preview server"
preview=$listening
page_code() { curl -s -o /dev/null -w '%{http_code}' "$preview$page"; }
code=$(page_code)
[ "$code" != 503 ] && [ "$code" != 000 ] || fail "the preview page does not open before the failover: $code"

"$bin/elicense-sync" --config "$out/worker.json" --worker-id w1 \
  --conninfo "host=127.0.0.1,127.0.0.1 port=$port_a,$port_b dbname=$db target_session_attrs=read-write connect_timeout=3" \
  2>>"$out/w1.log" &
pids+=($!)
worker=$!
wait_for 60 "(SELECT count(*) FROM elicense.outbox WHERE status = 'done') >= 20"
issued=$(sql -c "SELECT count(*) FROM elicense.certificate")
echo "before the failover: $(sql -c "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) n FROM elicense.outbox GROUP BY 1) s")"

as_postgres "$pgbin/pg_ctl" -D "$pair/b" -w promote >/dev/null
as_postgres "$pgbin/pg_ctl" -D "$pair/a" -m fast -w stop >/dev/null
echo "promoted :$port_b, stopped :$port_a"
export PGPORT=$port_b
[ "$(sql -c "SELECT pg_is_in_recovery()")" = f ] || fail "the standby was not promoted"

wait_for 90 "$(all_delivered)"
kill -0 "$worker" || fail "the worker died in the failover"
[ "$(grep -c '"event":"db_connected"' "$out/w1.log")" -ge 2 ] || fail "the worker did not reconnect"
grep '"event":"db_connected"' "$out/w1.log" | tail -n 1 | grep -F "\"port\":\"$port_b\"" >/dev/null \
  || fail "the worker's last session is not on the new primary :$port_b"
[ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'elicense-sync/w1#%'")" -ge 1 ] \
  || fail "the worker is not connected to the new primary"
[ "$(sql -c "SELECT count(*) FROM elicense.certificate")" = "$issued" ] || fail "licences lost in the failover"
# The preview server: its pooled session broke with the old primary, so one
# request may be answered 503; a later one reconnects to the new primary.
accesses=$(sql -c "SELECT count(*) FROM elicense.preview_access")
deadline=$(( $(date +%s) + 30 ))
until code=$(page_code); [ "$code" != 503 ] && [ "$code" != 000 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the preview server did not follow to the new primary: $code"
  sleep 0.5
done
[ "$(sql -c "SELECT count(*) FROM elicense.preview_access")" -gt "$accesses" ] || fail "the preview access was not logged on the new primary"
grep '"event":"db_connected"' "$out/preview.log" | tail -n 1 | grep -F "\"port\":\"$port_b\"" >/dev/null \
  || fail "the preview server's last session is not on the new primary :$port_b"
check_json_log "$out/preview.log"
check_exactly_once
check_json_log "$out/w1.log"
echo "failover survived: $issued licence versions, every step exactly once on the new primary"
