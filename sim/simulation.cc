#include "sim/simulation.h"

#include <algorithm>
#include <exception>
#include <iomanip>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <variant>

#include "common/assert.h"
#include "core/replica.h"
#include "crypto/fake_crypto.h"
#include "kv/kv_store.h"
#include "kv/operation.h"
#include "kv/state_fetcher.h"
#include "storage/faulty_storage.h"
#include "storage/memory_storage.h"
#include "storage/replica_store.h"
#include "sim/byzantine.h"
#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/rng.h"
#include "sim/sim_client.h"
#include "wire/codec.h"

namespace pbft::sim {
namespace {

// ---- invariants of the core surface as exceptions ----

struct InvariantError : std::exception {
  std::string where;
  std::string message;
  const char* what() const noexcept override { return message.c_str(); }
};

void throw_invariant(const char* file, int line, const std::string& message) {
  InvariantError e;
  e.where = std::string(file) + ":" + std::to_string(line);
  e.message = message;
  throw e;
}

std::once_flag handler_installed;

// ---- events ----

// An encoded frame, shared by every delivery of one send. Decoding is a
// pure function of the bytes, so the first receiver's result is kept for
// the others (each receiver still checks its own MAC over the bytes).
struct Frame {
  explicit Frame(Bytes b) : bytes(std::move(b)) {}
  Bytes bytes;
  std::optional<wire::Decoded<wire::Message>> decoded;

  const wire::Decoded<wire::Message>& decode(uint64_t cluster_id) {
    if (!decoded) decoded = wire::decode_frame(bytes, cluster_id);
    return *decoded;
  }
};
using FramePtr = std::shared_ptr<Frame>;

struct TickEv {
  ReplicaId replica;
};
struct MessageEv {
  ReplicaId from;           // the real sender (for partitions)
  ReplicaId envelope_from;  // who the envelope claims
  ReplicaId to;
  FramePtr frame;
  Mac mac;
};
struct RequestEv {
  ReplicaId to;
  FramePtr frame;
};
struct ReplyEv {
  uint32_t client;
  ReplicaId from;
  FramePtr frame;
};
struct ClientNextEv {
  uint32_t client;
};
struct ClientTimerEv {
  uint32_t client;
  uint64_t timestamp;
};
struct CrashEv {
  ReplicaId replica;
  bool wipe;
};
struct RestartEv {
  ReplicaId replica;
};
struct PartitionEv {
  size_t index;
  bool start;
};
struct HealEv {};
struct DeadlineEv {};
// The host's answer to Output::propose (Config::defer_proposals), for the
// process `life` of that replica.
struct ProposeEv {
  ReplicaId replica;
  uint64_t life;
};

using Event = std::variant<TickEv, MessageEv, RequestEv, ReplyEv, ClientNextEv, ClientTimerEv,
                           CrashEv, RestartEv, PartitionEv, HealEv, DeadlineEv, ProposeEv>;

constexpr ClientId first_client_id = 1000;
constexpr uint64_t event_budget = 20'000'000;
constexpr Time fast_read_timeout = 100 * us_per_ms;  // then the read is ordered

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The body checksum in a frame header: a cheap fingerprint of the message.
uint32_t frame_crc(const Bytes& frame) {
  if (frame.size() < wire::frame_header_size) return 0;
  return static_cast<uint32_t>(frame[20]) | static_cast<uint32_t>(frame[21]) << 8 |
         static_cast<uint32_t>(frame[22]) << 16 | static_cast<uint32_t>(frame[23]) << 24;
}

std::string message_summary(const wire::Message& m) {
  std::ostringstream s;
  s << wire::type_name(m);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, wire::Request>) {
          s << " " << request_name(x.client, x.timestamp);
        } else if constexpr (std::is_same_v<T, wire::PrePrepare>) {
          s << " v" << x.view << " s" << x.seq << " d=" << short_hex(x.digest) << " ["
            << x.batch.size() << " req]";
        } else if constexpr (std::is_same_v<T, wire::Prepare> || std::is_same_v<T, wire::Commit>) {
          s << " v" << x.view << " s" << x.seq << " d=" << short_hex(x.digest) << " by r" << x.replica;
        } else if constexpr (std::is_same_v<T, wire::Checkpoint>) {
          s << " s" << x.seq << " d=" << short_hex(x.state_digest) << " by r" << x.replica;
        } else if constexpr (std::is_same_v<T, wire::ViewChange>) {
          s << " to v" << x.new_view << " h=" << x.stable_seq << " certs=" << x.prepared.size()
            << " by r" << x.replica;
        } else if constexpr (std::is_same_v<T, wire::NewView>) {
          s << " v" << x.view << " vcs=" << x.view_changes.size()
            << " pps=" << x.pre_prepares.size() << " by r" << x.replica;
        } else if constexpr (std::is_same_v<T, wire::Reply>) {
          s << " " << request_name(x.client, x.timestamp) << " v" << x.view << " by r" << x.replica;
        } else if constexpr (std::is_same_v<T, wire::Status>) {
          s << " v" << x.view << (x.view_active ? "" : "(changing)") << " h=" << x.stable_seq
            << " exec=" << x.last_executed << " by r" << x.replica;
        } else if constexpr (std::is_same_v<T, wire::StableCheckpoint>) {
          if (!x.certificate.empty())
            s << " s" << x.certificate.front().seq << " d=" << short_hex(x.certificate.front().state_digest);
          s << " (" << x.certificate.size() << " sigs)";
        }
      },
      m);
  return s.str();
}

