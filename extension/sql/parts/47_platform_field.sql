--------------------------------------------------------------------------------
-- Platform request fields: which JSON fields each call to the
-- national platform carries, per licence type and step, and where each value
-- comes from. elicense.platform_request builds the request item from them;
-- the worker knows no field name.
--
-- The effective catalogue is the view elicense.platform_field = shipped rows
-- overlaid with a DBA's local rows, so a local edit survives both
-- ALTER EXTENSION ... UPDATE (update scripts touch only the shipped table) and
-- pg_dump/restore (shipped rows come back from CREATE EXTENSION, local rows
-- from the dump, and the two never share a key). One UPDATE on the view
-- renames a field:
--   UPDATE elicense.platform_field SET field = 'certNo'
--    WHERE type_code = '11100000000013338W050' AND step = 'validate' AND slot = 'cert_num';
-- Steps: the outbox steps validate (check 校验), assign_code (赋码), collect
-- (归集), status_update, plus key_change (W032 Tzry_Change) and query.
--------------------------------------------------------------------------------

CREATE TABLE elicense.platform_field_shipped (
    type_code     text NOT NULL REFERENCES elicense.licence_type ON UPDATE CASCADE ON DELETE CASCADE,
    step          text NOT NULL CONSTRAINT platform_field_step CHECK (step OPERATOR(pg_catalog.=) ANY (ARRAY[
                      'validate', 'assign_code', 'collect', 'status_update', 'key_change', 'query'])),
    slot          text NOT NULL CONSTRAINT platform_field_slot_format CHECK (slot OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    position      integer NOT NULL,
    field         text NOT NULL CONSTRAINT platform_field_field_format CHECK (field OPERATOR(pg_catalog.~) '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    source_kind   text NOT NULL CONSTRAINT platform_field_source_kind CHECK (source_kind OPERATOR(pg_catalog.=) ANY (ARRAY[
                      'column', 'item', 'constant', 'computed'])),
    source        text NOT NULL,
    format        text CONSTRAINT platform_field_format CHECK (format OPERATOR(pg_catalog.=) ANY (ARRAY[
                      'date', 'fullwidth_parens', 'guid', 'guid_nodash'])),
    code_map      jsonb CONSTRAINT platform_field_code_map CHECK (pg_catalog.jsonb_typeof(code_map) OPERATOR(pg_catalog.=) 'object'),
    required      boolean NOT NULL DEFAULT false,
    operate_types text[] CONSTRAINT platform_field_operate_types CHECK (operate_types OPERATOR(pg_catalog.<@) ARRAY[
                      '01', '02', '03', '04', '05', '06', '07', '08']),
    note          text,
    PRIMARY KEY (type_code, step, slot),
    CONSTRAINT platform_field_source CHECK (CASE source_kind
        WHEN 'column' THEN source OPERATOR(pg_catalog.=) ANY (ARRAY['identifier', 'original_identifier', 'previous_identifier',
            'type_code', 'sequence', 'version', 'licence_number', 'holder_name', 'holder_id_type', 'holder_id', 'authority_name',
            'authority_uscc', 'authority_division', 'issue_date', 'valid_from', 'valid_to', 'status', 'status_note',
            'operate_type', 'assigned_code', 'qr_url'])
        WHEN 'item' THEN source OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'
        WHEN 'computed' THEN source OPERATOR(pg_catalog.=) ANY (ARRAY['ecert_id', 'province_num', 'first_issue_date',
            'operation_category', 'category_description', 'birth_date', 'assigned_code', 'preview_url', 'platform_identifier',
            'superseded_platform_identifier'])
        ELSE true END)
);
COMMENT ON TABLE elicense.platform_field_shipped IS
'Request fields as shipped with the extension (written only by its install and update scripts; not dumped). Read and edit elicense.platform_field instead';

-- A DBA's rows: changed or added fields, and tombstones (removed) of shipped
-- ones. Same key and checks (by the same names) as the shipped table.
CREATE TABLE elicense.platform_field_local (LIKE elicense.platform_field_shipped INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    removed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (type_code, step, slot),
    FOREIGN KEY (type_code) REFERENCES elicense.licence_type ON UPDATE CASCADE ON DELETE CASCADE);
