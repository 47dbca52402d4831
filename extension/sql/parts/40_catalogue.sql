--------------------------------------------------------------------------------
-- Licence-type catalogue: which licence types exist and which information
-- items (信息项) each carries. Data-driven: a DBA (elicense_admin) adds types
-- and items with INSERT; issuing reads the catalogue on every call.
--
-- Items whose metadata_column is set fill that metadata column of
-- elicense.certificate (licence number, holder, authority, dates); all other
-- items go into certificate.business_data (jsonb).
--
-- The item lists of the two shipped types are DERIVED from the seeds and from
-- public descriptions of C0292-2022 / C0304-2022, not copied from the
-- standards' text (see README-certificates.md).
--------------------------------------------------------------------------------

CREATE TABLE elicense.licence_type (
    type_code         text PRIMARY KEY
                      CONSTRAINT licence_type_code_format CHECK (type_code OPERATOR(pg_catalog.~) '^[0-9A-HJ-NP-RTUW-Y]{18}[0-9]{3}$'),
    name              text NOT NULL CONSTRAINT licence_type_name_present CHECK (name OPERATOR(pg_catalog.<>) ''),
    standard          text,
    holder_id_type    text NOT NULL CONSTRAINT licence_type_holder_id_type CHECK (holder_id_type OPERATOR(pg_catalog.=) ANY (ARRAY['USCC', 'RESIDENT_ID'])),
    -- Every certificate number of this type must match number_pattern.
    number_pattern    text NOT NULL,
    number_example    text NOT NULL,
    -- When set and the number matches it, the identifier's sequence is the
    -- concatenation of its capture groups (MOHURD: year + 6 digits); when
    -- NULL or not matching, the sequence comes from elicense.sequence_counter.
    sequence_pattern  text,
    min_holder_age    integer CONSTRAINT licence_type_min_holder_age CHECK (min_holder_age BETWEEN 0 AND 100),
    shipped           boolean NOT NULL DEFAULT false,
    CONSTRAINT licence_type_example_matches CHECK (number_example OPERATOR(pg_catalog.~) number_pattern)
);
COMMENT ON TABLE elicense.licence_type IS
'Licence types (证照类型) that can be issued; a DBA may add rows. Rows with shipped = true come with the extension and are not dumped by pg_dump';
COMMENT ON COLUMN elicense.licence_type.type_code IS 'Licence type code (证照类型代码): defining authority USCC + 3 digits';
COMMENT ON COLUMN elicense.licence_type.holder_id_type IS 'USCC for licences held by organisations, RESIDENT_ID for licences held by people';
COMMENT ON COLUMN elicense.licence_type.number_pattern IS 'POSIX regular expression every certificate number (证书编号) of the type must match';
COMMENT ON COLUMN elicense.licence_type.number_example IS 'A certificate number that matches number_pattern, shown in error hints';
COMMENT ON COLUMN elicense.licence_type.sequence_pattern IS 'If set and matching the number, the identifier sequence is the concatenation of its capture groups; otherwise a gap-free counter per (type, authority)';
COMMENT ON COLUMN elicense.licence_type.min_holder_age IS 'Minimum age in years of a person holder on the issue date (from the resident ID birth date); NULL: no check';
COMMENT ON COLUMN elicense.licence_type.shipped IS 'True for rows installed by the extension (left out of pg_dump, recreated by CREATE EXTENSION)';

