// The test double's platform checker (tests/double/platform_spec.*) against
// items written by hand from ../shared/PLATFORM.md, its check-character rule
// against PLATFORM.md's vectors, and the relay envelope's SM4 against the
// GB/T 32907 vector and the openssl command line.
#include "platform_spec.hpp"
#include "relay_envelope.hpp"
#include "elicense/legacy_crypto.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

namespace elicense::testdouble {
namespace {

using nlohmann::json;

const char kGuid[] = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
const char kW032v1[] = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F";
const char kW032v2[] = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.002.D";
const char kW050v1[] = "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E";
const char kW050v2[] = "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.C";
const char kPng1x1[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

const PlatformSpec &Spec() {
	static const PlatformSpec spec(PlatformSpec::BuiltinDocument());
	return spec;
}

// Good items per type and step, from PLATFORM.md's field lists.
json Good(const std::string &type, const std::string &step) {
	if (type == "W032" && step == "check")
		return {{"eCertID", kGuid},
		        {"provinceNum", "220000"},
		        {"identityCard", "350102199001011238"},
		        {"operationCategory", "04"},
		        {"operateType", "01"}};
	if (type == "W032" && step == "assign")
		return {{"eCertID", "3f2504e04f8911d39a0c0305e82c3301"},
		        {"provinceNum", "220000"},
		        {"certNum", "吉A042012000939"},
		        {"issuAuth", "吉林省住房和城乡建设厅"},
		        {"issuAuthCode", "11220000013544541J"},
		        {"issuDate", "2024-03-01"},
		        {"effectiveDate", "2024-03-01"},
		        {"expiringDate", "2026-02-28"},
		        {"certState", "01"},
		        {"operateType", "01"},
		        {"name", "张三"},
		        {"gender", "1"},
		        {"identityCard", "350102199001011238"},
		        {"identityCardType", "111"},
		        {"issuedDate", "2012-05-01"},
		        {"photo", kPng1x1},
		        {"operationCategory", "04"},
		        {"businessInformation", json::array({{{"itemvalue", "某公司"}, {"itemtext", "聘用单位"}}})}};
	if (step == "collect")
		return {{"ID", "202232000001000001"},
		        {"zzeCertID", type == "W032" ? kW032v1 : kW050v1},
		        {"url", "https://preview.example.test/l/x?a=1"}};
	if (type == "W032" && step == "status_update")
		return {{"eCertID", kGuid},
		        {"zzeCertID", kW032v2},
		        {"provinceNum", "220000"},
		        {"certNum", "吉A042012000939"},
		        {"identityCard", "350102199001011238"},
		        {"operationCategory", "04"},
		        {"certState", "02"},
		        {"operateType", "03"}};
	if (type == "W032" && step == "key_change")
		return {{"eCertID", kGuid},
		        {"provinceNum", "220000"},
		        {"certNum", "吉A042012000939"},
		        {"categoryCode", "04"},
		        {"birthDate", "1990-01-01"},
		        {"identityCardType", "111"},
		        {"identityCard", "350102199001011238"},
		        {"url", "https://preview.example.test/l/x"}};
	if (step == "query")
		return {{"eCertID", kGuid}, {"zzeCertID", type == "W032" ? kW032v1 : kW050v1}};
	if (type == "W050" && step == "check")
		return {{"eCertID", kGuid},
		        {"provinceNum", "370000"},
		        {"certNum", "（鲁）JZ安许证字[2023]087974"},
		        {"creditCode", "91370100MA3C12345X"},
		        {"operateType", "01"}};
	if (type == "W050" && step == "assign")
		return {{"eCertID", kGuid},
		        {"zzeCertID", kW050v1},
		        {"provinceNum", "370000"},
		        {"certNum", "（鲁）JZ安许证字[2023]087974"},
		        {"issuAuth", "山东省住房和城乡建设厅"},
		        {"issuAuthCode", "113700000045030270"},
		        {"issuDate", "2023-06-30"},
		        {"effectiveDate", "2023-06-30"},
		        {"expiringDate", "2026-06-29"},
		        {"certState", "01"},
		        {"operateType", "01"},
		        {"companyName", "某建设集团有限公司"},
		        {"creditCode", "91370100MA3C12345X"},
		        {"companyAddress", "济南市历下区某路1号"},
		        {"economicType", "有限责任公司"},
		        {"responsiblePerson", "王五"},
		        {"responsiblePersonID", "11010519491231002X"},
		        {"responsiblePersonIDType", "111"},
		        {"licenseScope", "建筑施工"},
		        {"firstIssuDate", "2008-01-15"}};
	if (type == "W050" && step == "status_update")
		return {{"eCertID", kGuid},
		        {"zzeCertID", kW050v2},
		        {"provinceNum", "370000"},
		        {"certNum", "（鲁）JZ安许证字[2023]087974"},
		        {"creditCode", "91370100MA3C12345X"},
		        {"certState", "05"},
		        {"operateType", "05"}};
	throw std::runtime_error("no good item for " + type + " " + step);
}

// Fields PLATFORM.md (or a decision in platform_spec.json) lets a good item leave out.
bool Optional(const std::string &step, const std::string &field) {
	return field == "photo" || field == "businessInformation" || (step == "assign" && field == "zzeCertID");
}

std::string Messages(const std::vector<Violation> &violations) {
	std::string out;
	for (const auto &v : violations)
		out += v.Message() + "\n";
	return out;
}

bool Names(const std::vector<Violation> &violations, const std::string &field, const std::string &problem = "") {
	for (const auto &v : violations)
		if (v.field == field && v.problem.find(problem) != std::string::npos)
			return true;
	return false;
}

const std::vector<std::pair<std::string, std::string>> kSteps = {
    {"W032", "check"},      {"W032", "assign"},        {"W032", "collect"}, {"W032", "status_update"},
    {"W032", "key_change"}, {"W032", "query"},         {"W050", "check"},   {"W050", "assign"},
    {"W050", "collect"},    {"W050", "status_update"}, {"W050", "query"}};

TEST(PlatformSpec, EveryStepOfPlatformMdIsThere) {
	for (const auto &[type, step] : kSteps)
		EXPECT_TRUE(Spec().HasStep(type, step)) << type << " " << step;
	EXPECT_FALSE(Spec().HasStep("W050", "key_change")) << "PLATFORM.md: W050 key-data change is unknown";
	EXPECT_EQ(Spec().TypeCode("W032"), "11100000000013338W032");
	EXPECT_EQ(Spec().TypeCode("W050"), "11100000000013338W050");
}

TEST(PlatformSpec, GoodItemsPass) {
	for (const auto &[type, step] : kSteps)
		EXPECT_EQ(Messages(Spec().Check(type, step, Good(type, step))), "") << type << " " << step;
}

TEST(PlatformSpec, EachMissingFieldIsNamed) {
	for (const auto &[type, step] : kSteps) {
		if (step == "query")
			continue;  // both fields optional, one required: below
		const json good = Good(type, step);
		for (const auto &[field, value] : good.items()) {
			json item = good;
			item.erase(field);
			auto violations = Spec().Check(type, step, item);
			if (Optional(step, field))
				EXPECT_EQ(Messages(violations), "") << type << " " << step << " without " << field;
			else
				EXPECT_TRUE(Names(violations, field, "missing")) << type << " " << step << " without " << field << ":\n"
				                                                 << Messages(violations);
		}
	}
	auto v = Spec().Check("W050", "query", json::object());
	EXPECT_TRUE(Names(v, "eCertID|zzeCertID", "at least one")) << Messages(v);
	EXPECT_EQ(Messages(Spec().Check("W050", "query", {{"zzeCertID", kW050v1}})), "");
}

TEST(PlatformSpec, EachMisnamedFieldIsNamedTwice) {
	// A guessed name: the real one is missing and the guess is unknown.
	for (const auto &[type, step] : kSteps) {
		const json good = Good(type, step);
		for (const auto &[field, value] : good.items()) {
			json item = good;
			item.erase(field);
			item[field + "No"] = value;
			auto violations = Spec().Check(type, step, item);
			EXPECT_TRUE(Names(violations, field + "No", "unknown field")) << type << " " << step << " " << field;
			if (!Optional(step, field) && step != "query") {
				EXPECT_TRUE(Names(violations, field, "missing")) << type << " " << step << " " << field;
			}
		}
	}
	json item = Good("W032", "check");
	item.erase("eCertID");
	item["ecertId"] = kGuid;
	EXPECT_TRUE(Names(Spec().Check("W032", "check", item), "ecertId", "did you mean eCertID"));
}

TEST(PlatformSpec, ExtraFieldsAreRefused) {
	for (const auto &[type, step] : kSteps) {
		json item = Good(type, step);
		item["holderName"] = "张三";
		EXPECT_TRUE(Names(Spec().Check(type, step, item), "holderName", "unknown field")) << type << " " << step;
	}
	// Fields of another step are extra too: collect carries no eCertID.
	json collect = Good("W032", "collect");
	collect["eCertID"] = kGuid;
	EXPECT_TRUE(Names(Spec().Check("W032", "collect", collect), "eCertID", "unknown field"));
	// W032 check has no creditCode; W050 check has no identityCard.
	json w032 = Good("W032", "check");
	w032["creditCode"] = "91370100MA3C12345X";
	EXPECT_TRUE(Names(Spec().Check("W032", "check", w032), "creditCode", "unknown field"));
}

struct BadValue {
	std::string type, step, field;
	json value;
	std::string expect;  // part of the problem text
};

TEST(PlatformSpec, MisformattedValuesAreRefusedNamingTheField) {
	const std::vector<BadValue> cases = {
	    {"W032", "assign", "issuDate", "2024/03/01", "yyyy-MM-dd"},
	    {"W032", "assign", "expiringDate", "2026-02-30", "day out of range"},
	    {"W050", "assign", "firstIssuDate", "2008-13-01", "month out of range"},
	    {"W050", "assign", "effectiveDate", "20230630", "yyyy-MM-dd"},
	    {"W032", "check", "eCertID", "3f2504e0-4f89-11d3-9a0c", "GUID"},
	    {"W032", "check", "eCertID", "3f2504e04f8911d39a0c0305e82c330g", "GUID"},
	    {"W050", "check", "provinceNum", "370100", "XX0000"},
	    {"W050", "check", "provinceNum", "990000", "province-level"},
	    {"W032", "status_update", "zzeCertID", "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.002.X",
	     "check character"},
	    {"W032", "status_update", "zzeCertID", kW050v1, "not 11100000000013338W032"},
	    {"W050", "collect", "zzeCertID", "11100000000013338W050.113700000045030270.2023087974.001.E", "start"},
	    {"W032", "assign", "gender", "男", "not one of 1, 2"},
	    {"W032", "assign", "identityCardType", "01", "not one of 111, 999"},
	    {"W032", "assign", "identityCard", "350102199001011239", "check character"},
	    {"W050", "assign", "responsiblePersonID", "1101051949123100", "18-character"},
	    {"W050", "assign", "responsiblePersonIDType", "001", "not one of 111, 999"},
	    {"W032", "check", "operationCategory", "12", "not one of"},
	    {"W032", "assign", "certState", "07", "not one of"},
	    {"W032", "check", "operateType", "03", "not one of 01, 02, 08"},
	    {"W050", "status_update", "operateType", "01", "not one of 03, 04, 05, 06, 07"},
	    {"W032", "assign", "photo", "not base64!", "Base64"},
	    {"W032", "assign", "photo", "R0lGODlhAQABAAAAACw=", "neither a JPG nor a PNG"},
	    {"W032", "assign", "photo", "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "media type"},
	    {"W032", "assign", "certNum", 2012000939, "JSON string"},
	    {"W050", "assign", "companyName", "  ", "empty"},
	    {"W050", "check", "certNum", "(鲁)JZ安许证字[2023]087974", "full-width"},
	    {"W050", "check", "creditCode", "91370100ma3c12345x", "unified social credit code"},
	    {"W050", "assign", "licenseScope", "市政工程", "not one of 建筑施工"},
	    {"W032", "collect", "ID", "20223200000100000", "18-digit"},
	    {"W050", "collect", "url", "ftp://example.test/x", "http(s) URL"},
	    {"W050", "collect", "url", "https://example.test/a b", "white space"},
	    {"W032", "key_change", "birthDate", "1990-1-1", "yyyy-MM-dd"},
	    {"W032", "key_change", "categoryCode", "00", "not one of"},
	    {"W032", "assign", "businessInformation", json::array({{{"itemvalue", "x"}}}), "both itemvalue and itemtext"},
	    {"W032", "assign", "businessInformation", json::array({{{"itemvalue", "x"}, {"itemtext", "y"}, {"k", "z"}}}),
	     "unknown key"},
	};
	for (const auto &c : cases) {
		json item = Good(c.type, c.step);
		item[c.field] = c.value;
		auto violations = Spec().Check(c.type, c.step, item);
		EXPECT_TRUE(Names(violations, c.field, c.expect))
		    << c.type << " " << c.step << " " << c.field << " = " << c.value.dump() << " gave:\n"
		    << Messages(violations);
	}
}

TEST(PlatformSpec, PhotoLimits) {
	json item = Good("W032", "assign");
	item["photo"] = std::string("data:image/jpg;base64, ") + kPng1x1;  // one client's prefix, with the space
	EXPECT_EQ(Messages(Spec().Check("W032", "assign", item)), "");
	std::string jpeg = "\xFF\xD8\xFF\xE0";
	jpeg.resize(50 * 1024, 'x');
	item["photo"] = core::Base64Encode(jpeg);
	EXPECT_EQ(Messages(Spec().Check("W032", "assign", item)), "") << "exactly 50 KB is allowed";
	jpeg.push_back('x');
	item["photo"] = core::Base64Encode(jpeg);
	EXPECT_TRUE(Names(Spec().Check("W032", "assign", item), "photo", "more than 50 KB"));
}

TEST(PlatformSpec, ConditionalFields) {
	// operationCategory 99 needs the description in its fixed form, others must not carry one.
	json check = Good("W032", "check");
	check["operationCategory"] = "99";
	EXPECT_TRUE(
	    Names(Spec().Check("W032", "check", check), "categoryDescription", "required when operationCategory is 99"));
	check["categoryDescription"] = "经省级以上住房和城乡建设主管部门认定的其他工种类别（桩机操作工）";
	EXPECT_EQ(Messages(Spec().Check("W032", "check", check)), "");
	check["categoryDescription"] = "经省级以上住房和城乡建设主管部门认定的其他工种类别(桩机操作工)";
	EXPECT_TRUE(Names(Spec().Check("W032", "check", check), "categoryDescription", "must be 经省级"));
	check["categoryDescription"] = "桩机操作工";
	EXPECT_TRUE(Names(Spec().Check("W032", "check", check), "categoryDescription", "must be 经省级"));
	check["operationCategory"] = "04";
	check["categoryDescription"] = "经省级以上住房和城乡建设主管部门认定的其他工种类别（桩机操作工）";
	EXPECT_TRUE(Names(Spec().Check("W032", "check", check), "categoryDescription", "left out unless"));

	// W032 check: no certNum on 01, certNum required on 02/08.
	json w032 = Good("W032", "check");
	w032["certNum"] = "吉A042012000939";
	EXPECT_TRUE(Names(Spec().Check("W032", "check", w032), "certNum", "left out when operateType is 01"));
	w032["operateType"] = "02";
	EXPECT_EQ(Messages(Spec().Check("W032", "check", w032)), "");
	w032.erase("certNum");
	EXPECT_TRUE(Names(Spec().Check("W032", "check", w032), "certNum", "required when operateType is 02, 08"));

	// associatedZzeCertID: required on 02/08, absent on 01, of the same type.
	for (const std::string type : {"W032", "W050"}) {
		const std::string older = type == "W032" ? kW032v1 : kW050v1;
		json assign = Good(type, "assign");
		assign["associatedZzeCertID"] = older;
		EXPECT_TRUE(
		    Names(Spec().Check(type, "assign", assign), "associatedZzeCertID", "left out when operateType is 01"));
		for (const char *op : {"02", "08"}) {
			assign["operateType"] = op;
			EXPECT_EQ(Messages(Spec().Check(type, "assign", assign)), "") << type << " " << op;
			json without = assign;
			without.erase("associatedZzeCertID");
			EXPECT_TRUE(Names(Spec().Check(type, "assign", without), "associatedZzeCertID", "required when")) << op;
		}
	}

	// certState 99 needs certStatusDescription; other states may carry one.
	json status = Good("W050", "status_update");
	status["certState"] = "99";
	EXPECT_TRUE(
	    Names(Spec().Check("W050", "status_update", status), "certStatusDescription", "required when certState is 99"));
	status["certStatusDescription"] = "企业合并";
	EXPECT_EQ(Messages(Spec().Check("W050", "status_update", status)), "");
	status["certState"] = "03";
	EXPECT_EQ(Messages(Spec().Check("W050", "status_update", status)), "");

	// identityCardType 999: any non-empty number.
	json assign = Good("W032", "assign");
	assign["identityCardType"] = "999";
	assign["identityCard"] = "E12345678";
	EXPECT_EQ(Messages(Spec().Check("W032", "assign", assign)), "");
}

TEST(PlatformSpec, NotAnObject) {
	EXPECT_TRUE(Names(Spec().Check("W050", "check", json::array()), "AcceptData[]", "JSON object"));
}

TEST(PlatformSpec, MalformedSpecIsRefused) {
	json doc = PlatformSpec::BuiltinDocument();
	doc["types"]["W032"]["steps"]["check"]["fields"][0]["format"] = "gooid";
	EXPECT_THROW(PlatformSpec {doc}, std::runtime_error);
	doc = PlatformSpec::BuiltinDocument();
	doc["types"]["W032"]["steps"]["check"]["fields"][0]["requried"] = true;
	EXPECT_THROW(PlatformSpec {doc}, std::runtime_error) << "a misspelt attribute would silently be ignored";
	doc = PlatformSpec::BuiltinDocument();
	doc["types"]["W032"]["steps"]["check"]["fields"][0]["codes"] = "noSuchList";
	EXPECT_THROW(PlatformSpec {doc}, std::exception);
}

TEST(CheckCharacter, PlatformMdVectors) {
	// The table of ../shared/PLATFORM.md, plus the W050 example's version 2.
	for (const char *id : {"1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
	                       "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S",
	                       "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
	                       "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
	                       "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E",
	                       "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.C"})
		EXPECT_EQ(IdentifierProblem(id, ""), std::nullopt) << id;
	EXPECT_EQ(Mod37_36CheckCharacter("11100000000013338W01111430000006122244L20230000403001"), 'U');
	EXPECT_EQ(Mod37_36CheckCharacter("11100000000013338W00911330105002500287C2025052201002"), '0');
	EXPECT_EQ(Mod37_36CheckCharacter("11100000000013338W0501137000000450302702023087974002"), 'C');
	EXPECT_EQ(Mod37_36CheckCharacter("abc"), '\0');
	EXPECT_EQ(Mod37_36CheckCharacter(""), '\0');
}

TEST(CheckCharacter, WrongCharactersAreRefused) {
	// A published example with a placeholder X, and every other wrong character.
	const std::string base = "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.";
	int accepted = 0;
	for (char c : std::string("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
		accepted += IdentifierProblem(base + c, "11100000000013338W050") ? 0 : 1;
	EXPECT_EQ(accepted, 1);
	EXPECT_NE(IdentifierProblem(base + "X", ""), std::nullopt);
	EXPECT_NE(IdentifierProblem(base + "e", ""), std::nullopt);
	EXPECT_NE(IdentifierProblem("1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.000.E", ""),
	          std::nullopt);
}

TEST(RelayEnvelope, Sm4StandardVector) {
	// GB/T 32907-2016 appendix A: key = plaintext = 0123456789abcdeffedcba9876543210.
	const std::string block = core::HexDecode("0123456789abcdeffedcba9876543210", "vector");
	EXPECT_EQ(core::HexUpper(Sm4EncryptBlock(block, block)), "681EDF34D206965E86B3E94F536E4246");
}

TEST(RelayEnvelope, RoundTripAndRefusals) {
	const std::string key = "0123456789abcdef";
	const std::string text = R"({"AcceptData":[{"eCertID":"x","certNum":"闽A012023000123"}]})";
	const std::string data = SealRelayData(text, key);
	EXPECT_EQ(core::Base64Decode(data, "data").size() % 16, 0u);
	EXPECT_EQ(OpenRelayData(data, key), text);
	EXPECT_THROW(OpenRelayData(data, "fedcba9876543210"), std::runtime_error);
	EXPECT_THROW(OpenRelayData("not base64!", key), std::runtime_error);
	EXPECT_THROW(OpenRelayData(core::Base64Encode("short"), key), std::runtime_error);
	EXPECT_THROW(SealRelayData(text, "short key"), std::runtime_error);
	// 16 bytes of padding when the plaintext fills whole blocks (PKCS#7).
	EXPECT_EQ(Sm4EcbEncrypt(std::string(16, 'a'), key).size(), 32u);
}

TEST(RelayEnvelope, OpensWhatTheOpensslCommandLineSeals) {
	const std::string key = "1234567890abcdef";
	const std::string text = R"({"AcceptData":[{"ID":"202232000001000001","zzeCertID":"z","url":"https://例.test/"}]})";
	const std::string command =
	    "printf '%s' '" + text + "' | openssl enc -sm4-ecb -K " + core::HexUpper(key) + " -base64 -A 2>&1";
	FILE *pipe = popen(command.c_str(), "r");
	ASSERT_NE(pipe, nullptr);
	std::string out;
	char buf[256];
	while (std::fgets(buf, sizeof buf, pipe))
		out += buf;
	ASSERT_EQ(pclose(pipe), 0) << out;
	while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
		out.pop_back();
	EXPECT_EQ(OpenRelayData(out, key), text);
	EXPECT_EQ(SealRelayData(text, key), out) << "ECB with PKCS#7 is deterministic: same bytes as openssl";
}

}  // namespace
}  // namespace elicense::testdouble
