#!/usr/bin/env bash
# The life of a licence against the platform test double. W050
# licences are delivered, then suspended, suspended and lifted, renewed, put
# in certState 99, revoked, and two pass their valid_to: the worker's own
# expire_due schedule queues their expiries (in batches of one). The double records, per identifier
# it holds, the operateType/certState of every status update: each must be
# what PLATFORM.md says, under the identifier that was collected (001), not
# the local version a status change writes. The renewal is assigned under
# operateType 02 with associatedZzeCertID = 001, and its new QR code decodes
# (platform key, DES) to the new assigned code. The preview page of the
# suspended licence says so. A precheck queued with the licences is sent
# first (in_flight 1), its answer lands in elicense.precheck with a NOTIFY,
# and it creates no licence. Every step took effect exactly once.
source "$(dirname "$0")/../sync/lib.sh"
[ -x "$bin/elicense-preview" ] || fail "build elicense-preview first (cmake)"
setup_database
create_preview_login
start_double
write_config 1 5
config_set '"expire_interval_ms": 300, "expire_batch": 1'  # two expiries: two calls, the second at once
start_preview preview '{"threads": 2}'
sql -c "UPDATE elicense.delivery_config SET preview_url_template = '$preview/p/{token}'"

w050() {  # NUMBER: licence data valid for a year
  printf '{"enterprise_name": "闽江生命周期建设有限公司%s", "uscc": "91350100M000100Y43", "principal": "王五",
    "principal_id": "350102199001011238", "address": "福州市仓山区%s号", "economic_type": "有限责任公司", "permit_scope": "建筑施工",
    "licence_number": "(闽)JZ安许证字[2026]%06d", "valid_from": "2026-01-01", "valid_to": "%s",
    "authority_name": "福建省住房和城乡建设厅", "authority_uscc": "11350000003591037R", "authority_division": "350000",
    "issue_date": "2026-01-01"}' "$1" "$1" "$1" "$(date -d '+1 year' +%F)"
}
declare -A id
n=0
for name in suspended lifted renewed other revoked expired expired2; do
  n=$((n + 1))
  id[$name]=$(sql -c "SELECT elicense.issue('11100000000013338W050', '$(w050 $n)'::jsonb, 'approval-test')")
done
ticket=$(sql -c "SELECT elicense.precheck('11100000000013338W050', '$(w050 99)'::jsonb)")
# A session listening for the precheck's answer (prints notifications after each statement).
{ echo "LISTEN elicense_precheck;"; for _ in $(seq 60); do echo "SELECT pg_sleep(0.5);"; done; } |
  psql -X -q -d "$db" >"$out/listen.log" 2>&1 &
pids+=($!)
sleep 0.5

start_worker w1
wait_for 60 "$(all_delivered) AND (SELECT status = 'answered' FROM elicense.precheck)"
[ "$(sql -c "SELECT identifier FROM elicense.delivery_attempt ORDER BY id LIMIT 1")" = "precheck $ticket" ] \
  || fail "the precheck was not the first call: $(sql -c "SELECT identifier || ' ' || step FROM elicense.delivery_attempt ORDER BY id LIMIT 3")"
[ "$(sql -c "SELECT passed FROM elicense.precheck WHERE ticket = '$ticket'")" = t ] || fail "the double refused the precheck"
[ "$(sql -c "SELECT count(*) FROM elicense.certificate WHERE licence_number = '(闽)JZ安许证字[2026]000099'")" = 0 ] \
  || fail "a precheck created a licence"
for _ in $(seq 50); do grep -q "$ticket" "$out/listen.log" && break; sleep 0.2; done
grep -q "notification \"elicense_precheck\" with payload \"$ticket\"" "$out/listen.log" || fail "no NOTIFY elicense_precheck: $(cat "$out/listen.log")"
echo "precheck: sent first, answered, NOTIFY received, no licence"

# Transitions. The preview URL the platform got for the suspended licence.
sql -c "SELECT elicense.suspend('${id[suspended]}', '安全事故暂扣', 'approval-test')" >/dev/null
sql -c "SELECT elicense.suspend('${id[lifted]}', '暂扣', 'approval-test', current_date + 30)" >/dev/null
sql -c "SELECT elicense.lift_suspension('${id[lifted]}', '暂扣发还', 'approval-test')" >/dev/null
renewed_v2=$(sql -c "SELECT elicense.renew('${id[renewed]}', '{\"valid_to\": \"$(date -d '+4 years' +%F)\"}', '延续', 'approval-test')")
sql -c "SELECT elicense.other('${id[other]}', '停业整顿', '其他', 'approval-test')" >/dev/null
sql -c "SELECT elicense.revoke('${id[revoked]}', '吊销', 'approval-test')" >/dev/null
sql -c "UPDATE elicense.certificate SET valid_to = current_date - 1 WHERE identifier IN ('${id[expired]}', '${id[expired2]}')"
wait_for 60 "$(all_delivered) AND (SELECT count(*) = 2 FROM elicense.certificate WHERE original_identifier IN ('${id[expired]}', '${id[expired2]}') AND status = '06')"
[ "$(sql -c "SELECT count(*) FROM elicense.status_history WHERE original_identifier IN ('${id[expired]}', '${id[expired2]}') AND to_status = '06' AND actor = 'elicense.expire_due'")" = 2 ] \
  || fail "the expiries were not queued by the worker's expire_due"
