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
#   4. the same package through the sharing function licence_verify under
#      statement_timeout: cancelled, and the cancelled call is in the audit
#   5. a 10 KB identifier to a sharing function: refused (22001) before it
#      reaches the audit writer (it once killed the writer), writer alive
#   6. DELETE and TRUNCATE on the append-only tables (DELETE on delivery_event
#      once failed with 22004): 42501
#   7. licence text with U+202E or a control character (22021), a 50 MB actor
#      (22001), creation_date 2025-13-45 (22023), an encrypted seal key or
#      'not a cert' loaded as a seal (22023, no key material in the message)
#   8. OFD packages whose entry names normalise elsewhere (Doc_0/Signs/../,
#      ./, //, a leading /, backslashes): unreferenced_part (tampered), or
#      repeat: malformed; never ignored
source "$(dirname "$0")/../sync/lib.sh"
setup_database
bash "$root/tests/ofd/make_fixtures.sh" "$out/seal" >/dev/null
# The test seal's certificate is a trust anchor: sealed packages verify "ok".
sql -v cert="$(cat "$out/seal/seal-cert.pem")" >/dev/null <<'SQL'
INSERT INTO elicense.trust_anchor (name, certificate_pem) VALUES ('test seal', :'cert');
SQL
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
sql -v cert="$(cat "$out/seal/seal-cert.pem")" -v key="$(cat "$out/seal/seal-key.pem")" >/dev/null <<'SQL'
SELECT elicense.load_seal('11350000003591037R', '', 'hostile-seal', 'test seal', 'key', '{}', :'key'::elicense.secret, :'cert',
                          '\x89504e470d0a1a0a');
SQL
sql >"$out/sealed.b64" <<'SQL'
SELECT encode(elicense._seal_ofd(
         elicense.render_licence_ofd(t.template,
           '{"name":"攻击者","gender":"男","id_no":"350102199001011238","category":"建筑电工","cert_no":"闽A042023000123",
             "first_issue_date":"2023-05-06","valid_period":"2023-05-06至2025-05-05","issuer":"福建省住房和城乡建设厅"}',
           '\x89504e470d0a1a0a'::bytea || decode(repeat('42', 30 * 1024 * 1024), 'hex'), false, '', '',
           '00112233445566778899aabbccddeeff', '2026-11-29'),
         s, 100, 180, 40), 'base64')
  FROM elicense.ofd_template t, elicense.seal s WHERE t.type_code = '11100000000013338W032' AND s.es_id = 'hostile-seal'
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

# 4. A sharing call stopped by statement_timeout is audited: licence_verify
# on the crafted package, as a department application.
sql >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hostile_app') THEN
    CREATE ROLE hostile_app LOGIN IN ROLE elicense_consumer;
  END IF;
END $$;
GRANT SELECT ON crafted_ofd TO hostile_app;
INSERT INTO elicense.usage_scenario (code, name, purpose, type_codes) VALUES ('hostile', '核验', '核验', '{11100000000013338W032}');
INSERT INTO elicense.usage_grant (grantee, department, scenario, type_codes) VALUES ('hostile_app', '测试部门', 'hostile', '{11100000000013338W032}');
SQL
timed_sql "SET SESSION AUTHORIZATION hostile_app; SET statement_timeout = '600ms';
           SELECT verdict FROM elicense.licence_verify('hostile', (SELECT ofd FROM crafted_ofd))"
expect_error 57014 2000 "licence_verify of the crafted package under statement_timeout 600 ms"
got=$(sql -c "SELECT concat_ws(' ', function, result, sqlstate, department) FROM elicense.usage_audit ORDER BY id DESC LIMIT 1")
[ "$got" = "licence_verify refused 57014 测试部门" ] || fail "the cancelled licence_verify is not audited: $got"
echo "ok: the cancelled licence_verify is in the audit ($got)"

# 5. A 10 KB identifier: refused before any work, audited shortened.
code=$(sql -c "SET SESSION AUTHORIZATION hostile_app" -c "SELECT elicense.create_usage_code('hostile', '350102199001011238',
  '{11100000000013338W032}', '{\"applicant\": \"a\", \"business_id\": \"b\", \"step\": \"s\", \"office\": \"o\", \"department\": \"d\", \"officer\": \"p\"}')")
