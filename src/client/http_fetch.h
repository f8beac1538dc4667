// A blocking HTTP/1.1 GET with one deadline for connect, send and receive
// (Boost.Beast), for kvctl's read-only commands.
#pragma once

#include <cstdint>
#include <string>

namespace pbft::client {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

// "host:port" or "http://host:port[/]". Throws std::invalid_argument with a
// message naming what is wrong.
Endpoint parse_endpoint(const std::string& text);

struct FetchResult {
  bool ok = false;      // an HTTP answer arrived (any status)
  std::string error;    // why not, when !ok
  unsigned status = 0;
  std::string body;
};

FetchResult http_get(const Endpoint& endpoint, const std::string& target, uint32_t timeout_ms);

}  // namespace pbft::client
