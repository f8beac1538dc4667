#include "transport/outbound_link.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <utility>

namespace pbft::transport {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// How much one write gathers (the first record always goes, however large).
constexpr size_t gather_frames_max = 256;
constexpr size_t gather_bytes_max = 4u << 20;

}  // namespace

OutboundLink::OutboundLink(asio::io_context& io, Config config)
    : config_(std::move(config)),
      resolver_(io),
      socket_(io),
      timer_(io),
      backoff_(config_.backoff_initial) {}

void OutboundLink::start() {
  if (state_ != State::idle) return;
  begin_connect();
}

void OutboundLink::stop() {
  if (state_ == State::stopped) return;
  state_ = State::stopped;
  ++generation_;
  resolver_.cancel();
  timer_.cancel();
  close_socket();
  queue_.clear();
  queued_bytes_ = 0;
  in_flight_frames_ = 0;
  in_flight_bytes_ = 0;
  writing_ = false;
}

bool OutboundLink::admit(size_t bytes) {
  if (state_ != State::stopped && queued_frames() < config_.queue_frames_max &&
      bytes <= config_.queue_bytes_max && queued_bytes_ <= config_.queue_bytes_max - bytes) {
    return true;
  }
  ++frames_dropped_;
  return false;
}

void OutboundLink::push(std::shared_ptr<const Bytes> record, const Mac& mac) {
  if (state_ == State::stopped) return;
  Entry entry{std::move(record), mac};
  queued_bytes_ += entry.size();
  queue_.push_back(std::move(entry));
  write_more();
}

// ------------------------------------------------------------ connecting

void OutboundLink::begin_connect() {
  state_ = State::resolving;
  const uint64_t generation = ++generation_;
  wait_timer(config_.connect_timeout);
  resolver_.async_resolve(
      config_.host, std::to_string(config_.port),
      [self = shared_from_this(), generation](const boost::system::error_code& ec,
                                              const tcp::resolver::results_type& results) {
        self->on_resolved(generation, ec, results);
      });
}

void OutboundLink::on_resolved(uint64_t generation, const boost::system::error_code& ec,
                               const tcp::resolver::results_type& results) {
  if (generation != generation_ || state_ != State::resolving) return;
  if (ec) {
    connect_failed();
    return;
  }
  state_ = State::connecting;
  asio::async_connect(socket_, results,
                      [self = shared_from_this(), generation](const boost::system::error_code& ec,
                                                              const tcp::endpoint&) {
                        self->on_connected(generation, ec);
                      });
}

void OutboundLink::on_connected(uint64_t generation, const boost::system::error_code& ec) {
  if (generation != generation_ || state_ != State::connecting) return;
  if (ec) {
    connect_failed();
    return;
  }
  timer_.cancel();
  state_ = State::connected;
  connected_at_ = Clock::now();
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.set_option(asio::socket_base::keep_alive(true), ignored);
  watch_for_close();
  write_more();
}

void OutboundLink::connect_failed() {
  ++generation_;
  resolver_.cancel();
  close_socket();
  schedule_retry();
}

void OutboundLink::lose_connection(bool count_error) {
  if (state_ != State::connected) return;
  if (count_error) ++closed_for_errors_;
  ++generation_;
  close_socket();
  drop_in_flight();
  // A connection that stayed up a while was a success: start over.
  if (Clock::now() - connected_at_ >= config_.backoff_max) backoff_ = config_.backoff_initial;
  schedule_retry();
}

void OutboundLink::schedule_retry() {
  state_ = State::backing_off;
  wait_timer(backoff_);
  backoff_ = std::min(backoff_ * 2, config_.backoff_max);
}

void OutboundLink::wait_timer(std::chrono::milliseconds delay) {
  timer_.expires_after(delay);
  timer_.async_wait(
      [self = shared_from_this(), generation = generation_](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        self->on_timer(generation);
      });
}

void OutboundLink::on_timer(uint64_t generation) {
  if (generation != generation_) return;
  switch (state_) {
    case State::resolving:
    case State::connecting:
      connect_failed();  // took too long
      break;
    case State::backing_off:
      begin_connect();
      break;
    default:
      break;
  }
}

void OutboundLink::watch_for_close() {
  socket_.async_read_some(
      asio::buffer(probe_),
      [self = shared_from_this(), generation = generation_](const boost::system::error_code& ec,
                                                            size_t) {
        if (generation != self->generation_) return;
        // The peer never sends: EOF is a close, anything else an error.
        self->lose_connection(ec != asio::error::eof);
      });
}

// --------------------------------------------------------------- writing

void OutboundLink::write_more() {
  if (state_ != State::connected || writing_ || queue_.empty()) return;
  size_t count = 0;
  size_t bytes = 0;
  for (const Entry& entry : queue_) {
    if (count == gather_frames_max || (count > 0 && bytes + entry.size() > gather_bytes_max)) break;
    bytes += entry.size();
    ++count;
  }
  auto batch = std::make_shared<std::vector<Entry>>();
  batch->reserve(count);
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(2 * count);
  for (size_t i = 0; i < count; ++i) {
    batch->push_back(std::move(queue_.front()));
    queue_.pop_front();
    buffers.push_back(asio::buffer(*batch->back().record));
    buffers.push_back(asio::buffer(batch->back().mac));
  }
  in_flight_frames_ = count;
  in_flight_bytes_ = bytes;
  writing_ = true;
  asio::async_write(socket_, buffers,
                    [self = shared_from_this(), generation = generation_, batch](
                        const boost::system::error_code& ec, size_t) {
                      self->on_written(generation, ec);
                    });
}

void OutboundLink::on_written(uint64_t generation, const boost::system::error_code& ec) {
  if (generation != generation_) return;
  if (ec) {
    lose_connection(true);
    return;
  }
  frames_sent_ += in_flight_frames_;
  drop_in_flight();
  write_more();
}

void OutboundLink::drop_in_flight() {
  queued_bytes_ -= in_flight_bytes_;
  in_flight_bytes_ = 0;
  in_flight_frames_ = 0;
  writing_ = false;
}

void OutboundLink::close_socket() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace pbft::transport