std::string result_summary(const Bytes& result) {
  auto r = kv::decode_result(ByteView(result));
  if (!r) return "<undecodable>";
  if (r->status == kv::ResultStatus::not_found) return "not-found";
  if (r->status == kv::ResultStatus::bad_operation) return "bad-operation";
  if (r->status == kv::ResultStatus::conflict) return "conflict";
  return r->value ? "'" + *r->value + "'" : "ok";
}

std::string operation_summary(const Bytes& op) {
  auto o = kv::decode_operation(ByteView(op));
  if (!o) return "<undecodable>";
  switch (o->kind) {
    case kv::OpKind::get: return "get " + o->key;
    case kv::OpKind::put: return "put " + o->key + "=" + o->value;
    case kv::OpKind::del: return "del " + o->key;
    case kv::OpKind::range:
      return "range [" + o->key + ", " + (o->range_end.empty() ? "end" : o->range_end) + ") limit " +
             std::to_string(o->limit);
    case kv::OpKind::cas: return "cas " + o->key + " " + (o->expected ? *o->expected : "<absent>") + "->" + o->value;
    case kv::OpKind::txn:
      return "txn " + std::to_string(o->compares.size()) + " compares, " + std::to_string(o->success.size()) + "/" +
             std::to_string(o->failure.size()) + " ops";
  }
  return "?";
}

// One replica's machine: its disk (memory behind a fault-injecting
// wrapper), and while it runs, the process: protocol store, KV store,
// replica and state fetcher, all opened from that disk.
struct Host {
  Host(ReplicaId i, uint64_t secret) : id(i), crypto(secret, crypto::Principal::replica(i)) {
    wipe_disk();
  }
  void wipe_disk() {
    disk = std::make_unique<storage::MemoryStorage>();
    storage = std::make_unique<storage::FaultyStorage>(*disk);
  }
  // Starts the process from what the disk holds.
  void open(const core::Config& config) {
    store = std::make_unique<storage::ReplicaStore>(*storage);
    std::optional<core::DurableState> durable = store->load();
    kv = std::make_unique<kv::KvStore>(*storage);
    replica = std::make_unique<core::Replica>(config, id, crypto, *kv,
                                              durable.value_or(core::DurableState{}));
    ++life;
    propose_queued = false;
    kv::FetchOptions o;
    o.self = id;
    o.replica_count = config.replica_count;
    o.chunk_bytes = 4096;  // small chunks: a transfer takes several, even of a small state
    o.timeout_ticks = 20;
    fetcher = std::make_unique<kv::StateFetcher>(*kv, crypto, o);
  }
  // Kills the process; the disk keeps what was synced and the first `keep`
  // unsynced writes.
  void crash(size_t keep) {
    fetcher.reset();
    replica.reset();
    kv.reset();
    store.reset();
    storage->crash(keep);
  }
  ReplicaId id;
  crypto::FakeCrypto crypto;
  std::unique_ptr<storage::MemoryStorage> disk;
  std::unique_ptr<storage::FaultyStorage> storage;
  std::unique_ptr<storage::ReplicaStore> store;
  std::unique_ptr<kv::KvStore> kv;
  std::unique_ptr<core::Replica> replica;  // null while crashed
  std::unique_ptr<kv::StateFetcher> fetcher;
  std::unique_ptr<Byzantine> byz;
  uint64_t life = 0;            // processes started on this machine
  bool propose_queued = false;  // a ProposeEv for this life is on its way
};

struct ClientSlot {
  ClientSlot(SimClient c, Rng r, uint32_t left) : client(std::move(c)), rng(r), after_heal_left(left) {}
  SimClient client;
  Rng rng;
  uint32_t after_heal_left;
  bool done = false;
};

