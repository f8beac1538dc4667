#include "client/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <random>
#include <sstream>

namespace pbft::client {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = boost::asio::ip::tcp;

Endpoint parse_endpoint(const std::string& text) {
  std::string_view s = text;
  if (s.starts_with("http://")) s.remove_prefix(7);
  if (s.starts_with("https://")) throw std::invalid_argument("endpoint " + text + ": https is not supported");
  if (s.ends_with('/')) s.remove_suffix(1);
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) {
    throw std::invalid_argument("endpoint " + text + ": expected host:port");
  }
  std::string_view port_text = s.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    throw std::invalid_argument("endpoint " + text + ": bad port '" + std::string(port_text) + "'");
  }
  return Endpoint{std::string(s.substr(0, colon)), static_cast<uint16_t>(port)};
}

std::vector<Endpoint> parse_endpoint_list(const std::vector<std::string>& texts) {
  std::vector<Endpoint> out;
  for (const std::string& t : texts) {
    std::stringstream parts(t);
    std::string one;
    while (std::getline(parts, one, ',')) {
      if (!one.empty()) out.push_back(parse_endpoint(one));
    }
  }
  return out;
}

std::string url_encode(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string random_uuid() {
  std::random_device rd;
  std::uniform_int_distribution<uint32_t> d;
  char buf[37];
  uint32_t a = d(rd), b = d(rd), c = d(rd), e = d(rd);
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%04x%08x", a, b >> 16, b & 0xfff, (c >> 16 & 0x3fff) | 0x8000,
                c & 0xffff, e);
  return buf;
}

HttpAnswer http_call(const Endpoint& to, const std::string& method, const std::string& target,
                     const std::string& body, const std::map<std::string, std::string>& headers,
                     uint32_t timeout_ms) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(to.host, std::to_string(to.port), ec);
  if (ec) throw HttpUnreachable(to.name() + ": cannot resolve: " + ec.message());
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  io.run();
  if (ec) throw HttpUnreachable(to.name() + ": cannot connect: " + ec.message());

  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, to.name());
  req.set(bhttp::field::user_agent, "kvctl");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() || method == "POST") {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  io.restart();
  bhttp::async_write(stream, req, [&](beast::error_code e, size_t) {
    ec = e;
    if (!e) bhttp::async_read(stream, buffer, parser, [&](beast::error_code e2, size_t) { ec = e2; });
  });
  io.run();
  if (ec) throw HttpUnreachable(to.name() + ": " + (ec == beast::error::timeout ? "no answer within " + std::to_string(timeout_ms) + " ms" : ec.message()));
  const auto& res = parser.get();
  HttpAnswer out;
  out.status = res.result_int();
  out.body = res.body();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(field.value());
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace pbft::client
