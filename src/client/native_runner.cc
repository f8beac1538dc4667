#include "client/native_runner.h"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "common/client_id.h"
#include "wire/codec.h"

namespace pbft::client {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
// A reply frame's body: the result and a little.
constexpr size_t reply_body_bytes_max = wire::result_bytes_max + 1024;
}  // namespace

struct NativeRunner::Link {
  explicit Link(asio::io_context& io, uint64_t cluster_id)
      : socket(io), splitter(cluster_id, reply_body_bytes_max, mac_size) {}
  tcp::socket socket;
  enum class State { idle, connecting, open } state = State::idle;
  transport::FrameSplitter splitter;
  std::deque<std::shared_ptr<const Bytes>> queue;
  bool writing = false;
  uint64_t generation = 0;  // a new one per connection: older handlers see they are stale
  std::string error;        // why the last connection failed
  std::array<uint8_t, 16 * 1024> buffer{};
};

struct NativeRunner::Call {
  ReplyTally tally;
  std::optional<TalliedAnswer> answer;
};

namespace {
crypto::Keyring client_keyring(const NativeOptions& o) {
  crypto::Keyring k;
  k.self = o.key;
  k.self_is_replica = false;
  k.self_id = o.client_id;
  k.replicas = o.replica_keys;
  return k;
}
}  // namespace

NativeRunner::NativeRunner(NativeOptions options)
    : options_(std::move(options)), crypto_(client_keyring(options_)) {
  if (options_.replicas.empty()) throw std::invalid_argument("no replica client endpoints");
  if (options_.replicas.size() != options_.replica_keys.size())
    throw std::invalid_argument(std::to_string(options_.replicas.size()) + " client endpoints but " +
                                std::to_string(options_.replica_keys.size()) +
                                " replica keys (the binary protocol needs one endpoint per replica, in id order)");
  if (options_.client_id == 0 || gateway_of(options_.client_id))
    throw std::invalid_argument("client id " + std::to_string(options_.client_id) +
                                " is not a client id (1..4294967295)");
  for (size_t i = 0; i < options_.replicas.size(); ++i)
    links_.push_back(std::make_unique<Link>(io_, options_.cluster_id));
}

NativeRunner::~NativeRunner() {
  for (auto& l : links_) {
    boost::system::error_code ignored;
    l->socket.close(ignored);
  }
}

uint64_t NativeRunner::next_timestamp() {
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  last_timestamp_ = std::max(last_timestamp_ + 1, static_cast<uint64_t>(now.count()));
  return last_timestamp_;
}

void NativeRunner::drop(ReplicaId i) {
  Link& l = *links_[i];
  ++l.generation;
  boost::system::error_code ignored;
  l.socket.close(ignored);
  l.state = Link::State::idle;
  l.queue.clear();
  l.writing = false;
  l.splitter = transport::FrameSplitter(options_.cluster_id, reply_body_bytes_max, mac_size);
}

void NativeRunner::connect(ReplicaId i) {
  Link& l = *links_[i];
  l.state = Link::State::connecting;
  const uint64_t gen = ++l.generation;
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(options_.replicas[i].host, std::to_string(options_.replicas[i].port),
                                    tcp::resolver::numeric_service, ec);
  if (ec) {
    l.error = "cannot resolve " + options_.replicas[i].name() + ": " + ec.message();
    drop(i);
    return;
  }
  asio::async_connect(l.socket, endpoints, [this, i, gen](const boost::system::error_code& e, const tcp::endpoint&) {
    Link& link = *links_[i];
    if (link.generation != gen) return;
    if (e) {
      link.error = options_.replicas[i].name() + ": " + e.message();
      drop(i);
      return;
    }
    boost::system::error_code ignored;
    link.socket.set_option(tcp::no_delay(true), ignored);
    link.state = Link::State::open;
    link.error.clear();
    read(i);
    if (!link.queue.empty() && !link.writing) write_next(i);
  });
}

void NativeRunner::send(ReplicaId to, const std::shared_ptr<const Bytes>& frame) {
  Link& l = *links_[to];
  l.queue.push_back(frame);
  if (l.state == Link::State::idle) connect(to);
  else if (l.state == Link::State::open && !l.writing) write_next(to);
}

void NativeRunner::write_next(ReplicaId to) {
  Link& l = *links_[to];
  l.writing = true;
  const uint64_t gen = l.generation;
  asio::async_write(l.socket, asio::buffer(*l.queue.front()), [this, to, gen](const boost::system::error_code& ec, size_t) {
    Link& link = *links_[to];
    if (link.generation != gen) return;
    link.writing = false;
    if (ec) {
      link.error = options_.replicas[to].name() + ": " + ec.message();
      drop(to);
      return;
    }
    link.queue.pop_front();
    if (!link.queue.empty()) write_next(to);
  });
}

