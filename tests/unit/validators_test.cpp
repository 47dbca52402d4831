// USCC, resident ID and division validators: good values, each kind of bad
// value, and the errors Require* raises.
#include "elicense/error.hpp"
#include "elicense/validators.hpp"

#include <gtest/gtest.h>

namespace elicense::core {
namespace {

TEST(Uscc, AcceptsRealCodes) {
	for (const char *v : {"11100000000013338W", "91350100M000100Y43", "113700000045030270", "11430000006122244L",
	                      "11220000013544541J", "11330105002500287C"})
		EXPECT_FALSE(UsccProblem(v)) << v << ": " << UsccProblem(v).value_or("");
}

TEST(Uscc, SaysWhatIsWrong) {
	EXPECT_EQ(*UsccProblem(""), "the value is empty");
	EXPECT_EQ(*UsccProblem("91350100M000100Y4"), "the value has 17 characters, expected 18");
	EXPECT_EQ(*UsccProblem("91350100I000100Y43"),
	          "character 9 'I' is not in the USCC alphabet 0-9 A-H J-N P-R T-U W-Y");
	EXPECT_EQ(*UsccProblem("91990100M000100Y43"),
	          "division code 990100 does not start with a province-level code of GB/T 2260");
	EXPECT_EQ(*UsccProblem("91350100M000100Y53"),
	          "organisation code check character (character 17) is '5', expected '4'");
	EXPECT_EQ(*UsccProblem("91350100M000100Y44"), "check character is '4', expected '3'");
	EXPECT_EQ(*UsccProblem("91350100m000100Y43"),
	          "character 9 'm' is not in the USCC alphabet 0-9 A-H J-N P-R T-U W-Y");
	EXPECT_EQ(*UsccProblem("9135010\xE4\xB8\xAD"
	                       "000100Y43"),
	          "the value has 17 characters, expected 18");
}

TEST(Uscc, RequireNamesFieldValueAndHint) {
	try {
		RequireUscc("91350100M000100Y44", "holder_uscc");
		FAIL() << "no exception";
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22P02");
		EXPECT_STREQ(e.what(), "invalid USCC in field \"holder_uscc\": \"91350100M000100Y44\"");
		EXPECT_EQ(e.detail(), "Check character is '4', expected '3'.");
		EXPECT_NE(e.hint().find("18 characters"), std::string::npos);
	}
}

TEST(ResidentId, AcceptsStandardExamples) {
	EXPECT_TRUE(IsValidResidentId("11010519491231002X"));
	EXPECT_TRUE(IsValidResidentId("440524188001010014"));
	auto d = ResidentIdBirthDate("11010519491231002X");
	ASSERT_TRUE(d);
	EXPECT_EQ(d->year, 1949);
	EXPECT_EQ(d->month, 12);
	EXPECT_EQ(d->day, 31);
}

TEST(ResidentId, SaysWhatIsWrong) {
	EXPECT_EQ(*ResidentIdProblem("11010519491231002x"),
	          "check character is a lower-case 'x'; GB 11643 writes it upper-case");
	EXPECT_EQ(*ResidentIdProblem("110105194912310021"), "check character is '1', expected 'X'");
	EXPECT_EQ(*ResidentIdProblem("11010519490231002X"),
	          "birth date (characters 7-14) is not a date between 1850 and 2099");
	EXPECT_EQ(*ResidentIdProblem("11010518000101002X"),
	          "birth date (characters 7-14) is not a date between 1850 and 2099");
	EXPECT_EQ(*ResidentIdProblem("99010519491231002X"),
	          "division code 990105 does not start with a province-level code of GB/T 2260");
	EXPECT_EQ(*ResidentIdProblem("1101051949A231002X"),
	          "character 11 'A' is not a digit; the first 17 characters are digits");
	EXPECT_EQ(*ResidentIdProblem("11010519491231002Y"), "character 18 'Y' is neither a digit nor 'X'");
	EXPECT_FALSE(ResidentIdBirthDate("110105194912310021"));
}

TEST(ResidentId, AcceptsLeapDaysOnlyInLeapYears) {
	// Check characters computed for each payload so only the date differs.
	EXPECT_TRUE(IsValidCivilDate(2000, 2, 29));
	EXPECT_FALSE(IsValidCivilDate(1900, 2, 29));
	EXPECT_TRUE(IsValidCivilDate(2024, 2, 29));
	EXPECT_FALSE(IsValidCivilDate(2023, 2, 29));
	EXPECT_FALSE(IsValidCivilDate(2023, 4, 31));
	EXPECT_FALSE(IsValidCivilDate(2023, 13, 1));
}

TEST(Division, AcceptsAndRejects) {
	EXPECT_TRUE(IsValidDivision("350000"));
	EXPECT_TRUE(IsValidDivision("350102"));
	EXPECT_TRUE(IsValidDivision("429004"));
	EXPECT_EQ(*DivisionProblem("3500"), "the value has 4 characters, expected 6");
	EXPECT_EQ(*DivisionProblem("35000A"), "character 6 'A' is not a digit; the division code is digits only");
	EXPECT_EQ(*DivisionProblem("990000"),
	          "division code 990000 does not start with a province-level code of GB/T 2260");
	EXPECT_EQ(*DivisionProblem("350001"), "division code 350001 has a county part under no prefecture");
	EXPECT_FALSE(IsValidDivision("100000"));  // central level exists only inside a USCC
}

TEST(ProvinceCode, OnlyProvinceLevel) {
	EXPECT_TRUE(IsValidProvinceCode("510000"));
	EXPECT_TRUE(IsValidProvinceCode("350000"));
	EXPECT_EQ(*ProvinceCodeProblem("350100"), "division code 350100 is not a province-level code (those end in 0000)");
	try {
		RequireProvinceCode("350100", "province");
		FAIL();
	} catch (const Error &e) {
		EXPECT_STREQ(e.what(), "invalid province code in field \"province\": \"350100\"");
	}
}

}  // namespace
}  // namespace elicense::core
