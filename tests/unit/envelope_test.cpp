// The envelopes (worker/src/envelope.hpp): the direct body is the JSON
// itself; the relay body is {"citynum", "data"} whose data the openssl
// command line decrypts back to the very same JSON, with the city code rule
// of PLATFORM.md; answers come out plain or from {"custom": {…}}.
#include "direct_envelope.hpp"
#include "elicense/sm4.hpp"
#include "openssl_cli.hpp"
#include "relay_sm4_envelope.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace elicense::worker {
namespace {

using nlohmann::json;

const std::string kKey = "0123456789abcdef";
const std::string kKeyHex = "30313233343536373839616263646566";
const std::string kPayload =
    R"({"AcceptData":[{"eCertID":"6f1c0e52-9d7a-4d0c-8f47-2b1e3c9a0d11","provinceNum":"350000",)"
    R"("certNum":"（闽）JZ安许证字[2023]000001","creditCode":"91350100M000100Y43","operateType":"01"}]})";

TEST(DirectEnvelope, SendsAndReadsAsIs) {
	DirectEnvelope e;
	EXPECT_STREQ(e.Name(), "direct");
	EXPECT_EQ(e.Wrap(kPayload, "350100"), kPayload);
	EXPECT_EQ(e.Unwrap(R"({"custom":{"ReturnCode":"1"}})"), R"({"custom":{"ReturnCode":"1"}})");
}

TEST(RelaySm4Envelope, BodyDecryptsWithTheOpensslCliToTheSameJson) {
	RelaySm4Envelope e(kKey, "350000");
	json body = json::parse(e.Wrap(kPayload, "350100"));
	ASSERT_TRUE(body.is_object());
	EXPECT_EQ(body.size(), 2u) << body.dump();
	EXPECT_EQ(body["citynum"], "350100");
	std::string data = body["data"];
	EXPECT_EQ(data.find('\n'), std::string::npos) << "one line of Base64";
	std::string cipher = test::RunOpensslCli("base64 -d -A", data);
	EXPECT_EQ(cipher.size() % 16, 0u);
	EXPECT_EQ(test::RunOpensslCli("enc -d -sm4-ecb -K " + kKeyHex, cipher), kPayload);
	// And our own decryption agrees.
	EXPECT_EQ(core::Sm4EcbDecrypt(cipher, kKey), kPayload);
}

TEST(RelaySm4Envelope, CityNumIsTheAuthorityCityElseTheConfiguredOne) {
	EXPECT_EQ(RelaySm4Envelope::CityNum("350100", "359900"), "350100");  // Fuzhou
	EXPECT_EQ(RelaySm4Envelope::CityNum("350200", "359900"), "350200");
	EXPECT_EQ(RelaySm4Envelope::CityNum("350000", "359900"), "359900") << "province: configured";
	EXPECT_EQ(RelaySm4Envelope::CityNum("350102", "359900"), "359900") << "county: configured";
	EXPECT_EQ(RelaySm4Envelope::CityNum("", "359900"), "359900");
	EXPECT_EQ(RelaySm4Envelope::CityNum("35010", "359900"), "359900");
	EXPECT_EQ(RelaySm4Envelope::CityNum("35A100", "359900"), "359900");
	RelaySm4Envelope e(kKey, "350000");
	EXPECT_EQ(json::parse(e.Wrap(kPayload, "350000"))["citynum"], "350000");
	RelaySm4Envelope broken(kKey, "");
	EXPECT_THROW(broken.Wrap(kPayload, "350000"), std::runtime_error) << "no citynum: the step is held";
	RelaySm4Envelope bad_key("short", "350000");
	try {
		bad_key.Wrap(kPayload, "350100");
		FAIL();
	} catch (const std::runtime_error &err) {
		EXPECT_EQ(std::string(err.what()).find("short"), std::string::npos) << "never the key";
	}
}

TEST(RelaySm4Envelope, AnswersPlainOrInCustom) {
	RelaySm4Envelope e(kKey, "350000");
	std::string plain = R"({"ReturnCode":"1","ReturnMsg":"接收成功"})";
	EXPECT_EQ(e.Unwrap(plain), plain);
	EXPECT_EQ(json::parse(e.Unwrap(R"({"custom":{"ReturnCode":"0","ReturnMsg":"失败"},"status":{"code":"1"}})")),
	          json::parse(R"({"ReturnCode":"0","ReturnMsg":"失败"})"));
	// Anything else is left for the answer parser to judge.
	for (const char *odd :
	     {"", "<html>", R"({"custom":"x"})", R"({"custom":null})", "[1]", R"({"ReturnCode":"1","custom":{}})"})
		EXPECT_EQ(e.Unwrap(odd), odd);
	std::string deep = R"({"custom":)" + std::string(100, '[') + std::string(100, ']') + "}";
	EXPECT_EQ(e.Unwrap(deep), deep);
}

}  // namespace
}  // namespace elicense::worker
