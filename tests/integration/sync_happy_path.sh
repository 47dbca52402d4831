#!/usr/bin/env bash
# The worker delivers licences of both types to the platform test double:
# 20 W050 and 20 W032 issued, one changed (a new version with a new code) and
# one revoked (a status update under the latest code). Every step is done,
# each took effect on the platform exactly once, every new version has its QR
# URL, attempts are recorded without tokens, analysts see them, and SIGTERM
# stops the worker cleanly.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
start_double
write_config 8 5
issue_licences 20
changed=$(sql -c "SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338W050' ORDER BY sequence LIMIT 1")
revoked=$(sql -c "SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338W032' ORDER BY sequence LIMIT 1")
sql -c "SELECT elicense.change('$changed', '{\"address\": \"福州市台江区1号\"}', '地址变更', 'approval-test')" >/dev/null
sql -c "SELECT elicense.revoke('$revoked', '违法违规', 'approval-test')" >/dev/null

start_worker w1
worker=${pids[-1]}
wait_for 60 "$(all_delivered)"
check_exactly_once

[ "$(sql -c "SELECT count(DISTINCT type_code) FROM elicense.certificate c JOIN elicense.code_assignment a USING (identifier)")" = 2 ] \
  || fail "not both licence types got codes"
[ "$(sql -c "SELECT count(*) FROM elicense.code_assignment a JOIN elicense.certificate c USING (identifier)
              WHERE c.original_identifier = '$changed'")" = 2 ] || fail "the changed licence did not get a second code"
[ "$(sql -c "SELECT count(*) FROM elicense.outbox WHERE step = 'status_update' AND status = 'done'")" = 1 ] \
  || fail "the revocation was not delivered"
[ "$(sql -c "SELECT count(*) FROM elicense.delivery_attempt WHERE outcome = 'business_error'")" = 0 ] \
  || fail "the platform refused a licence"
[ "$(sql -c "SET ROLE elicense_analyst; SELECT count(*) > 0 FROM elicense.analyst_delivery_attempts")" = t ] \
  || fail "analysts cannot see the attempts"
# The code decrypted from the assignment is the one the double handed out.
python3 - "$out/double_state.json" <(sql -F' ' -c "SELECT identifier, assigned_code FROM elicense.certificate WHERE assigned_code IS NOT NULL AND superseded_at IS NULL OR identifier = '$changed'") <<'PY' || fail "assigned codes differ from the platform's"
import json, sys
state = json.load(open(sys.argv[1]))["licences"]
rows = [l.split() for l in open(sys.argv[2]) if l.strip()]
bad = [r for r in rows if state[r[0]]["assignedCode"] != r[1]]
print(f"{len(rows)} codes compared with the platform's, {len(bad)} differ")
sys.exit(1 if bad else 0)
PY