COMMENT ON TABLE elicense.platform_field_local IS
'Request fields a DBA changed, added or removed (removed = true hides the shipped row of the key); written through elicense.platform_field, dumped by pg_dump';
COMMENT ON COLUMN elicense.platform_field_local.removed IS 'True: the shipped field of this key is not sent';
SELECT pg_catalog.pg_extension_config_dump('elicense.platform_field_local', '');

CREATE VIEW elicense.platform_field AS
SELECT coalesce(l.type_code, s.type_code) AS type_code, coalesce(l.step, s.step) AS step, coalesce(l.slot, s.slot) AS slot,
       CASE WHEN l.slot IS NULL THEN s.position ELSE l.position END AS position,
       CASE WHEN l.slot IS NULL THEN s.field ELSE l.field END AS field,
       CASE WHEN l.slot IS NULL THEN s.source_kind ELSE l.source_kind END AS source_kind,
       CASE WHEN l.slot IS NULL THEN s.source ELSE l.source END AS source,
       CASE WHEN l.slot IS NULL THEN s.format ELSE l.format END AS format,
       CASE WHEN l.slot IS NULL THEN s.code_map ELSE l.code_map END AS code_map,
       CASE WHEN l.slot IS NULL THEN s.required ELSE l.required END AS required,
       CASE WHEN l.slot IS NULL THEN s.operate_types ELSE l.operate_types END AS operate_types,
       CASE WHEN l.slot IS NULL THEN s.note ELSE l.note END AS note
  FROM elicense.platform_field_shipped s
  FULL JOIN elicense.platform_field_local l ON l.type_code OPERATOR(pg_catalog.=) s.type_code
       AND l.step OPERATOR(pg_catalog.=) s.step AND l.slot OPERATOR(pg_catalog.=) s.slot
 WHERE l.slot IS NULL OR NOT l.removed;
ALTER VIEW elicense.platform_field ALTER COLUMN required SET DEFAULT false;
COMMENT ON VIEW elicense.platform_field IS
'Request fields of each licence type and platform step: the shipped rows with a DBA''s changes. INSERT, UPDATE and DELETE here are kept as local rows (elicense.platform_field_local) and survive updates and pg_dump';
COMMENT ON COLUMN elicense.platform_field.type_code IS 'Licence type';
COMMENT ON COLUMN elicense.platform_field.step IS 'validate (check 校验), assign_code (赋码), collect (归集), status_update, key_change or query';
COMMENT ON COLUMN elicense.platform_field.slot IS 'Stable name of the field''s meaning (part of the key, so a rename keeps it)';
COMMENT ON COLUMN elicense.platform_field.position IS 'Order of the field in the item';
COMMENT ON COLUMN elicense.platform_field.field IS 'JSON name the platform expects';
COMMENT ON COLUMN elicense.platform_field.source_kind IS 'column (of elicense.certificate), item (business item key), constant (source is the value) or computed';
COMMENT ON COLUMN elicense.platform_field.source IS
'Column name, item key, literal, or computed value: ecert_id (this data item''s GUID), province_num (XX0000 of the authority), first_issue_date (item, else version 001''s issue date), operation_category (category_code item, else category), category_description (the fixed text for operationCategory 99), birth_date (from the holder''s ID number), assigned_code (this or the latest version''s code), preview_url, platform_identifier (the identifier the platform holds: this version''s if it got a new QR code, else the one it kept), superseded_platform_identifier (the platform identifier of the version this one supersedes)';
COMMENT ON COLUMN elicense.platform_field.format IS 'NULL (as is), date (yyyy-MM-dd), fullwidth_parens (ASCII () become （）), guid (lower case with dashes) or guid_nodash';
COMMENT ON COLUMN elicense.platform_field.code_map IS
'Value -> code; key "*" maps every other value, key "" a missing value; a value the map does not cover is an error';
COMMENT ON COLUMN elicense.platform_field.required IS 'A missing or empty value makes the request impossible to build (the step goes dead with the reason); an optional one is left out';
COMMENT ON COLUMN elicense.platform_field.operate_types IS 'NULL: sent for every operateType; else only for these';
COMMENT ON COLUMN elicense.platform_field.note IS 'Where the field is known from: observed (a working client sends it) or inferred, and why';

