#!/usr/bin/env bash
# The HTTP gateway for departments (elicense-gateway) end to end with curl:
#   1. token: a wrong secret is 401/11; health, readiness, the served OpenAPI
#      document equals docs/gateway-openapi.json;
#   2. every operation: usage code create and check, search, info by
#      identifier and by holder, file by identifier and by holder (Base64:
#      the OFD copy carries the purpose note), file verification (valid,
#      and tampered), the face-field schema, download links (served by a
#      second instance too, then gone after expiry);
#   3. each refusal with its code: bad token (11), accessId of another
#      application (11), no grant (100), wrong holder (100), type outside
#      the grant (100), expired usage code (104), unknown licence (105),
#      holderTypeCode that does not fit (103), bad request (106), rate limit
#      (12, 429); no answer carries the PostgreSQL message (role names, the
#      other holder's ID);
#   4. the audit rows of the same calls over HTTP and over SQL are the same
#      (db_user is the application's role, not the gateway's login);
#   5. secret rotation: with grace 0 the old secret and its tokens stop;
#   6. the access log is one JSON object per line and holds no token or
#      secret; a gateway whose login inherits its roles refuses to start.
set -euo pipefail
out=${1:-/tmp}/gateway_http
db=elicense_gateway_http
source "$(dirname "$0")/../gateway/lib.sh"
rm -rf "$out" && mkdir -p "$out"
trap gw_cleanup EXIT
gw_setup_database
gw_register dept_app dept_app
app_secret=$secret
gw_register dept_nogrant dept_nogrant
nogrant_secret=$secret
gw_register dept_slow dept_app 1 3
slow_secret=$secret
config='{"threads": 4, "token_cache_s": 0, "link_lifetime_s": 60}'
gw_start gw1 "$config"
gw_start gw2 "$config"
gw2=$gw
gw_start gw1b "$config"  # the instance the tests talk to (gw); gw1 stays idle
gw1=$gw

