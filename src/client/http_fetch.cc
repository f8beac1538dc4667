#include "client/http_fetch.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <stdexcept>

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

FetchResult http_get(const Endpoint& endpoint, const std::string& target, uint32_t timeout_ms) {
  FetchResult out;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, endpoint.text());
  req.set(bhttp::field::user_agent, "kvctl");
  req.keep_alive(false);
  bhttp::response<bhttp::string_body> res;
  beast::flat_buffer buffer;
  beast::error_code failure;
  tcp::resolver resolver(io);
  // Asynchronous steps on a private io_context, so the stream's deadline
  // covers each of them.
  resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), [&](beast::error_code ec,
                                                                          tcp::resolver::results_type r) {
    if (ec) {
      failure = ec;
      return;
    }
    stream.expires_after(timeout);
    stream.async_connect(r, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) {
        failure = ec2;
        return;
      }
      stream.expires_after(timeout);
      bhttp::async_write(stream, req, [&](beast::error_code ec3, size_t) {
        if (ec3) {
          failure = ec3;
          return;
        }
        stream.expires_after(timeout);
        bhttp::async_read(stream, buffer, res, [&](beast::error_code ec4, size_t) { failure = ec4; });
      });
    });
  });
  io.run_for(timeout * 4);
  if (!io.stopped()) {
    out.error = "timed out";
    return out;
  }
  if (failure) {
    out.error = failure == beast::error::timeout ? "timed out" : failure.message();
    return out;
  }
  out.ok = true;
  out.status = res.result_int();
  out.body = std::move(res.body());
  return out;
}

}  // namespace pbft::client
