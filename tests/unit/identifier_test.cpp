// Licence identifier: build, parse and validate against published vectors.
#include "elicense/error.hpp"
#include "elicense/identifier.hpp"

#include <gtest/gtest.h>

namespace elicense::core {
namespace {

constexpr const char *kW050 = "11100000000013338W050";

TEST(Identifier, PublishedVectorsAreValid) {
	for (const char *id : {"1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
	                       "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S",
	                       "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
	                       "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
	                       "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E",
	                       "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.C"})
		EXPECT_FALSE(IdentifierProblem(id)) << id << ": " << IdentifierProblem(id).value_or("");
}

TEST(Identifier, BuildMatchesWorkedExample) {
	EXPECT_EQ(BuildIdentifier(kW050, "113700000045030270", "2023087974", 1),
	          "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E");
	EXPECT_EQ(BuildIdentifier(kW050, "113700000045030270", "2023087974", 2),
	          "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.002.C");
}

TEST(Identifier, ParseReturnsParts) {
	IdentifierParts p = ParseIdentifier("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F");
	EXPECT_EQ(p.type_code, "11100000000013338W032");
	EXPECT_EQ(p.issuer, "11220000013544541J");
	EXPECT_EQ(p.sequence, "2430599");
	EXPECT_EQ(p.version, 1);
	EXPECT_EQ(p.check, 'F');
}

TEST(Identifier, BuildAndParseRoundTrip) {
	for (int version : {1, 2, 10, 99, 100, 999}) {
		std::string id = BuildIdentifier(kW050, "11430000006122244L", "A1B2C3", version);
		IdentifierParts p = ParseIdentifier(id);
		EXPECT_EQ(p.version, version);
		EXPECT_EQ(p.sequence, "A1B2C3");
	}
}

TEST(Identifier, SaysWhatIsWrong) {
	const std::string good = "1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.001.E";
	EXPECT_EQ(*IdentifierProblem(good.substr(0, good.size() - 1) + "X"), "check character is 'X', expected 'E'");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.3.x"), "the identifier does not start with the root 1.2.156.3005.2");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.2"), "the identifier does not start with the root 1.2.156.3005.2");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.2.a.b"),
	          "the identifier has 2 segments after the root, expected 5 (type code, issuer, sequence, version, "
	          "check character)");
	EXPECT_EQ(*IdentifierProblem(good + ".1"), "the identifier has more than 5 segments after the root");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.000.E"),
	          "version 000 is not allowed; the first version is 001");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.2.11100000000013338W050.113700000045030270.2023087974.01.E"),
	          "version \"01\" is not three digits");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.2.11100000000013338W050.113700000045030271.2023087974.001.E"),
	          "issuer USCC: check character is '1', expected '0'");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.2.11100000000013338W050.113700000045030270.2023-087974.001.E"),
	          "sequence character 5 '-' is not 0-9 or A-Z");
	EXPECT_EQ(*IdentifierProblem("1.2.156.3005.2.11100000000013338W05.113700000045030270.2023087974.001.E"),
	          "type code \"11100000000013338W05\" has 20 characters, expected 21");
}

TEST(Identifier, ParseThrowsInvalidTextRepresentation) {
	try {
		ParseIdentifier("nonsense");
		FAIL();
	} catch (const Error &e) {
		EXPECT_STREQ(e.sqlstate(), "22P02");
		EXPECT_STREQ(e.what(), "invalid licence identifier \"nonsense\"");
		EXPECT_EQ(e.detail(), "The identifier does not start with the root 1.2.156.3005.2.");
	}
}

TEST(Identifier, BuildNamesTheBadArgument) {
	auto expect_error = [](auto fn, const char *sqlstate, const char *message) {
		try {
			fn();
			FAIL() << "no exception for " << message;
		} catch (const Error &e) {
			EXPECT_STREQ(e.sqlstate(), sqlstate);
			EXPECT_STREQ(e.what(), message);
		}
	};
	expect_error([] { BuildIdentifier("W050", "113700000045030270", "1", 1); }, "22P02",
	             "invalid licence type code \"W050\"");
	expect_error([] { BuildIdentifier(kW050, "113700000045030271", "1", 1); }, "22P02",
	             "invalid USCC in field \"issuer\": \"113700000045030271\"");
	expect_error([] { BuildIdentifier(kW050, "113700000045030270", "", 1); }, "22P02",
	             "invalid identifier sequence \"\"");
	expect_error([] { BuildIdentifier(kW050, "113700000045030270", "1", 0); }, "22023", "invalid identifier version 0");
	expect_error([] { BuildIdentifier(kW050, "113700000045030270", "1", 1000); }, "22023",
	             "invalid identifier version 1000");
}

}  // namespace
}  // namespace elicense::core