class Simulation {
 public:
  explicit Simulation(const RunOptions& options);
  RunResult run();

 private:
  bool tracing() const { return trace_ != nullptr; }
  void trace(const std::string& text);
  void hash(uint64_t v) { hash_ = mix64(hash_ ^ v); }

  void handle(const Event& ev);
  void on(const TickEv& e);
  void on(const MessageEv& e);
  void on(const RequestEv& e);
  void on(const ReplyEv& e);
  void on(const ClientNextEv& e);
  void on(const ClientTimerEv& e);
  void on(const CrashEv& e);
  void on(const RestartEv& e);
  void on(const PartitionEv& e);
  void on(const HealEv& e);
  void on(const DeadlineEv& e);
  void on(const ProposeEv& e);
  void fall_back(uint32_t client);

  template <typename F>
  void step(Host& h, F&& f);
  void after_step(Host& h);
  void persist(Host& h);
  void drive_fetcher(Host& h);
  void on_state_request(Host& h, ReplicaId from, const wire::StateRequest& request);
  void restart(Host& h);
  void send_outgoing(Host& h, std::vector<Outgoing> outgoing);
  void register_batches(Host& h, const wire::Message& m);
  void send_reply(Host& h, const core::ClientReply& r);
  // To one replica, or to every replica.
  void send_request(const wire::Request& r, std::optional<ReplicaId> to);
  void complete(uint32_t client);
  std::vector<ClientOp> all_ops() const;
  std::string replica_states() const;
  void violation(std::string checker, std::string details);
  bool failed() const { return !violations_.empty() || !checkers_.ok(); }

  RunOptions options_;
  FaultPlan plan_;
  std::ostream* trace_;
  Rng rng_;  // the simulation's own choices (tick phases, state transfer peers)
  Network network_;
  EventQueue<Event> queue_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<ClientSlot> clients_;
  Checkers checkers_;
  std::vector<ClientOp> ops_;  // completed operations
  std::vector<Violation> violations_;
  RunStats stats_;
  Time now_ = 0;
  uint64_t hash_ = 0;
  bool stop_ = false;
  bool ticking_ = false;  // the step under way is a tick
  uint32_t clients_done_ = 0;
};

Simulation::Simulation(const RunOptions& options)
    : options_(options),
      plan_(make_fault_plan(options.seed, options.plan)),
      trace_(options.trace),
      rng_(mix64(options.seed ^ 0x73696d756c61746fULL)),
      network_(plan_.faults, plan_.partitions, rng_.fork()) {
  const uint32_t n = plan_.config.replica_count;
  stats_.replicas = n;
  hash(options.seed);

  Rng byz_rng = rng_.fork();
  auto equivocation = plan_.colluding ? std::make_shared<Equivocation>() : nullptr;
  if (equivocation) equivocation->valid_only = true;
  for (ReplicaId i = 0; i < n; ++i) {
    auto h = std::make_unique<Host>(i, plan_.cluster_secret);
    if (const ByzantinePlan* b = plan_.byzantine_plan(i)) {
      h->byz = std::make_unique<Byzantine>(b->modes, i, n, h->crypto, byz_rng.fork(), equivocation);
    }
    hosts_.push_back(std::move(h));
  }

  Rng client_rng = rng_.fork();
  const uint32_t reply_quorum = plan_.config.quorum().reply;
  for (uint32_t c = 0; c < plan_.client_count; ++c) {
    // Every other client behaves as the client library does, and every
    // other pair signs its requests in bundles (sim_client.h).
    clients_.emplace_back(SimClient(first_client_id + c, plan_.cluster_secret, n, reply_quorum,
                                    reply_quorum, n, c % 2 == 1, c / 2 % 2 == 1),
                          client_rng.fork(), plan_.ops_after_heal);
  }
}

void Simulation::trace(const std::string& text) {
  *trace_ << time_name(now_) << "  " << text << "\n";
}

void Simulation::violation(std::string checker, std::string details) {
  violations_.push_back(Violation{std::move(checker), std::move(details), now_});
}

