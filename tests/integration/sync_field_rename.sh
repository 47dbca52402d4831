#!/usr/bin/env bash
# A DBA corrects a request field name with one UPDATE, without a rebuild, and
# the next request carries it. The platform here names W050's check field
# creditCode "creditNo" (a platform whose annex differs from what clients
# showed: the double runs with a spec edited that way), so:
#   1. every W050 check is refused, the double naming the missing field, and
#      the step is dead with that message; W032 licences go through;
#   2. UPDATE elicense.platform_field renames the field, elicense.replay puts
#      the dead steps back, and the same worker process delivers them: its
#      requests now carry creditNo and no creditCode.
source "$(dirname "$0")/../sync/lib.sh"
setup_database
python3 - "$root/tests/double/platform_spec.json" "$out/spec.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
for field in spec["types"]["W050"]["steps"]["check"]["fields"]:
    if field["name"] == "creditCode":
        field["name"] = "creditNo"
json.dump(spec, open(sys.argv[2], "w"), ensure_ascii=False)
PY
start_double --spec-file "$out/spec.json"
write_config 4 5
issue_licences 3
start_worker w1
wait_for 60 "(SELECT count(*) FROM elicense.outbox WHERE status = 'dead') = 3
             AND NOT EXISTS (SELECT FROM elicense.outbox o JOIN elicense.certificate c USING (identifier)
                              WHERE c.type_code = '11100000000013338W032' AND o.status <> 'done')"
[ "$(sql -c "SELECT DISTINCT step FROM elicense.outbox WHERE status = 'dead'")" = validate ] || fail "not the check that was refused"
sql -c "SELECT DISTINCT last_error FROM elicense.outbox WHERE status = 'dead'" | grep -F creditNo >/dev/null \
  || fail "the refusal does not name the missing field: $(sql -c "SELECT last_error FROM elicense.outbox WHERE status = 'dead' LIMIT 1")"

# The fix, as a DBA (elicense_admin) makes it: one UPDATE, then a replay.
sql <<'SQL'
CREATE ROLE rename_dba LOGIN IN ROLE elicense_admin;
SET ROLE rename_dba;
UPDATE elicense.platform_field SET field = 'creditNo'
 WHERE type_code = '11100000000013338W050' AND step = 'validate' AND field = 'creditCode';
SELECT elicense.replay(identifier) FROM elicense.outbox WHERE status = 'dead' \g /dev/null
SQL
wait_for 60 "$(all_delivered)"
check_exactly_once 3  # the three checks refused before the fix
# What the platform received after the fix: the new name, not the old one.
[ "$(sql -c "SELECT count(*) FROM elicense.outbox o JOIN elicense.certificate c USING (identifier)
              WHERE c.type_code = '11100000000013338W050' AND o.step = 'validate'
                AND o.request ? 'creditNo' AND NOT o.request ? 'creditCode'")" = 3 ] \
  || fail "the requests sent after the rename do not carry creditNo"
[ "$(sql -c "SELECT count(*) FROM elicense.platform_field WHERE step = 'assign_code' AND field = 'creditCode'")" = 1 ] \
  || fail "the rename reached another step"
echo "field renamed by one UPDATE: 3 refused checks replayed and delivered with creditNo"
