// Scenario transcripts for the protocol core: each file in tests/scenarios
// is a readable script of events and expectations, run against real
// core::Replica objects on a hand-driven network (no randomness, no time
// but explicit ticks). The language:
//
//   cluster n=4 checkpoint=4 window=8 pipeline=4 batch=8 timeout=20
//   request c=1 op=put:k:v to=0|all     client c signs its next request
//   deliver [type=T] [from=i] [to=j] [view=V]
//                                        deliver queued messages (and what
//                                        they cause) until none match
//   drop [same filters]                  discard queued messages
//   block [same filters]                 drop such messages from now on
//   unblock                              remove every block rule
//   crash i / restart i                  restart keeps the durable state
//   byzantine i equivocate               i's pre-prepares to odd replicas
//                                        carry another (empty) batch
//   tick N                               N ticks for every live replica,
//                                        delivering everything after each
//   inject from=i to=j type=pre-prepare|prepare|commit view=V seq=S
//                                        a message signed by i's own key
//   expect r=1,2|* key=value ...         view active primary exec stable
//                                        slots prepared committed
//                                        rejected.<reason> (>= given)
//   expect reply c=1 t=1 [value=V|absent|ok]  f+1 matching replies
//   expect sent type=T [from=i] [min=N] [max=N]  messages sent so far
//                                        (one per recipient)
//   clearlog                             forget the sent-message log
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/replica.h"
#include "crypto/fake_crypto.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft {
namespace {

using Args = std::map<std::string, std::string>;

struct Envelope {
  ReplicaId from;
  ReplicaId to;
  wire::Message message;
};

// The view a normal-case message belongs to, if it has one.
std::optional<View> view_of(const wire::Message& m) {
  if (auto* pp = std::get_if<wire::PrePrepare>(&m)) return pp->view;
  if (auto* p = std::get_if<wire::Prepare>(&m)) return p->view;
  if (auto* c = std::get_if<wire::Commit>(&m)) return c->view;
  return std::nullopt;
}

struct Rule {
  std::optional<std::string> type;
  std::optional<ReplicaId> from, to;
  std::optional<View> view;
  bool matches(const Envelope& e) const {
    return (!type || *type == wire::type_name(e.message)) && (!from || *from == e.from) &&
           (!to || *to == e.to) && (!view || view_of(e.message) == view);
  }
};

class Harness {
 public:
  explicit Harness(const Args& a) {
    auto num = [&](const char* k, uint64_t def) {
      return a.contains(k) ? std::stoull(a.at(k)) : def;
    };
    config_.replica_count = static_cast<uint32_t>(num("n", 4));
    config_.checkpoint_interval = num("checkpoint", 4);
    config_.window_size = num("window", 2 * config_.checkpoint_interval);
    config_.pipeline_depth_max = static_cast<uint32_t>(num("pipeline", 4));
    config_.batch_requests_max = static_cast<uint32_t>(num("batch", 8));
    config_.batch_requests_min = static_cast<uint32_t>(num("batch_min", 0));
    config_.view_change_timeout_ticks = static_cast<uint32_t>(num("timeout", 20));
    config_.status_interval_ticks = static_cast<uint32_t>(num("status", 5));
    for (ReplicaId i = 0; i < config_.replica_count; ++i) {
      nodes_.push_back(std::make_unique<Node>(config_, i));
    }
  }

  void request(ClientId c, const std::string& op_text, const std::string& to) {
    kv::Operation op;
    std::vector<std::string> parts;
    std::stringstream ss(op_text);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    if (parts.at(0) == "put") op = {kv::OpKind::put, parts.at(1), parts.at(2)};
    else if (parts.at(0) == "get") op = {kv::OpKind::get, parts.at(1), ""};
    else op = {kv::OpKind::del, parts.at(1), ""};
    wire::Request r{c, ++timestamps_[c], kv::encode_operation(op), {}};
    crypto::FakeCrypto client(secret, crypto::Principal::client(c));
    r.sig = client.sign(wire::signing_bytes(r));
    for (ReplicaId i = 0; i < nodes_.size(); ++i) {
      if ((to == "all" || std::to_string(i) == to) && nodes_[i]->up) {
        nodes_[i]->replica->receive_request(r);
        collect(i);
      }
    }
  }

