#include "transport/peer_network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "transport/test_util.h"

namespace pbft::transport {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using testing::large_request;
using testing::replica_crypto;
using testing::run_for;
using testing::run_until;
using testing::sample_message;
using testing::wire_record;

constexpr uint64_t cluster = 5;

// A bare TCP client on the network's port: writes whatever it is given and
// notices when the other side closes.
class RawPeer {
 public:
  RawPeer(asio::io_context& io, uint16_t port) : socket_(io), state_(std::make_shared<State>()) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    socket_.async_read_some(asio::buffer(state_->buffer),
                            [state = state_](const boost::system::error_code&, size_t) {
                              state->closed = true;  // the network never writes back
                            });
  }
  void write(ByteView bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  bool closed() const { return state_->closed; }

 private:
  struct State {
    bool closed = false;
    std::array<uint8_t, 64> buffer{};
  };
  tcp::socket socket_;
  std::shared_ptr<State> state_;
};

class PeerNetworkTest : public ::testing::Test {
 protected:
  struct Node {
    std::unique_ptr<crypto::SodiumCrypto> crypto;
    std::unique_ptr<PeerNetwork> net;
    std::map<ReplicaId, std::vector<wire::Message>> received;  // by sender
    std::function<void(ReplicaId, const wire::Message&)> on_message;
    size_t total_received() const {
      size_t t = 0;
      for (const auto& [from, list] : received) t += list.size();
      return t;
    }
  };
  using Tweak = std::function<void(PeerNetworkOptions&)>;

