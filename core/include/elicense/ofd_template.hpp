// The face template of one licence type ("data + template", seed 000 §4.5):
// where each field, the title, the QR code and the seal go on the page.
// Templates are JSON files (extension/templates/*.json) so a DBA can move
// fields or change fonts without a rebuild. Lengths are in millimetres from
// the top-left corner of the page (OFD's coordinate system); font sizes are
// in points (1 pt = 25.4/72 mm), as the standards quote them.
//
// {
//   "type_code": "11100000000013338W050",
//   "name": "建筑施工企业安全生产许可证",
//   "page": {"width": 210, "height": 297},
//   "frame": {"margin": 8, "line_width": 1.2, "color": "176 32 32"},
//   "title": {"text": "…", "y": 40, "font": "黑体", "size": 26},
//   "qr": {"x": 160, "y": 18, "size": 32},
//   "seal": {"x": 120, "y": 222, "size": 42},
//   "label": {"font": "黑体", "size": 14},
//   "fields": [
//     {"key": "cert_no", "label": "证书编号", "x": 22, "y": 78, "value_x": 62,
//      "width": 126, "font": "宋体", "size": 14, "max_lines": 1}, …
//   ]
// }
//
// Font names are the ones in kOfdFonts (ofd_fonts.hpp); anything else is
// rejected when the template is read.
#pragma once

#include "elicense/cpp_only.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace elicense::core {

struct OfdBox {
	double x = 0;
	double y = 0;
	double size = 0;  // side of the square, mm
};

struct OfdTemplateField {
	std::string key;    // key of the value in the field map
	std::string label;  // printed before the value; empty: no label
	double x = 0;       // label position (baseline of the first line), mm
	double y = 0;
	double value_x = 0;     // where the value starts, mm
	double width = 0;       // room for the value, mm: it wraps, then shrinks
	std::string font;       // font of the value
	double size_pt = 0;     // font size of the value, pt
	int max_lines = 1;      // lines the value may take before it shrinks
	double line_gap = 1.5;  // line height as a multiple of the font size
};

struct OfdTemplate {
	std::string type_code;
	std::string name;
	double page_width = 210;
	double page_height = 297;
	double frame_margin = 8;  // 0: no frame
	double frame_line_width = 1;
	std::string frame_color = "0 0 0";  // "R G B", 0-255
	std::string title;
	double title_y = 0;
	std::string title_font;
	double title_size_pt = 0;
	std::string label_font;
	double label_size_pt = 0;
	OfdBox qr;
	OfdBox seal;
	std::vector<OfdTemplateField> fields;
};

// Parses and checks a template; throws Error (22P02 bad JSON, 22023 a
// missing or out-of-range item) naming the item.
OfdTemplate ParseOfdTemplate(std::string_view json);

// Reads a template file; throws Error if it cannot be read or parsed.
OfdTemplate LoadOfdTemplateFile(const std::string &path);

}  // namespace elicense::core
