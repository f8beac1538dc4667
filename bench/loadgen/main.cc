// pbft-loadgen: a closed-loop HTTP load generator for pbft-kv (and, for
// comparison, etcd's v3 JSON gateway).
//
// N keep-alive connections, spread round-robin over the targets; each sends
// one request, waits for the answer, and sends the next. Requests are writes
// or reads of uniformly chosen keys in a fixed key space. After a warm-up,
// every answer that arrives before the end is counted, with its latency
// (from the first byte written to the last byte read). One io_context
// thread drives every connection.
//
// Prints one JSON object (ops/s, errors by kind, latency percentiles in ms)
// on stdout, or writes it to --json FILE. Exits 3 when the share of failed
// requests is above --max-error-ratio, 4 when nothing succeeded at all.
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/loadgen/histogram.h"
#include "bench/loadgen/load_report.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace pbft::bench {
namespace {

enum class Mode { pbft, etcd };
// How reads are sent: through ordering (pbft-kv's GET /api/v1/kv; etcd's
// linearizable range), the read-only fast path (pbft-kv: the same route
// with consistency=fast; etcd: linearizable, which is its ReadIndex path), or
// one replica's local state (pbft-kv: /api/v1/kv/local; etcd: serializable).
enum class ReadPath { ordered, fast, local };

struct Options {
  std::vector<std::string> targets;
  Mode mode = Mode::pbft;
  ReadPath read_path = ReadPath::ordered;
  uint32_t connections = 16;
  double duration_s = 10;
  double warmup_s = 2;
  uint32_t key_size = 16;
  uint32_t value_size = 100;
  uint64_t keys = 10000;
  double read_ratio = 0;
  uint32_t timeout_ms = 10000;
  double max_error_ratio = 0.001;
  uint64_t seed = 1;
  bool progress = false;
  std::string json_path;
  std::string label;
};

struct Target {
  std::string url;
  std::string host;
  std::string port;
  tcp::endpoint endpoint;
};

// "http://host:port[/]" or "host:port".
Target parse_target(const std::string& text) {
  std::string rest = text;
  if (rest.starts_with("https://")) throw std::invalid_argument("https is not supported: " + text);
  if (rest.starts_with("http://")) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) throw std::invalid_argument("a target has no path: " + text);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
    throw std::invalid_argument("expected http://host:port, got " + text);
  Target t{text, rest.substr(0, colon), rest.substr(colon + 1), {}};
  for (char c : t.port)
    if (c < '0' || c > '9') throw std::invalid_argument("bad port in " + text);
  return t;
}

std::string base64(std::string_view in) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

struct Results {
  Histogram all, reads, writes;
  uint64_t ok_reads = 0, ok_writes = 0;
  std::map<std::string, uint64_t> errors;  // kind -> count, within the measured window
  uint64_t errors_total() const {
    uint64_t n = 0;
    for (const auto& [_, c] : errors) n += c;
    return n;
  }
};

class Generator;

// One keep-alive connection running requests back to back.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Generator& g, asio::io_context& io, const Target& target, uint64_t seed)
      : g_(g), target_(target), socket_(io), timer_(io), retry_(io), rng_(seed) {}

  void start() { connect(); }
  void close() {
    beast::error_code ec;
    socket_.close(ec);
    timer_.cancel();
    retry_.cancel();
  }

 private:
  void connect();
  void issue();
  void on_answer(beast::error_code ec);
  void fail(const std::string& kind);
  void build(bool read);

  Generator& g_;
  const Target& target_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::steady_timer retry_;
  std::mt19937_64 rng_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Clock::time_point sent_at_;
  bool read_ = false;
  bool timed_out_ = false;
  uint64_t generation_ = 0;  // requests issued: tells a stale timer from the current one
};

class Generator {
 public:
  Generator(asio::io_context& io, Options o, std::vector<Target> targets)
      : io_(io), o_(std::move(o)), targets_(std::move(targets)), tick_(io), signals_(io, SIGINT, SIGTERM) {
    // A pool of printable random bytes: values are windows into it, so that
    // they differ from request to request without costing a random number
    // per byte.
    std::mt19937_64 rng(o_.seed);
    static constexpr char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    pool_.resize(o_.value_size + 4096);
    for (char& c : pool_) c = chars[rng() % (sizeof chars - 1)];
  }