check_exactly_once

double_state >"$out/double_state.json"
python3 - "$out/double_state.json" "${id[suspended]}" "${id[lifted]}" "${id[other]}" "${id[revoked]}" "${id[expired]}" "${id[expired2]}" "${id[renewed]}" \
  "$renewed_v2" "$(sql -c "SELECT assigned_code FROM elicense.certificate WHERE identifier = '$renewed_v2'")" <<'PY' || fail "the platform did not get what PLATFORM.md says"
import json, sys
state = json.load(open(sys.argv[1]))
lic = state["licences"]
suspended, lifted, other, revoked, expired, expired2, renewed, renewed_v2, code = sys.argv[2:]
want = {suspended: [("03", "02")], lifted: [("03", "02"), ("06", "01")], other: [("07", "99")],
        revoked: [("05", "03")], expired: [("04", "06")], expired2: [("04", "06")]}
bad = []
for ident, updates in want.items():
    got = [(u["operateType"], u["certState"]) for u in lic.get(ident, {}).get("status_updates", [])]
    if sorted(got) != sorted(updates):
        bad.append(f"{ident}: status updates {got}, want {updates}")
stray = [i for i, l in lic.items() if l.get("status_updates") and i not in want]
if stray:
    bad.append(f"status updates under identifiers the platform never collected: {stray}")
assigns = [e for e in state["effects"].values() if e.get("step") == "assign" and e.get("code") == code]
if len(assigns) != 1 or assigns[0].get("operateType") != "02" or assigns[0].get("associatedZzeCertID") != renewed:
    bad.append(f"renewal assignment: {assigns}")
if lic.get(renewed_v2, {}).get("assignedCode") != code:
    bad.append(f"the platform's code of {renewed_v2} is {lic.get(renewed_v2, {}).get('assignedCode')}, ours {code}")
for b in bad:
    print("  " + b)
print(f"{len(want)} licences' status updates and the renewal checked, {len(bad)} wrong")
sys.exit(1 if bad else 0)
PY

# The renewal's new QR code: the image decodes to the stored URL, whose ID
# decrypts (k with the platform's private key, then DES) to the new code.
url=$(sql -c "SELECT qr_url FROM elicense.certificate WHERE identifier = '$renewed_v2'")
sql -c "SELECT encode(elicense.qr_png(qr_url), 'base64') FROM elicense.certificate WHERE identifier = '$renewed_v2'" | base64 -d >"$out/renewed-qr.png"
[ "$("$root/tests/support/decode_qr" "$out/renewed-qr.png" 2>/dev/null)" = "$url" ] || fail "the renewed licence's QR image does not decode to its URL"
param() { python3 -c 'import sys, urllib.parse; print(urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[2]).query.replace("+", "%2B"))[sys.argv[1]][0])' "$1" "$2"; }
param k "$url" | base64 -d >"$out/k.bin"
openssl pkeyutl -decrypt -inkey "$out/platform.key" -pkeyopt rsa_padding_mode:pkcs1 -in "$out/k.bin" -out "$out/key8"
param ID "$url" | xxd -r -p >"$out/id.bin"
decoded=$(openssl enc -d -des-ecb -provider legacy -provider default -K "$(xxd -p <"$out/key8" | tr -d '\n')" -in "$out/id.bin")
[ "$decoded" = "$(sql -c "SELECT assigned_code FROM elicense.certificate WHERE identifier = '$renewed_v2'")" ] \
  || fail "the renewed QR decodes to '$decoded', not the new assigned code"
[ "$decoded" != "$(sql -c "SELECT assigned_code FROM elicense.certificate WHERE identifier = '${id[renewed]}'")" ] \
  || fail "the renewal kept the old code"
echo "renewal: operateType 02, associatedZzeCertID = 001, its new QR code decodes to the new code"

# The preview page the platform links to for the suspended licence.
page=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["licences"][sys.argv[2]]["url"])' "$out/double_state.json" "${id[suspended]}")
curl -sS -D "$out/suspended.headers" -o "$out/suspended.html" "$page"
grep -qi "^X-Licence-Status: suspended" "$out/suspended.headers" || fail "the preview of the suspended licence: $(cat "$out/suspended.headers")"
grep -q "已暂扣" "$out/suspended.html" || fail "the preview page of the suspended licence does not say 已暂扣"
page=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["licences"][sys.argv[2]]["url"])' "$out/double_state.json" "${id[lifted]}")
curl -sS -D "$out/lifted.headers" -o /dev/null "$page"
grep -qi "^X-Licence-Status: valid" "$out/lifted.headers" || fail "the preview of the lifted licence: $(cat "$out/lifted.headers")"
echo "preview: the suspended licence's page says 已暂扣, the lifted one is valid"
echo "lifecycle: $(sql -c "SELECT count(*) FROM elicense.outbox") steps delivered exactly once"
