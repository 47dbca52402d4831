-- Every privilege on the extension's objects held by one of its roles or by
-- PUBLIC, one line each: "role | kind object | privileges". Ownership is
-- left out (the installing superuser). Read by tests/integration/role_privileges.sh,
-- compared with the table in docs/privileges.md.
WITH roles (name) AS (
  VALUES ('elicense_admin'), ('elicense_issuer'), ('elicense_worker'), ('elicense_analyst'),
         ('elicense_consumer'), ('elicense_preview'), ('elicense_gateway'), ('PUBLIC')
), members AS (
  SELECT d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
   WHERE e.extname = 'elicense' AND d.deptype = 'e'
), rels AS (
  SELECT c.oid, CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view'
                  WHEN 'S' THEN 'sequence' ELSE 'relation' END AS kind,
         c.relname AS name, c.relacl, c.relowner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'elicense' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND NOT c.relispartition
), grants AS (
  SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS role,
         r.kind || ' ' || r.name AS object, a.privilege_type AS privilege
    FROM rels r, aclexplode(r.relacl) a WHERE a.grantee <> r.relowner
  UNION ALL
  SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
         'column ' || r.name || '.' || t.attname, a.privilege_type
    FROM rels r JOIN pg_attribute t ON t.attrelid = r.oid AND t.attnum > 0 AND NOT t.attisdropped,
         aclexplode(t.attacl) a WHERE a.grantee <> r.relowner
  UNION ALL
  SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
         'function ' || p.oid::regprocedure::text, a.privilege_type
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
         aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
   WHERE n.nspname = 'elicense' AND a.grantee <> p.proowner
  UNION ALL
  SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, 'schema elicense', a.privilege_type
    FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'elicense' AND a.grantee <> n.nspowner
)
SELECT g.role || ' | ' || g.object || ' | ' || string_agg(g.privilege, ', ' ORDER BY g.privilege)
  FROM grants g JOIN roles ON roles.name = g.role
 GROUP BY g.role, g.object
 ORDER BY g.role, g.object;
