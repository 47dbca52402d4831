-- Licence OFD files from SQL: render from a template and field values
-- (jsonb) with a QR PNG, look inside the package, verify.
CREATE EXTENSION elicense;

CREATE TEMP TABLE face AS SELECT $json${
  "type_code": "11100000000013338W032", "name": "建筑施工特种作业人员操作资格证书",
  "title": {"text": "建筑施工特种作业人员操作资格证书", "y": 66, "font": "黑体", "size": 24},
  "label": {"font": "黑体", "size": 14},
  "qr": {"x": 164, "y": 18, "size": 30}, "seal": {"x": 122, "y": 178, "size": 42},
  "fields": [
    {"key": "name", "label": "姓名", "x": 30, "y": 92, "value_x": 75, "width": 105, "font": "宋体", "size": 14},
    {"key": "id_no", "label": "身份证号", "x": 30, "y": 106, "value_x": 75, "width": 105, "font": "宋体", "size": 14}
  ]}$json$::jsonb AS template,
  decode('89504e470d0a1a0a0000000d49484452000000010000000108020000009077' ||
         '53de0000000c49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082', 'hex') AS qr;

CREATE TEMP TABLE rendered AS
SELECT elicense.render_licence_ofd(template, '{"name": "林晓峰 <&>", "id_no": "350102199001011234"}', qr) AS ofd,
       elicense.render_licence_ofd(template, '{"name": "林晓峰", "id_no": null}', qr, false) AS plain,
       elicense.render_licence_ofd(template, '{"name": "林晓峰", "id_no": "x"}', qr, true, '招投标资格审查', '2026-12-31') AS copy
FROM face;

-- A ZIP (local file header "PK\003\004") naming the OFD parts, the escaped
-- value inside; sha256() gives the digest to store with the licence.
SELECT substr(ofd, 1, 4) = '\x504b0304'::bytea AS zip,
       position(convert_to('Doc_0/Pages/Page_0/Content.xml', 'UTF8') IN ofd) > 0 AS has_content,
       position(convert_to('Doc_0/Pages/Page_0/Annotation.xml', 'UTF8') IN ofd) > 0 AS has_watermark,
       position(convert_to('林晓峰 &lt;&amp;&gt;', 'UTF8') IN ofd) > 0 AS escaped_value,
       position(convert_to('Doc_0/Annots.xml', 'UTF8') IN plain) = 0 AS plain_without_watermark,
       position(convert_to('用途：招投标资格审查', 'UTF8') IN copy) > 0 AS copy_states_purpose,
       length(sha256(ofd)) AS sha256_bytes
FROM rendered;

-- Unsigned files verify as such; anything else is malformed.
SELECT ok, status, part, signer FROM rendered, elicense.verify_licence_ofd(ofd);
SELECT ok, status, message FROM elicense.verify_licence_ofd('\x00010203');

-- Errors name the problem with a SQLSTATE.
SELECT * FROM regress.error_of($$SELECT elicense.render_licence_ofd(template, '{"name": "x"}', qr) FROM face$$);
SELECT * FROM regress.error_of($$SELECT elicense.render_licence_ofd(template, '{"name": "x", "id_no": "y", "extra": "z"}', qr) FROM face$$);
SELECT * FROM regress.error_of($$SELECT elicense.render_licence_ofd(template, '{"name": 1, "id_no": "y"}', qr) FROM face$$);
SELECT * FROM regress.error_of($$SELECT elicense.render_licence_ofd(template, '{"name": "x", "id_no": "y"}', '\x00') FROM face$$);
SELECT * FROM regress.error_of($$SELECT elicense.render_licence_ofd(template - 'title', '{"name": "x", "id_no": "y"}', qr) FROM face$$);
SELECT * FROM regress.error_of($$SELECT elicense.render_licence_ofd(template, '{"name": "x", "id_no": "y"}', qr, true, 'purpose only') FROM face$$);

DROP EXTENSION elicense;
