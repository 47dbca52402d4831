--------------------------------------------------------------------------------
-- Roles (cluster-wide, so created only if missing; never dropped by DROP
-- EXTENSION). Members get rights through these, never through PUBLIC:
--   elicense_admin    configuration: keys, endpoints, licence-type catalogue
--   elicense_issuer   approval systems: issue, change, revoke, cancel
--   elicense_worker   the sync worker: lease outbox rows, record results
--   elicense_analyst  read-only views; no secrets, no private keys
--   elicense_consumer department applications using licences: the sharing
--                     functions of 70_sharing.sql only, no table access
--   elicense_preview  the preview server: preview_open and preview_ofd only
--   elicense_gateway  the HTTP gateway for departments (71_gateway.sql): its
--                     application, token and download-link functions only
--------------------------------------------------------------------------------
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['elicense_admin', 'elicense_issuer', 'elicense_worker', 'elicense_analyst', 'elicense_consumer',
                           'elicense_preview', 'elicense_gateway'] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$roles$;
