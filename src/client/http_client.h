// A small blocking HTTP/1.1 client (Boost.Beast) for kvctl: one request per
// connection, with a deadline.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

namespace pbft::client {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string name() const { return host + ":" + std::to_string(port); }
};

// "host:port" or "http://host:port[/]". Throws std::invalid_argument with a
// message naming what is wrong.
Endpoint parse_endpoint(const std::string& text);

struct HttpAnswer {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Could not connect, send or read (the endpoint is unreachable or hung up).
struct HttpUnreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Sends one request; throws HttpUnreachable when no answer arrives within timeout_ms.
HttpAnswer http_call(const Endpoint& to, const std::string& method, const std::string& target,
                     const std::string& body, const std::map<std::string, std::string>& headers,
                     uint32_t timeout_ms);

}  // namespace pbft::client
