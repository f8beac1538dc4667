#include "transport/inbound_connection.h"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <utility>

namespace pbft::transport {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

InboundConnection::InboundConnection(asio::ip::tcp::socket socket, FrameReader reader,
                                     std::chrono::milliseconds stall_timeout,
                                     std::chrono::microseconds turn_budget, Sink& sink)
    : socket_(std::move(socket)),
      stall_timer_(socket_.get_executor()),
      hold_timer_(socket_.get_executor()),
      reader_(std::move(reader)),
      stall_timeout_(stall_timeout),
      turn_budget_(turn_budget),
      sink_(&sink) {}

void InboundConnection::start() {
  boost::system::error_code ignored;
  socket_.set_option(asio::socket_base::keep_alive(true), ignored);
  read();
}

void InboundConnection::close() {
  if (closed_) return;
  closed_ = true;
  sink_ = nullptr;
  boost::system::error_code ignored;
  socket_.close(ignored);
  stall_timer_.cancel();
  hold_timer_.cancel();
}

void InboundConnection::hold_until(Clock::time_point until) {
  if (closed_ || until <= held_until_) return;
  held_until_ = until;
  // A read in progress, or the turn in progress, stops at its next step.
}

void InboundConnection::wait_out_hold() {
  if (waiting_out_hold_) return;
  waiting_out_hold_ = true;
  hold_timer_.expires_at(held_until_);
  hold_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || self->closed_) return;
    self->waiting_out_hold_ = false;
    if (self->held()) {  // extended meanwhile
      self->wait_out_hold();
      return;
    }
    self->last_progress_ = Clock::now();  // the peer was not stalling: we were not reading
    self->take_turn();
  });
}

void InboundConnection::read() {
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->on_read(ec, n); });
}

void InboundConnection::on_read(const boost::system::error_code& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    if (ec == asio::error::eof) {
      close_for(CloseReason::eof, "closed by peer");
    } else {
      close_for(CloseReason::read_error, ec.message());
    }
    return;
  }
  last_progress_ = Clock::now();
  unread_begin_ = 0;
  unread_end_ = n;
  take_turn();
}

void InboundConnection::take_turn() {
  const Clock::time_point started = Clock::now();
  while (unread_begin_ < unread_end_) {
    if (held()) {
      wait_out_hold();
      return;
    }
    if (Clock::now() - started >= turn_budget_) {
      asio::post(socket_.get_executor(), [self = shared_from_this()] {
        if (!self->closed_) self->take_turn();
      });
      return;
    }
    FrameReader::Event event;
    unread_begin_ += reader_.feed(ByteView(read_buffer_.data() + unread_begin_, unread_end_ - unread_begin_), event);
    if (event.kind == FrameReader::Event::Kind::fault) {
      close_for(event.fault == FrameReader::Fault::bad_mac ? CloseReason::bad_mac
                                                           : CloseReason::bad_frame,
                event.reason);
      return;
    }
    if (event.kind == FrameReader::Event::Kind::message) {
      if (!announced_bound_) {
        announced_bound_ = true;
        sink_->inbound_bound(*this, event.sender);
        if (closed_) return;
      }
      sink_->inbound_message(*this, event.sender, std::move(*event.message));
      // The handler may have stopped the network.
      if (closed_) return;
    }
  }
  if (held()) {
    wait_out_hold();
    return;
  }
  if (reader_.mid_frame()) arm_stall_timer();
  read();
}

void InboundConnection::arm_stall_timer() {
  if (stall_timer_armed_) return;
  stall_timer_armed_ = true;
  stall_timer_.expires_at(last_progress_ + stall_timeout_);
  stall_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    self->on_stall_timer();
  });
}

void InboundConnection::on_stall_timer() {
  stall_timer_armed_ = false;
  // Held: armed again when the hold ends and reading goes on.
  if (closed_ || !reader_.mid_frame() || waiting_out_hold_) return;
  if (Clock::now() - last_progress_ >= stall_timeout_) {
    close_for(CloseReason::stalled, "stalled in the middle of a frame");
    return;
  }
  arm_stall_timer();  // bytes came since: wait from the latest progress
}

void InboundConnection::close_for(CloseReason why, const std::string& detail) {
  if (closed_) return;
  Sink* sink = sink_;
  close();
  sink->inbound_closed(*this, why, detail);
}

}  // namespace pbft::transport
