--------------------------------------------------------------------------------
-- The request item of one licence version for one platform step, built from
-- the effective request-field catalogue (47_platform_field.sql). The worker
-- sends it as {"AcceptData": [item]} and knows no field name.
--------------------------------------------------------------------------------

-- Every value is a JSON string, as the public clients send them. A field
-- without a value is left out, or makes the item impossible (23502) when it
-- is required; a value its code map does not cover is 22023. Returns NULL
-- when the type has no field for the step (W050 key_change, a type without
-- query fields). ecert_id NULL: a fresh GUID.
-- VOLATILE: elicense.preview_url may create the first preview key.
-- _platform_item builds it from a certificate row (a precheck's row has no
-- identifier yet); platform_request from a stored version.
CREATE FUNCTION elicense._platform_item(c elicense.certificate, p_step text, p_ecert_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cols jsonb;
  f record;
  raw text;
  v text;
  -- The item's names and values, made into one object at the end: adding
  -- each field to a jsonb copied the whole item every time.
  names text[] := '{}';
  vals text[] := '{}';
  operation_category text;  -- its value, for categoryDescription
  found_any boolean := false;
  guid uuid := coalesce(p_ecert_id, gen_random_uuid());
  who text := coalesce(c.identifier, 'precheck ' || c.licence_number);
BEGIN
  IF p_step IS NULL OR p_step NOT IN ('validate', 'assign_code', 'collect', 'status_update', 'key_change', 'query') THEN
    RAISE EXCEPTION 'unknown platform step "%"', coalesce(p_step, 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Steps are validate, assign_code, collect, status_update, key_change and query (elicense.platform_field.step).';
  END IF;
  c := elicense._reveal_ids(c);  -- the platform receives the full resident ID numbers
  cols := to_jsonb(c);
  -- A converted licence (64_stock.sql) is a version with operateType 01 in
  -- any certState; its status_update sends the operateType of the transition
  -- from 01 to that certState (suspend 03, expire 04, revoke/withdraw/cancel
  -- 05), as the lifecycle would have.
  IF p_step = 'status_update' AND c.operate_type IN ('01', '02', '08') THEN
    cols := cols || jsonb_build_object('operate_type',
        (SELECT t.operate_type FROM elicense.licence_transition t
          WHERE t.from_status = '01' AND t.to_status = c.status AND t.to_status <> '01'));
  END IF;
  -- categoryDescription depends on operationCategory's value: it comes last.
  FOR f IN SELECT * FROM elicense.platform_field p
            WHERE p.type_code = c.type_code AND p.step = p_step
            ORDER BY p.source_kind = 'computed' AND p.source = 'category_description', p.position, p.slot LOOP
    found_any := true;
    IF f.operate_types IS NOT NULL AND NOT c.operate_type = ANY (f.operate_types) THEN
      CONTINUE;
    END IF;
    -- One IF branch per source, each a simple expression PL/pgSQL evaluates
    -- without the executor; only the branches that read other rows run a
    -- query (one CASE holding them all was run as a query for every field:
    -- most of the cost of an item).
    IF f.source_kind = 'column' THEN
      raw := cols ->> f.source;
    ELSIF f.source_kind = 'item' THEN
      raw := c.business_data ->> f.source;
    ELSIF f.source_kind = 'constant' THEN
      raw := f.source;
    ELSIF f.source = 'ecert_id' THEN
      raw := guid::text;
    ELSIF f.source = 'province_num' THEN
      raw := substr(c.authority_division, 1, 2) || '0000';
    ELSIF f.source = 'first_issue_date' THEN
      raw := nullif(c.business_data ->> 'first_issue_date', '');
      IF raw IS NULL AND c.version = 1 THEN
        raw := c.issue_date::text;
      ELSIF raw IS NULL THEN
        raw := (SELECT o.issue_date::text FROM elicense.certificate o WHERE o.identifier = c.original_identifier);
      END IF;
    ELSIF f.source = 'operation_category' THEN
      raw := coalesce(nullif(c.business_data ->> 'category_code', ''), c.business_data ->> 'category');
    ELSIF f.source = 'category_description' THEN
      raw := CASE WHEN operation_category = '99' AND c.business_data ->> 'category' <> ''
          THEN '经省级以上住房和城乡建设主管部门认定的其他工种类别（' || (c.business_data ->> 'category') || '）' END;
    ELSIF f.source = 'birth_date' THEN
      raw := elicense.resident_id_birth_date(c.holder_id)::text;
    ELSIF f.source = 'assigned_code' THEN
      raw := c.assigned_code;
      IF raw IS NULL THEN
        raw := (SELECT x.assigned_code FROM elicense.certificate x
                 WHERE x.original_identifier = c.original_identifier AND x.assigned_code IS NOT NULL
                 ORDER BY x.version DESC LIMIT 1);
      END IF;
    ELSIF f.source = 'preview_url' THEN
      raw := elicense.preview_url(c.identifier);
    ELSIF f.source = 'platform_identifier' THEN
      raw := coalesce(c.platform_identifier, c.identifier);
    ELSIF f.source = 'superseded_platform_identifier' THEN
      raw := (SELECT coalesce(p.platform_identifier, p.identifier) FROM elicense.certificate p WHERE p.identifier = c.previous_identifier);
    ELSE
      raw := NULL;
    END IF;
    v := raw;
    IF f.code_map IS NOT NULL THEN
      IF v IS NULL OR v = '' THEN
        v := f.code_map ->> '';
      ELSE
        v := coalesce(f.code_map ->> v, f.code_map ->> '*');
        IF v IS NULL THEN
          RAISE EXCEPTION 'licence %, step %: field "%" has value "%", which its code map does not cover', who,
              p_step, f.field, raw
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = pg_catalog.format('Add "%s" (or "*") to code_map of slot %s in elicense.platform_field.', raw, f.slot);
        END IF;
      END IF;
    END IF;
    IF v <> '' AND f.format = 'fullwidth_parens' THEN  -- cannot fail: no exception block (a subtransaction)
      v := translate(v, '()', '（）');
    ELSIF v <> '' AND f.format IS NOT NULL THEN
      BEGIN
        v := CASE f.format
          WHEN 'date' THEN to_char(v::date, 'YYYY-MM-DD')
          WHEN 'fullwidth_parens' THEN translate(v, '()', '（）')
          WHEN 'guid' THEN v::uuid::text
          WHEN 'guid_nodash' THEN replace(v::uuid::text, '-', '')
          END;
      EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation THEN
        RAISE EXCEPTION 'licence %, step %: field "%" has value "%", which is not a %', who, p_step, f.field,
            v, CASE WHEN f.format = 'date' THEN 'date' ELSE 'GUID' END
          USING ERRCODE = 'invalid_parameter_value',
                HINT = pg_catalog.format('Check source and format of slot %s in elicense.platform_field.', f.slot);
      END;
    END IF;
    IF v IS NULL OR v = '' THEN
      IF f.required THEN
        RAISE EXCEPTION 'licence %, step %: required field "%" has no value (% %)', who, p_step, f.field,
            f.source_kind, f.source
          USING ERRCODE = 'not_null_violation',
                HINT = CASE f.source_kind WHEN 'item' THEN pg_catalog.format('Give the licence the item "%s" with elicense.change, or make slot %s optional in elicense.platform_field.', f.source, f.slot)
                       ELSE pg_catalog.format('Correct slot %s in elicense.platform_field, or make it optional.', f.slot) END;
      END IF;
      CONTINUE;
    END IF;
    IF f.slot = 'operation_category' THEN
      operation_category := v;
    END IF;
    names := names || f.field;
    vals := vals || v;
  END LOOP;
  -- A field name twice: the later value, as adding to a jsonb kept it.
  RETURN CASE WHEN found_any THEN jsonb_object(names, vals) END;
END
$$;
REVOKE ALL ON FUNCTION elicense._platform_item(elicense.certificate, text, uuid) FROM PUBLIC;
COMMENT ON FUNCTION elicense._platform_item(elicense.certificate, text, uuid) IS
'Internal: the platform request item of a certificate row (stored or not) for a step of elicense.platform_field';

CREATE FUNCTION elicense.platform_request(identifier text, step text, ecert_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
BEGIN
  SELECT * INTO c FROM elicense.certificate x WHERE x.identifier = platform_request.identifier;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'licence "%" does not exist', platform_request.identifier
      USING ERRCODE = 'no_data_found', HINT = 'Pass the identifier of a licence version.';
  END IF;
  RETURN elicense._platform_item(c, platform_request.step, platform_request.ecert_id);
END
$$;
REVOKE ALL ON FUNCTION elicense.platform_request(text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION elicense.platform_request(text, text, uuid) TO elicense_admin;
COMMENT ON FUNCTION elicense.platform_request(text, text, uuid) IS
'The platform request item (AcceptData element) of a licence version for a step of elicense.platform_field, every value a string; eCertID = ecert_id (a fresh GUID if NULL). NULL if the type has no field for the step; 23502/22023 naming licence, step and field when a required value is missing or a code is not mapped';
