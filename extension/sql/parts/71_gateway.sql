--------------------------------------------------------------------------------
-- HTTP gateway for departments (gateway/, issue 20). A department
-- application authenticates to the gateway with its id and secret and gets a
-- short-lived token; every call it makes then runs in the database under
-- the application's own role (the gateway's login, NOINHERIT and a member of
-- each application role, does SET LOCAL ROLE per request), so the sharing
-- functions of 70_sharing.sql, their grants, masking and audit see the
-- application exactly as over SQL.
--   gateway_application  app id -> database role, rate limit, disabled
--   gateway_secret       PBKDF2-SHA256 hashes of its secrets (never the
--                        secret); rotation adds one and retires the others
--                        after a grace period
--   gateway_token        SHA-256 of the tokens handed out (never the token)
--   gateway_download     files behind time-limited download links (SHA-256
--                        of the link's key), so any instance can serve them
-- The gateway's login is a member of elicense_gateway; it calls the
-- gateway_* functions after SET LOCAL ROLE elicense_gateway.
--------------------------------------------------------------------------------

CREATE TABLE elicense.gateway_application (
    app_id              text PRIMARY KEY CONSTRAINT gateway_application_id_format CHECK (app_id ~ '^[A-Za-z0-9_.-]{3,64}$'),
    db_role             regrole NOT NULL,
    name                text NOT NULL CONSTRAINT gateway_application_name_present CHECK (name <> ''),
    requests_per_second integer NOT NULL DEFAULT 50 CONSTRAINT gateway_application_rate CHECK (requests_per_second BETWEEN 1 AND 100000),
    burst               integer NOT NULL DEFAULT 100 CONSTRAINT gateway_application_burst CHECK (burst BETWEEN 1 AND 100000),
    disabled_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE elicense.gateway_application IS
'Department applications of the HTTP gateway: the database role each one''s calls run as (the grantee of its usage grants, or a member of it), its rate limit per gateway instance, and whether it is disabled';
COMMENT ON COLUMN elicense.gateway_application.db_role IS
'Role the gateway SETs for the application''s calls: the gateway''s login must be a member of it (GRANT role TO login)';
COMMENT ON COLUMN elicense.gateway_application.requests_per_second IS 'Token-bucket rate of each gateway instance for this application (README: several instances)';

CREATE TABLE elicense.gateway_secret (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id      text NOT NULL REFERENCES elicense.gateway_application ON UPDATE CASCADE ON DELETE CASCADE,
    secret_hash text NOT NULL CONSTRAINT gateway_secret_hash_format
                CHECK (secret_hash ~ '^pbkdf2-sha256\$[0-9]{5,7}\$[A-Za-z0-9+/]{22,}={0,2}\$[A-Za-z0-9+/]{43}=$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retire_at   timestamptz
);
CREATE INDEX gateway_secret_app ON elicense.gateway_secret (app_id);
COMMENT ON TABLE elicense.gateway_secret IS
'Secrets of gateway applications as PBKDF2-SHA256 hashes (pbkdf2-sha256$iterations$salt$hash, Base64; elicense-gateway new-secret makes one); a secret is live until retire_at';

CREATE TABLE elicense.gateway_token (
    token_sha256 bytea PRIMARY KEY,
    app_id       text NOT NULL REFERENCES elicense.gateway_application ON UPDATE CASCADE ON DELETE CASCADE,
    secret_id    bigint NOT NULL REFERENCES elicense.gateway_secret ON DELETE CASCADE,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX gateway_token_expires ON elicense.gateway_token (expires_at);
COMMENT ON TABLE elicense.gateway_token IS
'Access tokens handed to gateway applications, by SHA-256 (the token is never stored); valid until expires_at while the application is enabled and the secret it was made with is live';

CREATE TABLE elicense.gateway_download (
    link_sha256 bytea PRIMARY KEY,
    app_id      text NOT NULL REFERENCES elicense.gateway_application ON UPDATE CASCADE ON DELETE CASCADE,
    file_name   text NOT NULL,
    file        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX gateway_download_expires ON elicense.gateway_download (expires_at);
COMMENT ON TABLE elicense.gateway_download IS
'Licence file copies behind time-limited download links: the copy licence_file made (and audited) for the application, by SHA-256 of the link''s key; served until expires_at, then deleted';

-- Live secrets of an enabled application (the gateway checks the secret).
CREATE FUNCTION elicense.gateway_secrets(app_id text, OUT secret_id bigint, OUT secret_hash text) RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT s.id, s.secret_hash
    FROM elicense.gateway_secret s JOIN elicense.gateway_application a ON a.app_id = s.app_id
   WHERE s.app_id = gateway_secrets.app_id AND a.disabled_at IS NULL AND (s.retire_at IS NULL OR s.retire_at > now())
   ORDER BY s.id DESC
$$;
COMMENT ON FUNCTION elicense.gateway_secrets(text) IS
'The gateway: hashes of the live secrets of an enabled application (none: unknown, disabled or all retired)';

-- Records a token the gateway hands out after checking a secret; drops the
-- application's expired ones.
CREATE FUNCTION elicense.gateway_issue_token(app_id text, secret_id bigint, token_sha256 bytea, lifetime_seconds integer)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  until timestamptz := now() + make_interval(secs => lifetime_seconds);
BEGIN
  IF lifetime_seconds IS NULL OR lifetime_seconds NOT BETWEEN 60 AND 86400 THEN
    RAISE EXCEPTION 'lifetime_seconds % is outside 60-86400', lifetime_seconds USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Tokens are short-lived: the gateway''s token_lifetime_s.';
  END IF;
  IF length(token_sha256) IS DISTINCT FROM 32 THEN
    RAISE EXCEPTION 'token_sha256 must be 32 bytes' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Pass the SHA-256 of the token, never the token.';
  END IF;
  IF NOT EXISTS (SELECT FROM elicense.gateway_secrets(app_id) s WHERE s.secret_id = gateway_issue_token.secret_id) THEN
    RAISE EXCEPTION 'secret % of application "%" is not live', secret_id, app_id USING ERRCODE = 'invalid_authorization_specification',
      HINT = 'The application is disabled or the secret was retired meanwhile.';
  END IF;
  DELETE FROM elicense.gateway_token t WHERE t.app_id = gateway_issue_token.app_id AND t.expires_at < now();
  INSERT INTO elicense.gateway_token (token_sha256, app_id, secret_id, expires_at)
  VALUES (token_sha256, app_id, secret_id, until);
  RETURN until;
END
$$;
COMMENT ON FUNCTION elicense.gateway_issue_token(text, bigint, bytea, integer) IS
'The gateway: records the SHA-256 of a token it hands out for an application''s live secret, valid lifetime_seconds (60-86400)';

-- The application a token stands for, while it is valid.
CREATE FUNCTION elicense.gateway_token_app(token_sha256 bytea,
    OUT app_id text, OUT db_role text, OUT requests_per_second integer, OUT burst integer, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT a.app_id, a.db_role::text, a.requests_per_second, a.burst, least(t.expires_at, s.retire_at)
    FROM elicense.gateway_token t
    JOIN elicense.gateway_application a ON a.app_id = t.app_id
    JOIN elicense.gateway_secret s ON s.id = t.secret_id
   WHERE t.token_sha256 = gateway_token_app.token_sha256 AND t.expires_at > now() AND a.disabled_at IS NULL
     AND (s.retire_at IS NULL OR s.retire_at > now())
$$;
COMMENT ON FUNCTION elicense.gateway_token_app(bytea) IS
'The gateway: application, role, rate limit and expiry of a valid token (no row: unknown, expired, application disabled or secret retired)';

-- Keeps a file copy behind a download link; drops expired ones.
CREATE FUNCTION elicense.gateway_put_download(app_id text, link_sha256 bytea, file_name text, file bytea,
    lifetime_seconds integer) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  until timestamptz := now() + make_interval(secs => lifetime_seconds);
BEGIN
  IF lifetime_seconds IS NULL OR lifetime_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'lifetime_seconds % is outside 1-86400', lifetime_seconds USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Download links are short-lived (expirySeconds).';
  END IF;
  DELETE FROM elicense.gateway_download d WHERE d.expires_at < now() - interval '1 hour';
  INSERT INTO elicense.gateway_download (link_sha256, app_id, file_name, file, expires_at)
  VALUES (link_sha256, app_id, file_name, file, until);
  RETURN until;
END
$$;
COMMENT ON FUNCTION elicense.gateway_put_download(text, bytea, text, bytea, integer) IS
'The gateway: keeps a licence file copy (already made and audited by licence_file) behind a download link for lifetime_seconds (1-86400)';

-- The file behind a link, while it is valid (gone: expired or unknown).
CREATE FUNCTION elicense.gateway_get_download(link_sha256 bytea, OUT file_name text, OUT file bytea) RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT d.file_name, d.file FROM elicense.gateway_download d
   WHERE d.link_sha256 = gateway_get_download.link_sha256 AND d.expires_at > now()
$$;
COMMENT ON FUNCTION elicense.gateway_get_download(bytea) IS 'The gateway: the file behind a download link until it expires';

-- Rotation: a new secret; the live ones retire after the grace period (so
-- the application can switch without a gap), and with them their tokens.
CREATE FUNCTION elicense.gateway_rotate_secret(app_id text, secret_hash text, grace interval DEFAULT '1 day')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_id bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM elicense.gateway_application a WHERE a.app_id = gateway_rotate_secret.app_id) THEN
    RAISE EXCEPTION 'unknown gateway application "%"', app_id USING ERRCODE = 'undefined_object',
      HINT = 'Applications are the rows of elicense.gateway_application.';
  END IF;
  IF grace IS NULL OR grace < interval '0' THEN
    RAISE EXCEPTION 'grace % must be zero or more', grace USING ERRCODE = 'invalid_parameter_value',
      HINT = 'interval ''0'' retires the old secrets (and their tokens) at once.';
  END IF;
  UPDATE elicense.gateway_secret s SET retire_at = now() + grace
   WHERE s.app_id = gateway_rotate_secret.app_id AND (s.retire_at IS NULL OR s.retire_at > now() + grace);
  INSERT INTO elicense.gateway_secret (app_id, secret_hash) VALUES (app_id, secret_hash) RETURNING id INTO new_id;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION elicense.gateway_rotate_secret(text, text, interval) IS
'Adds a secret (its PBKDF2 hash: elicense-gateway new-secret) to a gateway application and retires its other secrets, and their tokens, after grace';

-- 证照照面字段: the face-field schema of a licence type the caller's grants cover.
CREATE FUNCTION elicense.licence_type_schema(type_code text,
    OUT item text, OUT label text, OUT data_type text, OUT required boolean, OUT max_length integer,
    OUT allowed_values text[], OUT metadata_column text, OUT "position" integer) RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM elicense.licence_type t WHERE t.type_code = licence_type_schema.type_code) THEN
    RAISE EXCEPTION 'unknown licence type "%"', left(type_code, 64) USING ERRCODE = 'undefined_object',
      HINT = 'Licence types are the rows of elicense.licence_type.';
  END IF;
  IF NOT EXISTS (SELECT FROM elicense.usage_grant g
                  WHERE g.grantee::oid = ANY (elicense._caller_roles()) AND licence_type_schema.type_code = ANY (g.type_codes)
                    AND g.revoked_at IS NULL AND g.valid_from <= now() AND (g.valid_to IS NULL OR g.valid_to > now())) THEN
    RAISE EXCEPTION 'licence type % is outside every live usage grant of role "%"', type_code, elicense._caller_role()
      USING ERRCODE = 'insufficient_privilege', HINT = 'Ask for the schema of the licence types a grant allows.';
  END IF;
  RETURN QUERY SELECT i.item, i.label, i.data_type, i.required, i.max_length, i.allowed_values, i.metadata_column, i.position
                 FROM elicense.licence_item i WHERE i.type_code = licence_type_schema.type_code ORDER BY i.position;
END
$$;
COMMENT ON FUNCTION elicense.licence_type_schema(text) IS
'证照照面字段: items (key, Chinese label, data type, required, bounds) of a licence type a live usage grant of the caller covers';

REVOKE ALL ON elicense.gateway_application, elicense.gateway_secret, elicense.gateway_token, elicense.gateway_download FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.gateway_application TO elicense_admin;
GRANT SELECT ON elicense.gateway_secret TO elicense_admin;
GRANT INSERT (app_id, secret_hash) ON elicense.gateway_secret TO elicense_admin;
GRANT UPDATE (retire_at) ON elicense.gateway_secret TO elicense_admin;
GRANT SELECT (app_id, issued_at, expires_at) ON elicense.gateway_token TO elicense_admin;
REVOKE ALL ON FUNCTION elicense.gateway_secrets(text), elicense.gateway_issue_token(text, bigint, bytea, integer),
    elicense.gateway_token_app(bytea), elicense.gateway_put_download(text, bytea, text, bytea, integer),
    elicense.gateway_get_download(bytea), elicense.gateway_rotate_secret(text, text, interval),
    elicense.licence_type_schema(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.gateway_secrets(text), elicense.gateway_issue_token(text, bigint, bytea, integer),
    elicense.gateway_token_app(bytea), elicense.gateway_put_download(text, bytea, text, bytea, integer),
    elicense.gateway_get_download(bytea) TO elicense_gateway;
GRANT EXECUTE ON FUNCTION elicense.gateway_rotate_secret(text, text, interval) TO elicense_admin;
GRANT EXECUTE ON FUNCTION elicense.licence_type_schema(text) TO elicense_consumer;

SELECT pg_catalog.pg_extension_config_dump('elicense.gateway_application', '');
SELECT pg_catalog.pg_extension_config_dump('elicense.gateway_secret', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('elicense.gateway_secret', 'id'), '');