  uint16_t free_port() {
    tcp::acceptor a(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  }

  // Sets up addresses for n replicas (nothing runs yet).
  void plan(uint32_t n) {
    n_ = n;
    ports_.clear();
    for (uint32_t i = 0; i < n; ++i) ports_.push_back(free_port());
    nodes_.resize(n);
  }

  PeerNetworkOptions options_for(ReplicaId self) {
    PeerNetworkOptions o;
    o.cluster_id = cluster;
    o.self = self;
    o.listen_port = ports_[self];
    for (ReplicaId r = 0; r < n_; ++r) o.peers.push_back({r, "127.0.0.1", ports_[r]});
    o.reconnect_initial_ms = 10;
    o.reconnect_max_ms = 200;
    return o;
  }

  Node& make_node(ReplicaId self, const Tweak& tweak = {}) {
    auto node = std::make_unique<Node>();
    Node* raw = node.get();
    node->crypto = replica_crypto(self, n_);
    PeerNetworkOptions o = options_for(self);
    if (tweak) tweak(o);
    node->net = std::make_unique<PeerNetwork>(io_, o, *node->crypto,
                                              [raw](ReplicaId from, wire::Message m) {
                                                if (raw->on_message) raw->on_message(from, m);
                                                raw->received[from].push_back(std::move(m));
                                              });
    node->net->start();
    nodes_[self] = std::move(node);
    return *nodes_[self];
  }

  void make_cluster(uint32_t n, const Tweak& tweak = {}) {
    plan(n);
    for (ReplicaId r = 0; r < n; ++r) make_node(r, tweak);
    ASSERT_TRUE(run_until(io_, [&] {
      for (const auto& node : nodes_) {
        if (node->net->connected_peers() != n - 1) return false;
      }
      return true;
    }));
  }

  NetworkStats stats(ReplicaId r) { return nodes_[r]->net->stats(); }

  // Replica 1 floods replica 0 with messages that each take 100 us to
  // handle (as a signature check would): a thousand records already in
  // the socket when replica 0 starts reading, so that every read brings
  // 64 KiB of them. Once the first is handled, replica 2 sends one message.
  // Returns how many of the flood's messages were handled between that
  // send and its delivery.
  size_t flood_handled_ahead_of_a_quiet_peer() {
    Bytes flood;
    for (uint64_t i = 0; i < 1000; ++i) {
      const Bytes record = testing::wire_record(
          1, 0, wire::encode_frame(cluster, wire::Commit{1, i, testing::digest_of(i), 1}), *nodes_[1]->crypto);
      flood.insert(flood.end(), record.begin(), record.end());
    }
    RawPeer raw(io_, ports_[0]);
    raw.write(flood);
    size_t flood_handled = 0;
    std::optional<size_t> delivered_after;
    nodes_[0]->on_message = [&](ReplicaId from, const wire::Message&) {
      if (from == 1) {
        const auto until = std::chrono::steady_clock::now() + 100us;
        while (std::chrono::steady_clock::now() < until) {
        }
        if (++flood_handled == 1) nodes_[2]->net->send(0, sample_message(2, 0));
      } else if (from == 2) {
        delivered_after = flood_handled - 1;
      }
    };
    EXPECT_TRUE(run_until(io_, [&] { return delivered_after.has_value(); }, 60s));
    return delivered_after.value_or(1000);
  }
  static const PeerStats& peer(const NetworkStats& s, ReplicaId id) {
    for (const PeerStats& p : s.peers) {
      if (p.id == id) return p;
    }
    throw std::out_of_range("no such peer");
  }

  Bytes frame(const wire::Message& m) { return wire::encode_frame(cluster, m); }

  // Declared first: destroyed after every network.
  asio::io_context io_;
  uint32_t n_ = 0;
  std::vector<uint16_t> ports_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(PeerNetworkTest, MessagesArriveIntactAndInOrderFromEverySender) {
  make_cluster(4);
  constexpr uint64_t per_pair = 150;
  std::map<std::pair<ReplicaId, ReplicaId>, std::vector<wire::Message>> sent;  // (from, to)
  for (uint64_t i = 0; i < per_pair; ++i) {
    for (ReplicaId from = 0; from < 4; ++from) {
      for (ReplicaId to = 0; to < 4; ++to) {
        if (from == to) continue;
        wire::Message m = i == per_pair / 2 ? large_request(from * 10 + to, 1u << 20)
                                            : sample_message(from * 10 + to, i);
        nodes_[from]->net->send(to, m);
        sent[{from, to}].push_back(std::move(m));
      }
    }
  }
  ASSERT_TRUE(run_until(io_, [&] {
    for (const auto& node : nodes_) {
      if (node->total_received() != 3 * per_pair) return false;
    }
    return true;
  }));
  for (ReplicaId to = 0; to < 4; ++to) {
    EXPECT_EQ(nodes_[to]->received.count(to), 0u);
    for (ReplicaId from = 0; from < 4; ++from) {
      if (from == to) continue;
      EXPECT_EQ(nodes_[to]->received[from], (sent[{from, to}])) << from << " -> " << to;
      EXPECT_EQ(peer(stats(to), from).frames_received, per_pair);
      EXPECT_EQ(peer(stats(from), to).frames_sent, per_pair);
    }
    const NetworkStats s = stats(to);
    EXPECT_EQ(s.bad_frames, 0u);
    EXPECT_EQ(s.bad_macs, 0u);
    EXPECT_EQ(s.connections_closed_for_errors, 0u);
  }
}

TEST_F(PeerNetworkTest, AFloodingPeerDoesNotHoldBackTheOthers) {
  make_cluster(3);
  const size_t ahead = flood_handled_ahead_of_a_quiet_peer();
  // One turn of 500 us is about 5 of the flood's messages; a few turns pass
  // before replica 2's write is read.
  EXPECT_LT(ahead, 60u);
}

TEST_F(PeerNetworkTest, WithoutFairTurnsTheFloodGoesFirst) {
  // The control: with a budget no turn reaches, all that one read brought
  // (585 records) is handled before anything else.
  make_cluster(3, [](PeerNetworkOptions& o) { o.inbound_turn_budget_us = 1u << 30; });
  const size_t ahead = flood_handled_ahead_of_a_quiet_peer();
  EXPECT_GT(ahead, 300u);
}

TEST_F(PeerNetworkTest, AMutedPeerIsNotReadUntilItsTimeIsUpAndLosesNothing) {
  // A stall timeout shorter than the mute: a held connection must not
  // count as stalled.
  make_cluster(3, [](PeerNetworkOptions& o) { o.inbound_stall_timeout_ms = 100; });
  nodes_[0]->on_message = [&](ReplicaId from, const wire::Message&) {
    if (from == 1 && nodes_[0]->received[1].empty()) nodes_[0]->net->mute(1, 1500ms);
  };
  nodes_[1]->net->send(0, sample_message(1, 0));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->received[1].size() == 1; }));
  for (uint64_t i = 1; i <= 20; ++i) nodes_[1]->net->send(0, i == 10 ? large_request(1, 1u << 20) : sample_message(1, i));
  nodes_[2]->net->send(0, sample_message(2, 0));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->received[2].size() == 1; })) << "others are heard";
  run_for(io_, 500ms);
  EXPECT_EQ(nodes_[0]->received[1].size(), 1u) << "nothing read from the muted peer";
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->received[1].size() == 21; }, 5s));
  for (uint64_t i = 1; i <= 20; ++i) {
    EXPECT_EQ(nodes_[0]->received[1][i], i == 10 ? large_request(1, 1u << 20) : sample_message(1, i));
  }
  EXPECT_EQ(stats(0).connections_closed_for_errors, 0u);
}