timed_sql "SET SESSION AUTHORIZATION hostile_app; SELECT * FROM elicense.licence_info('$code', repeat('x', 10240))"
expect_error 22001 1000 "licence_info with a 10 KB identifier"
got=$(sql -c "SELECT concat_ws(' ', result, sqlstate, length(identifier) < 300) FROM elicense.usage_audit ORDER BY id DESC LIMIT 1")
[ "$got" = "refused 22001 t" ] || fail "audit of the 10 KB identifier: $got"
[ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'elicense audit writer'")" = 1 ] \
  || fail "the audit writer is gone after the 10 KB identifier"
echo "ok: the 10 KB identifier is audited shortened; the audit writer runs"

# 6. The append-only tables, as the owner.
sql >/dev/null <<'SQL'
SELECT elicense.issue('11100000000013338W032', '{"name": "李四", "gender": "男", "id_number": "350102199001011238",
  "category": "建筑电工", "licence_number": "闽A012025000009", "valid_from": "2025-01-01", "valid_to": "2029-01-01",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2025-01-01"}', 'clerk');
INSERT INTO elicense.delivery_event (outbox_id, identifier, step, from_status, to_status, actor)
SELECT id, identifier, step, 'pending', 'in_flight', 'test' FROM elicense.outbox LIMIT 1;
INSERT INTO elicense.code_assignment (identifier, assigned_code, qr_url, outbox_id, worker_id)
SELECT identifier, '123456789012345678', 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?x', id, 'w' FROM elicense.outbox LIMIT 1;
INSERT INTO elicense.preview_access (identifier, version, client, code, status)
SELECT identifier, 1, '127.0.0.1', 200, '01' FROM elicense.certificate LIMIT 1;
SQL
# (Each table holds a row: the UPDATE/DELETE triggers are row triggers, so a
# DELETE matching no row has nothing to refuse.)
for table in delivery_event code_assignment preview_access usage_audit status_history; do
  for op in "DELETE FROM" TRUNCATE; do
    timed_sql "$op elicense.$table"
    expect_error 42501 1000 "$op elicense.$table"
  done
done

# 7. Licence text, actor, dates, keys.
w032='{"name": "李四", "gender": "男", "id_number": "350102199001011238", "category": "建筑电工",
  "licence_number": "闽A012025000010", "valid_from": "2025-01-01", "valid_to": "2029-01-01",
  "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
  "issue_date": "2025-01-01"}'
timed_sql "SELECT elicense.issue('11100000000013338W032', '$w032'::jsonb || jsonb_build_object('name', '李' || chr(8238) || '四'), 'clerk')"
expect_error 22021 1000 "a holder name with U+202E"
[[ "$err" == *'"name"'* && "$err" == *U+202E* ]] || fail "the error does not name the field and character: $err"
timed_sql "SELECT elicense.issue('11100000000013338W032', '$w032'::jsonb || jsonb_build_object('category', '建筑' || chr(7) || '电工'), 'clerk')"
expect_error 22021 1000 "a category with BEL (U+0007)"
timed_sql "SELECT elicense.issue('11100000000013338W032', '$w032', repeat('a', 50 * 1024 * 1024))"
expect_error 22001 5000 "a 50 MB actor"
timed_sql "SELECT elicense.render_licence_ofd(template, '{\"name\":\"李四\",\"gender\":\"男\",\"id_no\":\"350102199001011238\",\"category\":\"建筑电工\",
             \"cert_no\":\"闽A042023000123\",\"first_issue_date\":\"2023-05-06\",\"valid_period\":\"2023-05-06至2025-05-05\",\"issuer\":\"福建省住房和城乡建设厅\"}',
             '\\x89504e470d0a1a0a', false, '', '', '00112233445566778899aabbccddeeff', '2025-13-45')
             FROM elicense.ofd_template WHERE type_code = '11100000000013338W032'"
expect_error 22023 1000 "render_licence_ofd with creation_date 2025-13-45"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -aes256 -pass pass:hostile -out "$out/encrypted.key" 2>/dev/null
marker=$(sed -n 3p "$out/encrypted.key" | cut -c1-24)
psql -X -q -At -d "$db" -v VERBOSITY=verbose -v key="$(cat "$out/encrypted.key")" -v cert="$(cat "$out/seal/seal-cert.pem")" \
  >/dev/null 2>"$out/encrypted.err" <<'SQL' || true
SELECT elicense.load_seal('11350000003591037R', '', 'hostile', 'seal', 'key', '{}', :'key'::elicense.secret, :'cert', '\x00');
SQL
grep -q "^ERROR:  22023: the seal's private key is an encrypted PEM private key" "$out/encrypted.err" \
  || fail "an encrypted seal key: $(head -n 3 "$out/encrypted.err")"