CREATE TABLE elicense.licence_item (
    type_code         text NOT NULL REFERENCES elicense.licence_type ON UPDATE CASCADE ON DELETE CASCADE,
    item              text NOT NULL CONSTRAINT licence_item_name_format CHECK (item OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    label             text NOT NULL CONSTRAINT licence_item_label_present CHECK (label OPERATOR(pg_catalog.<>) ''),
    data_type         text NOT NULL CONSTRAINT licence_item_data_type CHECK (data_type OPERATOR(pg_catalog.=) ANY (ARRAY['text', 'date', 'uscc', 'resident_id', 'division_code', 'image'])),
    required          boolean NOT NULL DEFAULT false,
    max_length        integer CONSTRAINT licence_item_max_length CHECK (max_length BETWEEN 1 AND 10000),
    allowed_values    text[],
    metadata_column   text CONSTRAINT licence_item_metadata_column CHECK (metadata_column OPERATOR(pg_catalog.=) ANY (ARRAY[
                          'licence_number', 'holder_name', 'holder_id', 'authority_name', 'authority_uscc',
                          'authority_division', 'issue_date', 'valid_from', 'valid_to'])),
    position          integer NOT NULL,
    shipped           boolean NOT NULL DEFAULT false,
    face_key          text CONSTRAINT licence_item_face_key_format CHECK (face_key OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'),
    PRIMARY KEY (type_code, item),
    CONSTRAINT licence_item_position_unique UNIQUE (type_code, position),
    CONSTRAINT licence_item_metadata_once UNIQUE (type_code, metadata_column),
    -- Metadata columns are NOT NULL in elicense.certificate (valid_to aside).
    CONSTRAINT licence_item_metadata_required CHECK (metadata_column IS NULL OR metadata_column OPERATOR(pg_catalog.=) 'valid_to' OR required),
    CONSTRAINT licence_item_metadata_type CHECK (
        metadata_column IS NULL
        OR (metadata_column OPERATOR(pg_catalog.=) ANY (ARRAY['issue_date', 'valid_from', 'valid_to'])) OPERATOR(pg_catalog.=) (data_type OPERATOR(pg_catalog.=) 'date'))
);
COMMENT ON TABLE elicense.licence_item IS
'Information items (信息项) of each licence type; issuing validates the licence data against them. A DBA may add rows';
COMMENT ON COLUMN elicense.licence_item.item IS 'Key of the item in the licence data (jsonb) passed to elicense.issue/change and in issue_from_trigger mappings';
COMMENT ON COLUMN elicense.licence_item.label IS 'Chinese label as printed on the licence';
COMMENT ON COLUMN elicense.licence_item.data_type IS 'text, date (YYYY-MM-DD), uscc, resident_id, division_code (the last three checked with the check_* validators) or image (Base64 of a JPG or PNG of at most 50 KB)';
COMMENT ON COLUMN elicense.licence_item.max_length IS 'Maximum length in characters (NULL: no limit)';
COMMENT ON COLUMN elicense.licence_item.allowed_values IS 'If set, the only values the item may take';
COMMENT ON COLUMN elicense.licence_item.metadata_column IS 'Metadata column of elicense.certificate this item fills; NULL: stored in business_data';
COMMENT ON COLUMN elicense.licence_item.position IS 'Display and validation order';
COMMENT ON COLUMN elicense.licence_item.shipped IS 'True for rows installed by the extension (left out of pg_dump, recreated by CREATE EXTENSION)';
COMMENT ON COLUMN elicense.licence_item.face_key IS 'Key the type''s face template (elicense.ofd_template) names this item by; NULL: the item''s own name';

-- Shipped types. Certificate numbers:
--  W050 安许证: the national form (省简称)JZ安许证字[year]serial, e.g.
--       (闽)JZ安许证字[2023]087974; brackets [] ［］ 〔〕 【】 and half- or
--       full-width parentheses accepted. Sequence = year + 6-digit serial.
--  W032 特种作业: numbers differ by province (e.g. 闽A012023000123, Jilin's
--       sequence 2430599); accepted: an optional province character then
--       6-24 digits/upper-case letters. Serials restart per work category in
--       some provinces, so the sequence is NOT derived from the number: it is
--       allocated by the gap-free counter (7 digits, zero-padded).
INSERT INTO elicense.licence_type (type_code, name, standard, holder_id_type, number_pattern, number_example, sequence_pattern, min_holder_age, shipped) VALUES
('11100000000013338W050', '建筑施工企业安全生产许可证', 'C0292-2022', 'USCC',
 '^[(（][\u4e00-\u9fa5][)）]JZ安许证字[[［〔【][0-9]{4}[]］〕】][0-9]{6}$', '(闽)JZ安许证字[2023]087974',
 '^[(（][\u4e00-\u9fa5][)）]JZ安许证字[[［〔【]([0-9]{4})[]］〕】]([0-9]{6})$', NULL, true),
('11100000000013338W032', '建筑施工特种作业人员操作资格证书', 'C0304-2022', 'RESIDENT_ID',
 '^[\u4e00-\u9fa5]?[0-9A-Z]{6,24}$', '闽A012023000123',
 NULL, 18, true);

INSERT INTO elicense.licence_item (type_code, position, item, label, data_type, required, max_length, allowed_values, metadata_column, shipped) VALUES
('11100000000013338W050',  1, 'enterprise_name',    '企业名称',                 'text',          true, 200, NULL, 'holder_name', true),
('11100000000013338W050',  2, 'uscc',               '统一社会信用代码',         'uscc',          true,  18, NULL, 'holder_id', true),
('11100000000013338W050',  3, 'principal',          '主要负责人',               'text',          true,  50, NULL, NULL, true),
('11100000000013338W050',  4, 'address',            '单位地址',                 'text',          true, 200, NULL, NULL, true),
('11100000000013338W050',  5, 'economic_type',      '经济类型',                 'text',          true,  50, NULL, NULL, true),
('11100000000013338W050',  6, 'permit_scope',       '许可范围',                 'text',          true, 200, NULL, NULL, true),
('11100000000013338W050',  7, 'licence_number',     '证书编号',                 'text',          true,  50, NULL, 'licence_number', true),
('11100000000013338W050',  8, 'valid_from',         '有效期起',                 'date',          true, NULL, NULL, 'valid_from', true),
('11100000000013338W050',  9, 'valid_to',           '有效期止',                 'date',          true, NULL, NULL, 'valid_to', true),
('11100000000013338W050', 10, 'authority_name',     '发证机关',                 'text',          true, 100, NULL, 'authority_name', true),
('11100000000013338W050', 11, 'authority_uscc',     '发证机关统一社会信用代码', 'uscc',          true,  18, NULL, 'authority_uscc', true),
('11100000000013338W050', 12, 'authority_division', '发证机关行政区划代码',     'division_code', true,   6, NULL, 'authority_division', true),
('11100000000013338W050', 13, 'issue_date',         '发证日期',                 'date',          true, NULL, NULL, 'issue_date', true),
('11100000000013338W050', 14, 'principal_id',       '主要负责人身份证号',       'resident_id',   true,  18, NULL, NULL, true),
('11100000000013338W050', 15, 'principal_id_type',  '主要负责人证件类型',       'text',          false,  3, ARRAY['111', '999', '001'], NULL, true),
('11100000000013338W050', 16, 'first_issue_date',   '初次发证日期',             'date',          false, NULL, NULL, NULL, true),
('11100000000013338W032',  1, 'name',               '姓名',                     'text',          true,  50, NULL, 'holder_name', true),
('11100000000013338W032',  2, 'gender',             '性别',                     'text',          true,   1, ARRAY['男', '女'], NULL, true),
('11100000000013338W032',  3, 'id_number',          '身份证号',                 'resident_id',   true,  18, NULL, 'holder_id', true),
('11100000000013338W032',  4, 'category',           '操作类别',                 'text',          true, 100, NULL, NULL, true),
('11100000000013338W032',  5, 'category_code',      '操作类别代码',             'text',          false, 10, ARRAY['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '99'], NULL, true),
('11100000000013338W032',  6, 'employer',           '聘用单位',                 'text',          false, 200, NULL, NULL, true),
('11100000000013338W032',  7, 'licence_number',     '证书编号',                 'text',          true,  50, NULL, 'licence_number', true),
('11100000000013338W032',  8, 'first_issue_date',   '初次领证日期',             'date',          false, NULL, NULL, NULL, true),
('11100000000013338W032',  9, 'valid_from',         '有效期起',                 'date',          true, NULL, NULL, 'valid_from', true),
('11100000000013338W032', 10, 'valid_to',           '有效期止',                 'date',          true, NULL, NULL, 'valid_to', true),
('11100000000013338W032', 11, 'authority_name',     '发证机关',                 'text',          true, 100, NULL, 'authority_name', true),
('11100000000013338W032', 12, 'authority_uscc',     '发证机关统一社会信用代码', 'uscc',          true,  18, NULL, 'authority_uscc', true),
('11100000000013338W032', 13, 'authority_division', '发证机关行政区划代码',     'division_code', true,   6, NULL, 'authority_division', true),
('11100000000013338W032', 14, 'issue_date',         '发证日期',                 'date',          true, NULL, NULL, 'issue_date', true),
('11100000000013338W032', 15, 'photo',              '照片',                     'image',         false, NULL, NULL, NULL, true);

-- The shipped face templates name some items by shorter keys.
UPDATE elicense.licence_item i SET face_key = k.face_key
  FROM (VALUES ('11100000000013338W050', 'enterprise_name', 'unit_name'), ('11100000000013338W050', 'permit_scope', 'scope'),
               ('11100000000013338W050', 'licence_number', 'cert_no'), ('11100000000013338W050', 'authority_name', 'issuer'),
               ('11100000000013338W032', 'id_number', 'id_no'), ('11100000000013338W032', 'licence_number', 'cert_no'),
               ('11100000000013338W032', 'authority_name', 'issuer')) k (type_code, item, face_key)
 WHERE i.type_code = k.type_code AND i.item = k.item AND i.shipped;

-- pg_dump keeps what a DBA added; shipped rows come back with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('elicense.licence_type', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('elicense.licence_item', 'WHERE NOT shipped');

REVOKE ALL ON elicense.licence_type, elicense.licence_item FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON elicense.licence_type, elicense.licence_item TO elicense_admin;
GRANT SELECT ON elicense.licence_type, elicense.licence_item TO elicense_issuer, elicense_analyst;

COMMENT ON COLUMN elicense.licence_type.name IS 'Licence name (证照名称)';
COMMENT ON COLUMN elicense.licence_type.standard IS 'National standard defining the type, e.g. C0292-2022';
COMMENT ON COLUMN elicense.licence_item.type_code IS 'Licence type the item belongs to';
COMMENT ON COLUMN elicense.licence_item.required IS 'True if every licence of the type must give a non-empty value';