TEST_F(PeerNetworkTest, BroadcastReachesEveryPeer) {
  make_cluster(4);
  for (uint64_t i = 0; i < 10; ++i) nodes_[2]->net->broadcast(sample_message(2, i));
  ASSERT_TRUE(run_until(io_, [&] {
    return nodes_[0]->total_received() == 10 && nodes_[1]->total_received() == 10 &&
           nodes_[3]->total_received() == 10;
  }));
  run_for(io_, 50ms);
  EXPECT_EQ(nodes_[2]->total_received(), 0u);
  for (ReplicaId r : {0u, 1u, 3u}) {
    ASSERT_EQ(nodes_[r]->received[2].size(), 10u);
    for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(nodes_[r]->received[2][i], sample_message(2, i));
    EXPECT_EQ(peer(stats(2), r).frames_sent, 10u);
  }
}

TEST_F(PeerNetworkTest, APeerThatStartsLateGetsMessagesOnceUp) {
  plan(2);
  make_node(0);
  nodes_[0]->net->send(1, sample_message(0, 0));  // queued while 1 is down
  run_for(io_, 300ms);
  EXPECT_EQ(nodes_[0]->net->connected_peers(), 0u);
  EXPECT_EQ(peer(stats(0), 1).queued_frames, 1u);

  make_node(1);
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->net->connected_peers() == 1; }));
  nodes_[0]->net->send(1, sample_message(0, 1));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[1]->total_received() == 2; }));
  EXPECT_EQ(nodes_[1]->received[0],
            (std::vector<wire::Message>{sample_message(0, 0), sample_message(0, 1)}));
}

TEST_F(PeerNetworkTest, ReconnectsAfterThePeerRestarts) {
  make_cluster(2);
  nodes_[0]->net->send(1, sample_message(0, 0));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[1]->total_received() == 1; }));

  nodes_[1].reset();  // replica 1 goes away
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->net->connected_peers() == 0; }));
  run_for(io_, 100ms);  // a few failed attempts

  make_node(1);  // and comes back on the same port
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->net->connected_peers() == 1; }));
  nodes_[0]->net->send(1, sample_message(0, 1));
  nodes_[1]->net->send(0, sample_message(1, 2));
  ASSERT_TRUE(run_until(io_, [&] {
    return nodes_[1]->total_received() == 1 && nodes_[0]->total_received() == 1;
  }));
  EXPECT_EQ(nodes_[1]->received[0].front(), sample_message(0, 1));
  EXPECT_EQ(nodes_[0]->received[1].front(), sample_message(1, 2));
}

TEST_F(PeerNetworkTest, GarbageClosesThatConnectionOnly) {
  make_cluster(3);
  RawPeer raw(io_, ports_[0]);
  Bytes garbage(64);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 7 + 1);
  raw.write(garbage);
  ASSERT_TRUE(run_until(io_, [&] { return raw.closed() && stats(0).bad_frames == 1; }));
  EXPECT_EQ(stats(0).connections_closed_for_errors, 1u);
  EXPECT_EQ(nodes_[0]->total_received(), 0u);

  nodes_[1]->net->send(0, sample_message(1, 0));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->total_received() == 1; }));
  EXPECT_EQ(nodes_[0]->received[1].front(), sample_message(1, 0));
  EXPECT_EQ(nodes_[0]->net->connected_peers(), 2u);
}

