#include "transport/peer_network.h"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "transport/inbound_connection.h"
#include "transport/listener.h"
#include "transport/outbound_link.h"
#include "transport/stream_format.h"
#include "wire/codec.h"

namespace pbft::transport {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

// After an accept error other than cancellation (say, out of descriptors).
constexpr milliseconds accept_retry_delay{100};

// Far above any real cluster; keeps per-replica tables small.
constexpr uint64_t replica_ids_max = 1u << 16;

uint32_t replica_count_of(const PeerNetworkOptions& options) {
  uint64_t n = uint64_t{options.self} + 1;
  for (const PeerAddress& p : options.peers) n = std::max(n, uint64_t{p.id} + 1);
  if (n > replica_ids_max) {
    throw std::invalid_argument("replica ids must be below " + std::to_string(replica_ids_max));
  }
  return static_cast<uint32_t>(n);
}

}  // namespace

// The state every asynchronous operation may touch. Owned by PeerNetwork
// and, while they are queued, by the accept loop's completion handlers;
// links and inbound connections own themselves the same way.
class Core final : public std::enable_shared_from_this<Core>, public InboundConnection::Sink {
 public:
  Core(asio::io_context& io, PeerNetworkOptions options, const crypto::Crypto& crypto,
       PeerNetwork::Handler handler)
      : io_(io),
        options_(std::move(options)),
        crypto_(crypto),
        handler_(std::move(handler)),
        replica_count_(replica_count_of(options_)),
        acceptor_(io),
        accept_retry_timer_(io),
        links_(replica_count_),
        frames_received_(replica_count_, 0),
        muted_until_(replica_count_) {
    for (const PeerAddress& p : options_.peers) {
      if (p.id == options_.self) continue;
      if (links_[p.id]) {
        throw std::invalid_argument("peer id " + std::to_string(p.id) + " listed twice");
      }
      OutboundLink::Config c;
      c.peer = p.id;
      c.host = p.host;
      c.port = p.port;
      c.queue_frames_max = options_.send_queue_frames_max;
      c.queue_bytes_max = options_.send_queue_bytes_max;
      c.backoff_initial = milliseconds(std::max<uint32_t>(options_.reconnect_initial_ms, 1));
      c.backoff_max = std::max(c.backoff_initial, milliseconds(options_.reconnect_max_ms));
      c.connect_timeout = milliseconds(std::max<uint32_t>(options_.connect_timeout_ms, 1));
      links_[p.id] = std::make_shared<OutboundLink>(io_, std::move(c));
    }
    inbound_max_ = options_.inbound_connections_max != 0 ? options_.inbound_connections_max
                                                         : size_t{4} * replica_count_;
  }

  ~Core() override { close_all(); }

  void start() {
    if (started_ || stopped_) return;
    bind();
    started_ = true;
    accept();
    for (auto& link : links_) {
      if (link) link->start();
    }
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    close_all();
  }

  void send(ReplicaId to, const wire::Message& message) {
    if (stopped_ || to >= links_.size() || !links_[to]) return;
    OutboundLink& link = *links_[to];
    auto record = std::make_shared<const Bytes>(
        make_record(options_.self, wire::encode_frame(options_.cluster_id, message)));
    if (!link.admit(record->size() + mac_size)) return;
    const Mac mac = crypto_.mac(to, *record);
    link.push(std::move(record), mac);
  }

  void broadcast(const wire::Message& message) {
    if (stopped_) return;
    auto record = std::make_shared<const Bytes>(
        make_record(options_.self, wire::encode_frame(options_.cluster_id, message)));
    for (auto& link : links_) {
      if (!link || !link->admit(record->size() + mac_size)) continue;
      const Mac mac = crypto_.mac(link->peer(), *record);
      link->push(record, mac);
    }
  }

  uint16_t listen_port() const { return bound_port_; }

  NetworkStats stats() const {
    NetworkStats s = counters_;
    for (const auto& link : links_) {
      if (!link) continue;
      PeerStats p;
      p.id = link->peer();
      p.connected = link->connected();
      p.queued_frames = link->queued_frames();
      p.queued_bytes = link->queued_bytes();
      p.frames_sent = link->frames_sent();
      p.frames_dropped = link->frames_dropped();
      p.frames_received = frames_received_[link->peer()];
      s.peers.push_back(p);
      s.connections_closed_for_errors += link->connections_closed_for_errors();
    }
    return s;
  }

  void mute(ReplicaId peer, std::chrono::milliseconds how_long) {
    if (stopped_ || peer >= replica_count_) return;
    const auto until = std::chrono::steady_clock::now() + how_long;
    if (until <= muted_until_[peer]) return;
    muted_until_[peer] = until;
    for (const auto& c : inbound_) {
      if (c->sender() == peer) c->hold_until(until);
    }
  }

  uint32_t connected_peers() const {
    uint32_t n = 0;
    for (const auto& link : links_) n += link && link->connected() ? 1 : 0;
    return n;
  }

