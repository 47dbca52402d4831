--------------------------------------------------------------------------------
-- What the preview server (preview/, role elicense_preview) may do: open a
-- token (verified here, every access with a genuine token logged) and fetch
-- the watermarked licence file of a valid one. Nothing else: no table, no
-- original file, no key.
--------------------------------------------------------------------------------

CREATE TABLE elicense.preview_access (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    identifier text NOT NULL,
    version    integer NOT NULL,
    client     text NOT NULL,
    code       smallint NOT NULL,
    status     text NOT NULL
) PARTITION BY RANGE (at);  -- by month (76_history_partitions.sql)
CREATE TABLE elicense.preview_access_default PARTITION OF elicense.preview_access DEFAULT;
COMMENT ON TABLE elicense.preview_access IS
'Every preview opened with a genuine token: time, version, client, HTTP code, status shown. Append-only. Tokens that are not ours (garbage, tampered) are logged by the preview server only, so random traffic cannot grow this table';
SELECT pg_catalog.pg_extension_config_dump('elicense.preview_access_default', '');
CREATE TRIGGER preview_access_append_only BEFORE UPDATE OR DELETE ON elicense.preview_access
    FOR EACH ROW EXECUTE FUNCTION elicense.reject_history_change('The preview access log is evidence; it is never changed.');
CREATE TRIGGER preview_access_no_truncate BEFORE TRUNCATE ON elicense.preview_access
    FOR EACH STATEMENT EXECUTE FUNCTION elicense.reject_history_change('The preview access log is evidence; it is never changed.');
REVOKE ALL ON elicense.preview_access FROM PUBLIC;
GRANT SELECT ON elicense.preview_access TO elicense_admin;

-- The identifier and expiry of a token we signed with a key we still have;
-- no row otherwise.
CREATE FUNCTION elicense._preview_claims(token text, OUT identifier text, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT ch.identifier, to_timestamp(ch.expires_at)
    FROM elicense.preview_key k,
         LATERAL elicense._preview_token_check(token, k.secret_box) ch
   WHERE k.id = elicense._preview_token_key_id(token) AND ch.identifier IS NOT NULL
$$;
REVOKE ALL ON FUNCTION elicense._preview_claims(text) FROM PUBLIC;

-- What a preview shows for a version: 'valid', or why not, by the one rule
-- of elicense.effective_state (a version replaced by a revocation shows
-- revoked, one replaced by a change or renewal superseded, a suspended
-- licence suspended); a valid version without its QR code yet is not_ready.
CREATE FUNCTION elicense._preview_status(c elicense.certificate) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN s.state = 'valid' AND c.qr_url IS NULL THEN 'not_ready' ELSE s.state END
    FROM (SELECT elicense.effective_state(c) AS state) s
$$;
REVOKE ALL ON FUNCTION elicense._preview_status(elicense.certificate) FROM PUBLIC;

CREATE FUNCTION elicense.preview_open(token text, client text)
RETURNS TABLE (code integer, identifier text, version integer, status text, content_hash text,
               token_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  claim record;
  c elicense.certificate;
  shown text;
  hash text;
BEGIN
  SELECT * INTO claim FROM elicense._preview_claims(token);
  IF FOUND THEN
    SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = claim.identifier;
  END IF;
  IF NOT FOUND THEN  -- not a token of ours, or no such version: 404, logged by the server only
    RETURN QUERY SELECT 404, NULL::text, NULL::integer, 'unknown'::text, NULL::text, NULL::timestamptz;
    RETURN;
  END IF;
  IF claim.expires_at <= now() THEN
    code := 410;
    shown := 'token_expired';
  ELSE
    code := 200;
    shown := elicense._preview_status(c);
  END IF;
  IF shown = 'valid' THEN
    -- What the page shows, not the file's bytes (a sealed file differs on
    -- every render): face template and values, QR URL, seal picture.
    SELECT encode(sha256(convert_to(concat_ws(E'\x1f', t.template::text, elicense.licence_face_fields(elicense._public_face(c))::text,
                                              c.qr_url, encode(sha256(k.seal_png), 'hex')), 'UTF8')), 'hex')
      INTO hash
      FROM elicense.ofd_template t
      LEFT JOIN elicense._seal_for(c.authority_uscc, c.authority_division) k ON true
     WHERE t.type_code = c.type_code;
    IF hash IS NULL THEN
      shown := 'not_ready';  -- no face template for the type
    END IF;
  END IF;
  INSERT INTO elicense.preview_access (identifier, version, client, code, status)
  VALUES (c.identifier, c.version, left(coalesce(preview_open.client, ''), 100), preview_open.code, shown);
  RETURN QUERY SELECT preview_open.code, c.identifier::text, c.version, shown, hash, claim.expires_at;
END
$$;
COMMENT ON FUNCTION elicense.preview_open(text, text) IS
'For the preview server: the state of the version a preview token names (code 404 not our token, 410 token expired, 200 with status valid/superseded/revoked/withdrawn/cancelled/expired/suspended/other/not_ready) and, when valid, a hash of what the page shows for caching; logs the access in elicense.preview_access';

CREATE FUNCTION elicense.preview_ofd(token text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  claim record;
  c elicense.certificate;
BEGIN
  SELECT * INTO claim FROM elicense._preview_claims(token);
  IF FOUND THEN
    SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = claim.identifier;
  END IF;
  IF NOT FOUND OR claim.expires_at <= now() OR elicense._preview_status(c) <> 'valid' THEN
    RAISE EXCEPTION 'preview token does not open a valid licence' USING ERRCODE = 'insufficient_privilege',
      HINT = 'Call elicense.preview_open first; only a valid version has a file to show.';
  END IF;
  -- A valid version has its QR code: render the row in hand.
  RETURN elicense._render_version_ofd(elicense._public_face(c), true, '', '');
END
$$;
COMMENT ON FUNCTION elicense.preview_ofd(text) IS
'For the preview server: the watermarked licence file (never the original) of the valid version a live token names';

REVOKE ALL ON FUNCTION elicense.preview_open(text, text), elicense.preview_ofd(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.preview_open(text, text), elicense.preview_ofd(text)
    TO elicense_preview, elicense_admin;
