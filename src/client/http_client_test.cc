#include "client/http_client.h"

#include <gtest/gtest.h>

namespace pbft::client {
namespace {

TEST(ParseEndpoint, HostAndPort) {
  Endpoint e = parse_endpoint("127.0.0.1:10000");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 10000);
  EXPECT_EQ(parse_endpoint("http://replica-3.example:8080/").name(), "replica-3.example:8080");
  EXPECT_EQ(parse_endpoint("h:65535").port, 65535);
}

TEST(ParseEndpoint, RejectsWhatIsNotHostPort) {
  for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536", "host:99999999999", "host:8o", "https://h:1"}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
  }
}

TEST(ParseEndpointList, SplitsCommasAndKeepsOrder) {
  std::vector<Endpoint> e = parse_endpoint_list({"a:1,b:2", "", "http://c:3/,"});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].name(), "a:1");
  EXPECT_EQ(e[1].name(), "b:2");
  EXPECT_EQ(e[2].name(), "c:3");
  EXPECT_THROW(parse_endpoint_list({"a:1,b"}), std::invalid_argument);
}

TEST(UrlEncode, EscapesAllButUnreservedAndSlash) {
  EXPECT_EQ(url_encode("a-b_c.d~e/f"), "a-b_c.d~e/f");
  EXPECT_EQ(url_encode("k y&=?%"), "k%20y%26%3D%3F%25");
  EXPECT_EQ(url_encode(std::string("\xff\x00", 2)), "%FF%00");
}

TEST(RandomUuid, IsVersion4AndFresh) {
  const std::string a = random_uuid(), b = random_uuid();
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(HttpCall, AClosedPortIsUnreachable) {
  // Port 1 on loopback: nothing listens there in a test environment.
  EXPECT_THROW(http_call(Endpoint{"127.0.0.1", 1}, "GET", "/", "", {}, 1000), HttpUnreachable);
}

}  // namespace
}  // namespace pbft::client
