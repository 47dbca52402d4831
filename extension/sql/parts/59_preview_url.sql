--------------------------------------------------------------------------------
-- Preview URLs. The collect step (归集) sends the national platform
-- a link to a watermarked preview, never the file. The link carries a token
-- (core/include/elicense/preview_token.hpp): licence identifier and expiry,
-- HMAC-SHA256 with a key that lives only here, admin-only. The preview server
-- (preview/) holds no secret: it hands tokens to elicense.preview_open.
--------------------------------------------------------------------------------

CREATE TABLE elicense.preview_key (
    id         smallint PRIMARY KEY CONSTRAINT preview_key_id_range CHECK (id BETWEEN 1 AND 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    secret_box bytea NOT NULL
);
COMMENT ON TABLE elicense.preview_key IS
'HMAC keys of preview tokens, encrypted under the master key; the newest signs, every row verifies (delete a row to invalidate its URLs); admin only';
COMMENT ON COLUMN elicense.preview_key.secret_box IS
'32 random bytes made by elicense.rotate_preview_key, AES-256-GCM under the master key (elicense.master_key_file)';
-- Dumped: a restored database must still accept the URLs the platform holds
-- (with the same master key file). No row ships (it would collide with
-- itself on restore): the first preview_url() call makes one.
SELECT pg_catalog.pg_extension_config_dump('elicense.preview_key', '');
REVOKE ALL ON elicense.preview_key FROM PUBLIC;
GRANT SELECT, DELETE ON elicense.preview_key TO elicense_admin;
-- Keys are made by rotate_preview_key only; a row written around it (a
-- superuser's INSERT) must still hold a box. A trigger and not a CHECK: a
-- failing CHECK prints the row.
CREATE FUNCTION elicense._preview_key_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.secret_box IS NULL OR elicense._secret_key_id(NEW.secret_box) IS NULL THEN
    RAISE EXCEPTION 'elicense.preview_key.secret_box is not an encrypted secret'
      USING ERRCODE = 'check_violation', HINT = 'Make keys with elicense.rotate_preview_key(); the value is not repeated here.';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION elicense._preview_key_check() FROM PUBLIC;
CREATE TRIGGER preview_key_is_boxed BEFORE INSERT OR UPDATE ON elicense.preview_key
    FOR EACH ROW EXECUTE FUNCTION elicense._preview_key_check();

CREATE FUNCTION elicense._preview_key_box(secret bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_preview_key_box'
LANGUAGE C VOLATILE;
CREATE FUNCTION elicense._preview_token(secret_box bytea, key_id integer, identifier text, expires_at bigint) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_preview_token_boxed'
LANGUAGE C STABLE STRICT;
CREATE FUNCTION elicense._preview_token_key_id(token text) RETURNS integer
AS 'MODULE_PATHNAME', 'elicense_preview_token_key_id'
LANGUAGE C IMMUTABLE STRICT;
CREATE FUNCTION elicense._preview_token_check(token text, secret_box bytea, OUT identifier text, OUT expires_at bigint)
AS 'MODULE_PATHNAME', 'elicense_preview_token_check_boxed'
LANGUAGE C STABLE STRICT;
REVOKE ALL ON FUNCTION elicense._preview_key_box(bytea), elicense._preview_token(bytea, integer, text, bigint),
    elicense._preview_token_key_id(text), elicense._preview_token_check(text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION elicense._preview_key_box(bytea) IS
'Internal: a preview key encrypted under the master key: 32 fresh random bytes for NULL, else the key given (at least 32 bytes)';
COMMENT ON FUNCTION elicense._preview_token(bytea, integer, text, bigint) IS
'Internal: preview token for a licence identifier valid until expires_at (Unix seconds), signed with the key in secret_box';
COMMENT ON FUNCTION elicense._preview_token_key_id(text) IS
'Internal: key id of a well-formed preview token, NULL for anything else';
COMMENT ON FUNCTION elicense._preview_token_check(text, bytea) IS
'Internal: identifier and expiry of a token signed with the key in secret_box; NULLs if it is not';

-- A fresh key: 32 random bytes (OpenSSL RAND_bytes) made and encrypted in C.
CREATE FUNCTION elicense.rotate_preview_key() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_id integer;
BEGIN
  LOCK TABLE elicense.preview_key IN SHARE ROW EXCLUSIVE MODE;
  SELECT coalesce(max(id), 0) + 1 INTO new_id FROM elicense.preview_key;
  IF new_id > 255 THEN
    RAISE EXCEPTION 'preview key ids are used up (255)' USING ERRCODE = 'program_limit_exceeded',
      HINT = 'DELETE old rows of elicense.preview_key (their URLs stop working), then renumber.';
  END IF;
  INSERT INTO elicense.preview_key (id, secret_box) VALUES (new_id, elicense._preview_key_box(NULL));
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION elicense.rotate_preview_key() IS
'Adds a new preview key, which signs the URLs of versions created from now on; URLs signed with older keys stay valid until their row is deleted';
REVOKE ALL ON FUNCTION elicense.rotate_preview_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.rotate_preview_key() TO elicense_admin;

-- The preview URL of a licence version, from delivery_config's template.
-- The same version always gets the same URL (the worker's confirm step
-- compares the URL the platform holds with this one, and a replayed collect
-- step must send the same link): the expiry counts from the version's
-- creation, and the key is the newest one made before the version (else
-- the oldest), so a later key rotation does not change existing URLs.
CREATE FUNCTION elicense.preview_url(identifier text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  template text;
  lifetime interval;
  anchor timestamptz;
  k elicense.preview_key;
  url text;
BEGIN
  SELECT d.preview_url_template, d.preview_token_lifetime INTO template, lifetime FROM elicense.delivery_config d;
  template := coalesce(template, 'https://licence-preview.invalid/p/{token}');
  lifetime := coalesce(lifetime, interval '5 years');
  url := replace(template, '{identifier}', preview_url.identifier);
  IF strpos(url, '{token}') > 0 THEN
    SELECT c.created_at INTO anchor FROM elicense.certificate c WHERE c.identifier = preview_url.identifier;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no licence with identifier "%"', preview_url.identifier USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT FROM elicense.preview_key) THEN
      PERFORM elicense.rotate_preview_key();
    END IF;
    SELECT * INTO k FROM elicense.preview_key p WHERE p.created_at < anchor ORDER BY p.created_at DESC, p.id DESC LIMIT 1;
    IF NOT FOUND THEN
      SELECT * INTO k FROM elicense.preview_key p ORDER BY p.created_at, p.id LIMIT 1;
    END IF;
    url := replace(url, '{token}', elicense._preview_token(k.secret_box, k.id, preview_url.identifier,
        least(extract(epoch FROM anchor + lifetime)::bigint, 4294967295)));
  END IF;
  RETURN url;
END
$$;
COMMENT ON FUNCTION elicense.preview_url(text) IS
'URL of the watermarked preview of a licence version: delivery_config.preview_url_template with {identifier} and {token} (valid for preview_token_lifetime from the version''s creation) filled in; the same for every call';
REVOKE ALL ON FUNCTION elicense.preview_url(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.preview_url(text) TO elicense_admin, elicense_issuer;
