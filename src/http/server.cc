#include "http/server.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pbft::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// After an error answer (or a response that closes the connection) the
// session shuts down its sending side and keeps reading, discarding, until
// the client closes or this much time has passed. Closing at once with
// unread bytes in the socket (e.g. the rest of a too-large body) would make
// the kernel send a reset, and the client could lose the response.
constexpr uint32_t kLingerMsMax = 2000;

// Back-off after an accept error other than cancellation (e.g. EMFILE).
constexpr std::chrono::milliseconds kAcceptRetry{50};

const boost::system::error_category& http_error_category() {
  return bhttp::make_error_code(bhttp::error::end_of_stream).category();
}

}  // namespace

Response json_response(const std::string& body, unsigned status, unsigned version,
                       bool keep_alive) {
  Response res;
  res.result(status >= 100 && status <= 999 ? status : 500);
  res.version(version);
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = body;
  res.prepare_payload();
  return res;
}

Response json_error(unsigned status, const std::string& message, unsigned version,
                    bool keep_alive) {
  // `replace` so that a message quoting bytes that are not UTF-8 cannot throw.
  const std::string body = nlohmann::json{{"error", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return json_response(body, status, version, keep_alive);
}

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  struct Session;

  Impl(asio::io_context& io_context, ServerOptions opts, Handler h)
      : io(io_context),
        options(std::move(opts)),
        handler(std::move(h)),
        acceptor(io_context),
        retry_timer(io_context) {}

  void start();
  void stop();
  void do_accept();
  void on_accept(const beast::error_code& ec, tcp::socket socket);

  asio::io_context& io;
  const ServerOptions options;
  const Handler handler;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  // Live sessions, so that stop() can close them. A session owns itself
  // (through its pending operations and the Respond callbacks handed out);
  // it removes itself from here when it closes or dies.
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool started = false;
  bool stopped = false;
  uint16_t port = 0;
};

struct Server::Impl::Session : std::enable_shared_from_this<Server::Impl::Session> {
  Session(tcp::socket socket, std::weak_ptr<Impl> owner, const ServerOptions& options)
      : stream(std::move(socket)),
        server(std::move(owner)),
        body_bytes_max(options.body_bytes_max),
        header_bytes_max(options.header_bytes_max),
        idle_timeout(options.idle_timeout_ms) {}

  ~Session() {
    if (!closed) {
      if (auto impl = server.lock()) impl->sessions.erase(this);
    }
  }

  void run() { read_request(); }

  void read_request() {
    parser.emplace();
    parser->body_limit(body_bytes_max);
    parser->header_limit(header_bytes_max);
    stream.expires_after(idle_timeout);
    bhttp::async_read(stream, buffer, *parser,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read(const beast::error_code& ec) {
    if (closed) return;
    if (ec) {
      if (ec == bhttp::error::body_limit) {
        answer_and_close(json_error(
            413, "request body exceeds " + std::to_string(body_bytes_max) + " bytes",
            request_version_or_default(), false));
      } else if (ec == bhttp::error::header_limit) {
        answer_and_close(json_error(400, "request header too large",
                                    request_version_or_default(), false));
      } else if (ec.category() == http_error_category() && ec != bhttp::error::end_of_stream &&
                 ec != bhttp::error::partial_message) {
        answer_and_close(json_error(400, "malformed request: " + ec.message(),
                                    request_version_or_default(), false));
      } else {
        // The peer left (cleanly or mid-message), the idle timeout fired, or
        // a socket error: nobody to answer.
        close();
      }
      return;
    }

    Request request = parser->release();
    parser.reset();
    request_keep_alive = request.keep_alive();
    awaiting = true;
    const uint64_t id = ++serial;
    // The handler may take its time (e.g. waiting for a commit); the idle
    // timeout only applies while reading and writing.
    stream.expires_never();

    auto impl = server.lock();
    if (!impl) {
      close();
      return;
    }
    const unsigned version = request.version();
    Respond respond = [self = shared_from_this(), id](Response response) {
      self->on_response(id, std::move(response));
    };
    try {
      impl->handler(std::move(request), std::move(respond));
    } catch (const std::exception&) {
      // Ignored by on_response when the handler answered before throwing.
      on_response(id, json_error(500, "internal error", version, false));
    }
  }

  void on_response(uint64_t id, Response response) {
    if (closed || !awaiting || id != serial) return;
    awaiting = false;
    if (!request_keep_alive) response.keep_alive(false);
    if (!response.has_content_length() && !response.chunked()) response.prepare_payload();
    write(std::move(response), /*close_after=*/false);
  }

  void answer_and_close(Response response) { write(std::move(response), /*close_after=*/true); }

  void write(Response message, bool close_after) {
    response.emplace(std::move(message));
    stream.expires_after(idle_timeout);
    bhttp::async_write(stream, *response,
                       [self = shared_from_this(), close_after](beast::error_code ec,
                                                                std::size_t) {
                         self->on_write(ec, close_after);
                       });
  }

  void on_write(const beast::error_code& ec, bool close_after) {
    if (closed) return;
    if (ec) {
      close();
      return;
    }
    const bool eof = close_after || response->need_eof();
    response.reset();
    if (eof) {
      linger();
    } else {
      read_request();
    }
  }

  void linger() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain.resize(16u << 10);
    stream.expires_after(std::min(idle_timeout, std::chrono::milliseconds(kLingerMsMax)));
    do_drain();
  }

  void do_drain() {
    stream.async_read_some(asio::buffer(drain),
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (self->closed) return;
                             if (ec) {
                               self->close();
                             } else {
                               self->do_drain();
                             }
                           });
  }

  // Idempotent. Pending operations complete (with an error) later; their
  // handlers see `closed` and do nothing.
  void close() {
    if (closed) return;
    closed = true;
    awaiting = false;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    if (auto impl = server.lock()) impl->sessions.erase(this);
  }

  unsigned request_version_or_default() const {
    if (parser && parser->is_header_done()) return parser->get().version();
    return 11;
  }

  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser;
  std::optional<Response> response;  // the one being written
  std::vector<char> drain;
  std::weak_ptr<Impl> server;
  const uint64_t body_bytes_max;
  const uint32_t header_bytes_max;
  const std::chrono::milliseconds idle_timeout;
  bool closed = false;
  bool awaiting = false;  // the handler has the request and has not answered
  bool request_keep_alive = false;
  uint64_t serial = 0;  // of the request being handled; stale Responds are ignored
};

void Server::Impl::start() {
  if (stopped) throw std::logic_error("http::Server::start after stop");
  if (started) throw std::logic_error("http::Server::start called twice");

  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto results =
      resolver.resolve(options.host, std::to_string(options.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw std::system_error(ec, "http server: resolve " + options.host);
  if (results.empty()) {
    throw std::system_error(std::make_error_code(std::errc::address_not_available),
                            "http server: resolve " + options.host);
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  const std::string where = options.host + ":" + std::to_string(options.port);

  auto fail = [&](const char* what) {
    beast::error_code ignored;
    acceptor.close(ignored);
    throw std::system_error(ec, std::string("http server: ") + what + " " + where);
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) fail("set_option");
  acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
  port = acceptor.local_endpoint(ec).port();
  if (ec) fail("local_endpoint");

  started = true;
  do_accept();
}

void Server::Impl::do_accept() {
  acceptor.async_accept(io, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void Server::Impl::on_accept(const beast::error_code& ec, tcp::socket socket) {
  if (stopped) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    retry_timer.expires_after(kAcceptRetry);
    retry_timer.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && !self->stopped) self->do_accept();
    });
    return;
  }
  if (sessions.size() >= options.connections_max) {
    beast::error_code ignored;
    socket.close(ignored);  // refused: over the connection cap
  } else {
    auto session = std::make_shared<Session>(std::move(socket), weak_from_this(), options);
    sessions.emplace(session.get(), session);
    session->run();
  }
  do_accept();
}

void Server::Impl::stop() {
  if (stopped) return;
  stopped = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  retry_timer.cancel();
  // close() erases from `sessions`: collect first.
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(sessions.size());
  for (auto& [raw, weak] : sessions) {
    if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  for (auto& session : live) session->close();
  sessions.clear();
}

Server::Server(asio::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

Server::~Server() { stop(); }

void Server::start() { impl_->start(); }

void Server::stop() { impl_->stop(); }

uint16_t Server::port() const { return impl_->port; }

}  // namespace pbft::http