RunResult Simulation::run() {
  if (tracing()) *trace_ << plan_.describe();

  for (auto& h : hosts_) {
    Host& host = *h;
    step(host, [&] { host.open(plan_.config); });
    queue_.push(rng_.range(1, tick_us), TickEv{host.id});
  }
  for (uint32_t c = 0; c < clients_.size(); ++c)
    queue_.push(rng_.range(0, 50 * us_per_ms), ClientNextEv{c});
  for (size_t i = 0; i < plan_.partitions.size(); ++i) {
    queue_.push(plan_.partitions[i].start, PartitionEv{i, true});
    queue_.push(plan_.partitions[i].end, PartitionEv{i, false});
  }
  for (const CrashPlan& c : plan_.crashes) {
    queue_.push(c.crash_at, CrashEv{c.replica, c.wipe});
    queue_.push(c.restart_at, RestartEv{c.replica});
  }
  queue_.push(plan_.heal_at, HealEv{});
  queue_.push(plan_.heal_at + plan_.liveness_bound, DeadlineEv{});

  while (!stop_ && !failed() && !queue_.empty()) {
    auto [at, ev] = queue_.pop();
    now_ = at;
    ++stats_.events;
    hash(now_);
    hash(ev.index());
    try {
      handle(ev);
    } catch (const InvariantError& e) {
      violation("simulator", "outside any replica step at " + e.where + ": " + e.message);
    } catch (const std::exception& e) {
      violation("simulator", std::string("outside any replica step: ") + e.what());
    }
    if (stats_.events > event_budget) {
      violation("budget", "more than " + std::to_string(event_budget) + " events");
    }
  }

  if (!failed()) {
    for (const auto& h : hosts_) {
      if (h->byz || !h->replica) continue;
      Bytes state = h->replica->durable().clients.encode();
      Bytes app = h->kv->checkpoint(h->replica->last_executed());
      state.insert(state.end(), app.begin(), app.end());
      checkers_.final_state(h->id, h->replica->last_executed(), state, now_);
    }
    checkers_.finish(all_ops(), now_);
  }

  RunResult result;
  result.seed = options_.seed;
  result.plan = plan_.describe();
  result.violations = violations_;
  for (const Violation& v : checkers_.violations()) result.violations.push_back(v);
  std::stable_sort(result.violations.begin(), result.violations.end(),
                   [](const Violation& a, const Violation& b) { return a.at < b.at; });
  stats_.end_time = now_;
  stats_.executions = checkers_.executions();
  stats_.model_replayed = checkers_.model_replayed();
  for (const auto& h : hosts_) {
    if (h->byz) stats_.byzantine_tampered += h->byz->tampered();
    if (h->byz || !h->replica) continue;
    const core::RejectCounts& r = h->replica->rejected();
    core::RejectCounts& t = stats_.rejected;
    t.bad_signature += r.bad_signature;
    t.wrong_sender += r.wrong_sender;
    t.wrong_view += r.wrong_view;
    t.out_of_window += r.out_of_window;
    t.malformed += r.malformed;
    t.conflicting += r.conflicting;
    t.bad_certificate += r.bad_certificate;
    t.bad_state += r.bad_state;
  }
  result.stats = stats_;
  result.trace_hash = hash_;
  result.replay = replay_command(options_.seed, options_.plan);
  if (tracing()) {
    for (const Violation& v : result.violations)
      *trace_ << time_name(v.at) << "  VIOLATION " << v.checker << ": " << v.details << "\n";
    *trace_ << "end at " << time_name(now_) << ": " << stats_.ops_completed << "/"
            << stats_.ops_invoked << " operations completed, " << stats_.events << " events, "
            << result.violations.size() << " violation(s), hash " << std::hex << std::setw(16)
            << std::setfill('0') << hash_ << std::dec << std::setfill(' ')
            << "\n";
  }
  return result;
}

void Simulation::handle(const Event& ev) {
  std::visit([&](const auto& e) { on(e); }, ev);
}

template <typename F>
void Simulation::step(Host& h, F&& f) {
  try {
    f();
    after_step(h);
  } catch (const InvariantError& e) {
    // An assertion in the simulator's own code is the simulator's bug.
    bool ours = e.where.find("sim/") != std::string::npos;
    violation(ours ? "simulator" : "invariant", "r" + std::to_string(h.id) +
                                                    (h.byz ? " (byzantine)" : "") + " at " +
                                                    e.where + ": " + e.message);
  } catch (const std::exception& e) {
    violation("exception", "r" + std::to_string(h.id) + ": " + e.what());
  }
}