  // ------------------------------------------------ InboundConnection::Sink

  void inbound_bound(InboundConnection& connection, ReplicaId from) override {
    // A muted peer that connects again is not heard on the new connection either.
    if (muted_until_[from] > std::chrono::steady_clock::now()) connection.hold_until(muted_until_[from]);
    // The peer keeps one outbound connection: older ones from it are dead.
    std::vector<std::shared_ptr<InboundConnection>> stale;
    for (const auto& c : inbound_) {
      if (c.get() != &connection && c->sender() == from) stale.push_back(c);
    }
    for (const auto& c : stale) {
      c->close();
      forget(*c);
    }
  }

  void inbound_message(InboundConnection&, ReplicaId from, wire::Message message) override {
    if (stopped_) return;
    auto keep_alive = shared_from_this();  // the handler may destroy the network
    ++frames_received_[from];
    handler_(from, std::move(message));
  }

  void inbound_closed(InboundConnection& connection, InboundConnection::CloseReason why,
                      const std::string&) override {
    using Reason = InboundConnection::CloseReason;
    switch (why) {
      case Reason::eof:
        break;
      case Reason::bad_frame:
        ++counters_.bad_frames;
        ++counters_.connections_closed_for_errors;
        break;
      case Reason::bad_mac:
        ++counters_.bad_macs;
        ++counters_.connections_closed_for_errors;
        break;
      case Reason::read_error:
      case Reason::stalled:
        ++counters_.connections_closed_for_errors;
        break;
    }
    forget(connection);
  }

 private:
  void bind() { bound_port_ = listen_on(acceptor_, options_.listen_host, options_.listen_port, "listening on"); }

  void accept() {
    acceptor_.async_accept(
        [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
          self->on_accept(ec, std::move(socket));
        });
  }

  void on_accept(const boost::system::error_code& ec, tcp::socket socket) {
    if (stopped_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      accept_retry_timer_.expires_after(accept_retry_delay);
      accept_retry_timer_.async_wait(
          [self = shared_from_this()](const boost::system::error_code& e) {
            if (!e && !self->stopped_) self->accept();
          });
      return;
    }
    if (inbound_.size() >= inbound_max_) {
      ++counters_.connections_refused;
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      ++counters_.connections_accepted;
      auto connection = std::make_shared<InboundConnection>(
          std::move(socket),
          FrameReader(options_.cluster_id, options_.self, replica_count_, crypto_),
          milliseconds(std::max<uint32_t>(options_.inbound_stall_timeout_ms, 1)),
          std::chrono::microseconds(std::max<uint32_t>(options_.inbound_turn_budget_us, 1)), *this);
      inbound_.push_back(connection);
      connection->start();
    }
    accept();
  }

  void forget(InboundConnection& connection) {
    std::erase_if(inbound_, [&](const auto& c) { return c.get() == &connection; });
  }

  void close_all() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
    for (auto& link : links_) {
      if (link) link->stop();
    }
    auto connections = std::move(inbound_);
    inbound_.clear();
    for (auto& c : connections) c->close();
  }

  asio::io_context& io_;
  const PeerNetworkOptions options_;
  const crypto::Crypto& crypto_;
  const PeerNetwork::Handler handler_;
  const uint32_t replica_count_;
  size_t inbound_max_ = 0;

  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  std::vector<std::shared_ptr<OutboundLink>> links_;  // index = peer id; null: none
  std::vector<std::shared_ptr<InboundConnection>> inbound_;
  std::vector<uint64_t> frames_received_;  // index = sender id
  std::vector<std::chrono::steady_clock::time_point> muted_until_;  // index = sender id
  NetworkStats counters_;                  // all but peers and outbound errors

  bool started_ = false;
  bool stopped_ = false;
  uint16_t bound_port_ = 0;
};

struct PeerNetwork::Impl {
  std::shared_ptr<Core> core;
};

PeerNetwork::PeerNetwork(asio::io_context& io, PeerNetworkOptions options,
                         const crypto::Crypto& crypto, Handler handler)
    : impl_(std::make_unique<Impl>(
          Impl{std::make_shared<Core>(io, std::move(options), crypto, std::move(handler))})) {}

PeerNetwork::~PeerNetwork() { impl_->core->stop(); }

void PeerNetwork::start() { impl_->core->start(); }
void PeerNetwork::stop() { impl_->core->stop(); }
void PeerNetwork::send(ReplicaId to, const wire::Message& message) {
  impl_->core->send(to, message);
}
void PeerNetwork::broadcast(const wire::Message& message) { impl_->core->broadcast(message); }
uint16_t PeerNetwork::listen_port() const { return impl_->core->listen_port(); }
NetworkStats PeerNetwork::stats() const { return impl_->core->stats(); }
uint32_t PeerNetwork::connected_peers() const { return impl_->core->connected_peers(); }
void PeerNetwork::mute(ReplicaId peer, std::chrono::milliseconds how_long) { impl_->core->mute(peer, how_long); }

}  // namespace pbft::transport