TEST_F(PeerNetworkTest, BadFramesOfEveryKindAreCounted) {
  make_cluster(3);
  Bytes wrong_cluster = wire_record(1, 0, wire::encode_frame(cluster + 1, sample_message(1, 0)),
                                    *nodes_[1]->crypto);
  Bytes oversized = wire_record(1, 0, frame(sample_message(1, 0)), *nodes_[1]->crypto);
  const uint32_t huge = static_cast<uint32_t>(wire::frame_body_bytes_max + 1);
  for (size_t i = 0; i < 4; ++i) {
    oversized[sender_id_size + 16 + i] = static_cast<uint8_t>(huge >> (8 * i));
  }
  Bytes corrupt_body = frame(sample_message(1, 2));
  corrupt_body.back() ^= 0x55;
  Bytes bad_checksum = wire_record(1, 0, corrupt_body, *nodes_[1]->crypto);  // MAC fine

  uint64_t expected = 0;
  for (const Bytes& bad : {wrong_cluster, oversized, bad_checksum}) {
    RawPeer raw(io_, ports_[0]);
    raw.write(bad);
    ++expected;
    ASSERT_TRUE(run_until(io_, [&] { return raw.closed() && stats(0).bad_frames == expected; }));
  }
  EXPECT_EQ(stats(0).bad_macs, 0u);
  EXPECT_EQ(nodes_[0]->total_received(), 0u);
}

TEST_F(PeerNetworkTest, AMacUnderTheWrongKeyIsRejected) {
  make_cluster(3);
  // Replica 2 claims to be replica 1 (MAC under the 2 -> 0 key).
  {
    RawPeer raw(io_, ports_[0]);
    raw.write(wire_record(1, 0, frame(sample_message(1, 0)), *nodes_[2]->crypto));
    ASSERT_TRUE(run_until(io_, [&] { return raw.closed() && stats(0).bad_macs == 1; }));
  }
  // Claiming to be the receiver itself, or a replica that does not exist.
  for (ReplicaId claimed : {ReplicaId{0}, ReplicaId{3}}) {
    RawPeer raw(io_, ports_[0]);
    Bytes record = wire_record(1, 0, frame(sample_message(1, 0)), *nodes_[1]->crypto);
    for (size_t i = 0; i < 4; ++i) record[i] = static_cast<uint8_t>(claimed >> (8 * i));
    raw.write(record);
    ASSERT_TRUE(run_until(io_, [&] { return raw.closed(); }));
  }
  run_for(io_, 100ms);
  NetworkStats s = stats(0);
  EXPECT_EQ(s.bad_macs, 3u);
  EXPECT_EQ(s.bad_frames, 0u);
  EXPECT_EQ(s.connections_closed_for_errors, 3u);
  EXPECT_EQ(nodes_[0]->total_received(), 0u);

  // Control: the same record with replica 1's own MAC goes through.
  RawPeer raw(io_, ports_[0]);
  raw.write(wire_record(1, 0, frame(sample_message(1, 0)), *nodes_[1]->crypto));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->total_received() == 1; }));
  EXPECT_FALSE(raw.closed());
}

TEST_F(PeerNetworkTest, AConnectionStaysBoundToItsFirstSender) {
  make_cluster(3);
  RawPeer raw(io_, ports_[0]);
  Bytes both = wire_record(1, 0, frame(sample_message(1, 0)), *nodes_[1]->crypto);
  const Bytes from_two = wire_record(2, 0, frame(sample_message(2, 0)), *nodes_[2]->crypto);
  both.insert(both.end(), from_two.begin(), from_two.end());
  raw.write(both);
  ASSERT_TRUE(run_until(io_, [&] { return raw.closed(); }));
  EXPECT_EQ(stats(0).bad_macs, 1u);
  EXPECT_EQ(nodes_[0]->received[1].size(), 1u);
  EXPECT_EQ(nodes_[0]->received.count(2), 0u);
}

