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
  if (closed_ || !reader_.mid_frame()) return;
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