# 1. Token, health, OpenAPI.
post /api/v1/token "$(jq -nc --arg s "${app_secret}x" '{accessId: "dept_app", accessSecret: $s}')"
expect 401 11 "a wrong secret"
post /api/v1/token '{"accessId": "nobody", "accessSecret": "whatever-secret"}'
expect 401 11 "an unknown application"
token=$(token_for dept_app "$app_secret")
[ ${#token} = 43 ] || fail "token of ${#token} characters"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$gw/healthz")" = 200 ] || fail "healthz"
[ "$(curl -sS "$gw/readyz")" = ready ] || fail "readyz"
curl -sS "$gw/openapi.json" | jq -S . >"$out/openapi.served.json"
jq -S . "$root/docs/gateway-openapi.json" | cmp -s - "$out/openapi.served.json" || fail "the served OpenAPI document differs from docs/"
echo "ok: tokens only for the right secret; /healthz, /readyz; /openapi.json is docs/gateway-openapi.json"

# 2. Every operation.
ctx='{"applicant": "李四", "business_id": "YW-1", "step": "受理", "office": "鼓楼", "department": "市场监管", "officer": "王五"}'
call "$token" /api/v1/usage-codes "$(jq -nc --argjson c "$ctx" --arg h "$person_a" --arg t "$w032" \
  '{scenario: "bidding", holderCode: $h, holderTypeCode: "111", certTypeCodes: [$t], context: $c, validMinutes: 60}')"
expect 200 0 "create a usage code"
code=$(jq -r .data.usageCode "$out/answer.json")
[[ $code == UC* ]] || fail "usage code $code"
call "$token" /api/v1/usage-codes/check "$(jq -nc --arg c "$code" '{usageCode: $c}')"
expect 200 0 "check the usage code"
[ "$(jq -r '.data.valid, .data.department, .data.holder_id' "$out/answer.json" | tr '\n' ' ')" = "true 福州市市场监督管理局 350102********1238 " ] \
  || fail "usage code check: $(cat "$out/answer.json")"
call "$token" /api/v1/licences/search '{"scenario": "bidding"}'
expect 200 0 "search"
[ "$(jq -r '[.data[].identifier] | sort | join(",")' "$out/answer.json")" = "$(printf '%s\n' "$id_a" "$id_b" | sort | paste -sd,)" ] \
  || fail "search found $(jq -c '[.data[].identifier]' "$out/answer.json")"
call "$token" /api/v1/licences/info "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i}')"
expect 200 0 "info by identifier"
[ "$(jq -r '.data.identifier, .data.holder_id, .data.holder_name' "$out/answer.json" | tr '\n' ' ')" = "$id_a 350102********1238 李四 " ] \
  || fail "info: $(cat "$out/answer.json")"
call "$token" /api/v1/licences/info-by-holder "$(jq -nc --arg c "$code" --arg h "$person_a" '{usageCode: $c, holderCode: $h, holderTypeCode: "111"}')"
expect 200 0 "info by holder"
[ "$(jq -r '[.data[].identifier] | join(",")' "$out/answer.json")" = "$id_a" ] || fail "info by holder: $(cat "$out/answer.json")"
face_note() {  # OFD -> the text of its annotations (the purpose note)
  unzip -p "$1" Doc_0/Pages/Page_0/Annotation.xml | xmllint --xpath "//*[local-name()='TextCode']/text()" - | tr -d '\n'
}
call "$token" /api/v1/licences/file "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i}')"
expect 200 0 "file by identifier (Base64)"
jq -r .data.fileBase64 "$out/answer.json" | base64 -d >"$out/copy.ofd"
[ "$(sha256sum "$out/copy.ofd" | cut -c1-64)" = "$(jq -r .data.sha256 "$out/answer.json")" ] || fail "the file's sha256"
[[ $(face_note "$out/copy.ofd") == *"用途：招投标资格审查　有效期至："* ]] || fail "the copy lacks the purpose note: $(face_note "$out/copy.ofd")"
call "$token" /api/v1/licences/file-by-holder "$(jq -nc --arg c "$code" --arg h "$person_a" '{usageCode: $c, holderCode: $h}')"
expect 200 0 "file by holder"
[ "$(jq -r '[.data[].identifier] | join(",")' "$out/answer.json")" = "$id_a" ] || fail "file by holder: $(jq -c '[.data[].identifier]' "$out/answer.json")"
jq -r '.data[0].fileBase64' "$out/answer.json" | base64 -d >"$out/copy-by-holder.ofd"
[[ $(face_note "$out/copy-by-holder.ofd") == *"用途：招投标资格审查"* ]] || fail "the by-holder copy lacks the purpose note"
verify() {  # FILE -> verdict signature_status
  call "$token" /api/v1/licences/verify "$(jq -nc --arg f "$(base64 -w0 "$1")" '{scenario: "bidding", fileBase64: $f}')"
  expect 200 0 "verify $1"
  jq -r '.data.verdict + " " + .data.signature_status' "$out/answer.json"
}
[ "$(verify "$out/copy.ofd")" = "valid ok" ] || fail "the copy does not verify: $(cat "$out/answer.json")"
python3 "$root/tests/ofd/flip_byte.py" "$out/copy.ofd" Doc_0/Pages/Page_0/Content.xml "$out/tampered.ofd"
[ "$(verify "$out/tampered.ofd")" = "tampered digest_mismatch" ] || fail "the tampered copy: $(cat "$out/answer.json")"
call "$token" /api/v1/licence-types/schema "$(jq -nc --arg t "$w032" '{certTypeCode: $t}')"
expect 200 0 "face-field schema"
jq -e '.data.fields | length > 3 and (map(.item) | index("id_number") != null)' "$out/answer.json" >/dev/null \
  || fail "schema: $(head -c 400 "$out/answer.json")"
echo "ok: usage code create/check, search, info by identifier/holder, file by identifier/holder (purpose note), verify (valid, tampered), schema"

# Download links: the file from another instance, then gone after expiry.
call "$token" /api/v1/licences/file "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i, delivery: "link", expirySeconds: 3}')"
expect 200 0 "file as a link"
url=$(jq -r .data.url "$out/answer.json")
[[ $url == "$gw/download/"* ]] || fail "link $url"
! jq -e '.data.fileBase64' "$out/answer.json" >/dev/null || fail "a link answer carries the file too"
other=$gw2/download/${url##*/}
curl -sS -D "$out/link.headers" -o "$out/link.ofd" "$other"
grep -qi '^Content-Type: application/ofd' "$out/link.headers" || fail "link answer: $(head -n1 "$out/link.headers")"
[[ $(face_note "$out/link.ofd") == *"用途：招投标资格审查"* ]] || fail "the linked copy lacks the purpose note"
deadline=$((SECONDS + 30))
while [ "$(curl -sS -o /dev/null -w '%{http_code}' "$url")" = 200 ]; do
  [ $SECONDS -lt $deadline ] || fail "the link still works 30 s after its 3 s expiry"
  sleep 0.5
done
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$url")" = 404 ] || fail "an expired link is not 404"
echo "ok: a download link made on one instance serves the copy (purpose note) on another, and is 404 after expiry"

# 3. Refusals and their codes.
call "not-a-token" /api/v1/licences/info "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i}')"
expect 401 11 "a bad token"
post /api/v1/licences/info "$(jq -nc --arg t "$token" --arg c "$code" --arg i "$id_a" '{accessId: "dept_nogrant", accessToken: $t, data: {usageCode: $c, certIdentifier: $i}}')"
expect 401 11 "accessId of another application"
nogrant=$(token_for dept_nogrant "$nogrant_secret")
call "$nogrant" /api/v1/licences/search '{"scenario": "bidding"}'
expect 403 100 "no grant"
call "$nogrant" /api/v1/licences/info "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i}')"
expect 403 100 "another application's usage code"
call "$token" /api/v1/licences/info "$(jq -nc --arg c "$code" --arg i "$id_b" '{usageCode: $c, certIdentifier: $i}')"
expect 403 100 "a licence of another holder"
! grep -q "$person_b\|dept_app\|elicense\." "$out/answer.json" || fail "the refusal leaks: $(cat "$out/answer.json")"
call "$token" /api/v1/licences/info-by-holder "$(jq -nc --arg c "$code" --arg h "$person_b" '{usageCode: $c, holderCode: $h}')"
expect 403 100 "by holder: another holder"
call "$token" /api/v1/usage-codes "$(jq -nc --argjson c "$ctx" --arg h "$company" --arg t "$w050" \
  '{scenario: "bidding", holderCode: $h, holderTypeCode: "001", certTypeCodes: [$t], context: $c}')"
expect 403 100 "a type outside the grant"
call "$token" /api/v1/licences/search "$(jq -nc --arg t "$w050" '{scenario: "bidding", certTypeCode: $t}')"
expect 403 100 "search: a type outside the grant"
call "$token" /api/v1/licence-types/schema "$(jq -nc --arg t "$w050" '{certTypeCode: $t}')"
expect 403 100 "schema of a type outside the grant"
call "$token" /api/v1/licences/info "$(jq -nc --arg c "$code" '{usageCode: $c, certIdentifier: "11100000000013338W032000000000000000X"}')"
expect 404 105 "an unknown licence"
call "$token" /api/v1/licences/info-by-holder "$(jq -nc --arg c "$code" --arg h "$person_a" '{usageCode: $c, holderCode: $h, holderTypeCode: "001"}')"
expect 400 103 "a resident ID with holderTypeCode 001"
call "$token" /api/v1/licences/info-by-holder "$(jq -nc --arg c "$code" --arg h "$person_a" '{usageCode: $c, holderCode: $h, holderTypeCode: "999"}')"
expect 400 103 "holderTypeCode 999"
call "$token" /api/v1/licences/info '{"usageCode": 7}'
expect 400 106 "a number for a string"
call "$token" /api/v1/licences/search '{"scenario": "bidding", "pageSize": 500}'
expect 400 106 "pageSize 500"
expired=$(as_app -c "SELECT elicense.create_usage_code('bidding', '$person_a', '{$w032}', '$ctx')")
sql -c "UPDATE elicense.usage_code SET expires_at = now() - interval '1 second' WHERE code_sha256 = sha256(convert_to('$expired', 'UTF8'))"
call "$token" /api/v1/licences/info "$(jq -nc --arg c "$expired" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i}')"
expect 403 104 "an expired usage code"
call "$token" /api/v1/licences/info "$(jq -nc --arg i "$id_a" '{usageCode: "UC0000", certIdentifier: $i}')"
expect 403 104 "an unknown usage code"
slow=$(token_for dept_slow "$slow_secret")
burst=()
# 10 calls at once (built first, sent in parallel) of an application allowed 1/s with bursts of 3.
body=$(jq -nc --arg t "$slow" '{accessToken: $t, data: {scenario: "bidding"}}')
for i in $(seq 10); do
  curl -sS -o "$out/slow-$i.json" -w '%{http_code}\n' -H 'Content-Type: application/json' --data-binary "$body" \
    "$gw/api/v1/licences/search" >"$out/slow-$i.code" &
  burst+=($!)
done
for p in "${burst[@]}"; do wait "$p"; done
statuses=$(for i in $(seq 10); do echo "$(cat "$out/slow-$i.code")/$(jq -r .head.status "$out/slow-$i.json")"; done |
  sort | uniq -c | tr -s ' ' | paste -sd,)
[[ $statuses == *"429/12"* ]] || fail "10 calls at once of an application allowed 1/s (burst 3): $statuses"
echo "ok: refusals: bad token 11, other accessId 11, no grant 100, other holder 100, type outside grant 100, unknown licence 105, holder type 103, bad request 106, expired code 104, rate limit 12 ($statuses)"

# 4. The audit of the same calls over HTTP and over SQL.
audit_since() {  # ID -> the rows after it, without id, time and file digests
  sql -c "SELECT concat_ws('|', db_user, grantee, department, officer, function, identifier, holder_id, scenario, purpose,
                           business_id, usage_code_id, result, sqlstate, message, rows_returned, copy_valid_until, recorded_by)
            FROM elicense.usage_audit WHERE id > $1 ORDER BY id"
}
mark=$(sql -c "SELECT coalesce(max(id), 0) FROM elicense.usage_audit")
call "$token" /api/v1/licences/info "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i}')"
call "$token" /api/v1/licences/info "$(jq -nc --arg c "$code" --arg i "$id_b" '{usageCode: $c, certIdentifier: $i}')"
call "$token" /api/v1/licences/info-by-holder "$(jq -nc --arg c "$code" --arg h "$person_a" '{usageCode: $c, holderCode: $h}')"
call "$token" /api/v1/licences/search "$(jq -nc --arg t "$w050" '{scenario: "bidding", certTypeCode: $t}')"
call "$token" /api/v1/licences/file "$(jq -nc --arg c "$code" --arg i "$id_a" '{usageCode: $c, certIdentifier: $i}')"
call "$token" /api/v1/usage-codes/check "$(jq -nc --arg c "$code" '{usageCode: $c}')"
audit_since "$mark" >"$out/audit.http"
mark=$(sql -c "SELECT max(id) FROM elicense.usage_audit")
for q in "SELECT identifier FROM elicense.licence_info('$code', '$id_a')" \
         "SELECT identifier FROM elicense.licence_info('$code', '$id_b')" \
         "SELECT identifier FROM elicense.licence_info_by_holder('$code', '$person_a')" \
         "SELECT identifier FROM elicense.licence_search('bidding', '$w050')" \
         "SELECT length(elicense.licence_file('$code', '$id_a'))" \
         "SELECT valid FROM elicense.usage_code_info('$code')"; do
  as_app -c "$q" >/dev/null 2>&1 || true
done
audit_since "$mark" >"$out/audit.sql"
[ "$(wc -l <"$out/audit.http")" = 6 ] || fail "6 HTTP calls left $(wc -l <"$out/audit.http") audit rows"
diff "$out/audit.http" "$out/audit.sql" >"$out/audit.diff" || fail "the audit differs between HTTP and SQL: $(cat "$out/audit.diff")"
[[ $(head -n1 "$out/audit.http") == "dept_app|dept_app|"* ]] || fail "audit db_user: $(head -n1 "$out/audit.http")"
echo "ok: 6 calls (2 refused) leave the same audit rows over HTTP as over SQL, db_user the application's role"

# 5. Rotation: a new secret; with grace 0 the old secret and its tokens stop.
pair=$("$bin/elicense-gateway" new-secret)
sql -c "SELECT elicense.gateway_rotate_secret('dept_app', '$(sed -n 2p <<<"$pair")', interval '0')" >/dev/null
call "$token" /api/v1/usage-codes/check "$(jq -nc --arg c "$code" '{usageCode: $c}')"
expect 401 11 "a token of a retired secret"
post /api/v1/token "$(jq -nc --arg s "$app_secret" '{accessId: "dept_app", accessSecret: $s}')"
expect 401 11 "a retired secret"
token=$(token_for dept_app "$(sed -n 1p <<<"$pair")")
call "$token" /api/v1/usage-codes/check "$(jq -nc --arg c "$code" '{usageCode: $c}')"
expect 200 0 "the rotated secret's token"
[ "$(sql -c "SELECT count(*) FROM elicense.gateway_secret WHERE secret_hash LIKE '%$app_secret%'")" = 0 ] || fail "a secret is stored in clear"
echo "ok: rotation with grace 0 retires the old secret and its tokens; the new secret works"

# 6. Logs, and a login that inherits.
for f in gw1b gw2; do
  while IFS= read -r line; do
    jq -e . >/dev/null 2>&1 <<<"$line" || fail "$f log line is not JSON: $line"
  done <"$out/$f.log"
  ! grep -q -- "$token\|$app_secret\|${url##*/}" "$out/$f.log" || fail "$f's log holds a token, secret or link key"
done
grep -q '"operation":"info".*"status":100' "$out/gw1b.log" || fail "no access-log line for a refused info call"
sql -c "ALTER ROLE gateway_login INHERIT"
if "$bin/elicense-gateway" --port 0 --conninfo "host=$PGHOST port=$PGPORT dbname=$db user=gateway_login password=$PGPASSWORD" \
     >"$out/inherit.out" 2>"$out/inherit.log"; then
  fail "a gateway whose login inherits started"
fi
grep -q "NOINHERIT" "$out/inherit.log" || fail "the inheriting login's refusal: $(cat "$out/inherit.log")"
sql -c "ALTER ROLE gateway_login NOINHERIT"
echo "ok: access logs are JSON lines without tokens, secrets or link keys; an inheriting login is refused at start"