TEST_F(PeerNetworkTest, ANewConnectionFromASenderReplacesItsOldOne) {
  make_cluster(2);
  RawPeer first(io_, ports_[0]);
  first.write(wire_record(1, 0, frame(sample_message(1, 0)), *nodes_[1]->crypto));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->total_received() == 1; }));
  RawPeer second(io_, ports_[0]);
  second.write(wire_record(1, 0, frame(sample_message(1, 1)), *nodes_[1]->crypto));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->total_received() == 2 && first.closed(); }));
  // Replica 1's real connection was replaced too: not an error.
  EXPECT_EQ(stats(0).connections_closed_for_errors, 0u);
  EXPECT_FALSE(second.closed());
}

TEST_F(PeerNetworkTest, AStalledPartialFrameTimesOut) {
  plan(2);
  make_node(0, [](PeerNetworkOptions& o) { o.inbound_stall_timeout_ms = 200; });
  const Bytes record = wire_record(1, 0, frame(sample_message(1, 0)), *replica_crypto(1, 2));
  RawPeer idle(io_, ports_[0]);  // nothing sent: not a stall
  RawPeer raw(io_, ports_[0]);
  const auto began = std::chrono::steady_clock::now();
  raw.write(ByteView(record).first(40));
  ASSERT_TRUE(run_until(io_, [&] { return raw.closed(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 150ms);
  const NetworkStats s = stats(0);
  EXPECT_EQ(s.connections_closed_for_errors, 1u);
  EXPECT_EQ(s.bad_frames, 0u);
  EXPECT_EQ(s.bad_macs, 0u);
  run_for(io_, 300ms);
  EXPECT_FALSE(idle.closed());
}

TEST_F(PeerNetworkTest, InboundConnectionsAreCapped) {
  plan(2);
  make_node(0, [](PeerNetworkOptions& o) { o.inbound_connections_max = 2; });
  std::vector<std::unique_ptr<RawPeer>> raws;
  for (int i = 0; i < 3; ++i) raws.push_back(std::make_unique<RawPeer>(io_, ports_[0]));
  ASSERT_TRUE(run_until(io_, [&] { return stats(0).connections_refused == 1; }));
  ASSERT_TRUE(run_until(io_, [&] {
    return std::count_if(raws.begin(), raws.end(), [](const auto& r) { return r->closed(); }) == 1;
  }));
  EXPECT_EQ(stats(0).connections_accepted, 2u);
  // Closing one frees a slot.
  raws.erase(raws.begin());
  run_for(io_, 50ms);
  RawPeer late(io_, ports_[0]);
  run_for(io_, 100ms);
  EXPECT_FALSE(late.closed());
  EXPECT_EQ(stats(0).connections_refused, 1u);
}

TEST_F(PeerNetworkTest, TheQueueToADeadPeerIsBoundedAndDoesNotBlockOthers) {
  plan(3);
  make_node(0, [](PeerNetworkOptions& o) { o.send_queue_frames_max = 3; });
  make_node(1);  // replica 2 never comes up
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->net->connected_peers() == 1; }));
  // Paced so that the live peer's queue (also 3 frames) never fills.
  for (uint64_t i = 0; i < 20; ++i) {
    nodes_[0]->net->broadcast(sample_message(0, i));
    ASSERT_TRUE(run_until(io_, [&] { return nodes_[1]->total_received() == i + 1; }));
  }
  run_for(io_, 200ms);
  const NetworkStats s = stats(0);
  EXPECT_FALSE(peer(s, 2).connected);
  EXPECT_EQ(peer(s, 2).queued_frames, 3u);
  EXPECT_EQ(peer(s, 2).frames_dropped, 17u);
  EXPECT_EQ(peer(s, 1).frames_dropped, 0u);
  EXPECT_EQ(peer(s, 1).frames_sent, 20u);
}