  void deliver(const Rule& rule) {
    for (size_t steps = 0; steps < 1000000; ++steps) {
      auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Envelope& e) { return rule.matches(e); });
      if (it == queue_.end()) return;
      Envelope e = std::move(*it);
      queue_.erase(it);
      if (!nodes_[e.to]->up) continue;
      // Through the real codec, as on the wire.
      Bytes frame = wire::encode_frame(cluster_id, e.message);
      auto decoded = wire::decode_frame(frame, cluster_id);
      ASSERT_TRUE(decoded.ok()) << decoded.error;
      nodes_[e.to]->replica->receive(e.from, *decoded.value);
      collect(e.to);
    }
    FAIL() << "deliver did not quiesce";
  }

  void drop(const Rule& rule) {
    std::erase_if(queue_, [&](const Envelope& e) { return rule.matches(e); });
  }
  void block(const Rule& rule) { blocks_.push_back(rule); }
  void unblock() { blocks_.clear(); }

  void crash(ReplicaId i) {
    nodes_[i]->up = false;
    std::erase_if(queue_, [&](const Envelope& e) { return e.to == i || e.from == i; });
  }
  void restart(ReplicaId i) {
    Node& n = *nodes_[i];
    core::DurableState durable = n.replica->durable();
    n.replica = std::make_unique<core::Replica>(config_, i, n.crypto, n.kv, std::move(durable));
    n.up = true;
    collect(i);
  }

  void set_equivocating(ReplicaId i) { nodes_[i]->equivocate = true; }

  void tick(uint64_t count) {
    for (uint64_t t = 0; t < count; ++t) {
      for (ReplicaId i = 0; i < nodes_.size(); ++i) {
        if (!nodes_[i]->up) continue;
        nodes_[i]->replica->tick();
        collect(i);
      }
      deliver(Rule{});
    }
  }

  void inject(const Args& a) {
    ReplicaId from = static_cast<ReplicaId>(std::stoul(a.at("from")));
    ReplicaId to = static_cast<ReplicaId>(std::stoul(a.at("to")));
    View view = std::stoull(a.at("view"));
    Seq seq = std::stoull(a.at("seq"));
    const crypto::FakeCrypto& c = nodes_[from]->crypto;
    const std::string& type = a.at("type");
    wire::Message m;
    if (type == "pre-prepare") {
      wire::PrePrepare pp{view, seq, nodes_[from]->replica->batch_digest({}), {}, {}};
      pp.sig = c.sign(wire::signing_bytes(pp));
      m = pp;
    } else if (type == "prepare") {
      wire::Prepare p{view, seq, nodes_[from]->replica->batch_digest({}), from, {}};
      p.sig = c.sign(wire::signing_bytes(p));
      m = p;
    } else {
      m = wire::Commit{view, seq, nodes_[from]->replica->batch_digest({}), from};
    }
    queue_.push_back(Envelope{from, to, std::move(m)});
  }

  // Checks replica fields; returns a description of the first mismatch.
  std::string check_replica(ReplicaId i, const Args& want) {
    const core::Replica& r = *nodes_[i]->replica;
    const core::DurableState& d = r.durable();
    auto count_slots = [&](bool core::Slot::*flag) {
      size_t n = 0;
      for (const auto& [seq, s] : d.slots) n += (s.*flag) ? 1 : 0;
      return n;
    };
    const core::RejectCounts& rej = r.rejected();
    std::map<std::string, uint64_t> got = {
        {"view", r.view()},
        {"active", r.view_active()},
        {"primary", r.is_primary()},
        {"exec", r.last_executed()},
        {"stable", r.stable_seq()},
        {"slots", d.slots.size()},
        {"prepared", count_slots(&core::Slot::prepared)},
        {"committed", count_slots(&core::Slot::committed)},
        {"rejected.bad_signature", rej.bad_signature},
        {"rejected.wrong_sender", rej.wrong_sender},
        {"rejected.wrong_view", rej.wrong_view},
        {"rejected.out_of_window", rej.out_of_window},
        {"rejected.conflicting", rej.conflicting},
        {"rejected.bad_certificate", rej.bad_certificate},
    };
    for (const auto& [key, value] : want) {
      if (key == "r") continue;
      if (!got.contains(key)) return "unknown field " + key;
      uint64_t expected = std::stoull(value);
      bool ok = key.starts_with("rejected.") ? got[key] >= expected : got[key] == expected;
      if (!ok)
        return "replica " + std::to_string(i) + ": " + key + " = " + std::to_string(got[key]) +
               ", expected " + (key.starts_with("rejected.") ? ">= " : "") + value + " (" +
               r.describe() + ")";
    }
    return "";
  }

  std::string check_reply(const Args& a) {
    ClientId c = std::stoull(a.at("c"));
    uint64_t t = std::stoull(a.at("t"));
    std::map<Bytes, std::set<ReplicaId>> votes;
    for (const auto& [replica, reply] : replies_[{c, t}]) votes[reply.result].insert(replica);
    for (const auto& [result, voters] : votes) {
      if (voters.size() < config_.quorum().reply) continue;
      auto decoded = kv::decode_result(result);
      if (!decoded) return "undecodable result";
      if (!a.contains("value") || a.at("value") == "ok")
        return decoded->status == kv::ResultStatus::ok ? "" : "result not ok";
      if (a.at("value") == "absent")
        return decoded->status == kv::ResultStatus::not_found ? "" : "expected not found";
      return decoded->value == a.at("value") ? "" : "value differs";
    }
    return "no f+1 matching replies for client " + a.at("c") + " t=" + a.at("t");
  }

  std::string check_sent(const Args& a) {
    size_t count = 0;
    for (const Envelope& e : log_) {
      if (wire::type_name(e.message) != a.at("type")) continue;
      if (a.contains("from") && std::to_string(e.from) != a.at("from")) continue;
      ++count;
    }
    size_t min = a.contains("min") ? std::stoull(a.at("min")) : 1;
    size_t max = a.contains("max") ? std::stoull(a.at("max")) : SIZE_MAX;
    if (count < min || count > max)
      return std::to_string(count) + " " + a.at("type") + " messages sent";
    return "";
  }

  void clear_log() { log_.clear(); }
  size_t size() const { return nodes_.size(); }
  bool up(ReplicaId i) const { return nodes_[i]->up; }

 private:
  static constexpr uint64_t secret = 42;
  static constexpr uint64_t cluster_id = 7;

  struct Node {
    Node(const core::Config& config, ReplicaId id)
        : crypto(secret, crypto::Principal::replica(id)),
          replica(std::make_unique<core::Replica>(config, id, crypto, kv)) {}
    crypto::FakeCrypto crypto;
    kv::MapStore kv;
    std::unique_ptr<core::Replica> replica;
    bool up = true;
    bool equivocate = false;
  };

  void collect(ReplicaId i) {
    Node& n = *nodes_[i];
    core::Output out = n.replica->take_output();
    for (core::Send& s : out.sends) {
      for (ReplicaId to = 0; to < nodes_.size(); ++to) {
        if (to == i || (s.to && *s.to != to)) continue;
        Envelope e{i, to, s.message};
        if (n.equivocate && to % 2 == 1) {
          if (auto* pp = std::get_if<wire::PrePrepare>(&e.message)) {
            pp->batch.clear();
            pp->digest = n.replica->batch_digest({});
            pp->sig = n.crypto.sign(wire::signing_bytes(*pp));
          }
        }
        log_.push_back(e);
        bool blocked = std::any_of(blocks_.begin(), blocks_.end(),
                                   [&](const Rule& r) { return r.matches(e); });
        if (!blocked) queue_.push_back(std::move(e));
      }
    }
    for (core::ClientReply& r : out.replies) {
      replies_[{r.client, r.reply.timestamp}][r.reply.replica] = r.reply;
    }
    if (out.resume) {  // nothing to persist here: go on at once
      n.replica->resume();
      collect(i);
    }
  }

  core::Config config_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Envelope> queue_;
  std::vector<Envelope> log_;
  std::vector<Rule> blocks_;
  std::map<ClientId, uint64_t> timestamps_;
  std::map<std::pair<ClientId, uint64_t>, std::map<ReplicaId, wire::Reply>> replies_;
};