void Simulation::after_step(Host& h) {
  // A step may need several rounds: the core stops at a checkpoint until
  // its state is persisted (Output::resume), and a fetched state goes in
  // as soon as it is complete.
  for (bool first = true;; first = false) {
    core::Output out = h.replica->take_output();
    if (!first && out.empty()) return;
    // A tick that asks for nothing is not worth a line of trace.
    const bool quiet = ticking_ && out.empty();
    if (tracing() && first && ticking_ && !quiet) trace("r" + std::to_string(h.id) + " tick");
    for (const core::Executed& e : out.executed) {
      if (!h.byz) checkers_.executed(h.id, e, now_);
      hash(e.seq);
      if (tracing()) {
        std::string reqs;
        for (const core::ExecutedRequest& r : e.requests)
          reqs += " " + request_name(r.client, r.timestamp) + "->" + result_summary(r.result);
        trace("r" + std::to_string(h.id) + " executes s" + std::to_string(e.seq) + " v" +
              std::to_string(e.view) + " d=" + short_hex(e.digest) + reqs);
      }
    }
    // Output::persist: written (and synced) before anything leaves; a crash
    // loses only what was not.
    if (out.persist || out.resume) persist(h);
    std::vector<Outgoing> outgoing;
    if (h.byz) {
      outgoing = h.byz->transform(*h.replica, std::move(out.sends));
    } else {
      outgoing.reserve(out.sends.size());
      for (core::Send& s : out.sends) {
        Outgoing o{{}, h.id, std::move(s.message)};
        if (s.to) {
          o.to.push_back(*s.to);
        } else {
          for (ReplicaId r = 0; r < hosts_.size(); ++r)
            if (r != h.id) o.to.push_back(r);
        }
        outgoing.push_back(std::move(o));
      }
    }
    send_outgoing(h, std::move(outgoing));
    if (h.byz) h.byz->transform_replies(out.replies);
    for (const core::ClientReply& r : out.replies) send_reply(h, r);
    if (out.fetch_state) {
      if (tracing())
        trace("r" + std::to_string(h.id) + " fetches the state at s" +
              std::to_string(out.fetch_state->seq) + " d=" + short_hex(out.fetch_state->digest));
      h.fetcher->start(out.fetch_state->seq, out.fetch_state->digest);
    }
    drive_fetcher(h);
    if (out.propose && !h.propose_queued) {
      // Like the node's event loop: the batch closes a little later, with
      // whatever arrived meanwhile.
      h.propose_queued = true;
      queue_.push(now_ + rng_.range(0, 2 * us_per_ms), ProposeEv{h.id, h.life});
    }
    if (out.resume) h.replica->resume();
    if (!h.byz) stats_.max_view = std::max(stats_.max_view, h.replica->view());
    if (tracing() && !quiet) trace("    = " + h.replica->describe());
  }
}

void Simulation::persist(Host& h) {
  storage::WriteBatch batch;
  h.kv->take_writes(batch);
  h.store->stage(h.replica->durable(), batch);
  h.storage->write(batch, true);
  h.kv->written();
}

// Sends the fetcher's requests over the network; a complete state goes to
// the core (its output is taken by the caller's after_step loop).
void Simulation::drive_fetcher(Host& h) {
  std::vector<Outgoing> asks;
  for (auto& [to, request] : h.fetcher->take_requests())
    asks.push_back(Outgoing{{to}, h.id, std::move(request)});
  if (!asks.empty()) send_outgoing(h, std::move(asks));
  if (auto ready = h.fetcher->take_ready()) {
    ++stats_.state_transfers;
    if (tracing())
      trace("r" + std::to_string(h.id) + " has fetched the state at s" + std::to_string(ready->first));
    h.replica->state_transferred(ready->first, ready->second);
  }
}

void Simulation::on_state_request(Host& h, ReplicaId from, const wire::StateRequest& request) {
  if (request.replica != from) return;
  wire::StateReply reply =
      kv::StateFetcher::serve(request, h.id, h.replica->checkpoint_at(request.seq), *h.kv);
  if (h.byz) {
    const wire::StateReply honest = reply;
    const bool answers = h.byz->transform_state_reply(*h.replica, reply);
    if (!answers || !(reply == honest)) ++stats_.state_replies_tampered;
    if (!answers) return;
  }
  std::vector<Outgoing> answer;
  answer.push_back(Outgoing{{from}, h.id, std::move(reply)});
  send_outgoing(h, std::move(answer));
}

void Simulation::register_batches(Host& h, const wire::Message& m) {
  auto seen = [&](const wire::PrePrepare& pp) {
    if (pp.batch.empty() || checkers_.knows_batch(pp.digest)) return;
    checkers_.batch_seen(h.replica->batch_digest(pp.batch), pp.batch);
  };
  if (const auto* pp = std::get_if<wire::PrePrepare>(&m)) {
    seen(*pp);
  } else if (const auto* vc = std::get_if<wire::ViewChange>(&m)) {
    for (const wire::PreparedCert& c : vc->prepared) seen(c.pre_prepare);
  } else if (const auto* nv = std::get_if<wire::NewView>(&m)) {
    for (const wire::ViewChange& v : nv->view_changes)
      for (const wire::PreparedCert& c : v.prepared) seen(c.pre_prepare);
  }
}