  void run() {
    start_ = Clock::now();
    measure_from_ = start_ + to_duration(o_.warmup_s);
    end_ = measure_from_ + to_duration(o_.duration_s);
    signals_.async_wait([this](beast::error_code ec, int sig) {
      if (ec) return;
      std::cerr << "pbft-loadgen: signal " << sig << ": stopping early\n";
      interrupted_ = true;
      end_ = std::min(end_, Clock::now());
      finish();
    });
    for (uint32_t i = 0; i < o_.connections; ++i) {
      auto c = std::make_shared<Connection>(*this, io_, targets_[i % targets_.size()], o_.seed * 1000003 + i);
      connections_.push_back(c);
      c->start();
    }
    schedule_tick();
    io_.run();
  }

  // ---- for connections
  const Options& options() const { return o_; }
  bool stopping() const { return stopping_; }
  bool measuring(Clock::time_point t) const { return t >= measure_from_ && t <= end_; }
  std::string_view value(uint64_t offset) const {
    return std::string_view(pool_).substr(offset % (pool_.size() - o_.value_size), o_.value_size);
  }
  std::string key(uint64_t n) const { return key_name(n, o_.key_size); }
  void record(bool read, Clock::time_point sent, Clock::time_point done) {
    ++second_ops_;
    if (!measuring(done)) return;
    const auto ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(done - sent).count());
    r_.all.record(ns);
    (read ? r_.reads : r_.writes).record(ns);
    ++(read ? r_.ok_reads : r_.ok_writes);
  }
  void record_error(const std::string& kind) {
    ++second_errors_;
    ++errors_all_;
    if (measuring(Clock::now())) ++r_.errors[kind];
    if (first_error_.empty()) first_error_ = kind;
  }
  const Results& results() const { return r_; }
  bool interrupted() const { return interrupted_; }
  double measured_seconds() const {
    return std::max(0.0, std::chrono::duration<double>(end_ - measure_from_).count());
  }
  uint64_t errors_all() const { return errors_all_; }
  const std::string& first_error() const { return first_error_; }

 private:
  static Clock::duration to_duration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
  void schedule_tick() {
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      const auto now = Clock::now();
      if (o_.progress) {
        const double t = std::chrono::duration<double>(now - start_).count();
        std::fprintf(stderr, "pbft-loadgen: %5.1f s %s %8llu ops/s %6llu errors\n", t,
                     now - std::chrono::milliseconds(500) < measure_from_ ? "warm-up " : "measured", static_cast<unsigned long long>(second_ops_),
                     static_cast<unsigned long long>(second_errors_));
      }
      second_ops_ = 0;
      second_errors_ = 0;
      if (now >= end_) {
        finish();
        return;
      }
      schedule_tick();
    });
  }
  // No new requests; the ones in flight get one second to finish (not
  // counted: they end after the window), then every socket closes.
  void finish() {
    if (stopping_) return;
    stopping_ = true;
    signals_.cancel();
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([this](beast::error_code) {
      for (auto& c : connections_) c->close();
    });
  }

  asio::io_context& io_;
  Options o_;
  std::vector<Target> targets_;
  asio::steady_timer tick_;
  asio::signal_set signals_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::string pool_;
  Clock::time_point start_, measure_from_, end_;
  bool stopping_ = false;
  bool interrupted_ = false;
  Results r_;
  uint64_t second_ops_ = 0, second_errors_ = 0, errors_all_ = 0;
  std::string first_error_;
};

void Connection::connect() {
  if (g_.stopping()) return;
  beast::error_code ignored;
  socket_.close(ignored);
  buffer_.clear();
  socket_.async_connect(target_.endpoint, [self = shared_from_this()](beast::error_code ec) {
    if (self->g_.stopping()) return;
    if (ec) {
      self->fail("connect: " + ec.message());
      return;
    }
    beast::error_code ignored;
    self->socket_.set_option(tcp::no_delay(true), ignored);
    self->issue();
  });
}

