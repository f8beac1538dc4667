// One accepted connection: reads records, hands authenticated messages to
// its owner, and closes itself on the first fault or when it stalls in the
// middle of a record. Single-threaded (see peer_network.h).
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "transport/frame_reader.h"

namespace pbft::transport {

class InboundConnection : public std::enable_shared_from_this<InboundConnection> {
 public:
  enum class CloseReason { eof, read_error, bad_frame, bad_mac, stalled };

  // What the connection reports to its owner. Never called after close().
  class Sink {
   public:
    virtual ~Sink() = default;
    // The first authenticated message on this connection is from `from`
    // (called just before that message is delivered).
    virtual void inbound_bound(InboundConnection& connection, ReplicaId from) = 0;
    virtual void inbound_message(InboundConnection& connection, ReplicaId from,
                                 wire::Message message) = 0;
    // The connection closed itself; it reads no more.
    virtual void inbound_closed(InboundConnection& connection, CloseReason why,
                                const std::string& detail) = 0;
  };

  // `sink` must stay valid until close() or until the connection reports
  // inbound_closed. Fair turns: once handing messages to the sink has
  // taken `turn_budget` in one turn of the event loop, the connection
  // leaves the rest of what it read for a later turn (posted behind every
  // other ready handler) and reads no more meanwhile, so a peer that floods
  // gets one turn in each round like any other connection, and TCP holds
  // back the rest.
  InboundConnection(boost::asio::ip::tcp::socket socket, FrameReader reader,
                    std::chrono::milliseconds stall_timeout, std::chrono::microseconds turn_budget,
                    Sink& sink);

  void start();
  // Closes the socket and stops reading without telling the sink.
  // Idempotent.
  void close();
  // Hands the sink nothing more and reads nothing more until `until`
  // (a muted peer: TCP holds back what it sends meanwhile); what was read
  // already is handed over afterwards. The stall timeout does not run
  // meanwhile. A later `until` extends the hold; an earlier one is ignored.
  void hold_until(std::chrono::steady_clock::time_point until);

  bool is_open() const { return !closed_; }
  std::optional<ReplicaId> sender() const { return reader_.bound_sender(); }

 private:
  void read();
  void on_read(const boost::system::error_code& ec, size_t n);
  // Feeds read_buffer_[unread_begin_, unread_end_) to the reader for one
  // turn, then reads on or posts the next turn.
  void take_turn();
  bool held() const { return std::chrono::steady_clock::now() < held_until_; }
  // Until the hold ends: then the turn goes on where it stopped.
  void wait_out_hold();
  void arm_stall_timer();
  void on_stall_timer();
  void close_for(CloseReason why, const std::string& detail);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer stall_timer_;
  boost::asio::steady_timer hold_timer_;
  FrameReader reader_;
  std::chrono::milliseconds stall_timeout_;
  std::chrono::microseconds turn_budget_;
  Sink* sink_;
  size_t unread_begin_ = 0;
  size_t unread_end_ = 0;
  bool closed_ = false;
  bool announced_bound_ = false;
  bool stall_timer_armed_ = false;
  bool waiting_out_hold_ = false;
  std::chrono::steady_clock::time_point held_until_{};
  std::chrono::steady_clock::time_point last_progress_{};
  std::array<uint8_t, 64 * 1024> read_buffer_{};
};

}  // namespace pbft::transport