void Simulation::send_outgoing(Host& h, std::vector<Outgoing> outgoing) {
  for (Outgoing& o : outgoing) {
    register_batches(h, o.message);
    if (const auto* cp = std::get_if<wire::Checkpoint>(&o.message); cp && !h.byz && cp->replica == h.id)
      checkers_.checkpoint(h.id, cp->seq, cp->state_digest, now_);
    auto frame = std::make_shared<Frame>(wire::encode_frame(plan_.cluster_id, o.message));
    std::string lost;
    for (ReplicaId to : o.to) {
      if (to == h.id || to >= hosts_.size()) continue;
      Mac mac = h.crypto.mac(to, frame->bytes);
      ++stats_.messages;
      Deliveries d = network_.between_replicas(h.id, to, now_);
      if (d.count == 0 && tracing()) lost += " r" + std::to_string(to);
      for (uint32_t i = 0; i < d.count; ++i)
        queue_.push(d.at[i], MessageEv{h.id, o.envelope_from, to, frame, mac});
    }
    if (tracing()) {
      std::string to;
      for (ReplicaId r : o.to) to += (to.empty() ? "r" : ",r") + std::to_string(r);
      trace("r" + std::to_string(h.id) + (h.byz ? "[byzantine]" : "") + " sends " +
            message_summary(o.message) + " to " + to +
            (o.envelope_from != h.id ? " (envelope claims r" + std::to_string(o.envelope_from) + ")" : "") +
            (lost.empty() ? "" : " (lost:" + lost + ")"));
    }
  }
}

void Simulation::send_reply(Host& h, const core::ClientReply& r) {
  if (r.client < first_client_id || r.client - first_client_id >= clients_.size()) return;
  auto index = static_cast<uint32_t>(r.client - first_client_id);
  auto frame = std::make_shared<Frame>(wire::encode_frame(plan_.cluster_id, r.reply));
  Deliveries d = network_.to_or_from_client(now_);
  for (uint32_t i = 0; i < d.count; ++i) queue_.push(d.at[i], ReplyEv{index, h.id, frame});
}

void Simulation::send_request(const wire::Request& r, std::optional<ReplicaId> to) {
  auto frame = std::make_shared<Frame>(wire::encode_frame(plan_.cluster_id, r));
  for (ReplicaId i = 0; i < hosts_.size(); ++i) {
    if (to && *to != i) continue;
    Deliveries d = network_.to_or_from_client(now_);
    for (uint32_t k = 0; k < d.count; ++k) queue_.push(d.at[k], RequestEv{i, frame});
  }
}

// ---- event handlers ----

void Simulation::on(const TickEv& e) {
  queue_.push(now_ + tick_us, TickEv{e.replica});
  hash(e.replica);
  Host& h = *hosts_[e.replica];
  if (!h.replica) return;
  ticking_ = true;
  step(h, [&] {
    h.replica->tick();
    h.fetcher->tick();
  });
  ticking_ = false;
  if (h.byz && h.replica && !failed()) {
    std::vector<Outgoing> extra = h.byz->on_tick(*h.replica);
    if (!extra.empty()) send_outgoing(h, std::move(extra));
  }
}

void Simulation::on(const MessageEv& e) {
  hash(e.from);
  hash(e.to);
  hash(e.frame->bytes.size());
  hash(frame_crc(e.frame->bytes));
  Host& h = *hosts_[e.to];
  if (!h.replica || !network_.connected(e.from, e.to, now_)) return;
  if (!h.crypto.verify_mac(e.envelope_from, e.frame->bytes, e.mac)) {
    ++stats_.mac_failures;
    if (tracing())
      trace("r" + std::to_string(e.to) + " drops a message claiming r" +
            std::to_string(e.envelope_from) + " (bad MAC; really from r" + std::to_string(e.from) + ")");
    return;
  }
  const wire::Decoded<wire::Message>& m = e.frame->decode(plan_.cluster_id);
  if (!m.ok()) {
    ++stats_.decode_failures;
    if (tracing()) trace("r" + std::to_string(e.to) + " drops an undecodable frame: " + m.error);
    return;
  }
  if (tracing())
    trace("r" + std::to_string(e.envelope_from) + " -> r" + std::to_string(e.to) + " " +
          message_summary(*m.value));
  if (h.byz) h.byz->on_received(*m.value);
  if (const auto* ask = std::get_if<wire::StateRequest>(&*m.value)) {
    on_state_request(h, e.envelope_from, *ask);
    return;
  }
  if (const auto* answer = std::get_if<wire::StateReply>(&*m.value)) {
    if (answer->replica != e.envelope_from) return;
    step(h, [&] { h.fetcher->on_reply(e.envelope_from, *answer); });
    return;
  }
  step(h, [&] { h.replica->receive(e.envelope_from, *m.value); });
}

