--------------------------------------------------------------------------------
-- Resident ID numbers (居民身份证号码) at rest (issue 19, docs/personal-data.md).
-- A stored row never holds a full resident ID number in clear: where one
-- was (certificate.holder_id and the resident_id items of business_data,
-- usage_code.holder_id, usage_audit.holder_id, outbox.request,
-- stock_row.data) the row holds the masked form (first 6 and last 4), and
--   id_box      the clear numbers of the row, {"holder_id": ..., "items":
--               {item: ...}}, AES-256-GCM under the master key
--               (elicense.master_key_file), opened in C for the one call
--               that needs them (the platform's request, the original
--               file, a grant that may see ID numbers);
--   holder_ref  the blind index of the holder's number: HMAC-SHA256 under
--               the index key (elicense.holder_index_key), 16 bytes, so the
--               licences of a holder are found by equality.
-- USCCs are public register numbers and stay as they are (holder_ref NULL).
-- Without a master key, a resident ID number can neither be stored nor
-- looked up: 55000.
--------------------------------------------------------------------------------

-- The blind index key: 32 random bytes made in C on first use, stored only
-- encrypted under the master key. A master key rotation re-encrypts its box
-- (reencrypt_secrets) and leaves the key, hence every holder_ref, as it is.
CREATE TABLE elicense.holder_index_key (
    id         smallint PRIMARY KEY CONSTRAINT holder_index_key_one CHECK (id OPERATOR(pg_catalog.=) 1),
    key_box    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE elicense.holder_index_key IS
'The key of the holders'' blind index (certificate.holder_ref, usage_code.holder_ref): one row, made on first use';
COMMENT ON COLUMN elicense.holder_index_key.key_box IS
'32 random bytes, AES-256-GCM under the master key (elicense.master_key_file); never changes (a dump restored elsewhere needs the same master key)';
SELECT pg_catalog.pg_extension_config_dump('elicense.holder_index_key', '');
REVOKE ALL ON elicense.holder_index_key FROM PUBLIC;

CREATE FUNCTION elicense._ids_seal(clear text) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_ids_seal' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION elicense._ids_open(box bytea) RETURNS text
AS 'MODULE_PATHNAME', 'elicense_ids_open' LANGUAGE C STABLE STRICT;
CREATE FUNCTION elicense._holder_index_key_box() RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_holder_index_key_box' LANGUAGE C VOLATILE;
CREATE FUNCTION elicense._holder_index(key_box bytea, holder_id text) RETURNS bytea
AS 'MODULE_PATHNAME', 'elicense_holder_index' LANGUAGE C STABLE STRICT;
REVOKE ALL ON FUNCTION elicense._ids_seal(text), elicense._ids_open(bytea), elicense._holder_index_key_box(),
    elicense._holder_index(bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._ids_seal(text) IS
'Internal: the clear resident ID numbers of a row (JSON) encrypted under the master key; 55000 without one';
COMMENT ON FUNCTION elicense._ids_open(bytea) IS
'Internal: what _ids_seal encrypted (under the current or the previous master key)';
COMMENT ON FUNCTION elicense._holder_index_key_box() IS
'Internal: a fresh random holder index key, encrypted under the master key';
COMMENT ON FUNCTION elicense._holder_index(bytea, text) IS
'Internal: the blind index (HMAC-SHA256, 16 bytes) of a holder ID number under the index key in key_box';

-- The index key's box, made on first use (a concurrent first use waits on
-- the row and reads the other's).
CREATE FUNCTION elicense._holder_index_key() RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  box bytea;
BEGIN
  SELECT k.key_box INTO box FROM elicense.holder_index_key k WHERE k.id = 1;
  IF box IS NULL THEN
    INSERT INTO elicense.holder_index_key (id, key_box) VALUES (1, elicense._holder_index_key_box())
    ON CONFLICT ON CONSTRAINT holder_index_key_pkey DO NOTHING;
    SELECT k.key_box INTO box FROM elicense.holder_index_key k WHERE k.id = 1;
    IF box IS NULL THEN
      RAISE EXCEPTION 'the holder index key made by another transaction is not visible to this one'
        USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
    END IF;
  END IF;
  RETURN box;
END
$$;
REVOKE ALL ON FUNCTION elicense._holder_index_key() FROM PUBLIC;
COMMENT ON FUNCTION elicense._holder_index_key() IS 'Internal: the box of the holder index key, made on first use';

-- The blind index a stored row has for a holder ID number asked for: NULL
-- for anything that is not a valid resident ID number (a USCC is stored as
-- it is, and found by holder_id).
CREATE FUNCTION elicense._holder_ref(holder_id text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF holder_id IS NULL OR NOT elicense.is_valid_resident_id(holder_id) THEN
    RETURN NULL;
  END IF;
  RETURN elicense._holder_index(elicense._holder_index_key(), holder_id);
END
$$;
REVOKE ALL ON FUNCTION elicense._holder_ref(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._holder_ref(text) IS
'Internal: the blind index of a resident ID number (holder_ref), NULL for any other text';

-- The masked form (as elicense.mask_holder_id for a resident ID) in SQL
-- statements over many rows, where it is inlined (not STRICT, no SET).
CREATE FUNCTION elicense._mask_resident_id(id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN pg_catalog.length(id) OPERATOR(pg_catalog.>) 10
              THEN pg_catalog.left(id, 6) OPERATOR(pg_catalog.||) pg_catalog.repeat('*', pg_catalog.length(id) OPERATOR(pg_catalog.-) 10)
                   OPERATOR(pg_catalog.||) pg_catalog.right(id, 4)
              ELSE pg_catalog.repeat('*', pg_catalog.length(id)) END
$$;
REVOKE ALL ON FUNCTION elicense._mask_resident_id(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._mask_resident_id(text) IS
'Internal: a resident ID number with only its first 6 and last 4 characters (what a stored row keeps)';

-- The clear numbers of a row, as its box holds them; NULL when it has none
-- (a USCC holder and no resident ID item).
CREATE FUNCTION elicense._ids_clear(holder_id_type text, holder_id text, business_data jsonb, id_items text[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN v OPERATOR(pg_catalog.<>) '{}'::jsonb THEN v END
    FROM (SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                   'holder_id', CASE WHEN holder_id_type OPERATOR(pg_catalog.=) 'RESIDENT_ID' THEN holder_id END,
                   'items', (SELECT pg_catalog.jsonb_object_agg(i, business_data OPERATOR(pg_catalog.->) i)
                               FROM pg_catalog.unnest(id_items) i WHERE business_data OPERATOR(pg_catalog.?) i))) AS v) x
$$;
-- business_data with its resident ID items masked.
CREATE FUNCTION elicense._ids_masked_data(business_data jsonb, id_items text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT business_data OPERATOR(pg_catalog.||) coalesce(
           (SELECT pg_catalog.jsonb_object_agg(i, elicense._mask_resident_id(business_data OPERATOR(pg_catalog.->>) i))
              FROM pg_catalog.unnest(id_items) i WHERE business_data OPERATOR(pg_catalog.?) i), '{}'::jsonb)
$$;
REVOKE ALL ON FUNCTION elicense._ids_clear(text, text, jsonb, text[]), elicense._ids_masked_data(jsonb, text[]) FROM PUBLIC;
COMMENT ON FUNCTION elicense._ids_clear(text, text, jsonb, text[]) IS
'Internal: {"holder_id": ..., "items": {...}} of the clear resident ID numbers of a row (what id_box holds), NULL if none';
COMMENT ON FUNCTION elicense._ids_masked_data(jsonb, text[]) IS
'Internal: business data with the resident ID items masked (what a stored row keeps)';

-- The resident ID items of a type that are kept in business_data (those
-- with a metadata column are the holder's: holder_id).
CREATE FUNCTION elicense._id_items(type_code text) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(i.item::text ORDER BY i.position), '{}') FROM elicense.licence_item i
   WHERE i.type_code = _id_items.type_code AND i.data_type = 'resident_id' AND i.metadata_column IS NULL
$$;
REVOKE ALL ON FUNCTION elicense._id_items(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._id_items(text) IS 'Internal: the resident ID items a licence type keeps in business_data';

-- The row with its clear numbers back (for the call that needs them only:
-- the platform's request, the original file, a grant that may see them).
CREATE FUNCTION elicense._reveal_ids(c elicense.certificate) RETURNS elicense.certificate
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  clear jsonb;
BEGIN
  IF c.id_box IS NULL THEN
    RETURN c;
  END IF;
  clear := elicense._ids_open(c.id_box)::jsonb;
  c.holder_id := coalesce(clear ->> 'holder_id', c.holder_id);
  IF clear ? 'items' THEN
    c.business_data := c.business_data || (clear -> 'items');
  END IF;
  RETURN c;
END
$$;
REVOKE ALL ON FUNCTION elicense._reveal_ids(elicense.certificate) FROM PUBLIC;
COMMENT ON FUNCTION elicense._reveal_ids(elicense.certificate) IS
'Internal: a stored certificate row with its clear resident ID numbers (opened from id_box)';

-- A platform request as the outbox keeps it (elicense.lease_steps): every
-- value that is a resident ID number masked. What was sent is compared
-- later only by its URL and certState; the platform got the full number.
CREATE FUNCTION elicense._request_at_rest(item jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN pg_catalog.jsonb_typeof(item) OPERATOR(pg_catalog.=) 'object' THEN item OPERATOR(pg_catalog.||) coalesce(
           (SELECT pg_catalog.jsonb_object_agg(e.key, elicense._mask_resident_id(e.value))
              FROM pg_catalog.jsonb_each_text(item) e
             WHERE pg_catalog.length(e.value) OPERATOR(pg_catalog.=) 18 AND elicense.is_valid_resident_id(e.value)), '{}'::jsonb)
              ELSE item END
$$;
REVOKE ALL ON FUNCTION elicense._request_at_rest(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION elicense._request_at_rest(jsonb) IS
'Internal: a platform request item with its resident ID numbers masked (what elicense.outbox.request keeps)';

-- Stock data as stock_row keeps it once its row is converted or rejected:
-- the resident ID items masked (the errors name them masked too).
CREATE FUNCTION elicense._stock_data_at_rest(data jsonb, id_items text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN pg_catalog.jsonb_typeof(data) OPERATOR(pg_catalog.=) 'object' THEN data OPERATOR(pg_catalog.||) coalesce(
           (SELECT pg_catalog.jsonb_object_agg(i, elicense._mask_resident_id(data OPERATOR(pg_catalog.->>) i))
              FROM pg_catalog.unnest(id_items) i
             WHERE pg_catalog.jsonb_typeof(data OPERATOR(pg_catalog.->) i) OPERATOR(pg_catalog.=) 'string'
               AND pg_catalog.strpos(data OPERATOR(pg_catalog.->>) i, '*') OPERATOR(pg_catalog.=) 0), '{}'::jsonb)
              ELSE data END
$$;
REVOKE ALL ON FUNCTION elicense._stock_data_at_rest(jsonb, text[]) FROM PUBLIC;
COMMENT ON FUNCTION elicense._stock_data_at_rest(jsonb, text[]) IS
'Internal: stock data with its resident ID items masked (what stock_row.data keeps after conversion)';

-- The rows an earlier version stored with full resident ID numbers, as this
-- one stores them (the update from 0.2.0 calls it; a fresh install has no
-- rows): certificates sealed and masked, usage codes likewise, the audit's
-- holders and the outbox's requests masked, converted stock rows scrubbed;
-- then each table that held some is rewritten, so that its files keep no
-- old row version with a clear number: an ALTER COLUMN ... TYPE with a
-- USING expression that changes no value (the same type) copies the rows
-- visible now into new files and rebuilds the indexes (VACUUM FULL cannot
-- run in the update's transaction, and CLUSTER would also copy the old
-- versions this transaction has just replaced). The WAL written before
-- still holds them (docs/personal-data.md). 55000 when rows need it and no
-- master key is set. Returns how many rows it changed.
CREATE FUNCTION elicense._protect_stored_ids() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n bigint;
  total bigint := 0;
  index_key bytea;
BEGIN
  IF EXISTS (SELECT FROM elicense.certificate c WHERE c.holder_id_type = 'RESIDENT_ID' AND c.holder_ref IS NULL) THEN
    index_key := elicense._holder_index_key();  -- 55000 without a master key
  END IF;
  UPDATE elicense.certificate c
     SET holder_id = CASE WHEN c.holder_id_type = 'RESIDENT_ID' THEN elicense._mask_resident_id(c.holder_id) ELSE c.holder_id END,
         business_data = elicense._ids_masked_data(c.business_data, elicense._id_items(c.type_code)),
         holder_ref = CASE WHEN c.holder_id_type = 'RESIDENT_ID' THEN elicense._holder_index(index_key, c.holder_id) END,
         id_box = elicense._ids_seal(elicense._ids_clear(c.holder_id_type, c.holder_id, c.business_data, elicense._id_items(c.type_code))::text)
   WHERE c.id_box IS NULL AND c.holder_ref IS NULL
     AND (c.holder_id_type = 'RESIDENT_ID' OR c.business_data ?| elicense._id_items(c.type_code));
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  ALTER TABLE elicense.certificate VALIDATE CONSTRAINT certificate_holder_id_valid;
  IF n > 0 THEN
    ALTER TABLE elicense.certificate ALTER COLUMN id_box TYPE bytea USING id_box || ''::bytea;  -- rewrite (see below)
  END IF;

  UPDATE elicense.usage_code u SET holder_ref = r.ref, holder_id = elicense._mask_resident_id(u.holder_id),
         id_box = elicense._ids_seal(jsonb_build_object('holder_id', u.holder_id)::text)
    FROM (SELECT x.id, elicense._holder_ref(x.holder_id) AS ref FROM elicense.usage_code x WHERE x.holder_ref IS NULL) r
   WHERE r.id = u.id AND r.ref IS NOT NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  ALTER TABLE elicense.usage_code VALIDATE CONSTRAINT usage_code_holder_at_rest;
  IF n > 0 THEN
    ALTER TABLE elicense.usage_code ALTER COLUMN id_box TYPE bytea USING id_box || ''::bytea;
  END IF;

  -- The audit is append-only: its trigger stands aside for this one change
  -- (the update runs as a superuser).
  SET LOCAL session_replication_role = replica;
  UPDATE elicense.usage_audit a SET holder_id = elicense._mask_any_holder(a.holder_id)
   WHERE a.holder_id IS NOT NULL AND a.holder_id IS DISTINCT FROM elicense._mask_any_holder(a.holder_id);
  GET DIAGNOSTICS n = ROW_COUNT;
  SET LOCAL session_replication_role = origin;
  total := total + n;
  IF n > 0 THEN  -- every partition (a column the analysts' view does not use)
    ALTER TABLE elicense.usage_audit ALTER COLUMN file_sha256 TYPE text USING file_sha256 || '';
  END IF;

  UPDATE elicense.outbox o SET request = elicense._request_at_rest(o.request)
   WHERE o.request IS NOT NULL AND elicense._request_at_rest(o.request) IS DISTINCT FROM o.request;
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  IF n > 0 THEN
    ALTER TABLE elicense.outbox ALTER COLUMN request TYPE jsonb USING request::text::jsonb;
  END IF;

  UPDATE elicense.stock_row r SET data = elicense._stock_data_at_rest(r.data,
           (SELECT coalesce(array_agg(i.item::text), '{}') FROM elicense.licence_item i
             WHERE i.type_code = b.type_code AND i.data_type = 'resident_id'))
    FROM elicense.stock_batch b, elicense.stock_converted k
   WHERE b.id = r.batch_id AND k.batch_id = r.batch_id AND k.row_no = r.row_no
     AND r.data IS DISTINCT FROM elicense._stock_data_at_rest(r.data,
           (SELECT coalesce(array_agg(i.item::text), '{}') FROM elicense.licence_item i
             WHERE i.type_code = b.type_code AND i.data_type = 'resident_id'));
  GET DIAGNOSTICS n = ROW_COUNT;
  total := total + n;
  IF n > 0 THEN
    ALTER TABLE elicense.stock_row ALTER COLUMN qr_url TYPE text USING qr_url || '';
  END IF;
  RETURN total;
END
$$;
REVOKE ALL ON FUNCTION elicense._protect_stored_ids() FROM PUBLIC;
COMMENT ON FUNCTION elicense._protect_stored_ids() IS
'Internal (update from 0.2.0): seals and masks the resident ID numbers an earlier version stored in clear, rewrites the tables that held some; returns the rows changed';

-- An update (the tables of the later parts exist already): convert now.
DO $$
BEGIN
  IF pg_catalog.to_regclass('elicense.usage_code') IS NOT NULL THEN
    PERFORM elicense._protect_stored_ids();
  END IF;
END
$$;