TEST_F(PeerNetworkTest, TheQueueIsBoundedInBytesToo) {
  plan(2);
  make_node(0, [](PeerNetworkOptions& o) { o.send_queue_bytes_max = 4096; });
  nodes_[0]->net->send(1, large_request(0, 10000));
  nodes_[0]->net->send(1, sample_message(0, 0));
  nodes_[0]->net->send(1, sample_message(0, 1));
  const PeerStats p = peer(stats(0), 1);
  EXPECT_EQ(p.frames_dropped, 1u);
  EXPECT_EQ(p.queued_frames, 2u);
  EXPECT_LE(p.queued_bytes, 4096u);
  EXPECT_GT(p.queued_bytes, 0u);
}

TEST_F(PeerNetworkTest, StartFailsWhenThePortIsTaken) {
  plan(2);
  tcp::acceptor taken(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ports_[0] = taken.local_endpoint().port();
  auto crypto = replica_crypto(0, 2);
  PeerNetwork net(io_, options_for(0), *crypto, [](ReplicaId, wire::Message) {});
  EXPECT_THROW(net.start(), std::system_error);
}

TEST_F(PeerNetworkTest, InvalidPeerListsAreRejected) {
  plan(2);
  auto crypto = replica_crypto(0, 2);
  PeerNetworkOptions o = options_for(0);
  o.peers.push_back(o.peers[1]);
  EXPECT_THROW(PeerNetwork(io_, o, *crypto, [](ReplicaId, wire::Message) {}),
               std::invalid_argument);
}

TEST_F(PeerNetworkTest, StopIsIdempotentAndFineBeforeStart) {
  plan(2);
  auto crypto = replica_crypto(0, 2);
  PeerNetwork net(io_, options_for(0), *crypto, [](ReplicaId, wire::Message) {});
  net.send(1, sample_message(0, 0));
  net.stop();
  net.stop();
  net.start();  // does nothing after stop
  EXPECT_EQ(net.listen_port(), 0u);
  net.send(1, sample_message(0, 1));
  EXPECT_EQ(net.connected_peers(), 0u);
  run_for(io_, 20ms);
}

TEST_F(PeerNetworkTest, StopThenDestructionIsClean) {
  make_cluster(3);
  for (uint64_t i = 0; i < 50; ++i) {
    nodes_[0]->net->broadcast(sample_message(0, i));
    nodes_[1]->net->broadcast(large_request(1, 100000));
  }
  io_.restart();
  io_.poll();  // some traffic in flight
  nodes_[0]->net->stop();
  nodes_[0]->net->stop();
  EXPECT_EQ(nodes_[0]->net->connected_peers(), 0u);
  const size_t got = nodes_[0]->total_received();
  run_for(io_, 100ms);
  EXPECT_EQ(nodes_[0]->total_received(), got);  // no handler calls after stop
  nodes_[0].reset();
  nodes_[1].reset();  // destroyed with work queued, without stop()
  run_for(io_, 50ms);
  nodes_[2].reset();  // the io_context goes last, with handlers still queued
}

TEST_F(PeerNetworkTest, TheHandlerMayStopTheNetwork) {
  make_cluster(2);
  nodes_[0]->on_message = [&](ReplicaId, const wire::Message&) { nodes_[0]->net->stop(); };
  for (uint64_t i = 0; i < 5; ++i) nodes_[1]->net->send(0, sample_message(1, i));
  ASSERT_TRUE(run_until(io_, [&] { return nodes_[0]->total_received() >= 1; }));
  run_for(io_, 200ms);
  EXPECT_EQ(nodes_[0]->total_received(), 1u);
  EXPECT_EQ(nodes_[1]->net->connected_peers(), 0u);
}

TEST_F(PeerNetworkTest, TheHandlerMayDestroyTheNetwork) {
  make_cluster(2);
  int calls = 0;
  // Keep the node (and the handler's state) but drop the network.
  nodes_[0]->on_message = [&](ReplicaId, const wire::Message&) {
    ++calls;
    nodes_[0]->net.reset();
  };
  for (uint64_t i = 0; i < 5; ++i) nodes_[1]->net->send(0, sample_message(1, i));
  ASSERT_TRUE(run_until(io_, [&] { return calls >= 1; }));
  run_for(io_, 200ms);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace pbft::transport
