#!/usr/bin/env bash
# The preview server under hostile clients, against a database:
# for 8 seconds at once
#   - 16 slow clients from 16 addresses, each sending a header line a second
#     and never ending its head (reconnecting whenever the server drops it),
#   - 16 such clients from one address (8 get in, the rest are refused 429),
#   - a header flood: one connection sending 100,000 header lines,
# while a probe asks GET /healthz every 200 ms and a licence page every
# 500 ms; then one status page's token requested as fast as two connections
# can for 3 s. /healthz must answer within 1 s every time, the page within 2 s,
# the slow clients get 408 at the 5 s request deadline, the flood is refused
# with 431 (or its connection closed) within 2 s, and the hammered token
# writes at most its budget of access rows (burst 6 + 12 a minute) while
# the server counts the rest as dropped. cpp-httplib's thread-per-connection
# server (before this test) fails the first check: eight slow clients held
# its eight threads. The hammering comes after the probes: on 2 cores its
# ~13,000 requests a second (this script's client and the server at full
# speed) starved the probe's page of CPU, 1.3-2.8 s in CI under the build's
# load, whatever the limits do (docs/preview.md: a client's request rate is
# not capped, only its connections).
source "$(dirname "$0")/../sync/lib.sh"
[ -x "$bin/elicense-preview" ] || fail "build elicense-preview first (cmake)"
setup_database
create_preview_login

issue() {  # N
  sql -c "SELECT elicense.issue('11100000000013338W050', jsonb_build_object(
         'enterprise_name', '闽江限流建设有限公司$1', 'uscc', '91350100M000100Y43', 'principal', '王五',
         'principal_id', '350102199001011238', 'address', '福州市仓山区$1号', 'economic_type', '有限责任公司',
         'permit_scope', '建筑施工', 'licence_number', '(闽)JZ安许证字[2026]00095$1',
         'valid_from', '2026-01-01', 'valid_to', '2099-12-31', 'authority_name', '福建省住房和城乡建设厅',
         'authority_uscc', '11350000003591037R', 'authority_division', '350000', 'issue_date', '2026-01-01'), 'limits-test')"
}
page_id=$(issue 1)
hammer_id=$(issue 2)
sql -c "UPDATE elicense.certificate SET qr_url = 'https://zlaq.mohurd.gov.cn/fwmh/middlepage.html?ID=' || upper(md5(identifier))
        || '&k=test&certype=11100000000013338W050&province=350000'" >/dev/null
sql -c "SELECT elicense.revoke('$hammer_id', '违法违规', 'limits-test')" >/dev/null
sql -c "UPDATE elicense.delivery_config SET preview_url_template = '/p/{token}'"
page=$(sql -c "SELECT elicense.preview_url('$page_id')")
hammer=$(sql -c "SELECT elicense.preview_url('$hammer_id')")

# Every limit at its default (threads 8, request_timeout_ms 5000,
# max_connections_per_client 8, max_header_count 64, access rows 12/min, burst 6).
start_preview limits '{"threads": 8}'
port=${preview##*:}
[ "$(curl -s -o /dev/null -w '%{http_code}' "$preview$page")" = 200 ] || fail "the licence page does not open"
hammer_rows() { sql -c "SELECT count(*) FROM elicense.preview_access WHERE identifier = '$hammer_id'"; }
rows_before=$(hammer_rows)

python3 - "$port" "$page" "$hammer" 8 >"$out/clients.json" <<'PY'
import json, socket, sys, threading, time

port, page, hammer, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
start = time.monotonic()
stop = start + seconds
lock = threading.Lock()
r = {"slow": {}, "same": {}, "healthz_ms": [], "healthz_bad": [], "page_ms": [], "page_bad": [],
     "flood": None, "hammer_requests": 0, "hammer_codes": {}}

def count(key, what):
    with lock:
        r[key][what] = r[key].get(what, 0) + 1

def connect(source, timeout):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s

def status_of(data):
    return data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "closed"

def slow(source, key):
    """A header line a second, never the blank line; reconnect when dropped."""
    while time.monotonic() < stop:
        try:
            s = connect(source, 1.0)
            s.sendall(b"GET " + page.encode() + b" HTTP/1.1\r\nHost: test\r\n")
            while time.monotonic() < stop:
                try:
                    data = s.recv(4096)
                    count(key, status_of(data))
                    break
                except socket.timeout:
                    s.sendall(b"X-Slow: 1\r\n")
            s.close()
        except OSError as e:
            count(key, type(e).__name__)
            time.sleep(0.2)
        time.sleep(0.05)  # a refused client comes back at once, but not in a busy loop

def get(source, path, timeout):
    t = time.monotonic()
    s = connect(source, timeout)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return status_of(data), (time.monotonic() - t) * 1000

def probe(source, path, every, timeout, key_ms, key_bad):
    while time.monotonic() < stop:
        try:
            code, ms = get(source, path, timeout)
            with lock:
                r[key_ms].append(round(ms, 1))
                if code != "200":
                    r[key_bad].append(code)
        except OSError as e:
            with lock:
                r[key_bad].append(type(e).__name__)
        time.sleep(every)

def flood():
    time.sleep(1)
    t = time.monotonic()
    s = connect("127.0.0.3", 5.0)
    lines = b"".join(b"X-Flood-%d: %d\r\n" % (i, i) for i in range(1000))
    sent, outcome = 0, None
    try:
        s.sendall(b"GET " + page.encode() + b" HTTP/1.1\r\nHost: test\r\n")
        for _ in range(100):
            s.sendall(lines)
            sent += 1000
    except OSError as e:
        outcome = type(e).__name__
    try:
        data = s.recv(4096)
        outcome = status_of(data) if data else (outcome or "closed")
    except OSError as e:
        outcome = outcome or type(e).__name__
    r["flood"] = {"outcome": outcome, "lines_sent": sent, "ms": round((time.monotonic() - t) * 1000)}
    s.close()

def hammer_loop():
    """Keep-alive requests for one token for 3 s; a new connection whenever
    the server closes one (after keep-alive's 100 requests)."""
    time.sleep(1)
    s = connect("127.0.0.5", 5.0)
    request = b"GET " + hammer.encode() + b" HTTP/1.1\r\nHost: test\r\n\r\n"
    buf = b""
    end = time.monotonic() + 3
    while time.monotonic() < end:
        s.sendall(request)
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed a kept connection without Connection: close")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        fields = {l.split(b":")[0].lower(): l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")[1:]}
        length = int(fields[b"content-length"])
        while len(rest) < length:
            rest += s.recv(65536)
        buf = rest[length:]
        count("hammer_codes", status_of(head))
        with lock:
            r["hammer_requests"] += 1
        if fields.get(b"connection", b"").lower() == b"close":
            s.close()
            s, buf = connect("127.0.0.5", 5.0), b""
    s.close()