void Connection::build(bool read) {
  const Options& o = g_.options();
  const std::string key = g_.key(rng_() % o.keys);
  req_ = {};
  req_.version(11);
  req_.set(http::field::host, target_.host + ":" + target_.port);
  req_.keep_alive(true);
  if (o.mode == Mode::pbft) {
    if (read) {
      req_.method(http::verb::get);
      req_.target(o.read_path == ReadPath::local  ? "/api/v1/kv/local?key=" + key
                  : o.read_path == ReadPath::fast ? "/api/v1/kv?key=" + key + "&consistency=fast"
                                                  : "/api/v1/kv?key=" + key);
    } else {
      req_.method(http::verb::post);
      req_.target("/api/v1/kv");
      req_.set(http::field::content_type, "application/json");
      // Keys and values are [0-9a-zA-Z]: nothing to escape.
      std::string body;
      body.reserve(o.value_size + key.size() + 32);
      body.append("{\"key\":\"").append(key).append("\",\"value\":\"").append(g_.value(rng_())).append("\"}");
      req_.body() = std::move(body);
    }
  } else {
    req_.method(http::verb::post);
    req_.set(http::field::content_type, "application/json");
    if (read) {
      req_.target("/v3/kv/range");
      req_.body() = "{\"key\":\"" + base64(key) + "\"" +
                    (o.read_path == ReadPath::local ? ",\"serializable\":true}" : "}");
    } else {
      req_.target("/v3/kv/put");
      req_.body() = "{\"key\":\"" + base64(key) + "\",\"value\":\"" + base64(g_.value(rng_())) + "\"}";
    }
  }
  req_.prepare_payload();
}

void Connection::issue() {
  if (g_.stopping()) {
    close();
    return;
  }
  const Options& o = g_.options();
  read_ = o.read_ratio > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < o.read_ratio;
  build(read_);
  parser_.emplace();
  parser_->body_limit(64u << 20);
  timed_out_ = false;
  const uint64_t gen = ++generation_;
  timer_.expires_after(std::chrono::milliseconds(o.timeout_ms));
  timer_.async_wait([self = shared_from_this(), gen](beast::error_code ec) {
    if (ec || gen != self->generation_) return;
    self->timed_out_ = true;
    beast::error_code ignored;
    self->socket_.cancel(ignored);
  });
  sent_at_ = Clock::now();
  http::async_write(socket_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) {
      self->on_answer(ec);
      return;
    }
    http::async_read(self->socket_, self->buffer_, *self->parser_,
                     [self](beast::error_code ec, size_t) { self->on_answer(ec); });
  });
}

void Connection::on_answer(beast::error_code ec) {
  const auto done = Clock::now();
  timer_.cancel();
  if (g_.stopping()) {
    close();
    return;
  }
  if (ec) {
    fail(timed_out_ ? std::string("timeout") : "io: " + ec.message());
    return;
  }
  const auto& res = parser_->get();
  if (res.result_int() != 200) {
    g_.record_error("http " + std::to_string(res.result_int()));
  } else {
    g_.record(read_, sent_at_, done);
  }
  if (!res.keep_alive()) {
    connect();
    return;
  }
  issue();
}

// The connection is reset and opened again after a short pause (so that a
// target that is down is not hammered).
void Connection::fail(const std::string& kind) {
  g_.record_error(kind);
  beast::error_code ignored;
  socket_.close(ignored);
  retry_.expires_after(std::chrono::milliseconds(100));
  retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->connect();
  });
}

