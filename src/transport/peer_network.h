// Replica-to-replica TCP on Boost.Asio.
//
// Each replica keeps one outbound connection to every peer (used only for
// sending; reconnected with exponential back-off) and accepts inbound
// connections (used only for receiving). On the stream every message is
//
//   u32 sender id (little-endian) | wire frame (codec.h) | MAC (32 bytes)
//
// where the MAC covers the sender id and the frame, under the pairwise key
// of (sender -> receiver). The receiver checks the MAC before decoding;
// an inbound connection is bound to the first sender that authenticates on
// it. Anything wrong (bad header, oversized body, bad MAC, a frame that does
// not decode, another sender id on a bound connection) closes that
// connection and is counted; nothing reaches the handler.
//
// Send queues are bounded per peer (frames and bytes): when a peer is slow
// or down, new messages to it are dropped (and counted) rather than letting
// memory grow; the protocol's retransmission recovers. A slow or dead peer
// never blocks the others. Frames that were being written when a connection
// broke are dropped too; frames still queued go out on the next connection.
//
// Inbound connections take turns: one that has spent inbound_turn_budget_us
// handing messages to the handler yields to every other ready handler
// before it goes on, so a peer that floods cannot starve the others.
//
// Inbound connections are capped (inbound_connections_max); extra ones are
// closed at once. One that stalls in the middle of a frame for
// inbound_stall_timeout_ms is closed. When a peer authenticates on a new
// connection, its older inbound connections are closed (it only ever keeps
// one outbound connection, so they are dead or half-open).
//
// Threading: not thread-safe. The io_context must be run by one thread, and
// every member function must be called on that thread (or while the
// io_context is not running). The handler is called on that thread; it may
// call send(), broadcast() and stop() or destroy the network, and should
// not throw (an exception propagates out of io_context::run and leaves that
// connection unread).
// After stop() the handler is never called again.
//
// Lifetime: the destructor calls stop(). Completion handlers still queued in
// the io_context keep what they touch alive, so the io_context may be run or
// destroyed after the network is gone (but must not be destroyed first).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/types.h"
#include "crypto/crypto.h"
#include "wire/messages.h"

namespace pbft::transport {

struct PeerAddress {
  ReplicaId id = 0;
  std::string host;
  uint16_t port = 0;
};

struct PeerNetworkOptions {
  uint64_t cluster_id = 0;
  ReplicaId self = 0;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;            // 0: pick a free port (see listen_port())
  std::vector<PeerAddress> peers;      // every replica; the entry for self is ignored
  size_t send_queue_frames_max = 65536;
  size_t send_queue_bytes_max = 256u << 20;
  // Reconnect back-off: starts at initial, doubles up to max; back to
  // initial once a connection has stayed up for reconnect_max_ms.
  uint32_t reconnect_initial_ms = 50;
  uint32_t reconnect_max_ms = 2000;
  uint32_t connect_timeout_ms = 5000;       // resolve + connect, then retry
  uint32_t inbound_stall_timeout_ms = 30000;  // no bytes while mid-frame: close
  // Fair turns (inbound_connection.h): what one inbound connection may
  // spend handing messages to the handler before the others get a turn.
  uint32_t inbound_turn_budget_us = 500;
  size_t inbound_connections_max = 0;       // 0: 4 * number of replicas
};

struct PeerStats {
  ReplicaId id = 0;
  bool connected = false;       // outbound connection up
  size_t queued_frames = 0;
  size_t queued_bytes = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_dropped = 0;  // queue full
  uint64_t frames_received = 0;
};

struct NetworkStats {
  std::vector<PeerStats> peers;
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over inbound_connections_max
  uint64_t bad_frames = 0;      // malformed header/body, wrong cluster, oversize, undecodable
  // Failed authentication: a bad MAC, a sender id that is not a peer (out of
  // range or self), or another sender on a connection already bound.
  uint64_t bad_macs = 0;
  // Inbound: bad frames, bad MACs, stalls, read errors (not a clean EOF).
  // Outbound: write and read errors on an established connection.
  uint64_t connections_closed_for_errors = 0;
};

class PeerNetwork {
 public:
  using Handler = std::function<void(ReplicaId from, wire::Message message)>;

  // `crypto` speaks for options.self and must outlive the network. The
  // number of replicas is the highest id in options.peers (or self) plus
  // one; peer ids must be unique (std::invalid_argument otherwise).
  PeerNetwork(boost::asio::io_context& io, PeerNetworkOptions options, const crypto::Crypto& crypto,
              Handler handler);
  ~PeerNetwork();
  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;

  // Binds the listener (throws std::system_error if the address is taken)
  // and starts connecting to the peers. Once only; later calls and calls
  // after stop() do nothing.
  void start();
  // Closes every connection and the listener; pending sends are dropped.
  // Idempotent; fine before start().
  void stop();

  // Encodes once and queues (MAC per peer). Before start() messages queue
  // up; after stop(), and to self or an id without an address, they are
  // ignored.
  void send(ReplicaId to, const wire::Message& message);
  void broadcast(const wire::Message& message);  // to every peer but self

  // The port the listener is bound to (0 before start()).
  uint16_t listen_port() const;
  // peers: one entry per peer with an address, in id order.
  NetworkStats stats() const;
  // Peers whose outbound connection is up (self not included).
  uint32_t connected_peers() const;
  // Reads nothing more from `peer` for `how_long`, on any connection it
  // has or opens meanwhile (of a new one, the first frame only) (a peer caught misbehaving: TCP holds back what
  // it sends, and this replica spends nothing on it). What was read
  // already is handed over when the time is up; nothing is lost that
  // the peer sent. The handler may call it.
  void mute(ReplicaId peer, std::chrono::milliseconds how_long);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pbft::transport
