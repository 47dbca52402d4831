--------------------------------------------------------------------------------
-- History by month: status_history, delivery_attempt, delivery_event,
-- usage_audit and preview_access are partitioned by range of `at`.
--   create_history_partitions(months_ahead)  this month's and the next months'
--       partitions (and one for every month the DEFAULT partition holds rows
--       of, moving them there); run it daily (pg_cron, cron + psql, or the
--       worker's host scheduler)
--   drop_expired_history_partitions()        detaches and drops whole months
--       older than elicense.history_retention says: a catalog operation, no
--       row is deleted one by one
-- Months are UTC months. The extension itself owns only the DEFAULT
-- partitions (rows land there while no month partition exists yet): a month
-- partition made at CREATE EXTENSION time would be an extension member, which
-- pg_dump neither recreates nor fills, so monthly partitions are ordinary
-- tables made by these functions, dumped and restored with their rows.
-- For the same reason the primary key and the indexes belong to each
-- partition, not to the partitioned table: pg_restore attaches a dumped month
-- partition to the table CREATE EXTENSION made, which would build the
-- table's indexes on it, and then fails creating the partition's own dumped
-- ones ("multiple primary keys"). Ids are unique across partitions by the
-- table's identity; each partition's primary key is (id).
--------------------------------------------------------------------------------

COMMENT ON TABLE elicense.status_history_default IS 'Rows of months without a partition of their own (elicense.create_history_partitions moves them out)';
COMMENT ON TABLE elicense.delivery_attempt_default IS 'Rows of months without a partition of their own (elicense.create_history_partitions moves them out)';
COMMENT ON TABLE elicense.delivery_event_default IS 'Rows of months without a partition of their own (elicense.create_history_partitions moves them out)';
COMMENT ON TABLE elicense.usage_audit_default IS 'Rows of months without a partition of their own (elicense.create_history_partitions moves them out)';
COMMENT ON TABLE elicense.preview_access_default IS 'Rows of months without a partition of their own (elicense.create_history_partitions moves them out)';

-- No row is shipped: without a row a table's history is kept forever (the
-- audit tables are evidence; a DBA decides what the law lets go).
CREATE TABLE elicense.history_retention (
    table_name  text PRIMARY KEY CONSTRAINT history_retention_table
        CHECK (table_name IN ('status_history', 'delivery_attempt', 'delivery_event', 'usage_audit', 'preview_access')),
    keep_months integer NOT NULL CONSTRAINT history_retention_keep_months CHECK (keep_months >= 1)
);
COMMENT ON TABLE elicense.history_retention IS
'How many whole months of a history table elicense.drop_expired_history_partitions keeps besides the current one; a table without a row is kept forever';
COMMENT ON COLUMN elicense.history_retention.table_name IS 'status_history, delivery_attempt, delivery_event, usage_audit or preview_access';
COMMENT ON COLUMN elicense.history_retention.keep_months IS
'Months kept before the current month: 12 keeps the current month and the 12 before it; older month partitions are dropped';
SELECT pg_catalog.pg_extension_config_dump('elicense.history_retention', '');
REVOKE ALL ON elicense.history_retention FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.history_retention TO elicense_admin;

