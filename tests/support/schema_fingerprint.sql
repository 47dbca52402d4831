-- Everything a CREATE EXTENSION elicense defines, one line per fact, in a
-- stable order: tests/integration/extension_upgrade.sh compares a database
-- updated with ALTER EXTENSION ... UPDATE with a fresh install line by line.
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'elicense'),
ns AS (SELECT 'elicense'::regnamespace AS oid),
facts(line) AS (
  SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'
  UNION ALL
  SELECT format('relation %s kind=%s persistence=%s options=%s acl=%s comment=%s', c.oid::regclass, c.relkind,
                c.relpersistence, c.reloptions, (SELECT array_agg(a ORDER BY a::text) FROM unnest(c.relacl) a),
                obj_description(c.oid, 'pg_class'))
    FROM pg_class c, ns WHERE c.relnamespace = ns.oid
  UNION ALL
  SELECT format('column %s #%s %s %s notnull=%s default=%s identity=%s generated=%s acl=%s comment=%s', a.attrelid::regclass,
                row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
                (SELECT array_agg(x ORDER BY x::text) FROM unnest(a.attacl) x), col_description(a.attrelid, a.attnum))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON c.relnamespace = ns.oid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('constraint %s %s %s comment=%s', coalesce(c.conrelid::regclass::text, c.contypid::regtype::text), c.conname,
                pg_get_constraintdef(c.oid), obj_description(c.oid, 'pg_constraint'))
    FROM pg_constraint c, ns WHERE c.connamespace = ns.oid
  UNION ALL
  SELECT format('index %s comment=%s', pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class'))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns ON c.relnamespace = ns.oid
  UNION ALL
  SELECT format('trigger %s', pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON c.relnamespace = ns.oid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid))
    FROM pg_class c, ns WHERE c.relnamespace = ns.oid AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT format('function %s acl=%s comment=%s %s', p.oid::regprocedure,
                (SELECT array_agg(a ORDER BY a::text) FROM unnest(p.proacl) a), obj_description(p.oid, 'pg_proc'),
                CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE p.prokind::text END)
    FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
  UNION ALL
  SELECT format('type %s %s comment=%s', t.oid::regtype, t.typtype, obj_description(t.oid, 'pg_type'))
    FROM pg_type t, ns WHERE t.typnamespace = ns.oid AND t.typtype IN ('d', 'e', 'c') AND t.typrelid = 0
  UNION ALL
  SELECT format('config %s %s', c, cond)
    FROM pg_extension e, ext, unnest(e.extconfig::regclass[], e.extcondition) AS u(c, cond) WHERE e.oid = ext.oid
  UNION ALL  -- shipped catalogue rows
  SELECT 'row licence_type ' || t::text FROM elicense.licence_type t
  UNION ALL
  SELECT 'row licence_item ' || i::text FROM elicense.licence_item i
  UNION ALL
  SELECT 'row platform_field_shipped ' || f::text FROM elicense.platform_field_shipped f
  UNION ALL
  SELECT 'row platform_field_local ' || f::text FROM elicense.platform_field_local f
  UNION ALL
  SELECT 'row ofd_template ' || o.type_code || ' ' || md5(o.template::text) FROM elicense.ofd_template o WHERE o.shipped
  UNION ALL
  SELECT format('role %s login=%s member of %s', r.rolname, r.rolcanlogin,
                (SELECT array_agg(g.rolname ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid))
    FROM pg_roles r WHERE r.rolname LIKE 'elicense\_%'
)
SELECT line FROM facts ORDER BY line COLLATE "C";
