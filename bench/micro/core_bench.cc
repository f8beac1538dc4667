// The protocol core (src/core) with production crypto and the real
// key-value state machine on in-memory storage; messages are handed over
// as values (no codec, MACs or sockets: those are measured on their own).
//   BM_PrimaryHandlesRequest: the primary receives one client request and
//     proposes it (checks the client's signature, digests and signs the
//     pre-prepare).
//   BM_BackupHandlesPrepare: a backup that holds the pre-prepare and its own
//     prepare receives a second prepare: checks its signature, becomes
//     prepared and sends its commit.
//   BM_ClusterCommitsRequests/B: B requests go through all four replicas,
//     from the primary's receipt to execution everywhere (checkpoints
//     included): the core's whole CPU cost per request, summed over the
//     replicas.
#include <benchmark/benchmark.h>

#include <deque>
#include <tuple>

#include "bench/micro/fixtures.h"
#include "core/replica.h"
#include "kv/kv_store.h"
#include "storage/memory_storage.h"

namespace pbft::micro {
namespace {

struct Node {
  Node(const core::Config& c, ReplicaId id) : crypto(replica_crypto(id)), kv(storage), replica(c, id, *crypto, kv) {}
  // Stands in for the host's persist step: the state machine's changes go
  // to (in-memory) storage.
  void persist() {
    storage::WriteBatch batch;
    kv.take_writes(batch);
    storage.write(batch, false);
    kv.written();
  }
  std::unique_ptr<crypto::SodiumCrypto> crypto;
  storage::MemoryStorage storage;
  kv::KvStore kv;
  core::Replica replica;
};

core::Config bench_config() {
  core::Config c;
  c.replica_count = replica_count;
  // Every request closes a batch of its own, so that one step is one
  // proposal (the default waits for more requests while batches are in flight).
  c.batch_requests_min = 0;
  return c;  // otherwise the defaults of a config file: K = 10, L = 40, pipeline 8, batches of up to 256
}

void BM_PrimaryHandlesRequest(benchmark::State& state) {
  const core::Config c = bench_config();
  auto gateway = replica_crypto(0);
  std::unique_ptr<Node> primary;
  uint32_t n = 0;
  uint64_t sends = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // The primary proposes up to pipeline_depth_max batches before it
    // waits for them to execute: a new replica after that many.
    if (!primary || n == c.pipeline_depth_max) {
      primary = std::make_unique<Node>(c, 0);
      n = 0;
    }
    const wire::Request r = gateway_request(*gateway, 0, n, 1, n);
    ++n;
    state.ResumeTiming();
    primary->replica.receive_request(r);
    core::Output out = primary->replica.take_output();
    sends += out.sends.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["sends_per_step"] = benchmark::Counter(static_cast<double>(sends), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_PrimaryHandlesRequest);

void BM_BackupHandlesPrepare(benchmark::State& state) {
  const core::Config c = bench_config();
  auto primary = replica_crypto(0);
  auto other = replica_crypto(2);
  std::unique_ptr<Node> backup;
  Seq seq = 0;
  uint64_t sends = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // Nothing executes here (no commits arrive), so the window fills: a
    // new replica after window_size sequence numbers.
    if (!backup || seq == c.window_size) {
      backup = std::make_unique<Node>(c, 1);
      seq = 0;
    }
    ++seq;
    wire::PrePrepare pp{0, seq, {}, {gateway_request(*primary, 0, 0, seq, seq)}, {}};
    pp.digest = backup->replica.batch_digest(pp.batch);
    pp.sig = primary->sign(wire::signing_bytes(pp));
    backup->replica.receive(0, pp);
    (void)backup->replica.take_output();
    wire::Prepare p{0, seq, pp.digest, 2, {}};
    p.sig = other->sign(wire::signing_bytes(p));
    const wire::Message m = p;
    state.ResumeTiming();
    backup->replica.receive(2, m);
    core::Output out = backup->replica.take_output();
    sends += out.sends.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["sends_per_step"] = benchmark::Counter(static_cast<double>(sends), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_BackupHandlesPrepare);

class Cluster {
 public:
  Cluster() {
    for (ReplicaId i = 0; i < replica_count; ++i) nodes_.push_back(std::make_unique<Node>(bench_config(), i));
  }
  core::Replica& replica(ReplicaId i) { return nodes_[i]->replica; }
  void submit(const wire::Request& r) {
    nodes_[0]->replica.receive_request(r);
    collect(0);
  }
  void pump() {
    while (!queue_.empty()) {
      auto [from, to, m] = std::move(queue_.front());
      queue_.pop_front();
      nodes_[to]->replica.receive(from, m);
      collect(to);
    }
  }
  uint64_t batches_executed_at_primary = 0;

 private:
  void collect(ReplicaId i) {
    for (;;) {
      core::Output out = nodes_[i]->replica.take_output();
      if (out.empty()) return;
      if (i == 0) batches_executed_at_primary += out.executed.size();
      if (out.persist) nodes_[i]->persist();
      for (core::Send& s : out.sends)
        for (ReplicaId to = 0; to < replica_count; ++to)
          if (to != i && (!s.to || *s.to == to)) queue_.emplace_back(i, to, s.message);
      if (out.resume) nodes_[i]->replica.resume();
    }
  }
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<std::tuple<ReplicaId, ReplicaId, wire::Message>> queue_;
};

void BM_ClusterCommitsRequests(benchmark::State& state) {
  const auto batch = static_cast<uint32_t>(state.range(0));
  auto gateway = replica_crypto(0);
  Cluster cluster;
  uint64_t timestamp = 0;
  std::vector<wire::Request> requests;
  for (auto _ : state) {
    state.PauseTiming();
    ++timestamp;
    requests.clear();
    for (uint32_t i = 0; i < batch; ++i)
      requests.push_back(gateway_request(*gateway, 0, i, timestamp, timestamp * batch + i));
    const Seq before = cluster.replica(3).last_executed();
    state.ResumeTiming();
    for (const wire::Request& r : requests) cluster.submit(r);
    cluster.pump();
    if (cluster.replica(3).last_executed() == before) {
      state.SkipWithError("nothing was executed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["batches_per_iteration"] = benchmark::Counter(
      static_cast<double>(cluster.batches_executed_at_primary), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ClusterCommitsRequests)->Arg(1)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pbft::micro