-- Removes the effective row of a key: a tombstone over a shipped row, else
-- the local row goes.
CREATE FUNCTION elicense._platform_field_remove(p_type_code text, p_step text, p_slot text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT FROM elicense.platform_field_shipped s WHERE s.type_code = p_type_code AND s.step = p_step AND s.slot = p_slot) THEN
    INSERT INTO elicense.platform_field_local AS l
    SELECT s.*, true FROM elicense.platform_field_shipped s WHERE s.type_code = p_type_code AND s.step = p_step AND s.slot = p_slot
    ON CONFLICT (type_code, step, slot) DO UPDATE
       SET position = excluded.position, field = excluded.field, source_kind = excluded.source_kind, source = excluded.source,
           format = excluded.format, code_map = excluded.code_map, required = excluded.required,
           operate_types = excluded.operate_types, note = excluded.note, removed = true;
  ELSE
    DELETE FROM elicense.platform_field_local l WHERE l.type_code = p_type_code AND l.step = p_step AND l.slot = p_slot;
  END IF;
END
$$;
REVOKE ALL ON FUNCTION elicense._platform_field_remove(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION elicense._platform_field_remove(text, text, text) IS
'Internal: hides the effective request field of a key (tombstone over a shipped row, or deletes the local row)';

-- INSTEAD OF trigger of elicense.platform_field: the view's rows become
-- local rows; a row equal to its shipped row is no override and goes.
CREATE FUNCTION elicense._platform_field_write() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s elicense.platform_field_shipped;
  moved boolean := TG_OP = 'UPDATE' AND (NEW.type_code, NEW.step, NEW.slot) IS DISTINCT FROM (OLD.type_code, OLD.step, OLD.slot);
  other text;
BEGIN
  IF TG_OP = 'DELETE' OR moved THEN
    PERFORM elicense._platform_field_remove(OLD.type_code, OLD.step, OLD.slot);
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    END IF;
  END IF;
  IF (TG_OP = 'INSERT' OR moved) AND EXISTS (SELECT FROM elicense.platform_field p
                                              WHERE p.type_code = NEW.type_code AND p.step = NEW.step AND p.slot = NEW.slot) THEN
    RAISE EXCEPTION 'request field slot "%" already exists for licence type % step %', NEW.slot, NEW.type_code, NEW.step
      USING ERRCODE = 'unique_violation', HINT = 'UPDATE that row of elicense.platform_field instead, or choose another slot.';
  END IF;
  SELECT p.slot INTO other FROM elicense.platform_field p
   WHERE p.type_code = NEW.type_code AND p.step = NEW.step AND p.field = NEW.field AND p.slot <> NEW.slot
     AND NOT (TG_OP = 'UPDATE' AND p.slot = OLD.slot AND p.type_code = OLD.type_code AND p.step = OLD.step);
  IF FOUND THEN
    RAISE EXCEPTION 'field "%" is already sent by slot "%" of licence type % step %', NEW.field, other, NEW.type_code, NEW.step
      USING ERRCODE = 'unique_violation', HINT = 'Each JSON field appears once per request item; rename or remove the other slot first.';
  END IF;
  SELECT * INTO s FROM elicense.platform_field_shipped x WHERE x.type_code = NEW.type_code AND x.step = NEW.step AND x.slot = NEW.slot;
  IF FOUND AND (s.position, s.field, s.source_kind, s.source, s.format, s.code_map, s.required, s.operate_types, s.note)
               IS NOT DISTINCT FROM (NEW.position, NEW.field, NEW.source_kind, NEW.source, NEW.format, NEW.code_map, NEW.required,
                                     NEW.operate_types, NEW.note) THEN
    DELETE FROM elicense.platform_field_local l WHERE l.type_code = NEW.type_code AND l.step = NEW.step AND l.slot = NEW.slot;
  ELSE
    INSERT INTO elicense.platform_field_local AS l (type_code, step, slot, position, field, source_kind, source, format, code_map,
                                                    required, operate_types, note, removed)
    VALUES (NEW.type_code, NEW.step, NEW.slot, NEW.position, NEW.field, NEW.source_kind, NEW.source, NEW.format, NEW.code_map,
            NEW.required, NEW.operate_types, NEW.note, false)
    ON CONFLICT (type_code, step, slot) DO UPDATE
       SET position = excluded.position, field = excluded.field, source_kind = excluded.source_kind, source = excluded.source,
           format = excluded.format, code_map = excluded.code_map, required = excluded.required,
           operate_types = excluded.operate_types, note = excluded.note, removed = false;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION elicense._platform_field_write() FROM PUBLIC;
COMMENT ON FUNCTION elicense._platform_field_write() IS
'Internal: INSTEAD OF trigger of elicense.platform_field; keeps inserted, changed and deleted rows in elicense.platform_field_local';
CREATE TRIGGER platform_field_write INSTEAD OF INSERT OR UPDATE OR DELETE ON elicense.platform_field
    FOR EACH ROW EXECUTE FUNCTION elicense._platform_field_write();
COMMENT ON TRIGGER platform_field_write ON elicense.platform_field IS 'Writes a DBA''s changes to elicense.platform_field_local';

REVOKE ALL ON elicense.platform_field_shipped, elicense.platform_field_local, elicense.platform_field FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.platform_field, elicense.platform_field_local TO elicense_admin;
GRANT SELECT ON elicense.platform_field_shipped TO elicense_admin;
GRANT SELECT ON elicense.platform_field TO elicense_analyst;

--------------------------------------------------------------------------------
-- Shipped fields: exactly the per-type x step lists of PLATFORM.md ("Request
-- items, as public clients send them"). "assign = the whole item": the
-- common fields (zzeCertID aside, which collect and status update send) and
-- the type's own. Types a DBA deleted get none (the join).
--------------------------------------------------------------------------------
-- W032 operation categories (PLATFORM.md): a code stands for itself, a
-- category name maps to its code, anything else is 99 ("other", sent with
-- categoryDescription). Rows below say '@operation_categories' for it.
INSERT INTO elicense.platform_field_shipped (type_code, step, slot, position, field, source_kind, source, format, code_map, required,
                                             operate_types, note)
SELECT v.type_code, v.step, v.slot, v.position, v.field, v.source_kind, v.source, v.format,
       CASE WHEN v.code_map = '@operation_categories' THEN '{
         "01": "01", "02": "02", "03": "03", "04": "04", "05": "05", "06": "06", "07": "07", "08": "08", "09": "09", "10": "10",
         "11": "11", "99": "99",
         "建筑电工": "01",
         "建筑架子工（普通脚手架）": "02", "建筑架子工（附着升降脚手架）": "03",
         "建筑起重司索信号工": "04",
         "建筑起重机械司机（塔式起重机）": "05", "建筑起重机械司机（施工升降机）": "06", "建筑起重机械司机（物料提升机）": "07",
         "建筑起重机械安装拆卸工（塔式起重机）": "08", "建筑起重机械安装拆卸工（施工升降机）": "09",
         "建筑起重机械安装拆卸工（物料提升机）": "10",
         "高处作业吊篮安装拆卸工": "11",
         "*": "99"}'::jsonb ELSE v.code_map::jsonb END,
       v.required, v.operate_types::text[], v.note
  FROM (VALUES
-- W050 (安许证), from a provincial government-service client.
('11100000000013338W050', 'validate', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, true, NULL, 'observed: a fresh GUID per data item, echoed in SuccessData/ErrorGuid'),
('11100000000013338W050', 'validate', 'province_num', 2, 'provinceNum', 'computed', 'province_num', NULL, NULL, true, NULL, 'observed: province of the issuing authority, XX0000'),
('11100000000013338W050', 'validate', 'cert_num', 3, 'certNum', 'column', 'licence_number', 'fullwidth_parens', NULL, true, NULL, 'observed; full-width parentheses as one client sends them'),
('11100000000013338W050', 'validate', 'credit_code', 4, 'creditCode', 'column', 'holder_id', NULL, NULL, true, NULL, 'observed: the company''s USCC'),
('11100000000013338W050', 'validate', 'operate_type', 5, 'operateType', 'column', 'operate_type', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, true, NULL, 'observed: a fresh GUID per data item; the assignment echoes it'),
('11100000000013338W050', 'assign_code', 'associated_zze_cert_id', 2, 'associatedZzeCertID', 'computed', 'superseded_platform_identifier', NULL, NULL, true, '{02,08}', 'observed: the superseded version''s identifier, only on 02 renewal and 08 change; the one the platform holds (status changes keep it)'),
('11100000000013338W050', 'assign_code', 'province_num', 3, 'provinceNum', 'computed', 'province_num', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'cert_num', 4, 'certNum', 'column', 'licence_number', 'fullwidth_parens', NULL, true, NULL, 'observed; full-width parentheses as one client sends them'),
('11100000000013338W050', 'assign_code', 'issu_auth', 5, 'issuAuth', 'column', 'authority_name', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'issu_auth_code', 6, 'issuAuthCode', 'column', 'authority_uscc', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'issu_date', 7, 'issuDate', 'column', 'issue_date', 'date', NULL, true, NULL, 'observed: issue date of this version'),
('11100000000013338W050', 'assign_code', 'effective_date', 8, 'effectiveDate', 'column', 'valid_from', 'date', NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'expiring_date', 9, 'expiringDate', 'column', 'valid_to', 'date', NULL, true, NULL, 'observed; required inferred (the shipped types require valid_to)'),
('11100000000013338W050', 'assign_code', 'cert_state', 10, 'certState', 'column', 'status', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'cert_status_description', 11, 'certStatusDescription', 'column', 'status_note', NULL, NULL, false, NULL, 'observed: required for certState 99 (status_note is then set), else left out'),
('11100000000013338W050', 'assign_code', 'operate_type', 12, 'operateType', 'column', 'operate_type', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'company_name', 13, 'companyName', 'column', 'holder_name', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'credit_code', 14, 'creditCode', 'column', 'holder_id', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'company_address', 15, 'companyAddress', 'item', 'address', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'economic_type', 16, 'economicType', 'item', 'economic_type', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'responsible_person', 17, 'responsiblePerson', 'item', 'principal', NULL, NULL, true, NULL, 'observed: 主要负责人'),
('11100000000013338W050', 'assign_code', 'responsible_person_id', 18, 'responsiblePersonID', 'item', 'principal_id', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'assign_code', 'responsible_person_id_type', 19, 'responsiblePersonIDType', 'item', 'principal_id_type', NULL, '{"": "111", "111": "111", "999": "999", "001": "001"}', true, NULL, 'observed: 111; missing means 111'),
('11100000000013338W050', 'assign_code', 'license_scope', 20, 'licenseScope', 'item', 'permit_scope', NULL, NULL, true, NULL, 'observed: 建筑施工'),
('11100000000013338W050', 'assign_code', 'first_issu_date', 21, 'firstIssuDate', 'computed', 'first_issue_date', 'date', NULL, true, NULL, 'observed; the first_issue_date item, else version 001''s issue date'),
('11100000000013338W050', 'collect', 'assigned_code', 1, 'ID', 'computed', 'assigned_code', NULL, NULL, true, NULL, 'observed: the code the platform assigned'),
('11100000000013338W050', 'collect', 'zze_cert_id', 2, 'zzeCertID', 'column', 'identifier', NULL, NULL, true, NULL, 'observed: the licence identifier'),
('11100000000013338W050', 'collect', 'url', 3, 'url', 'computed', 'preview_url', NULL, NULL, true, NULL, 'observed: preview link of the watermarked licence, not the file'),
('11100000000013338W050', 'status_update', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, true, NULL, 'observed'),
('11100000000013338W050', 'status_update', 'zze_cert_id', 2, 'zzeCertID', 'computed', 'platform_identifier', NULL, NULL, true, NULL, 'observed; the identifier the platform holds (the one collected), not the local version a status change writes'),
('11100000000013338W050', 'status_update', 'province_num', 3, 'provinceNum', 'computed', 'province_num', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'status_update', 'cert_num', 4, 'certNum', 'column', 'licence_number', 'fullwidth_parens', NULL, true, NULL, 'observed'),
('11100000000013338W050', 'status_update', 'credit_code', 5, 'creditCode', 'column', 'holder_id', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'status_update', 'cert_state', 6, 'certState', 'column', 'status', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'status_update', 'cert_status_description', 7, 'certStatusDescription', 'column', 'status_note', NULL, NULL, false, NULL, 'observed: required for certState 99, else left out'),
('11100000000013338W050', 'status_update', 'operate_type', 8, 'operateType', 'column', 'operate_type', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W050', 'query', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, false, NULL, 'inferred: no query endpoint was seen; the step''s eCertID'),
('11100000000013338W050', 'query', 'zze_cert_id', 2, 'zzeCertID', 'computed', 'platform_identifier', NULL, NULL, true, NULL, 'inferred: no query endpoint was seen; the identifier the platform holds'),
-- W032 (特种作业), from a municipal personnel client.
('11100000000013338W032', 'validate', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, true, NULL, 'observed: a fresh GUID per data item, echoed in SuccessData/ErrorGuid'),
('11100000000013338W032', 'validate', 'province_num', 2, 'provinceNum', 'computed', 'province_num', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'validate', 'identity_card', 3, 'identityCard', 'column', 'holder_id', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'validate', 'operation_category', 4, 'operationCategory', 'computed', 'operation_category', NULL, '@operation_categories', true, NULL, 'observed: category_code, else the category name''s code, else 99'),
('11100000000013338W032', 'validate', 'category_description', 5, 'categoryDescription', 'computed', 'category_description', NULL, NULL, false, NULL, 'observed: only for operationCategory 99, in the fixed form'),
('11100000000013338W032', 'validate', 'cert_num', 6, 'certNum', 'column', 'licence_number', 'fullwidth_parens', NULL, true, '{02,03,04,05,06,07,08}', 'observed: not sent on 01 (the number is new)'),
('11100000000013338W032', 'validate', 'operate_type', 7, 'operateType', 'column', 'operate_type', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, true, NULL, 'observed: a fresh GUID per data item; the assignment echoes it'),
('11100000000013338W032', 'assign_code', 'associated_zze_cert_id', 2, 'associatedZzeCertID', 'computed', 'superseded_platform_identifier', NULL, NULL, true, '{02,08}', 'observed: the superseded version''s identifier, only on 02 renewal and 08 change; the one the platform holds (status changes keep it)'),
('11100000000013338W032', 'assign_code', 'province_num', 3, 'provinceNum', 'computed', 'province_num', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'cert_num', 4, 'certNum', 'column', 'licence_number', 'fullwidth_parens', NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'issu_auth', 5, 'issuAuth', 'column', 'authority_name', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'issu_auth_code', 6, 'issuAuthCode', 'column', 'authority_uscc', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'issu_date', 7, 'issuDate', 'column', 'issue_date', 'date', NULL, true, NULL, 'observed: issue date of this version'),
('11100000000013338W032', 'assign_code', 'effective_date', 8, 'effectiveDate', 'column', 'valid_from', 'date', NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'expiring_date', 9, 'expiringDate', 'column', 'valid_to', 'date', NULL, true, NULL, 'observed; required inferred (the shipped types require valid_to)'),
('11100000000013338W032', 'assign_code', 'cert_state', 10, 'certState', 'column', 'status', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'cert_status_description', 11, 'certStatusDescription', 'column', 'status_note', NULL, NULL, false, NULL, 'observed: required for certState 99, else left out'),
('11100000000013338W032', 'assign_code', 'operate_type', 12, 'operateType', 'column', 'operate_type', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'name', 13, 'name', 'column', 'holder_name', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'gender', 14, 'gender', 'item', 'gender', NULL, '{"男": "1", "女": "2"}', true, NULL, 'observed: 1 male, 2 female'),
('11100000000013338W032', 'assign_code', 'identity_card', 15, 'identityCard', 'column', 'holder_id', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'assign_code', 'identity_card_type', 16, 'identityCardType', 'column', 'holder_id_type', NULL, '{"RESIDENT_ID": "111", "USCC": "001", "*": "999"}', true, NULL, 'observed: 111 citizen ID number, 999 other'),
('11100000000013338W032', 'assign_code', 'issued_date', 17, 'issuedDate', 'computed', 'first_issue_date', 'date', NULL, true, NULL, 'observed: first issue; the first_issue_date item, else version 001''s issue date'),
('11100000000013338W032', 'assign_code', 'photo', 18, 'photo', 'item', 'photo', NULL, NULL, false, NULL, 'observed: Base64 JPG/PNG at most 50 KB; left out when the licence has none'),
('11100000000013338W032', 'assign_code', 'operation_category', 19, 'operationCategory', 'computed', 'operation_category', NULL, '@operation_categories', true, NULL, 'observed: category_code, else the category name''s code, else 99'),
('11100000000013338W032', 'assign_code', 'category_description', 20, 'categoryDescription', 'computed', 'category_description', NULL, NULL, false, NULL, 'observed: only for operationCategory 99, in the fixed form'),
('11100000000013338W032', 'collect', 'assigned_code', 1, 'ID', 'computed', 'assigned_code', NULL, NULL, true, NULL, 'observed: the code the platform assigned'),
('11100000000013338W032', 'collect', 'zze_cert_id', 2, 'zzeCertID', 'column', 'identifier', NULL, NULL, true, NULL, 'observed: the licence identifier'),
('11100000000013338W032', 'collect', 'url', 3, 'url', 'computed', 'preview_url', NULL, NULL, true, NULL, 'observed: preview link of the watermarked licence, not the file'),
('11100000000013338W032', 'status_update', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, true, NULL, 'observed'),
('11100000000013338W032', 'status_update', 'zze_cert_id', 2, 'zzeCertID', 'computed', 'platform_identifier', NULL, NULL, true, NULL, 'observed; the identifier the platform holds (the one collected), not the local version a status change writes'),
('11100000000013338W032', 'status_update', 'province_num', 3, 'provinceNum', 'computed', 'province_num', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'status_update', 'cert_num', 4, 'certNum', 'column', 'licence_number', 'fullwidth_parens', NULL, true, NULL, 'observed'),
('11100000000013338W032', 'status_update', 'identity_card', 5, 'identityCard', 'column', 'holder_id', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'status_update', 'operation_category', 6, 'operationCategory', 'computed', 'operation_category', NULL, '@operation_categories', true, NULL, 'observed'),
('11100000000013338W032', 'status_update', 'category_description', 7, 'categoryDescription', 'computed', 'category_description', NULL, NULL, false, NULL, 'observed: only for operationCategory 99'),
('11100000000013338W032', 'status_update', 'cert_state', 8, 'certState', 'column', 'status', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'status_update', 'cert_status_description', 9, 'certStatusDescription', 'column', 'status_note', NULL, NULL, false, NULL, 'observed: required for certState 99, else left out'),
('11100000000013338W032', 'status_update', 'operate_type', 10, 'operateType', 'column', 'operate_type', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'key_change', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, true, NULL, 'observed (Tzry_Change)'),
('11100000000013338W032', 'key_change', 'province_num', 2, 'provinceNum', 'computed', 'province_num', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'key_change', 'cert_num', 3, 'certNum', 'column', 'licence_number', 'fullwidth_parens', NULL, true, NULL, 'observed'),
('11100000000013338W032', 'key_change', 'category_code', 4, 'categoryCode', 'computed', 'operation_category', NULL, '@operation_categories', true, NULL, 'observed; the operation category code'),
('11100000000013338W032', 'key_change', 'birth_date', 5, 'birthDate', 'computed', 'birth_date', 'date', NULL, true, NULL, 'observed; from the holder''s resident ID number'),
('11100000000013338W032', 'key_change', 'identity_card_type', 6, 'identityCardType', 'column', 'holder_id_type', NULL, '{"RESIDENT_ID": "111", "USCC": "001", "*": "999"}', true, NULL, 'observed'),
('11100000000013338W032', 'key_change', 'identity_card', 7, 'identityCard', 'column', 'holder_id', NULL, NULL, true, NULL, 'observed'),
('11100000000013338W032', 'key_change', 'url', 8, 'url', 'computed', 'preview_url', NULL, NULL, true, NULL, 'observed; inferred that it is the preview link'),
('11100000000013338W032', 'query', 'ecert_id', 1, 'eCertID', 'computed', 'ecert_id', 'guid', NULL, false, NULL, 'inferred: no query endpoint was seen; the step''s eCertID'),
('11100000000013338W032', 'query', 'zze_cert_id', 2, 'zzeCertID', 'computed', 'platform_identifier', NULL, NULL, true, NULL, 'inferred: no query endpoint was seen; the identifier the platform holds')
) AS v(type_code, step, slot, position, field, source_kind, source, format, code_map, required, operate_types, note)
  JOIN elicense.licence_type t ON t.type_code OPERATOR(pg_catalog.=) v.type_code;
