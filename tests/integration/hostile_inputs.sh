#!/usr/bin/env bash
# What an attacker with an ordinary login could send, as tests: each call
# fails with its SQLSTATE within a bounded time, the backend stays within a
# memory bound, and the cluster never restarts (the postmaster's start time
# is the same at the end):
#   1. qr_png of 100 MB (once grew a backend until the kernel killed it)
#   2. a face template of 100,000 fields
#   3. a sealed package that makes verification digest ~480 MiB (a 30 MiB
#      part, its signature listed 16 times): without cancellation
#      statement_timeout and pg_cancel_backend had no effect on it
source "$(dirname "$0")/../sync/lib.sh"
setup_database
bash "$root/tests/ofd/make_fixtures.sh" "$out/seal" >/dev/null
started=$(sql -c "SELECT pg_postmaster_start_time()")

now_ms() { date +%s%3N; }
# Runs SQL in a new session; sets err to its error line (VERBOSITY verbose
# puts the SQLSTATE first) and ms to the wall time of the whole call.
timed_sql() {  # SQL
  local t0
  t0=$(now_ms)
  local said
  said=$(psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "$1" 2>&1 >/dev/null || true)
  err=$(sed -n 's/^ERROR:  //p' <<<"$said" | sed -n 1p)
  ms=$(( $(now_ms) - t0 ))
}
expect_error() {  # SQLSTATE MAX-MS WHAT
  [[ "$err" == "$1:"* ]] || fail "$3: expected SQLSTATE $1, got: ${err:-no error}"
  [ "$ms" -le "$2" ] || fail "$3: took $ms ms, more than $2"
  echo "ok: $3 -> ${err:0:100} ($ms ms)"
}

# 1. QR text far over a symbol's capacity: refused before libqrencode runs;
# the backend's peak memory stays near the argument's own 100 MB.
peak_kb=$(psql -X -q -At -d "$db" <<'SQL' 2>/dev/null | tail -n 1
\set VERBOSITY terse
DO $$ BEGIN PERFORM elicense.qr_png(repeat('a', 100 * 1024 * 1024)); EXCEPTION WHEN program_limit_exceeded THEN NULL; END $$;
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1];
SQL
)
[ -n "$peak_kb" ] && [ "$peak_kb" -lt 600000 ] || fail "qr_png of 100 MB: backend peak memory ${peak_kb:-?} kB (bound 600,000 kB)"
timed_sql "SELECT elicense.qr_png(repeat('a', 100 * 1024 * 1024))"
expect_error 54000 3000 "qr_png of 100 MB (backend peak $((peak_kb / 1024)) MiB)"
timed_sql "SELECT elicense.qr_png(repeat('a', 2954))"
expect_error 54000 1000 "qr_png one byte over a QR symbol's capacity"

# 2. A template of 100,000 fields: refused by its size before it is parsed.
timed_sql "WITH t AS (SELECT template FROM elicense.ofd_template WHERE type_code = '11100000000013338W032'),
                f AS (SELECT jsonb_agg(t.template -> 'fields' -> 0) AS fields FROM t, generate_series(1, 100000))
           SELECT elicense.render_licence_ofd(jsonb_set(t.template, '{fields}', f.fields), '{}', '\\x00') FROM t, f"
expect_error 54000 5000 "render_licence_ofd with a 100,000-field template"

# 3. The expensive package, made with our own renderer and sealer, then its
# signature listed 16 times in Signatures.xml.
sql -v cert="$(cat "$out/seal/seal-cert.pem")" -v key="$(cat "$out/seal/seal-key.pem")" >"$out/sealed.b64" <<'SQL'
SELECT encode(elicense._seal_ofd(
         elicense.render_licence_ofd(t.template,
           '{"name":"攻击者","gender":"男","id_no":"350102199001011238","category":"建筑电工","cert_no":"闽A042023000123",
             "first_issue_date":"2023-05-06","valid_period":"2023-05-06至2025-05-05","issuer":"福建省住房和城乡建设厅"}',
           '\x89504e470d0a1a0a'::bytea || decode(repeat('42', 30 * 1024 * 1024), 'hex'), false, '', '',
           '00112233445566778899aabbccddeeff', '2026-11-29'),
         :'key', :'cert', '\x89504e470d0a1a0a'::bytea, 'test seal', 100, 180, 40), 'base64')
  FROM elicense.ofd_template t WHERE t.type_code = '11100000000013338W032'
SQL
python3 - "$out/sealed.b64" "$out/crafted.b64" <<'PY'
import base64, io, re, sys, zipfile
src = zipfile.ZipFile(io.BytesIO(base64.b64decode(open(sys.argv[1]).read())))
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename.endswith("Signs/Signatures.xml"):
            text = data.decode()
            sign = re.search(r"<ofd:Signature [^>]*/>", text).group(0)
            text = text.replace(sign, "".join(sign.replace('ID="', f'ID="{i}', 1) for i in range(16)))
            data = text.encode()
        dst.writestr(info.filename, data)
open(sys.argv[2], "w").write(base64.b64encode(out.getvalue()).decode())
PY
sql -c "CREATE TABLE crafted (b64 text)"
sql -c "COPY crafted FROM STDIN" <"$out/crafted.b64"
sql -c "CREATE TABLE crafted_ofd AS SELECT decode(b64, 'base64') AS ofd FROM crafted"

t0=$(now_ms)
verdict=$(sql -c "SELECT status FROM elicense.verify_licence_ofd((SELECT ofd FROM crafted_ofd))")
full_ms=$(( $(now_ms) - t0 ))
[ "$verdict" = ok ] || fail "the crafted package should verify when given time (got $verdict)"
[ "$full_ms" -ge 1500 ] || fail "the crafted package takes only $full_ms ms: too cheap to show cancellation"
echo "ok: uninterrupted verification of the crafted package takes $full_ms ms"

timed_sql "SET statement_timeout = '300ms'; SELECT status FROM elicense.verify_licence_ofd((SELECT ofd FROM crafted_ofd))"
expect_error 57014 1000 "verify_licence_ofd under statement_timeout 300 ms"

psql -X -q -At -d "$db" -c "SELECT status FROM elicense.verify_licence_ofd((SELECT ofd FROM crafted_ofd))" \
  >"$out/cancelled.out" 2>"$out/cancelled.err" &
victim=$!
for _ in $(seq 100); do
  pid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%verify_licence_ofd((SELECT ofd FROM crafted_ofd))%' AND pid <> pg_backend_pid() AND state = 'active'")
  [ -n "$pid" ] && break
  sleep 0.02
done
[ -n "$pid" ] || fail "the verification to cancel did not start"
sleep 0.2
t0=$(now_ms)
sql -c "SELECT pg_cancel_backend($pid)" >/dev/null
wait "$victim" && fail "the cancelled verification finished anyway: $(cat "$out/cancelled.out")"
ms=$(( $(now_ms) - t0 ))
grep -q "canceling statement due to user request" "$out/cancelled.err" || fail "not cancelled: $(cat "$out/cancelled.err")"
[ "$ms" -le 1000 ] || fail "pg_cancel_backend took $ms ms to stop verify_licence_ofd"
echo "ok: pg_cancel_backend stopped verify_licence_ofd after $ms ms"

[ "$(sql -c "SELECT pg_postmaster_start_time()")" = "$started" ] || fail "the cluster restarted"
echo "hostile inputs: every call refused or stopped in bounded time, the cluster never restarted"
