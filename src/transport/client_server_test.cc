// The client listener on real sockets: requests in, replies out on the
// same connection, and the limits that bound what one client may cost.
#include "transport/client_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "transport/frame_splitter.h"
#include "transport/test_util.h"
#include "wire/codec.h"

namespace pbft::transport {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using testing::run_for;
using testing::run_until;

constexpr uint64_t cluster = 9;

// The stand-in for SodiumCrypto::mac_to_client: the client id and the
// frame's first body byte, so that a test sees which frame it belongs to;
// no key for client 13.
std::optional<Mac> test_mac(ClientId client, ByteView frame) {
  if (client == 13) return std::nullopt;
  Mac m{};
  m.fill(static_cast<uint8_t>(client));
  m[31] = frame[wire::frame_header_size];
  return m;
}

// A request frame's MAC for this test: the same stand-in, under another tag.
std::optional<Mac> test_request_mac(ClientId client, ByteView frame) {
  std::optional<Mac> m = test_mac(client, frame);
  if (m) (*m)[0] ^= 0x5a;
  return m;
}
const ClientServer::Auth test_auth{test_mac, [](ClientId client, ByteView frame, const Mac& mac) {
                                     return test_request_mac(client, frame) == mac;
                                   }};

// A request frame as a client sends it: the frame, then its MAC.
Bytes client_frame(const wire::Message& m) {
  Bytes f = wire::encode_frame(cluster, m);
  const std::optional<Mac> mac = test_request_mac(std::holds_alternative<wire::Request>(m) ? std::get<wire::Request>(m).client : 0, f);
  f.insert(f.end(), mac->begin(), mac->end());
  return f;
}

wire::Request request(ClientId client, uint64_t ts) {
  return wire::Request{client, ts, Bytes{1, 2, 3}, {}, wire::Request::flag_signed_reply};
}

// A client on its own socket (blocking writes; replies read as the loop runs).
class RawClient {
 public:
  RawClient(asio::io_context& io, uint16_t port) : socket_(io), state_(std::make_shared<State>()) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    read();
  }
  void write(ByteView bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  void send(const wire::Message& m) { write(client_frame(m)); }
  bool closed() const { return state_->closed; }
  std::vector<wire::Reply>& replies() { return state_->replies; }
  std::vector<Bytes>& macs() { return state_->macs; }

 private:
  struct State {
    bool closed = false;
    FrameSplitter splitter{cluster, 1 << 20, mac_size};
    std::vector<wire::Reply> replies;
    std::vector<Bytes> macs;
    std::array<uint8_t, 4096> buffer{};
  };
  void read() {
    socket_.async_read_some(asio::buffer(state_->buffer), [this, state = state_](const boost::system::error_code& ec,
                                                                                size_t n) {
      if (ec) {
        state->closed = true;
        return;
      }
      state->splitter.append(ByteView(state->buffer.data(), n));
      for (;;) {
        FrameSplitter::Event e = state->splitter.next();
        if (e.kind != FrameSplitter::Event::Kind::message) break;
        if (auto* r = std::get_if<wire::Reply>(&*e.message)) {
          state->replies.push_back(*r);
          state->macs.push_back(e.trailer);
        }
      }
      read();
    });
  }
  tcp::socket socket_;
  std::shared_ptr<State> state_;
};

class ClientServerTest : public ::testing::Test {
 protected:
  void start(ClientServerOptions o = {}) {
    o.cluster_id = cluster;
    server = std::make_unique<ClientServer>(
        io, o, [this](ClientServer::ConnectionId from, wire::Request r) { got.emplace_back(from, r); }, test_auth);
    server->start();
  }
  asio::io_context io;
  std::unique_ptr<ClientServer> server;
  std::vector<std::pair<ClientServer::ConnectionId, wire::Request>> got;
};

TEST_F(ClientServerTest, RequestsInAndRepliesOutOnTheSameConnection) {
  start();
  RawClient a(io, server->listen_port()), b(io, server->listen_port());
  a.send(request(1, 10));
  b.send(request(2, 20));
  ASSERT_TRUE(run_until(io, [&] { return got.size() == 2; }, 5s));
  std::map<ClientId, ClientServer::ConnectionId> conn;
  for (auto& [from, r] : got) conn[r.client] = from;
  EXPECT_NE(conn[1], conn[2]);
  ASSERT_TRUE(server->send(conn[2], wire::Reply{0, 20, 2, 1, Bytes{9}, 4, std::nullopt}));
  ASSERT_TRUE(run_until(io, [&] { return !b.replies().empty(); }, 5s));
  EXPECT_EQ(b.replies()[0].timestamp, 20u);
  EXPECT_EQ(b.replies()[0].seq, 4u);
  // Each reply is followed by its MAC for the client it is to.
  const Bytes frame = wire::encode_frame(cluster, wire::Reply{0, 20, 2, 1, Bytes{9}, 4, std::nullopt});
  const Mac expected = *test_mac(2, frame);
  EXPECT_EQ(b.macs()[0], Bytes(expected.begin(), expected.end()));
  // No key for the client: nothing is sent.
  EXPECT_FALSE(server->send(conn[2], wire::Reply{0, 21, 13, 1, Bytes{9}, 5, std::nullopt}));
  run_for(io, 50ms);
  EXPECT_TRUE(a.replies().empty()) << "a reply goes only where it was sent";
  EXPECT_EQ(server->stats().requests, 2u);
  EXPECT_EQ(server->stats().replies_sent, 1u);
  EXPECT_EQ(server->stats().replies_dropped, 1u);
}

TEST_F(ClientServerTest, AnythingButARequestClosesTheConnection) {
  start();
  RawClient liar(io, server->listen_port()), honest(io, server->listen_port());
  liar.send(wire::Reply{0, 1, 1, 0, Bytes{1}, 1, std::nullopt});  // a client has no business sending this
  ASSERT_TRUE(run_until(io, [&] { return liar.closed(); }, 5s));
  RawClient garbage(io, server->listen_port());
  garbage.write(Bytes(64, 0xab));
  ASSERT_TRUE(run_until(io, [&] { return garbage.closed(); }, 5s));
  // A well-formed request whose MAC is not its client's.
  RawClient forger(io, server->listen_port());
  Bytes forged = client_frame(request(3, 1));
  forged.back() ^= 1;
  forger.write(forged);
  ASSERT_TRUE(run_until(io, [&] { return forger.closed(); }, 5s));
  honest.send(request(3, 1));
  ASSERT_TRUE(run_until(io, [&] { return got.size() == 1; }, 5s));
  EXPECT_EQ(server->stats().connections_closed_for_errors, 3u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got.front().second == request(3, 1));
  // Replies to a closed connection are dropped, and say so.
  EXPECT_FALSE(server->send(12345, wire::Reply{}));
}

TEST_F(ClientServerTest, AFloodingClientIsHeldToItsRateOverAllItsConnections) {
  ClientServerOptions o;
  o.requests_per_second = 50;
  start(o);
  RawClient flood(io, server->listen_port()), quiet(io, server->listen_port());
  Bytes burst;
  for (uint64_t ts = 1; ts <= 1000; ++ts) {
    Bytes f = client_frame(request(1, ts));
    burst.insert(burst.end(), f.begin(), f.end());
  }
  auto from = [&](ClientId c) {
    size_t n = 0;
    for (auto& [conn, r] : got) n += r.client == c ? 1 : 0;
    return n;
  };
  flood.write(burst);
  quiet.send(request(2, 1));
  ASSERT_TRUE(run_until(io, [&] { return from(2) == 1; }, 5s)) << "another client has its own budget";
  run_for(io, 1s);
  // A second's worth of burst, then the rate; the rest waits (unread: TCP holds it back).
  const size_t first = from(1);
  EXPECT_GE(first, 60u);
  EXPECT_LE(first, 130u);
  EXPECT_GT(server->stats().throttles, 0u);
  EXPECT_FALSE(flood.closed()) << "held back, not cut off";
  // A second connection of the same client shares its budget.
  RawClient second(io, server->listen_port());
  second.write(burst);
  run_for(io, 1s);
  EXPECT_LE(from(1) - first, 75u) << "about 50 a second over both connections";
  EXPECT_GE(from(1) - first, 25u);
  // In order, nothing lost: the first connection's requests come with rising timestamps.
  const auto flood_conn = std::find_if(got.begin(), got.end(), [](const auto& g) { return g.second.client == 1; })->first;
  uint64_t last = 0;
  for (auto& [conn, r] : got) {
    if (r.client != 1 || conn != flood_conn) continue;
    EXPECT_EQ(r.timestamp, last + 1);
    last = r.timestamp;
  }
}

TEST_F(ClientServerTest, AConnectionHeldBackLongerThanTheStallTimeoutIsNotClosed) {
  ClientServerOptions o;
  o.requests_per_second = 10;
  o.stall_timeout_ms = 300;
  start(o);
  RawClient slow(io, server->listen_port());
  Bytes burst;
  for (uint64_t ts = 1; ts <= 30; ++ts) {
    Bytes f = client_frame(request(1, ts));
    burst.insert(burst.end(), f.begin(), f.end());
  }
  slow.write(burst);
  run_for(io, 1500ms);  // five stall timeouts, spent held back by this side
  EXPECT_FALSE(slow.closed());
  EXPECT_EQ(server->stats().connections_closed_for_errors, 0u);
  EXPECT_GE(got.size(), 15u);
  EXPECT_LE(got.size(), 28u);
}

TEST_F(ClientServerTest, ConnectionsOfOneClientWaitingForTokensTakeTurns) {
  ClientServerOptions o;
  o.requests_per_second = 100;
  start(o);
  std::vector<std::unique_ptr<RawClient>> conns;
  Bytes burst;
  for (uint64_t ts = 1; ts <= 200; ++ts) {
    Bytes f = client_frame(request(1, ts));
    burst.insert(burst.end(), f.begin(), f.end());
  }
  for (int i = 0; i < 4; ++i) {
    conns.push_back(std::make_unique<RawClient>(io, server->listen_port()));
    conns.back()->write(burst);
  }
  run_for(io, 1500ms);
  std::map<ClientServer::ConnectionId, size_t> per;
  for (auto& [conn, r] : got) ++per[conn];
  ASSERT_EQ(per.size(), 4u) << "no connection is starved";
  // About 100 a second shared out, with a second's worth of burst at the start.
  EXPECT_LE(got.size(), 300u);
  // Waiting connections queue behind each other instead of all waking at every token.
  EXPECT_LE(server->stats().throttles, got.size() * 2);
}

TEST_F(ClientServerTest, ConnectionsOverTheCapAreClosedAtOnce) {
  ClientServerOptions o;
  o.connections_max = 2;
  start(o);
  RawClient a(io, server->listen_port()), b(io, server->listen_port());
  a.send(request(1, 1));
  b.send(request(2, 1));
  ASSERT_TRUE(run_until(io, [&] { return got.size() == 2; }, 5s));
  RawClient c(io, server->listen_port());
  ASSERT_TRUE(run_until(io, [&] { return c.closed(); }, 5s));
  EXPECT_EQ(server->stats().connections_refused, 1u);
  EXPECT_EQ(server->stats().connections, 2u);
}

TEST_F(ClientServerTest, AFrameDribbledInSlowerThanTheStallTimeoutIsClosed) {
  ClientServerOptions o;
  o.stall_timeout_ms = 200;
  start(o);
  RawClient slow(io, server->listen_port());
  Bytes f = client_frame(request(1, 1));
  // A byte every 20 ms: always some progress, never a whole frame in time.
  const auto started = std::chrono::steady_clock::now();
  for (size_t i = 0; i + 1 < f.size() && !slow.closed(); ++i) {
    slow.write(ByteView(f).subspan(i, 1));
    run_for(io, 20ms);
  }
  ASSERT_TRUE(run_until(io, [&] { return slow.closed(); }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(server->stats().connections_closed_for_errors, 1u);
}

TEST_F(ClientServerTest, AnIdleConnectionIsClosedAndAnActiveOneIsNot) {
  ClientServerOptions o;
  o.idle_timeout_ms = 300;
  o.first_request_timeout_ms = 150;
  start(o);
  RawClient idle(io, server->listen_port()), busy(io, server->listen_port()), silent(io, server->listen_port());
  idle.send(request(1, 1));
  for (uint64_t ts = 1; ts <= 6; ++ts) {
    busy.send(request(2, ts));
    run_for(io, 100ms);
    // A connection that never says who it is goes first.
    if (ts == 2) {
      EXPECT_TRUE(silent.closed() && !idle.closed());
    }
  }
  EXPECT_TRUE(idle.closed());
  EXPECT_FALSE(busy.closed());
  EXPECT_EQ(server->stats().connections_closed_idle, 2u);
  EXPECT_EQ(server->stats().connections_closed_for_errors, 0u);
}

TEST_F(ClientServerTest, TheHandlerCanCloseTheConnection) {
  ClientServerOptions o;
  o.cluster_id = cluster;
  server = std::make_unique<ClientServer>(
      io, o,
      [this](ClientServer::ConnectionId from, wire::Request r) {
        got.emplace_back(from, r);
        if (r.client == 66) server->close(from);  // say, a bad signature
      },
      test_auth);
  server->start();
  RawClient bad(io, server->listen_port()), good(io, server->listen_port());
  Bytes two = client_frame(request(66, 1));
  Bytes second = client_frame(request(66, 2));
  two.insert(two.end(), second.begin(), second.end());
  bad.write(two);
  ASSERT_TRUE(run_until(io, [&] { return bad.closed(); }, 5s));
  EXPECT_EQ(got.size(), 1u) << "nothing more is read from a closed connection";
  good.send(request(1, 1));
  ASSERT_TRUE(run_until(io, [&] { return got.size() == 2; }, 5s));
  EXPECT_EQ(server->stats().connections, 1u);
}

}  // namespace
}  // namespace pbft::transport
