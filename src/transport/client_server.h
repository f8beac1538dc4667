// The replica's side of the binary client protocol (docs/API.md, "Binary
// protocol"): a TCP listener for clients of the client library. Each way,
// the stream is wire frames (codec.h, no sender id), each followed by a
// 32-byte MAC over the frame under the key this replica and that client
// share, one per direction (SodiumCrypto::mac_to_client and
// verify_client_mac). A client sends REQUEST frames (signed too, since
// ordered requests travel on in batches) and gets REPLY frames back on the
// same connection (signed too when the request asks). A frame whose MAC
// does not check for the client it names closes the connection.
//
// What one client may cost is bounded here, before anything reaches the
// protocol: connections are capped (connections_max; more are closed at
// once), each client may hand over requests_per_second requests in any
// second over all its connections (a token bucket, taken once the frame's
// MAC proved who the client is; past it, the connection reads nothing more
// until the client's next token is due, so TCP holds the rest back at the
// sender and a flood costs the replica nothing but the requests it lets in), a frame must be a REQUEST no larger than a request can be and
// whole within stall_timeout_ms of its first byte, a connection that
// sends no request for idle_timeout_ms (first_request_timeout_ms before
// its first) is closed, and replies queued for a
// client that does not read are dropped past send_queue_bytes_max. Who a
// request is from is not decided here: the handler checks its signature
// (and closes the connection of one that fails).
//
// Threading and lifetime as for PeerNetwork (peer_network.h): one thread
// runs the io_context; the handler may call send() and stop().
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "wire/messages.h"

namespace pbft::transport {

struct ClientServerOptions {
  uint64_t cluster_id = 0;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: pick a free port (see listen_port())
  size_t connections_max = 1024;
  uint32_t requests_per_second = 1000;  // per client
  size_t send_queue_bytes_max = 8u << 20;  // per connection
  uint32_t stall_timeout_ms = 30000;       // a frame not whole this long after its first byte: close
  uint32_t idle_timeout_ms = 300000;       // no request this long: close (the library reconnects)
  uint32_t first_request_timeout_ms = 10000;  // no valid request this long after connecting: close
};

struct ClientServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over connections_max
  uint64_t connections_closed_for_errors = 0;  // bad frame or MAC, not a request, stalled, bad signature, read error
  uint64_t connections_closed_idle = 0;
  uint64_t requests = 0;             // handed to the handler
  uint64_t throttles = 0;            // a connection stopped reading: its client was over requests_per_second
  uint64_t replies_sent = 0;
  uint64_t replies_dropped = 0;      // the connection is gone or its queue is full
  size_t connections = 0;            // open now
};

class ClientServer {
 public:
  using ConnectionId = uint64_t;  // never reused
  using Handler = std::function<void(ConnectionId from, wire::Request request)>;
  struct Auth {
    // The MAC of a reply frame for `client`; nullopt: no key for it (the reply is dropped).
    std::function<std::optional<Mac>(ClientId client, ByteView frame)> mac_for;
    // Whether `mac` is `client`'s on a request frame.
    std::function<bool(ClientId client, ByteView frame, const Mac& mac)> check;
  };

  ClientServer(boost::asio::io_context& io, ClientServerOptions options, Handler handler, Auth auth);
  ~ClientServer();
  ClientServer(const ClientServer&) = delete;
  ClientServer& operator=(const ClientServer&) = delete;

  // Binds the listener (throws std::system_error if the address is taken).
  void start();
  // Closes the listener and every connection. Idempotent.
  void stop();

  // Queues a reply on connection `to`; false when that connection is gone
  // (or the reply was dropped because its queue is full).
  bool send(ConnectionId to, const wire::Reply& reply);
  // Closes connection `to` (counted as closed for an error). Safe from the handler.
  void close(ConnectionId to);

  uint16_t listen_port() const;
  ClientServerStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pbft::transport