! grep -qF -e "$marker" -e "ENCRYPTED" -e "BEGIN" "$out/encrypted.err" || fail "the error quotes key material: $(cat "$out/encrypted.err")"
echo "ok: an encrypted seal key is refused (22023) without quoting it"
psql -X -q -At -d "$db" -v VERBOSITY=verbose -v key="$(cat "$out/seal/seal-key.pem")" \
  >/dev/null 2>"$out/notcert.err" <<'SQL' || true
SELECT elicense.load_seal('11350000003591037R', '', 'hostile', 'seal', 'key', '{}', :'key'::elicense.secret, 'not a cert', '\x00');
SQL
grep -q "^ERROR:  22023: the seal's certificate_pem is not a PEM X.509 certificate" "$out/notcert.err" \
  || fail "'not a cert' as a seal certificate: $(head -n 3 "$out/notcert.err")"
! grep -qF -e "BEGIN" -e "not a cert" "$out/notcert.err" || fail "the error quotes the value: $(cat "$out/notcert.err")"
echo "ok: 'not a cert' as a seal's certificate_pem is refused (22023) without quoting it"

# 8. Entry names that normalise elsewhere: the sealed package with a forged
# page under each such name verifies as unreferenced_part (tampered), the page
# twice as malformed.
sql >"$out/small.b64" <<'SQL'
SELECT encode(elicense._seal_ofd(
         elicense.render_licence_ofd(t.template,
           '{"name":"李四","gender":"男","id_no":"350102199001011238","category":"建筑电工","cert_no":"闽A042023000123",
             "first_issue_date":"2023-05-06","valid_period":"2023-05-06至2025-05-05","issuer":"福建省住房和城乡建设厅"}',
           '\x89504e470d0a1a0a'::bytea, false, '', '', '00112233445566778899aabbccddeeff', '2026-11-29'),
         s, 100, 180, 40), 'base64')
  FROM elicense.ofd_template t, elicense.seal s WHERE t.type_code = '11100000000013338W032' AND s.es_id = 'hostile-seal'
SQL
sql -c "CREATE TABLE forged (b64 text)"
verify_b64() {  # FILE: status: message of its verification
  { tr -d '\n' <"$1"; echo; } | sql -c "TRUNCATE forged" -c "COPY forged FROM STDIN" >/dev/null
  sql -c "SELECT status || ': ' || message FROM forged, elicense.verify_licence_ofd(decode(b64, 'base64'))"
}
got=$(verify_b64 "$out/small.b64")
[[ "$got" == ok:* ]] || fail "the small sealed package does not verify: $got"
for name in 'Doc_0/Signs/../Pages/Page_0/Content.xml' './Doc_0/Pages/Page_0/Content.xml' 'Doc_0//Pages/Page_0/Content.xml' \
            '/Doc_0/Pages/Page_0/Content.xml' 'Doc_0\Pages\Page_0\Content.xml' 'Doc_0/Pages/Page_0/Content.xml'; do
  python3 - "$out/small.b64" "$out/forged.b64" "$name" <<'PY'
import base64, io, sys, warnings, zipfile
warnings.simplefilter("ignore")  # a duplicate name is the point of one case
src = zipfile.ZipFile(io.BytesIO(base64.b64decode(open(sys.argv[1]).read())))
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info.filename))
    forged = zipfile.ZipInfo("x")
    forged.filename = sys.argv[3]  # as given: ZipInfo() would turn backslashes into slashes
    dst.writestr(forged, b'<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016">forged</ofd:Page>')
open(sys.argv[2], "w").write(base64.b64encode(out.getvalue()).decode())
PY
  t0=$(now_ms)
  got=$(verify_b64 "$out/forged.b64")
  ms=$(( $(now_ms) - t0 ))
  # A name that normalises elsewhere is a part outside the references
  # (tampered); the same name twice is an ambiguous package (malformed).
  if [ "$name" = Doc_0/Pages/Page_0/Content.xml ]; then want=malformed; else want=unreferenced_part; fi
  [[ "$got" == "$want":* ]] || fail "entry $name: $got"
  [ "$ms" -le 1000 ] || fail "entry $name: $ms ms"
  echo "ok: an entry named $name -> ${got:0:110} ($ms ms)"
done

[ "$(sql -c "SELECT pg_postmaster_start_time()")" = "$started" ] || fail "the cluster restarted"
echo "hostile inputs: every call refused or stopped in bounded time, the cluster never restarted"