void Simulation::on(const RequestEv& e) {
  hash(e.to);
  hash(frame_crc(e.frame->bytes));
  Host& h = *hosts_[e.to];
  if (!h.replica) return;
  const wire::Decoded<wire::Message>& m = e.frame->decode(plan_.cluster_id);
  const wire::Request* r = m.ok() ? std::get_if<wire::Request>(&*m.value) : nullptr;
  if (r == nullptr) {
    ++stats_.decode_failures;
    return;
  }
  if (tracing()) trace("client -> r" + std::to_string(e.to) + " " + message_summary(*r));
  if (h.byz) h.byz->on_request(*r);
  step(h, [&] { h.replica->receive_request(*r); });
}

void Simulation::on(const ReplyEv& e) {
  hash(e.client);
  hash(e.from);
  hash(frame_crc(e.frame->bytes));
  const wire::Decoded<wire::Message>& m = e.frame->decode(plan_.cluster_id);
  const wire::Reply* r = m.ok() ? std::get_if<wire::Reply>(&*m.value) : nullptr;
  if (r == nullptr) {
    ++stats_.decode_failures;
    return;
  }
  ClientSlot& c = clients_[e.client];
  if (tracing())
    trace("r" + std::to_string(e.from) + " -> client " + message_summary(*r) + " " +
          result_summary(r->result));
  if (c.client.on_reply(e.from, *r, now_)) complete(e.client);
  else if (c.client.needs_fall_back()) fall_back(e.client);
}

// A fast read without a quorum of matching answers: ordered instead.
void Simulation::fall_back(uint32_t client) {
  ClientSlot& c = clients_[client];
  wire::Request r = c.client.fall_back();
  checkers_.client_sent(r.client, r.timestamp, r.operation);
  ++stats_.fast_fallbacks;
  hash(r.timestamp);
  if (tracing())
    trace("client " + std::to_string(r.client) + " falls back to ordering " + request_name(r.client, r.timestamp));
  send_request(r, c.client.library_mode() ? std::nullopt : std::optional<ReplicaId>(c.client.primary()));
  queue_.push(now_ + plan_.client_retry, ClientTimerEv{client, r.timestamp});
}

void Simulation::complete(uint32_t client) {
  const ClientOp& op = clients_[client].client.current();
  ops_.push_back(op);
  ++stats_.ops_completed;
  if (op.fast) ++stats_.fast_reads;
  hash(op.timestamp);
  checkers_.accepted(op);
  if (tracing())
    trace("client " + std::to_string(op.client) + " accepts " +
          request_name(op.client, op.timestamp) + " (" + operation_summary(op.operation) +
          ") = " + result_summary(op.result));
  queue_.push(now_ + clients_[client].rng.range(0, plan_.think_max), ClientNextEv{client});
}

void Simulation::on(const ClientNextEv& e) {
  ClientSlot& c = clients_[e.client];
  if (c.client.busy() || c.done) return;
  if (now_ >= plan_.heal_at) {
    if (c.after_heal_left == 0) {
      c.done = true;
      if (++clients_done_ == clients_.size()) stop_ = true;  // every operation completed
      return;
    }
    --c.after_heal_left;
  }
  Bytes op = c.client.random_operation(c.rng, plan_.key_count);
  const bool fast = plan_.fast_reads && SimClient::is_read(op) && c.rng.chance(0.5);
  wire::Request r = c.client.begin(op, now_, fast);
  checkers_.client_sent(r.client, r.timestamp, r.operation);
  ++stats_.ops_invoked;
  hash(r.timestamp);
  if (tracing())
    trace("client " + std::to_string(r.client) + " invokes " + request_name(r.client, r.timestamp) +
          " (" + operation_summary(op) + ") at r" + std::to_string(c.client.primary()));
  if (fast) {
    send_request(r, std::nullopt);  // every replica answers a fast read
    queue_.push(now_ + fast_read_timeout, ClientTimerEv{e.client, r.timestamp});
    return;
  }
  send_request(r, c.client.library_mode() ? std::nullopt : std::optional<ReplicaId>(c.client.primary()));
  queue_.push(now_ + plan_.client_retry, ClientTimerEv{e.client, r.timestamp});
}

