// The outbound connection to one peer: resolves and connects (retrying with
// exponential back-off), keeps a bounded queue of records to send and
// writes them in order, several per write. It never reads data; a pending
// read only notices when the peer closes. Single-threaded (see
// peer_network.h).
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/types.h"

namespace pbft::transport {

class OutboundLink : public std::enable_shared_from_this<OutboundLink> {
 public:
  struct Config {
    ReplicaId peer = 0;
    std::string host;
    uint16_t port = 0;
    size_t queue_frames_max = 0;
    size_t queue_bytes_max = 0;
    std::chrono::milliseconds backoff_initial{50};
    std::chrono::milliseconds backoff_max{2000};
    std::chrono::milliseconds connect_timeout{5000};
  };

  OutboundLink(boost::asio::io_context& io, Config config);

  // Starts connecting (once); records queued before go out when connected.
  void start();
  // Closes the connection, drops the queue; the link is dead afterwards.
  void stop();

  // Whether a record of `bytes` (record + MAC) fits in the queue; if not,
  // counts it as dropped.
  bool admit(size_t bytes);
  // Queues a record (sender id | frame) and its MAC; call after admit().
  // The record may be shared with other links.
  void push(std::shared_ptr<const Bytes> record, const Mac& mac);

  ReplicaId peer() const { return config_.peer; }
  bool connected() const { return state_ == State::connected; }
  size_t queued_frames() const { return queue_.size() + in_flight_frames_; }
  size_t queued_bytes() const { return queued_bytes_; }
  uint64_t frames_sent() const { return frames_sent_; }
  uint64_t frames_dropped() const { return frames_dropped_; }
  uint64_t connections_closed_for_errors() const { return closed_for_errors_; }

 private:
  enum class State { idle, resolving, connecting, connected, backing_off, stopped };
  struct Entry {
    std::shared_ptr<const Bytes> record;
    Mac mac{};
    size_t size() const { return record->size() + mac.size(); }
  };

  void begin_connect();
  void on_resolved(uint64_t generation, const boost::system::error_code& ec,
                   const boost::asio::ip::tcp::resolver::results_type& results);
  void on_connected(uint64_t generation, const boost::system::error_code& ec);
  void connect_failed();
  void lose_connection(bool count_error);
  void schedule_retry();
  void wait_timer(std::chrono::milliseconds delay);
  void on_timer(uint64_t generation);
  void watch_for_close();
  void write_more();
  void on_written(uint64_t generation, const boost::system::error_code& ec);
  void drop_in_flight();
  void close_socket();

  Config config_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;  // connect deadline or retry, by state

  State state_ = State::idle;
  // Bumped whenever the current attempt or connection ends; completions
  // of older ones are ignored.
  uint64_t generation_ = 0;
  std::chrono::milliseconds backoff_;
  std::chrono::steady_clock::time_point connected_at_{};

  // Waiting to be written; those being written are held by the write's
  // completion handler (so they outlive it) and counted here too.
  std::deque<Entry> queue_;
  size_t queued_bytes_ = 0;  // queue and in flight
  size_t in_flight_frames_ = 0;
  size_t in_flight_bytes_ = 0;
  bool writing_ = false;
  std::array<uint8_t, 64> probe_{};

  uint64_t frames_sent_ = 0;
  uint64_t frames_dropped_ = 0;
  uint64_t closed_for_errors_ = 0;
};

}  // namespace pbft::transport
