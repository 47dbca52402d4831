// Check-character systems against vectors from the standards and real codes.
#include "elicense/check_characters.hpp"

#include <gtest/gtest.h>

namespace elicense::core {
namespace {

TEST(Mod37_36, MatchesPublishedIdentifierVectors) {
	// ../shared/PLATFORM.md, recomputed independently there.
	EXPECT_EQ(Mod37_36Check("11100000000013338W01111430000006122244L20230000403001"), 'U');
	EXPECT_EQ(Mod37_36Check("11100000000013338W01111430000006122244L20230000403002"), 'S');
	EXPECT_EQ(Mod37_36Check("11100000000013338W03211220000013544541J2430599001"), 'F');
	EXPECT_EQ(Mod37_36Check("11100000000013338W00911330105002500287C2025052201002"), '0');
	EXPECT_EQ(Mod37_36Check("11100000000013338W0501137000000450302702023087974001"), 'E');
	EXPECT_EQ(Mod37_36Check("11100000000013338W0501137000000450302702023087974002"), 'C');
}

TEST(Mod37_36, DetectsEverySingleSubstitution) {
	const std::string payload = "11100000000013338W0501137000000450302702023087974001";
	const char check = Mod37_36Check(payload);
	for (std::size_t i = 0; i < payload.size(); ++i) {
		for (char c : std::string("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
			if (c == payload[i])
				continue;
			std::string changed = payload;
			changed[i] = c;
			EXPECT_NE(Mod37_36Check(changed), check) << "position " << i << " -> " << c;
		}
	}
}

TEST(Mod37_36, RejectsCharactersOutsideTheAlphabet) {
	EXPECT_EQ(Mod37_36Check("abc"), '\0');
	EXPECT_EQ(Mod37_36Check("12.3"), '\0');
}

TEST(Mod11_2, MatchesGb11643Examples) {
	EXPECT_EQ(Mod11_2Check("11010519491231002"), 'X');  // GB 11643-1999 example
	EXPECT_EQ(Mod11_2Check("44052418800101001"), '4');  // GB 11643-1999 example
	EXPECT_EQ(Mod11_2Check("1101051949123100"), '\0');  // 16 digits
	EXPECT_EQ(Mod11_2Check("1101051949123100A"), '\0');
}

TEST(Uscc, MatchesRealCodes) {
	EXPECT_EQ(UsccCheck("11100000000013338"), 'W');  // MOHURD
	EXPECT_EQ(UsccCheck("91350100M000100Y4"), '3');  // GB 32100-2015 example
	EXPECT_EQ(UsccCheck("11370000004503027"), '0');
	EXPECT_EQ(UsccCheck("11430000006122244"), 'L');
	EXPECT_EQ(UsccCheck("11220000013544541"), 'J');
	EXPECT_EQ(UsccCheck("11330105002500287"), 'C');
	EXPECT_EQ(UsccCheck("9135010"), '\0');
	EXPECT_EQ(UsccCheck("1110000000001333I"), '\0');  // I is not in the alphabet
}

TEST(OrganisationCode, MatchesRealCodes) {
	EXPECT_EQ(OrganisationCodeCheck("00450302"), '7');
	EXPECT_EQ(OrganisationCodeCheck("M000100Y"), '4');
	EXPECT_EQ(OrganisationCodeCheck("00001333"), '8');
}

TEST(UsccCharValue, ExcludesIOSVZ) {
	for (char c : std::string("IOSVZ"))
		EXPECT_EQ(UsccCharValue(c), -1) << c;
	EXPECT_EQ(UsccCharValue('0'), 0);
	EXPECT_EQ(UsccCharValue('Y'), 30);
}

}  // namespace
}  // namespace elicense::core