# The licence files of delivered versions: the original renders to the same
# bytes twice and its SHA-256 is stored; the watermarked copy is a valid
# package whose QR decodes to the stored URL.
for type in W050 W032; do
  id=$(sql -c "SELECT identifier FROM elicense.certificate WHERE type_code = '11100000000013338$type' AND qr_url IS NOT NULL LIMIT 1")
  sql -c "SELECT encode(elicense.render_certificate_ofd('$id', false), 'base64')" | base64 -d >"$out/$type-original.ofd"
  sql -c "SELECT encode(elicense.render_certificate_ofd('$id'), 'base64')" | base64 -d >"$out/$type-platform-copy.ofd"
  sql -c "SELECT encode(elicense.qr_png(qr_url), 'base64') FROM elicense.certificate WHERE identifier = '$id'" | base64 -d >"$out/$type-qr.png"
  [ "$(sha256sum <"$out/$type-original.ofd" | cut -d' ' -f1)" = "$(sql -c "SELECT file_sha256 FROM elicense.certificate WHERE identifier = '$id'")" ] \
    || fail "$type: stored SHA-256 differs from the original file"
  [ "$(sql -c "SELECT encode(sha256(elicense.render_certificate_ofd('$id', false)), 'hex') = file_sha256 FROM elicense.certificate WHERE identifier = '$id'")" = t ] \
    || fail "$type: the original does not render to the same bytes twice"
  unzip -tq "$out/$type-platform-copy.ofd" >/dev/null || fail "$type: the platform copy is not a valid ZIP"
  grep -q "仅供全国工程质量安全监管信息平台信息公开使用" <<<"$(unzip -p "$out/$type-platform-copy.ofd" Doc_0/Annots.xml Doc_0/Pages/Page_0/Annotation.xml 2>/dev/null)" \
    || fail "$type: the platform copy has no watermark"
  grep -qF "$(sql -c "SELECT holder_name FROM elicense.certificate WHERE identifier = '$id'")" <<<"$(unzip -p "$out/$type-platform-copy.ofd" Doc_0/Pages/Page_0/Content.xml)" \
    || fail "$type: the face does not show the holder"
  # The platform copy is public: a resident ID (W032's holder) is masked on
  # it, first 6 and last 4; the original keeps it whole.
  if [ "$type" = W032 ]; then
    full=$(sql -c "SELECT x.holder_id FROM elicense.certificate c, elicense._reveal_ids(c) x WHERE c.identifier = '$id'")
    [ "$full" = 350102199001011238 ] || fail "$type: the holder's full ID is not what was issued: $full"
    copy_text=$(unzip -p "$out/$type-platform-copy.ofd" Doc_0/Pages/Page_0/Content.xml)
    [[ $copy_text != *"$full"* && $copy_text == *"${full:0:6}********${full:14:4}"* ]] \
      || fail "$type: the platform copy does not show the holder's ID masked"
    [[ $(unzip -p "$out/$type-original.ofd" Doc_0/Pages/Page_0/Content.xml) == *"$full"* ]] \
      || fail "$type: the original does not show the holder's ID"
    # A type whose template says so shows it whole on public copies too.
    sql -c "UPDATE elicense.ofd_template SET template = template || '{\"public_id_numbers\": \"full\"}' WHERE type_code = '11100000000013338W032'"
    sql -c "SELECT encode(elicense.render_certificate_ofd('$id'), 'base64')" | base64 -d >"$out/$type-full-id-copy.ofd"
    [[ $(unzip -p "$out/$type-full-id-copy.ofd" Doc_0/Pages/Page_0/Content.xml) == *"$full"* ]] \
      || fail "$type: with public_id_numbers full, the platform copy still masks the ID"
  fi
  [ "$("$root/tests/support/decode_qr" "$out/$type-qr.png" 2>/dev/null)" = "$(sql -c "SELECT qr_url FROM elicense.certificate WHERE identifier = '$id'")" ] \
    || fail "$type: the QR image does not decode to the stored URL"
done

# Once the authority's seal is configured, files are sealed and verify.
install_seal
id=$(sql -c "SELECT identifier FROM elicense.certificate WHERE qr_url IS NOT NULL LIMIT 1")
[ "$(sql -v cert="$(cat "$out/seal/seal-cert.pem")" <<<"SELECT ok::text || ' ' || status FROM elicense.verify_licence_ofd(elicense.render_certificate_ofd('$id'), :'cert')")" = "true ok" ] \
  || fail "a sealed licence file does not verify"
[ "$(sql -c "SELECT status FROM elicense.verify_licence_ofd(overlay(elicense.render_certificate_ofd('$id') PLACING '\\x00'::bytea FROM 200 FOR 1))")" != ok ] \
  || fail "a changed sealed file still verifies"

kill -TERM "$worker"
wait "$worker" || fail "the worker did not exit cleanly on SIGTERM"
grep -q '"event":"stop"' "$out/w1.log" || fail "no stop event logged"
echo "happy path: $(sql -c "SELECT count(*) FROM elicense.outbox") steps delivered exactly once"