threads = [threading.Thread(target=slow, args=("127.0.0.%d" % (10 + i), "slow")) for i in range(16)]
threads += [threading.Thread(target=slow, args=("127.0.0.2", "same")) for _ in range(16)]
threads += [threading.Thread(target=probe, args=("127.0.0.1", "/healthz", 0.2, 5.0, "healthz_ms", "healthz_bad")),
            threading.Thread(target=probe, args=("127.0.0.4", page, 0.5, 5.0, "page_ms", "page_bad")),
            threading.Thread(target=flood)]
for t in threads:
    t.start()
for t in threads:
    t.join()
hammers = [threading.Thread(target=hammer_loop) for _ in range(2)]
for t in hammers:
    t.start()
for t in hammers:
    t.join()
r["healthz_max_ms"] = max(r["healthz_ms"] or [0])
r["page_max_ms"] = max(r["page_ms"] or [0])
json.dump(r, sys.stdout)
PY
curl -s "$preview/healthz" >"$out/healthz.txt"
hammer_rows=$(($(hammer_rows) - rows_before))
python3 - "$out/clients.json" "$out/healthz.txt" "$hammer_rows" "$out/limits.log" <<'PY' || fail "limits: see above ($out)"
import json, re, sys
r = json.load(open(sys.argv[1]))
health = dict(re.findall(r"(\w+)=(\d+)", open(sys.argv[2]).read()))
rows = int(sys.argv[3])
failed = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failed.append(what)
check(len(r["healthz_ms"]) >= 30 and not r["healthz_bad"] and r["healthz_max_ms"] < 1000,
      f"/healthz answered {len(r['healthz_ms'])} times, slowest {r['healthz_max_ms']} ms, failures {r['healthz_bad']}")
check(len(r["page_ms"]) >= 10 and not r["page_bad"] and r["page_max_ms"] < 2000,
      f"the licence page answered {len(r['page_ms'])} times, slowest {r['page_max_ms']} ms, failures {r['page_bad']}")
check(r["slow"].get("408", 0) >= 16, f"slow clients from 16 addresses: {r['slow']} (408 at the 5 s deadline)")
check(r["same"].get("429", 0) + r["same"].get("closed", 0) >= 8 and r["same"].get("408", 0) >= 1,
      f"16 slow clients from one address: {r['same']} (8 admitted, the rest 429)")
check(r["flood"] and r["flood"]["outcome"] in ("431", "closed", "ConnectionResetError", "BrokenPipeError")
      and r["flood"]["ms"] < 2000, f"header flood: {r['flood']} (431 or closed, within 2 s)")
# The server refused the flood after reading at most a head's worth (8 KiB)
# plus one read (16 KiB); what came after was discarded unparsed.
refused = [json.loads(l) for l in open(sys.argv[4]) if '"code":431' in l]
check(len(refused) == 1 and refused[0]["bytes"] <= 8192 + 16384, f"the flood was refused after reading {refused}")
budget = 6 + 12 * 4 / 60 + 1
check(r["hammer_requests"] >= 100 and 1 <= rows <= budget,
      f"one token requested {r['hammer_requests']} times in 3 s ({r['hammer_codes']}): {rows} access rows (budget {budget:.1f})")
check("access_rows_dropped" in health and int(health["access_rows_dropped"]) >= r["hammer_requests"] - rows,
      f"/healthz counts {health.get('access_rows_dropped')} access rows dropped")
check(int(health.get("refused_head", 0)) >= 1 and int(health.get("refused_client_full", 0)) >= 8
      and int(health.get("timed_out", 0)) >= 16, f"/healthz counters: {health}")
sys.exit(1 if failed else 0)
PY
echo "preview limits: all checks passed"