int run(int argc, char** argv) {
  CLI::App app{"pbft-loadgen: closed-loop HTTP load against pbft-kv (or etcd's v3 JSON gateway)"};
  Options o;
  std::string mode = "pbft", read_path = "ordered";
  app.add_option("--target", o.targets,
                 "http://host:port of a replica (repeat or comma-separate; connections are spread over them)")
      ->required()
      ->delimiter(',');
  app.add_option("--mode", mode, "pbft: /api/v1/kv; etcd: /v3/kv/put and /v3/kv/range")
      ->check(CLI::IsMember({"pbft", "etcd"}))
      ->capture_default_str();
  app.add_option("--connections,-c", o.connections, "Concurrent connections, one request in flight each")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "Measured seconds (after the warm-up)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "Seconds of load before measuring")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--key-size", o.key_size, "Bytes per key ('k' and a zero-padded number)")
      ->check(CLI::Range(2u, 65536u))
      ->capture_default_str();
  app.add_option("--value-size", o.value_size, "Bytes per value written")
      ->check(CLI::Range(0u, 1u << 20))
      ->capture_default_str();
  app.add_option("--keys", o.keys, "Key space: keys are chosen uniformly among this many")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--read-ratio", o.read_ratio, "Share of requests that are reads (0..1)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--read-path", read_path,
                 "ordered: reads go through ordering; fast: pbft-kv's read-only fast path (consistency=fast); "
                 "local: one replica's state (pbft-kv /api/v1/kv/local, etcd serializable)")
      ->check(CLI::IsMember({"ordered", "fast", "local"}))
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "A request without an answer by then is an error (the "
                                               "connection is opened again)")
      ->check(CLI::Range(1u, 3600000u))
      ->capture_default_str();
  app.add_option("--max-error-ratio", o.max_error_ratio,
                 "Exit 3 when failed / (failed + succeeded) is above this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of key choice and values")->capture_default_str();
  app.add_option("--label", o.label, "A name copied into the JSON output");
  app.add_option("--json", o.json_path, "Write the JSON result to this file instead of stdout");
  app.add_flag("--progress", o.progress, "A line per second on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.mode = mode == "etcd" ? Mode::etcd : Mode::pbft;
  o.read_path = read_path == "fast" ? ReadPath::fast : read_path == "local" ? ReadPath::local : ReadPath::ordered;

  std::string digits_needed = std::to_string(o.keys - 1);
  if (1 + digits_needed.size() > o.key_size) {
    std::cerr << "pbft-loadgen: --key-size " << o.key_size << " is too small for " << o.keys
              << " keys (needs " << 1 + digits_needed.size() << ")\n";
    return 2;
  }

  asio::io_context io(1);
  std::vector<Target> targets;
  try {
    tcp::resolver resolver(io);
    for (const std::string& text : o.targets) {
      Target t = parse_target(text);
      auto found = resolver.resolve(t.host, t.port);
      if (found.empty()) throw std::invalid_argument("cannot resolve " + text);
      t.endpoint = found.begin()->endpoint();
      targets.push_back(std::move(t));
    }
  } catch (const std::exception& e) {
    std::cerr << "pbft-loadgen: " << e.what() << "\n";
    return 2;
  }

  Generator g(io, o, targets);
  g.run();

  const Results& r = g.results();
  const double seconds = g.measured_seconds();
  const uint64_t ok = r.ok_reads + r.ok_writes;
  const uint64_t failed = r.errors_total();
  const double error_ratio = ok + failed ? static_cast<double>(failed) / static_cast<double>(ok + failed) : 1.0;
  json out = {{"label", o.label},
              {"mode", mode},
              {"targets", o.targets},
              {"connections", o.connections},
              {"duration_s", o.duration_s},
              {"warmup_s", o.warmup_s},
              {"measured_s", seconds},
              {"key_size", o.key_size},
              {"value_size", o.value_size},
              {"keys", o.keys},
              {"read_ratio", o.read_ratio},
              {"read_path", read_path},
              {"ops", ok},
              {"ops_per_s", seconds > 0 ? static_cast<double>(ok) / seconds : 0.0},
              {"reads", r.ok_reads},
              {"writes", r.ok_writes},
              {"errors", failed},
              {"errors_by_kind", r.errors},
              {"errors_including_warmup", g.errors_all()},
              {"error_ratio", error_ratio},
              {"interrupted", g.interrupted()},
              {"latency", latency_json(r.all)},
              {"read_latency", latency_json(r.reads)},
              {"write_latency", latency_json(r.writes)}};
  const std::string text = out.dump(2) + "\n";
  if (o.json_path.empty()) {
    std::cout << text;
  } else {
    std::ofstream f(o.json_path);
    f << text;
    if (!f) {
      std::cerr << "pbft-loadgen: cannot write " << o.json_path << "\n";
      return 2;
    }
  }
  if (ok == 0) {
    std::cerr << "pbft-loadgen: no request succeeded (" << failed << " failed; first error: "
              << (g.first_error().empty() ? "none" : g.first_error()) << ")\n";
    return 4;
  }
  if (error_ratio > o.max_error_ratio) {
    std::cerr << "pbft-loadgen: " << failed << " of " << ok + failed << " requests failed (" << error_ratio * 100
              << "%, above --max-error-ratio " << o.max_error_ratio * 100 << "%): " << out["errors_by_kind"].dump()
              << "\n";
    return 3;
  }
  return 0;
}

}  // namespace
}  // namespace pbft::bench

int main(int argc, char** argv) { return pbft::bench::run(argc, argv); }
