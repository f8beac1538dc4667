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

TEST(HttpCall, AClosedPortIsUnreachable) {
  // Port 1 on loopback: nothing listens there in a test environment.
  EXPECT_THROW(http_call(Endpoint{"127.0.0.1", 1}, "GET", "/", "", {}, 1000), HttpUnreachable);
}

}  // namespace
}  // namespace pbft::client
