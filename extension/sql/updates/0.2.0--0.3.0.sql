-- elicense 0.2.0 -> 0.3.0: changes to objects of 0.2.0. The Makefile appends
-- the parts 0.3.0 added (PARTS_ADDED_IN_0.3.0) to make
-- elicense--0.2.0--0.3.0.sql; tests/integration/extension_upgrade.sh checks
-- that the result equals a fresh 0.3.0.
\echo Use "ALTER EXTENSION elicense UPDATE TO '0.3.0'" to load this file. \quit

-------------------------------------------------------------------------------
-- Face templates W050 and W032 (extension/templates/*.json): the rows in the
-- middle of the page moved down (W032's upper rows 4 mm up), so the platform
-- watermark and the purpose note of a copy no longer cover a field (W050's
-- 单位地址 was unreadable under the watermark); the seal moved with the rows
-- it stamps. tests/unit/ofd_watermark_band_test.cpp checks the bands.
-- A shipped row is replaced only while it is exactly what 0.1.0 and 0.2.0
-- shipped (md5 of its jsonb text): a DBA's edit of it stays.
-------------------------------------------------------------------------------
UPDATE elicense.ofd_template SET template = $tpl${
  "type_code": "11100000000013338W050",
  "name": "建筑施工企业安全生产许可证",
  "page": {"width": 210, "height": 297},
  "frame": {"margin": 10, "line_width": 1.2, "color": "176 32 32"},
  "title": {"text": "建筑施工企业安全生产许可证", "y": 66, "font": "黑体", "size": 26},
  "qr": {"x": 164, "y": 18, "size": 30},
  "seal": {"x": 122, "y": 223, "size": 42},
  "label": {"font": "黑体", "size": 14},
  "fields": [
    {"key": "cert_no", "label": "证书编号", "x": 25, "y": 90, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "unit_name", "label": "单位名称", "x": 25, "y": 103, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "uscc", "label": "统一社会信用代码", "x": 25, "y": 123, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "principal", "label": "主要负责人", "x": 25, "y": 136, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "address", "label": "单位地址", "x": 25, "y": 172, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "economic_type", "label": "经济类型", "x": 25, "y": 192, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "scope", "label": "许可范围", "x": 25, "y": 205, "value_x": 70, "width": 115, "font": "宋体", "size": 14, "max_lines": 3},
    {"key": "valid_period", "label": "有效期", "x": 25, "y": 232, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "issuer", "label": "发证机关", "x": 25, "y": 245, "value_x": 70, "width": 115, "font": "宋体", "size": 14},
    {"key": "issue_date", "label": "发证日期", "x": 25, "y": 258, "value_x": 70, "width": 115, "font": "宋体", "size": 14}
  ]
}$tpl$::jsonb
 WHERE type_code = '11100000000013338W050' AND shipped AND md5(template::text) = '0f131326abc2fd0f209c715aa87b8198';
UPDATE elicense.ofd_template SET template = $tpl${
  "type_code": "11100000000013338W032",
  "name": "建筑施工特种作业人员操作资格证书",
  "page": {"width": 210, "height": 297},
  "frame": {"margin": 10, "line_width": 1.2, "color": "32 64 144"},
  "title": {"text": "建筑施工特种作业人员操作资格证书", "y": 66, "font": "黑体", "size": 24},
  "qr": {"x": 164, "y": 18, "size": 30},
  "seal": {"x": 122, "y": 195, "size": 42},
  "label": {"font": "黑体", "size": 14},
  "fields": [
    {"key": "name", "label": "姓名", "x": 30, "y": 88, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "gender", "label": "性别", "x": 30, "y": 102, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "id_no", "label": "身份证号", "x": 30, "y": 116, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "category", "label": "操作类别", "x": 30, "y": 130, "value_x": 75, "width": 105, "font": "宋体", "size": 14, "max_lines": 2},
    {"key": "cert_no", "label": "证书编号", "x": 30, "y": 172, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "first_issue_date", "label": "初次领证日期", "x": 30, "y": 186, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "valid_period", "label": "有效期", "x": 30, "y": 200, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "issuer", "label": "发证机关", "x": 30, "y": 214, "value_x": 75, "width": 105, "font": "宋体", "size": 14}
  ]
}$tpl$::jsonb
 WHERE type_code = '11100000000013338W032' AND shipped AND md5(template::text) = '369ecbcc781ba9bac4abc006aa17219e';
