// The daemons' shared log line (elicense/common/log.hpp): secrets are masked.
#include "elicense/common/log.hpp"

#include <gtest/gtest.h>

namespace elicense::common {
namespace {

TEST(MaskSecrets, TokensAndSecrets) {
	EXPECT_EQ(MaskSecrets("http://h/api/w050/assign?access_token=abc123&x=1"),
	          "http://h/api/w050/assign?access_token=***&x=1");
	EXPECT_EQ(MaskSecrets("client_id=a&client_secret=s3cr3t&grant_type=client_credentials"),
	          "client_id=a&client_secret=***&grant_type=client_credentials");
	EXPECT_EQ(MaskSecrets("?access_token=a&access_token=b"), "?access_token=***&access_token=***");
	EXPECT_EQ(MaskSecrets("nothing here"), "nothing here");
}

}  // namespace
}  // namespace elicense::common
