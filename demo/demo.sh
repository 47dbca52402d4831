#!/usr/bin/env bash
# elicense end to end, inside a throwaway cluster (run by demo/run):
# approval tables whose triggers issue licences of both types, the sync worker
# delivering them to the national-platform test double (with a few injected
# 503s), a progress bar, the analysts' summary, and the licence files.
source "$(dirname "$0")/../tests/sync/lib.sh"
files=$out/files
mkdir -p "$files"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A database with CREATE EXTENSION elicense, the province's keys, the platform double and the worker"
setup_database
start_double
faults '{"latency_ms": 2, "rate_5xx": 0.03}'
write_config 16 10
start_worker demo-worker
worker=${pids[-1]}
echo "platform double on $double_url; worker log: $out/demo-worker.log"

step "Approval tables with the issuing trigger (what an approval system adds)"
sql <<'SQL'
CREATE TABLE company_approval (
  id serial PRIMARY KEY, status text NOT NULL DEFAULT 'pending', company text, uscc text, boss text, address text,
  cert_no text, valid_from date, valid_to date, decided date, clerk text);
CREATE TRIGGER issue_licence AFTER INSERT OR UPDATE ON company_approval FOR EACH ROW
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W050',
    'enterprise_name=company', 'uscc=uscc', 'principal=boss', 'address=address', 'licence_number=cert_no',
    'valid_from=valid_from', 'valid_to=valid_to', 'issue_date=decided',
    'const:economic_type=有限责任公司', 'const:permit_scope=建筑施工',
    'const:authority_name=福建省住房和城乡建设厅', 'const:authority_uscc=11350000003591037R',
    'const:authority_division=350000', 'when:status=approved', 'actor:clerk');
CREATE TABLE worker_approval (
  id serial PRIMARY KEY, status text NOT NULL DEFAULT 'pending', person text, sex text, idno text, work text,
  cert_no text, valid_from date, valid_to date, decided date, clerk text);
CREATE TRIGGER issue_licence AFTER INSERT OR UPDATE ON worker_approval FOR EACH ROW
  EXECUTE FUNCTION elicense.issue_from_trigger('11100000000013338W032',
    'name=person', 'gender=sex', 'id_number=idno', 'category=work', 'licence_number=cert_no',
    'valid_from=valid_from', 'valid_to=valid_to', 'issue_date=decided',
    'const:authority_name=福建省住房和城乡建设厅', 'const:authority_uscc=11350000003591037R',
    'const:authority_division=350000', 'when:status=approved', 'actor:clerk');
SQL
echo "company_approval (安全生产许可证, W050) and worker_approval (特种作业操作资格证书, W032)"

step "Approving 150 companies and 150 workers, then changing one licence and revoking another"
sql <<'SQL'
INSERT INTO company_approval (status, company, uscc, boss, address, cert_no, valid_from, valid_to, decided, clerk)
SELECT 'approved', '福建示范建设工程有限公司' || g, '91350100M000100Y43', '张' || g, '福州市鼓楼区五四路' || g || '号',
       '(闽)JZ安许证字[2025]' || lpad(g::text, 6, '0'), '2025-03-01', '2028-02-28', '2025-03-01', '审批员甲'
FROM generate_series(1, 150) g;
INSERT INTO worker_approval (status, person, sex, idno, work, cert_no, valid_from, valid_to, decided, clerk)
SELECT 'approved', '王' || g, CASE WHEN g % 3 = 0 THEN '女' ELSE '男' END, '11010519491231002X', '建筑架子工',
       '闽A' || lpad(g::text, 10, '0'), '2025-05-01', '2029-04-30', '2025-05-01', '审批员乙'
FROM generate_series(1, 150) g;
SELECT elicense.change(identifier, '{"address": "福州市台江区江滨路1号"}', '单位地址变更', '审批员甲')
  FROM elicense.certificate WHERE licence_number = '(闽)JZ安许证字[2025]000001' \g /dev/null
SELECT elicense.revoke(identifier, '发生生产安全事故', '审批员乙')
  FROM elicense.certificate WHERE licence_number = '闽A0000000002' \g /dev/null
SQL
# Each version queues its first step; each step done queues the next.
total=$(sql -c "SELECT sum(cardinality(elicense._delivery_steps(operate_type))) FROM elicense.certificate")
echo "$(sql -c "SELECT count(*) FROM elicense.certificate") licence versions issued, $total delivery steps to make"

step "The worker delivers them to the platform double"
while true; do
  done_steps=$(sql -c "SELECT count(*) FROM elicense.outbox WHERE status = 'done'")
  width=50; filled=$(( done_steps * width / total ))
  printf '\r[%-*s] %d/%d steps' "$width" "$(printf '%*s' "$filled" '' | tr ' ' '#')" "$done_steps" "$total"
  [ "$done_steps" -lt "$total" ] || break
  sleep 0.3
done
echo

step "What analysts see"
psql -X -d "$db" -c "SET ROLE elicense_analyst" \
  -c "SELECT type_code, month, issued, valid_now, revoked_or_withdrawn, delivered, electronic_rate FROM elicense.analyst_issuance_monthly ORDER BY 1" \
  -c "SELECT outcome, count(*) AS attempts, round(avg(duration_ms)) AS avg_ms FROM elicense.analyst_delivery_attempts GROUP BY 1 ORDER BY 1" \
  -c "SELECT right(original_identifier, 22) AS licence, version, from_status, to_status, operate_type, reason FROM elicense.analyst_status_timeline WHERE original_identifier IN (SELECT original_identifier FROM elicense.analyst_status_timeline GROUP BY 1 HAVING count(*) > 1) ORDER BY 1, at"
psql -X -d "$db" -c "SELECT step, done, dead, attempts FROM elicense.delivery_metrics ORDER BY step"

step "Licence files: QR codes and OFD files"
sql -F ' ' -c "SELECT identifier, type FROM (
                 SELECT identifier, right(type_code, 4) AS type,
                        row_number() OVER (PARTITION BY type_code ORDER BY sequence) AS n
                   FROM elicense.certificate WHERE qr_url IS NOT NULL AND superseded_at IS NULL) s
                WHERE n <= 3 ORDER BY 1" |
while read -r id type; do
  name=$type-$(sql -c "SELECT sequence FROM elicense.certificate WHERE identifier = '$id'")
  sql -c "SELECT encode(elicense.qr_png(qr_url, 'M', 6), 'base64') FROM elicense.certificate WHERE identifier = '$id'" | base64 -d >"$files/$name-qr.png"
  sql -c "SELECT encode(elicense.render_certificate_ofd('$id'), 'base64')" | base64 -d >"$files/$name-platform-copy.ofd"
  sql -c "SELECT encode(elicense.render_certificate_ofd('$id', false), 'base64')" | base64 -d >"$files/$name-original.ofd"
  echo "$id -> $files/$name-{qr.png,platform-copy.ofd,original.ofd}"
done
echo "QR URL of one licence: $(sql -c "SELECT qr_url FROM elicense.certificate WHERE qr_url IS NOT NULL LIMIT 1")"

kill -TERM "$worker"
wait "$worker" || true
step "Done: every licence delivered, $(sql -c "SELECT count(*) FROM elicense.code_assignment") codes assigned; files in $files"