void NativeRunner::read(ReplicaId from) {
  Link& l = *links_[from];
  const uint64_t gen = l.generation;
  l.socket.async_read_some(asio::buffer(l.buffer), [this, from, gen](const boost::system::error_code& ec, size_t n) {
    Link& link = *links_[from];
    if (link.generation != gen) return;
    if (ec) {
      link.error = options_.replicas[from].name() + ": " + (ec == asio::error::eof ? "closed the connection" : ec.message());
      drop(from);
      return;
    }
    link.splitter.append(ByteView(link.buffer.data(), n));
    for (;;) {
      transport::FrameSplitter::Event e = link.splitter.next();
      if (e.kind == transport::FrameSplitter::Event::Kind::need_more) break;
      const auto* reply = e.kind == transport::FrameSplitter::Event::Kind::message
                              ? std::get_if<wire::Reply>(&*e.message)
                              : nullptr;
      bool mac_ok = false;
      if (reply != nullptr && e.trailer.size() == mac_size) {
        Mac mac{};
        std::copy(e.trailer.begin(), e.trailer.end(), mac.begin());
        mac_ok = crypto_.verify_replica_mac(from, e.frame, mac);
      }
      if (reply == nullptr || !mac_ok) {
        link.error = options_.replicas[from].name() + ": sent " +
                     (reply != nullptr ? "a reply with a bad MAC"
                      : e.message ? "a message that is not a reply"
                                  : "a bad frame (" + e.reason + ")");
        ++refused_;
        drop(from);
        return;
      }
      if (call_ != nullptr && !call_->answer) {
        const uint64_t before = call_->tally.refused();
        call_->answer = call_->tally.add(from, *reply, mac_ok);
        refused_ += call_->tally.refused() - before;
      }
    }
    read(from);
  });
}

std::string NativeRunner::unreachable() const {
  std::string out;
  for (const auto& l : links_) {
    if (l->state == Link::State::open || l->error.empty()) continue;
    out += (out.empty() ? "" : "; ") + l->error;
  }
  return out;
}

std::optional<NativeRunner::Answer> NativeRunner::attempt(const kv::Operation& op, bool fast, Clock::time_point deadline) {
  wire::Request request;
  request.client = options_.client_id;
  request.timestamp = next_timestamp();
  request.operation = kv::encode_operation(op);
  request.flags = (options_.signed_replies ? wire::Request::flag_signed_reply : 0) |
                  (fast ? wire::Request::flag_read_only : wire::Request::flag_sent_to_all);
  // A fast read is answered to this client alone: the frame's MAC is all
  // a replica needs. An ordered request travels on in batches: signed.
  if (!fast) request.sig = crypto_.sign(wire::signing_bytes(request));
  const Bytes frame = wire::encode_frame(options_.cluster_id, request);
  const auto n = static_cast<uint32_t>(options_.replicas.size());
  std::vector<std::shared_ptr<const Bytes>> framed;  // per replica: the frame and its MAC
  for (ReplicaId i = 0; i < n; ++i) {
    const std::optional<Mac> mac = crypto_.mac_to_replica(i, frame);
    if (!mac) throw std::runtime_error("no MAC key with replica " + std::to_string(i) + " (is its public key valid?)");
    Bytes f = frame;
    f.insert(f.end(), mac->begin(), mac->end());
    framed.push_back(std::make_shared<const Bytes>(std::move(f)));
  }
  const uint32_t quorum = fast ? n : (n - 1) / 3 + 1;
  Call call{ReplyTally(request, fast, quorum, n, crypto_), std::nullopt};
  call_ = &call;
  struct Reset {
    Call*& c;
    ~Reset() { c = nullptr; }
  } reset{call_};

  auto send_all = [&] {
    for (ReplicaId i = 0; i < n; ++i) send(i, framed[i]);
  };
  send_all();
  Clock::time_point next_retry = Clock::now() + std::chrono::milliseconds(options_.retry_ms);
  asio::steady_timer timer(io_);
  for (;;) {
    auto fired = std::make_shared<bool>(false);
    timer.expires_at(fast ? deadline : std::min(next_retry, deadline));
    timer.async_wait([fired](const boost::system::error_code&) { *fired = true; });
    io_.restart();
    while (!call.answer && !*fired && !(fast && call.tally.hopeless())) io_.run_one();
    timer.cancel();
    if (call.answer) break;
    if (fast || Clock::now() >= deadline) return std::nullopt;
    send_all();  // the backups pass it on to the primary now
    next_retry += std::chrono::milliseconds(options_.retry_ms);
  }
  std::optional<kv::Result> result = kv::decode_result(call.answer->result);
  if (!result) throw std::runtime_error("f+1 replicas signed an answer that does not decode");
  return Answer{std::move(*result), fast, request.timestamp};
}

NativeRunner::Answer NativeRunner::run(const kv::Operation& op, bool fast) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  if (fast) {
    const Clock::time_point fast_deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(options_.fast_fallback_ms));
    if (std::optional<Answer> a = attempt(op, true, fast_deadline)) return std::move(*a);
  }
  if (std::optional<Answer> a = attempt(op, false, deadline)) return std::move(*a);
  const std::string down = unreachable();
  throw NativeTimeout("no f+1 matching signed replies within " + std::to_string(options_.timeout_ms) + " ms" +
                      (down.empty() ? "" : " (" + down + ")") +
                      (refused_ > 0 ? "; " + std::to_string(refused_) + " replies refused so far" : ""));
}

}  // namespace pbft::client
