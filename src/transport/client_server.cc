#include "transport/client_server.h"

#include <array>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "transport/frame_splitter.h"
#include "transport/listener.h"
#include "wire/codec.h"

namespace pbft::transport {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds accept_retry_delay{100};
// The largest frame body a request can have: its operation and a little.
constexpr size_t request_body_bytes_max = wire::operation_bytes_max + 1024;

}  // namespace

struct ClientServer::Impl : std::enable_shared_from_this<ClientServer::Impl> {
  class Connection;

  Impl(asio::io_context& io, ClientServerOptions options, Handler handler, Auth auth)
      : io(io),
        options(std::move(options)),
        handler(std::move(handler)),
        auth(std::move(auth)),
        acceptor(io),
        accept_retry(io) {}

  void start();
  void stop();
  void accept();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  enum class Why { eof, error, idle };
  // One token bucket per client (its MAC proved the id), over all its
  // connections: a second's worth of burst, refilled at the rate.
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
    uint32_t waiting = 0;  // its connections paused for a token
  };
  bool take_token(ClientId client) {
    const double rate = static_cast<double>(options.requests_per_second);
    const auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = buckets.try_emplace(client, Bucket{rate, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens = std::min(rate, b.tokens + std::chrono::duration<double>(now - b.refilled).count() * rate);
      b.refilled = now;
    }
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }

  // How long a connection of `client` that starts waiting now waits: until
  // the client has a token again behind the connections already waiting (so
  // that they wake one after the other, not all at once), at least a
  // millisecond. The caller counts itself in and out of `waiting`.
  std::chrono::microseconds token_wait(ClientId client) const {
    const double rate = static_cast<double>(options.requests_per_second);
    auto it = buckets.find(client);
    if (it == buckets.end()) return std::chrono::microseconds(1000);
    const double missing = std::max(0.0, 1.0 - it->second.tokens) + it->second.waiting;
    return std::max(std::chrono::microseconds(1000), std::chrono::microseconds(static_cast<int64_t>(missing / rate * 1e6)));
  }
  void wait_for_token(ClientId client, int delta) {
    auto it = buckets.find(client);
    if (it != buckets.end()) it->second.waiting = static_cast<uint32_t>(static_cast<int>(it->second.waiting) + delta);
  }

  void closed(ConnectionId id, Why why) {
    if (connections.erase(id) == 0) return;
    if (why == Why::error) ++stats.connections_closed_for_errors;
    if (why == Why::idle) ++stats.connections_closed_idle;
  }

  asio::io_context& io;
  const ClientServerOptions options;
  const Handler handler;
  const Auth auth;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::map<ConnectionId, std::shared_ptr<Connection>> connections;
  std::map<ClientId, Bucket> buckets;  // clients whose MAC checked: bounded by the known clients
  ClientServerStats stats;
  ConnectionId next_id = 1;
  bool started = false;
  bool stopped = false;
  uint16_t port = 0;
};

class ClientServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ConnectionId id, const std::shared_ptr<Impl>& owner)
      : socket_(std::move(socket)),
        stall_timer_(socket_.get_executor()),
        pause_timer_(socket_.get_executor()),
        id_(id),
        owner_(owner),
        splitter_(owner->options.cluster_id, request_body_bytes_max, mac_size),
        last_request_(std::chrono::steady_clock::now()) {}

  void start() {
    arm_timer();
    read();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    stall_timer_.cancel();
    pause_timer_.cancel();
  }

  // False when the reply had to be dropped.
  bool send(std::shared_ptr<const Bytes> frame, size_t queue_max) {
    if (closed_) return false;
    if (queued_bytes_ + frame->size() > queue_max) return false;
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    if (!writing_) write_next();
    return true;
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                               size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      finish(ec != asio::error::eof ? Why::error : Why::eof);
      return;
    }
    splitter_.append(ByteView(buffer_.data(), n));
    process();
  }

  // Hands what was read to the handler, one request at a time while the
  // client has tokens; when it has none, the request waits here and the
  // connection reads nothing until a token is due (TCP holds back the
  // rest, at the sender), then goes on.
  void process() {
    std::shared_ptr<Impl> owner = owner_.lock();
    if (!owner || owner->stopped || closed_) return;
    if (held_) {
      if (!owner->take_token(held_->client)) {
        pause(*owner, held_->client);
        return;
      }
      wire::Request r = std::move(*held_);
      held_.reset();
      if (!deliver(*owner, std::move(r))) return;
    }
    for (;;) {
      FrameSplitter::Event e = splitter_.next();
      if (e.kind == FrameSplitter::Event::Kind::need_more) break;
      auto* request = e.kind == FrameSplitter::Event::Kind::message ? std::get_if<wire::Request>(&*e.message) : nullptr;
      Mac mac{};
      if (request != nullptr) std::copy(e.trailer.begin(), e.trailer.end(), mac.begin());
      if (request == nullptr || !owner->auth.check(request->client, e.frame, mac)) {
        finish(Why::error);  // a bad frame or MAC, or a message a client has no business sending
        return;
      }
      frame_started_.reset();
      last_request_ = std::chrono::steady_clock::now();
      got_request_ = true;
      if (!owner->take_token(request->client)) {
        held_ = std::move(*request);
        pause(*owner, held_->client);
        return;
      }
      if (!deliver(*owner, std::move(*request))) return;
    }
    if (splitter_.buffered() > 0 && !frame_started_) frame_started_ = std::chrono::steady_clock::now();
    arm_timer();
    read();
  }

  // False when the handler closed this connection or stopped the server.
  bool deliver(Impl& owner, wire::Request request) {
    ++owner.stats.requests;
    auto keep_alive = shared_from_this();
    owner.handler(id_, std::move(request));
    return !closed_ && !owner.stopped;
  }

  void pause(Impl& owner, ClientId client) {
    ++owner.stats.throttles;
    arm_timer();  // held back by this side: the idle clock, not a stall
    pause_timer_.expires_after(owner.token_wait(client));
    owner.wait_for_token(client, +1);
    pause_timer_.async_wait([self = shared_from_this(), client](const boost::system::error_code& ec) {
      if (std::shared_ptr<Impl> o = self->owner_.lock()) o->wait_for_token(client, -1);
      if (!ec) self->process();
    });
  }


  // Mid-frame: the frame must be whole stall_timeout_ms after its first
  // byte (however slowly the bytes come); between frames: a request within
  // idle_timeout_ms of the last.
  void arm_timer() {
    std::shared_ptr<Impl> owner = owner_.lock();
    if (!owner) return;
    const bool mid_frame = frame_started_.has_value();
    // Before its first request a connection gets first_request_timeout_ms:
    // sockets that never say who they are must not hold the cap for long.
    const uint32_t idle_ms = got_request_ ? owner->options.idle_timeout_ms : owner->options.first_request_timeout_ms;
    const auto deadline = mid_frame ? *frame_started_ + milliseconds(std::max<uint32_t>(owner->options.stall_timeout_ms, 1))
                                    : last_request_ + milliseconds(std::max<uint32_t>(idle_ms, 1));
    stall_timer_.expires_at(deadline);
    stall_timer_.async_wait([self = shared_from_this(), mid_frame](const boost::system::error_code& ec) {
      if (!ec && !self->closed_) self->finish(mid_frame ? Why::error : Why::idle);
    });
  }

  void write_next() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(*queue_.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (self->closed_) return;
                        if (ec) {
                          self->finish(Why::error);
                          return;
                        }
                        self->queued_bytes_ -= self->queue_.front()->size();
                        self->queue_.pop_front();
                        if (!self->queue_.empty()) self->write_next();
                      });
  }

 public:
  void finish(Why why) {
    close();
    if (std::shared_ptr<Impl> owner = owner_.lock()) owner->closed(id_, why);
  }

 private:

  tcp::socket socket_;
  asio::steady_timer stall_timer_;
  asio::steady_timer pause_timer_;
  std::optional<wire::Request> held_;  // waiting for its client's next token
  bool got_request_ = false;           // a request with a valid MAC has come
  const ConnectionId id_;
  std::weak_ptr<Impl> owner_;
  FrameSplitter splitter_;
  std::chrono::steady_clock::time_point last_request_;
  std::optional<std::chrono::steady_clock::time_point> frame_started_;
  std::deque<std::shared_ptr<const Bytes>> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  std::array<uint8_t, 16 * 1024> buffer_{};
};

void ClientServer::Impl::start() {
  if (started || stopped) return;
  port = listen_on(acceptor, options.listen_host, options.listen_port, "listening for clients on");
  started = true;
  accept();
}

void ClientServer::Impl::stop() {
  if (stopped) return;
  stopped = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  auto all = std::move(connections);
  connections.clear();
  for (auto& [id, c] : all) c->close();
}

void ClientServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void ClientServer::Impl::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (stopped) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    accept_retry.expires_after(accept_retry_delay);
    accept_retry.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e && !self->stopped) self->accept();
    });
    return;
  }
  if (connections.size() >= options.connections_max) {
    ++stats.connections_refused;
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    ++stats.connections_accepted;
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const ConnectionId id = next_id++;
    auto c = std::make_shared<Connection>(std::move(socket), id, shared_from_this());
    connections.emplace(id, c);
    c->start();
  }
  accept();
}

ClientServer::ClientServer(asio::io_context& io, ClientServerOptions options, Handler handler, Auth auth)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler), std::move(auth))) {}

ClientServer::~ClientServer() { impl_->stop(); }

void ClientServer::start() { impl_->start(); }
void ClientServer::stop() { impl_->stop(); }

bool ClientServer::send(ConnectionId to, const wire::Reply& reply) {
  auto it = impl_->connections.find(to);
  if (impl_->stopped || it == impl_->connections.end()) {
    ++impl_->stats.replies_dropped;
    return false;
  }
  Bytes bytes = wire::encode_frame(impl_->options.cluster_id, reply);
  const std::optional<Mac> mac = impl_->auth.mac_for(reply.client, bytes);
  if (!mac) {
    ++impl_->stats.replies_dropped;
    return false;
  }
  bytes.insert(bytes.end(), mac->begin(), mac->end());
  auto frame = std::make_shared<const Bytes>(std::move(bytes));
  if (!it->second->send(std::move(frame), impl_->options.send_queue_bytes_max)) {
    ++impl_->stats.replies_dropped;
    return false;
  }
  ++impl_->stats.replies_sent;
  return true;
}

void ClientServer::close(ConnectionId to) {
  auto it = impl_->connections.find(to);
  if (it == impl_->connections.end()) return;
  std::shared_ptr<Impl::Connection> c = it->second;  // finish() forgets it
  c->finish(Impl::Why::error);
}

uint16_t ClientServer::listen_port() const { return impl_->port; }

ClientServerStats ClientServer::stats() const {
  ClientServerStats s = impl_->stats;
  s.connections = impl_->connections.size();
  return s;
}

}  // namespace pbft::transport
