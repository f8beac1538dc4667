// A small HTTP/1.1 server on Boost.Beast. Sessions only read, write and time
// out; what a request means is decided by the handler, a plain function that
// gets the parsed request and a callback to answer it (now or later, e.g.
// once the cluster has committed a write). Keep-alive and pipelined requests
// are answered in order, one at a time per connection.
//
// The server itself answers, without calling the handler:
//   413 {"error": ...} when the body exceeds body_bytes_max,
//   400 {"error": ...} when the request cannot be parsed,
// and closes connections idle longer than idle_timeout_ms (the timeout
// covers reading a request and writing its response, not the time the
// handler takes to answer). Connections over connections_max are closed
// right after being accepted.
//
// Threading: the server, its sessions and the handler all run on the
// io_context given to the constructor, which must be run by ONE thread.
// Respond, start() and stop() must be called on that thread (or while the
// io_context is not running). A Respond called after its connection closed
// or after stop() does nothing; a second call for the same request is
// ignored.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace pbft::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
// Must be called exactly once per request; safe to call from the
// io_context's thread only.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request request, Respond respond)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                  // 0: pick a free port (see port())
  uint64_t body_bytes_max = 1u << 20;
  uint32_t header_bytes_max = 16u << 10;
  uint32_t idle_timeout_ms = 30000;
  uint32_t connections_max = 4096;
};

// A JSON error body {"error": message} with the given status.
Response json_error(unsigned status, const std::string& message, unsigned version = 11,
                    bool keep_alive = true);
// A JSON body with status 200 (or the given status).
Response json_response(const std::string& body, unsigned status = 200, unsigned version = 11,
                       bool keep_alive = true);

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (throws std::system_error if the address is taken).
  void start();
  // Stops accepting and closes every connection; requests waiting for an
  // answer are dropped.
  void stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pbft::http