-- The primary key and indexes of one partition of a history table (the
-- DEFAULT partitions get them below, month partitions when they are made).
CREATE FUNCTION elicense._index_history_partition(tbl text, part text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ix text[];
BEGIN
  EXECUTE pg_catalog.format('ALTER TABLE elicense.%I ADD CONSTRAINT %I PRIMARY KEY (id)', part, part || '_pkey');
  FOREACH ix SLICE 1 IN ARRAY CASE tbl
      -- {name suffix, what follows ON the partition}
      WHEN 'status_history' THEN ARRAY[['original', '(original_identifier, at)'], ['at', 'USING brin (at)']]
      WHEN 'delivery_attempt' THEN ARRAY[['outbox', '(outbox_id)'], ['at', 'USING brin (at)']]
      WHEN 'delivery_event' THEN ARRAY[['outbox', '(outbox_id)'], ['at', 'USING brin (at)']]
      WHEN 'usage_audit' THEN ARRAY[['at', 'USING brin (at)'], ['identifier', '(identifier) WHERE identifier IS NOT NULL'],
                                    ['holder', '(holder_id) WHERE holder_id IS NOT NULL'],
                                    ['file', '(file_sha256) WHERE file_sha256 IS NOT NULL']]
      WHEN 'preview_access' THEN ARRAY[['at', 'USING brin (at)'], ['identifier', '(identifier)']]
    END LOOP
    EXECUTE pg_catalog.format('CREATE INDEX %I ON elicense.%I %s', part || '_' || ix[1], part, ix[2]);
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION elicense._index_history_partition(text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._index_history_partition(text, text) IS
'Internal: primary key (id) and the indexes of one partition of a history table (timeline of a licence, attempts and events of a step, who used a licence, a holder''s licences or a file copy, BRIN on time)';

-- The partitioned history tables, in the order the functions visit them.
CREATE FUNCTION elicense._history_tables() RETURNS SETOF text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT unnest(ARRAY['status_history', 'delivery_attempt', 'delivery_event', 'usage_audit', 'preview_access'])
$$;
REVOKE ALL ON FUNCTION elicense._history_tables() FROM PUBLIC;
COMMENT ON FUNCTION elicense._history_tables() IS 'Internal: the history tables partitioned by month';

-- Month partitions of one table: name and first day (UTC), from the
-- partition's name <table>_pYYYYMM; other partitions (DEFAULT) are left out.
CREATE FUNCTION elicense._history_months(tbl text)
RETURNS TABLE (partition_name text, month date)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT c.relname::text, to_date(substr(c.relname, length(tbl) + 3), 'YYYYMM')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = pg_catalog.format('elicense.%I', tbl)::regclass
     AND c.relname ~ ('^' || tbl || '_p[0-9]{6}$')
$$;
REVOKE ALL ON FUNCTION elicense._history_months(text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._history_months(text) IS 'Internal: month partitions of a history table with their month';

-- Creates the partition of one month. Rows of that month already in the
-- DEFAULT partition move into it in the same transaction (the DEFAULT
-- partition may not hold rows a new partition's range covers); the
-- append-only triggers are set aside for that move only.
CREATE FUNCTION elicense._create_history_month(tbl text, month date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
  part text := pg_catalog.format('%s_p%s', tbl, to_char(month, 'YYYYMM'));
  lo timestamptz := month::timestamptz;
  hi timestamptz := (month + interval '1 month')::timestamptz;
  waiting boolean;
BEGIN
  IF to_regclass(pg_catalog.format('elicense.%I', part)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM elicense.%I WHERE at >= $1 AND at < $2)', tbl || '_default')
     INTO waiting USING lo, hi;
  IF waiting THEN
    EXECUTE pg_catalog.format('CREATE TEMP TABLE history_move ON COMMIT DROP AS SELECT * FROM elicense.%I WITH NO DATA', tbl);
    SET LOCAL session_replication_role = replica;  -- the move only: these rows are not deleted, they change partition
    EXECUTE pg_catalog.format('WITH moved AS (DELETE FROM elicense.%I WHERE at >= $1 AND at < $2 RETURNING *)
                               INSERT INTO history_move SELECT * FROM moved', tbl || '_default') USING lo, hi;
    SET LOCAL session_replication_role = origin;
  END IF;
  EXECUTE pg_catalog.format('CREATE TABLE elicense.%I PARTITION OF elicense.%I FOR VALUES FROM (%L) TO (%L)', part, tbl, lo, hi);
  PERFORM elicense._index_history_partition(tbl, part);
  EXECUTE pg_catalog.format('COMMENT ON TABLE elicense.%I IS %L', part,
                            pg_catalog.format('elicense.%s of %s (UTC); made by elicense.create_history_partitions', tbl, to_char(month, 'YYYY-MM')));
  IF waiting THEN
    EXECUTE pg_catalog.format('INSERT INTO elicense.%I OVERRIDING SYSTEM VALUE SELECT * FROM history_move', tbl);
    DROP TABLE history_move;
  END IF;
  RETURN part;
END
$$;
REVOKE ALL ON FUNCTION elicense._create_history_month(text, date) FROM PUBLIC;
COMMENT ON FUNCTION elicense._create_history_month(text, date) IS
'Internal: the partition of one month of a history table, with that month''s rows moved out of the DEFAULT partition';

CREATE FUNCTION elicense.create_history_partitions(months_ahead integer DEFAULT 3)
RETURNS TABLE (table_name text, partition_name text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
  this_month date := date_trunc('month', now())::date;
  oldest date;
  m date;
BEGIN
  IF months_ahead IS NULL OR months_ahead NOT BETWEEN 0 AND 120 THEN
    RAISE EXCEPTION 'months_ahead must be between 0 and 120, not %', coalesce(months_ahead::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass how many months after the current one get a partition now, e.g. 3.';
  END IF;
  FOREACH table_name IN ARRAY ARRAY(SELECT elicense._history_tables()) LOOP
    -- Months the DEFAULT partition holds rows of (before the first run, or
    -- after an update from 0.2.0) get their partitions too.
    EXECUTE pg_catalog.format('SELECT date_trunc(''month'', min(at))::date FROM elicense.%I', table_name || '_default') INTO oldest;
    m := least(coalesce(oldest, this_month), this_month);
    WHILE m <= this_month + pg_catalog.make_interval(months => months_ahead) LOOP
      partition_name := elicense._create_history_month(table_name, m);
      IF partition_name IS NOT NULL THEN
        RETURN NEXT;
      END IF;
      m := (m + interval '1 month')::date;
    END LOOP;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION elicense.create_history_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.create_history_partitions(integer) TO elicense_admin;
COMMENT ON FUNCTION elicense.create_history_partitions(integer) IS
'Creates the month partitions (UTC) of every history table for this month and months_ahead months after it, and for every month the DEFAULT partition holds rows of (moving them there); returns the partitions made. Run it daily (pg_cron or cron)';

CREATE FUNCTION elicense.drop_expired_history_partitions()
RETURNS TABLE (table_name text, partition_name text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
BEGIN
  FOR table_name, partition_name IN
    SELECT r.table_name, h.partition_name
      FROM elicense.history_retention r, elicense._history_months(r.table_name) h
     WHERE h.month < date_trunc('month', now())::date - pg_catalog.make_interval(months => r.keep_months)
     ORDER BY r.table_name, h.month
  LOOP
    EXECUTE pg_catalog.format('ALTER TABLE elicense.%I DETACH PARTITION elicense.%I', table_name, partition_name);
    EXECUTE pg_catalog.format('DROP TABLE elicense.%I', partition_name);
    RETURN NEXT;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION elicense.drop_expired_history_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.drop_expired_history_partitions() TO elicense_admin;
COMMENT ON FUNCTION elicense.drop_expired_history_partitions() IS
'Detaches and drops the month partitions older than elicense.history_retention keeps (whole months, no row deletes; the DEFAULT partition is never dropped); returns the partitions dropped';

SELECT elicense._index_history_partition(t, t || '_default') FROM elicense._history_tables() t;
