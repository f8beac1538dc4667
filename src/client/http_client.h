// A small blocking HTTP/1.1 client (Boost.Beast) for kvctl: one request per
// connection, with a deadline.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace pbft::client {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string name() const { return host + ":" + std::to_string(port); }
};

// "host:port" or "http://host:port[/]". Throws std::invalid_argument with a
// message naming what is wrong.
Endpoint parse_endpoint(const std::string& text);
// Every endpoint in `texts`, each of which may list several separated by
// commas (empty items are skipped). Throws std::invalid_argument naming the
// first one that does not parse.
std::vector<Endpoint> parse_endpoint_list(const std::vector<std::string>& texts);

// A query-string value: letters, digits, "-_.~/" as they are, the rest %XX.
std::string url_encode(const std::string& s);
// A random version-4 UUID (the form of the HTTP API's request-id).
std::string random_uuid();

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
