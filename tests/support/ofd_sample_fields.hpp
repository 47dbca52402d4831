// Face values of a sample W050 licence, shared by the OFD unit tests and the
// OFD benchmark (which varies the certificate number and unit name per licence).
#pragma once

#include "elicense/ofd_writer.hpp"

#include <string>

inline elicense::core::OfdFieldValues SampleW050Values(const std::string &cert_no = "（闽）JZ安许证字[2023]087974",
                                                       const std::string &unit_name = "福建省某某建设工程有限公司") {
	return {{"cert_no", cert_no},
	        {"unit_name", unit_name},
	        {"uscc", "91350100MA2XXXXX0K"},
	        {"principal", "张三"},
	        {"address", "福建省福州市鼓楼区某某路88号"},
	        {"economic_type", "有限责任公司"},
	        {"scope", "建筑施工"},
	        {"valid_period", "2023年08月01日至2026年07月31日"},
	        {"issuer", "福建省住房和城乡建设厅"},
	        {"issue_date", "2023年08月01日"}};
}