Args parse_args(std::istringstream& in) {
  Args a;
  for (std::string tok; in >> tok;) {
    auto eq = tok.find('=');
    if (eq == std::string::npos) a[tok] = "";
    else a[tok.substr(0, eq)] = tok.substr(eq + 1);
  }
  return a;
}

Rule parse_rule(const Args& a) {
  Rule r;
  if (a.contains("type")) r.type = a.at("type");
  if (a.contains("from")) r.from = static_cast<ReplicaId>(std::stoul(a.at("from")));
  if (a.contains("to")) r.to = static_cast<ReplicaId>(std::stoul(a.at("to")));
  if (a.contains("view")) r.view = std::stoull(a.at("view"));
  return r;
}

void run_scenario(const std::filesystem::path& path) {
  std::ifstream file(path);
  ASSERT_TRUE(file) << path;
  std::unique_ptr<Harness> h;
  int lineno = 0;
  for (std::string line; std::getline(file, line);) {
    ++lineno;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream in(line);
    std::string cmd;
    if (!(in >> cmd)) continue;
    SCOPED_TRACE(path.filename().string() + ":" + std::to_string(lineno) + ": " + line);
    if (cmd == "cluster") {
      h = std::make_unique<Harness>(parse_args(in));
      continue;
    }
    ASSERT_TRUE(h) << "the script must start with `cluster`";
    if (cmd == "request") {
      Args a = parse_args(in);
      h->request(std::stoull(a.at("c")), a.at("op"), a.contains("to") ? a.at("to") : "all");
    } else if (cmd == "deliver") {
      h->deliver(parse_rule(parse_args(in)));
    } else if (cmd == "drop") {
      h->drop(parse_rule(parse_args(in)));
    } else if (cmd == "block") {
      h->block(parse_rule(parse_args(in)));
    } else if (cmd == "unblock") {
      h->unblock();
    } else if (cmd == "crash" || cmd == "restart" || cmd == "byzantine") {
      ReplicaId i;
      in >> i;
      if (cmd == "crash") h->crash(i);
      else if (cmd == "restart") h->restart(i);
      else h->set_equivocating(i);
    } else if (cmd == "tick") {
      uint64_t n;
      in >> n;
      h->tick(n);
    } else if (cmd == "inject") {
      h->inject(parse_args(in));
    } else if (cmd == "clearlog") {
      h->clear_log();
    } else if (cmd == "expect") {
      std::string what;
      in >> what;
      if (what == "reply") {
        EXPECT_EQ(h->check_reply(parse_args(in)), "");
      } else if (what == "sent") {
        EXPECT_EQ(h->check_sent(parse_args(in)), "");
      } else {
        std::istringstream rest(what + " " + in.str().substr(in.tellg() == -1 ? in.str().size() : static_cast<size_t>(in.tellg())));
        Args a = parse_args(rest);
        std::vector<ReplicaId> targets;
        if (a.at("r") == "*") {
          for (ReplicaId i = 0; i < h->size(); ++i)
            if (h->up(i)) targets.push_back(i);
        } else {
          std::stringstream ss(a.at("r"));
          for (std::string p; std::getline(ss, p, ',');) targets.push_back(std::stoul(p));
        }
        for (ReplicaId i : targets) EXPECT_EQ(h->check_replica(i, a), "");
      }
    } else {
      FAIL() << "unknown command " << cmd;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, Runs) { run_scenario(std::filesystem::path(PBFT_SCENARIO_DIR) / GetParam()); }

std::vector<std::string> scenario_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(PBFT_SCENARIO_DIR)) {
    if (e.path().extension() == ".txt") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Transcripts, Scenario, ::testing::ValuesIn(scenario_files()),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.size() - 4);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace pbft