void Simulation::on(const ClientTimerEv& e) {
  ClientSlot& c = clients_[e.client];
  if (!c.client.busy() || c.client.request().timestamp != e.timestamp) return;
  if (c.client.fast()) {
    fall_back(e.client);
    return;
  }
  if (tracing())
    trace("client " + std::to_string(c.client.id()) + " times out on " +
          request_name(c.client.id(), e.timestamp) + ": resends to every replica");
  send_request(c.client.request(), std::nullopt);
  queue_.push(now_ + plan_.client_retry, ClientTimerEv{e.client, e.timestamp});
}

void Simulation::on(const CrashEv& e) {
  hash(e.replica);
  Host& h = *hosts_[e.replica];
  if (!h.replica) return;
  // The machine goes down: synced writes stay, and of the unsynced ones a
  // prefix (as a write-ahead log recovers).
  size_t unsynced = h.storage->unsynced_batches();
  size_t keep = static_cast<size_t>(rng_.below(unsynced + 1));
  h.crash(keep);
  if (e.wipe) {
    h.wipe_disk();
    checkers_.wiped(h.id);
  }
  if (tracing())
    trace("r" + std::to_string(e.replica) +
          (e.wipe ? " CRASHES and loses its disk"
                  : " CRASHES (keeps " + std::to_string(keep) + " of " + std::to_string(unsynced) +
                        " unsynced writes)"));
}

void Simulation::restart(Host& h) {
  if (h.replica) return;
  if (tracing()) trace("r" + std::to_string(h.id) + " RESTARTS");
  step(h, [&] { h.open(plan_.config); });
}

void Simulation::on(const RestartEv& e) {
  hash(e.replica);
  restart(*hosts_[e.replica]);
}

void Simulation::on(const PartitionEv& e) {
  hash(e.index);
  if (!tracing() || network_.healed()) return;
  const Partition& p = plan_.partitions[e.index];
  std::string side;
  for (ReplicaId r = 0; r < hosts_.size(); ++r)
    if ((p.side >> r) & 1u) side += (side.empty() ? "r" : ",r") + std::to_string(r);
  trace(std::string(e.start ? "PARTITION starts: {" : "PARTITION ends: {") + side + "} vs the rest");
}

void Simulation::on(const ProposeEv& e) {
  hash(e.replica);
  Host& h = *hosts_[e.replica];
  if (!h.replica || h.life != e.life) return;  // for a process that crashed
  h.propose_queued = false;
  step(h, [&] { h.replica->propose(); });
}

void Simulation::on(const HealEv&) {
  network_.heal(plan_.healed);
  if (tracing()) trace("HEAL: network faults off, crashed replicas restart");
  for (auto& h : hosts_) restart(*h);
}

void Simulation::on(const DeadlineEv&) {
  if (auto v = check_liveness(all_ops(), plan_.heal_at, now_, replica_states())) {
    violations_.push_back(*v);
  }
  stop_ = true;
}

std::vector<ClientOp> Simulation::all_ops() const {
  std::vector<ClientOp> ops = ops_;
  for (const ClientSlot& c : clients_)
    if (c.client.busy()) ops.push_back(c.client.current());
  return ops;
}

std::string Simulation::replica_states() const {
  std::string s;
  for (const auto& h : hosts_) {
    s += "    ";
    s += h->replica ? h->replica->describe() : "r" + std::to_string(h->id) + " down";
    if (h->byz) s += " [byzantine " + modes_name(h->byz->modes()) + "]";
    s += "\n";
  }
  if (!s.empty()) s.pop_back();
  return s;
}

}  // namespace

std::string replay_command(uint64_t seed, const PlanOptions& plan) {
  std::string s = "pbft-sim --seed " + std::to_string(seed);
  if (plan.replicas) s += " --replicas " + std::to_string(*plan.replicas);
  if (plan.control != Control::none) s += " --control " + std::string(control_name(plan.control));
  if (plan.no_faults) s += " --no-faults";
  return s + " --trace";
}

bool is_safety_violation(const Violation& v) {
  return v.checker == "agreement" || v.checker == "validity" || v.checker == "linearizability" ||
         v.checker == "invariant";
}

RunResult run_simulation(const RunOptions& options) {
  std::call_once(handler_installed, [] { set_invariant_handler(&throw_invariant); });
  Simulation sim(options);
  return sim.run();
}

}  // namespace pbft::sim
