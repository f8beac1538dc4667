// Helpers shared by the kv tests: a KvStore on its own MemoryStorage, a
// storage wrapper that counts reads, and a harness that drives a
// StateFetcher against peers answering through StateFetcher::serve (or
// lying).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "core/client_table.h"
#include "crypto/fake_crypto.h"
#include "kv/buckets.h"
#include "kv/kv_store.h"
#include "kv/operation.h"
#include "kv/state_fetcher.h"
#include "storage/memory_storage.h"

namespace pbft::kv::testing {

// Counts reads, to show that something does not read.
class CountingStorage final : public storage::Storage {
 public:
  explicit CountingStorage(storage::Storage& inner) : inner_(inner) {}
  std::optional<std::string> get(std::string_view key) const override {
    ++reads;
    return inner_.get(key);
  }
  void scan(std::string_view begin, std::string_view end, const storage::Visitor& visit) const override {
    ++reads;
    inner_.scan(begin, end, [&](std::string_view k, std::string_view v) {
      ++visited;
      return visit(k, v);
    });
  }
  void write(const storage::WriteBatch& batch, bool sync) override { inner_.write(batch, sync); }
  void sync() override { inner_.sync(); }
  std::shared_ptr<const storage::ReadView> snapshot() const override { return inner_.snapshot(); }

  mutable uint64_t reads = 0;    // get and scan calls
  mutable uint64_t visited = 0;  // keys scans went through

 private:
  storage::Storage& inner_;
};

// A KvStore with its storage; reopen() starts a new KvStore on what was written.
struct TestStore {
  explicit TestStore(size_t entries_max = idempotency_entries_max)
      : entries_max(entries_max), kv(std::make_unique<KvStore>(storage, entries_max)) {}

  // What the host does after each step: one atomic write, then written().
  void persist() {
    storage::WriteBatch batch;
    kv->take_writes(batch);
    storage.write(batch, true);
    kv->written();
  }
  void reopen() {
    kv.reset();
    kv = std::make_unique<KvStore>(storage, entries_max);
  }
  Bytes manifest() { return kv->checkpoint(0); }
  Result run(const Operation& op, Seq seq = 1) {
    auto r = decode_result(kv->apply(seq, encode_operation(op)));
    EXPECT_TRUE(r.has_value());
    return r.value_or(Result{ResultStatus::bad_operation, std::nullopt});
  }
  void put(const std::string& k, const std::string& v, Seq seq = 1) { run({OpKind::put, k, v}, seq); }
  void del(const std::string& k, Seq seq = 1) { run({OpKind::del, k, ""}, seq); }

  size_t entries_max;
  storage::MemoryStorage storage;
  std::unique_ptr<KvStore> kv;
};

// Every record in storage, by (bucket, record key), checking that each is
// in its bucket's current generation (no leftovers).
inline std::map<std::pair<uint32_t, std::string>, std::string> stored_records(const storage::Storage& s) {
  std::map<uint32_t, uint32_t> generations;
  s.scan(generations_begin(), generations_end(), [&](std::string_view k, std::string_view v) {
    uint32_t b = 0, g = 0;
    EXPECT_TRUE(parse_bucket_key(k, generation_key_prefix, b) && decode_generation(v, g));
    generations[b] = g;
    return true;
  });
  std::map<std::pair<uint32_t, std::string>, std::string> out;
  s.scan(bucket_records_begin(0), bucket_records_end(bucket_count - 1), [&](std::string_view k, std::string_view v) {
    const auto* p = reinterpret_cast<const uint8_t*>(k.data()) + 3;
    const uint32_t bucket = static_cast<uint32_t>(p[0]) << 8 | p[1];
    const uint32_t gen = static_cast<uint32_t>(p[2]) << 24 | static_cast<uint32_t>(p[3]) << 16 |
                         static_cast<uint32_t>(p[4]) << 8 | p[5];
    EXPECT_EQ(gen, generations.contains(bucket) ? generations[bucket] : 0u) << "leftover generation in bucket " << bucket;
    out[{bucket, std::string(k.substr(record_prefix_size))}] = std::string(v);
    return true;
  });
  return out;
}

// A peer's answer to a request; nullopt: no answer (silent).
using Responder = std::function<std::optional<wire::StateReply>(const wire::StateRequest&)>;

// A replica that took a checkpoint at `seq`: its snapshot is a reply cache
// (one client) followed by the manifest, as the core builds it.
struct Source {
  Source(TestStore& store, Seq seq) : store(store), seq(seq) {
    core::ClientTable clients;
    clients.record(7, 3, Bytes{1, 2, 3});
    checkpoint.snapshot = clients.encode();
    manifest = store.kv->checkpoint(seq);
    checkpoint.snapshot.insert(checkpoint.snapshot.end(), manifest.begin(), manifest.end());
    checkpoint.digest = crypto::FakeCrypto(1, crypto::Principal::replica(0)).digest(checkpoint.snapshot);
    store.persist();  // gives the checkpoint its read view
  }
  Responder honest(ReplicaId id) const {
    return [this, id](const wire::StateRequest& r) -> std::optional<wire::StateReply> {
      return StateFetcher::serve(r, id, r.seq == seq ? &checkpoint : nullptr, *store.kv);
    };
  }
  TestStore& store;
  Seq seq;
  Bytes manifest;
  core::OwnCheckpoint checkpoint;
};

// Drives `fetcher` until it is ready, delivering each request to its peer
// at once and ticking when nothing is in flight. nullopt if it never gets there.
inline std::optional<std::pair<Seq, Bytes>> run_fetch(StateFetcher& fetcher, std::map<ReplicaId, Responder>& peers,
                                                      size_t max_rounds = 1000000) {
  for (size_t round = 0; round < max_rounds; ++round) {
    auto requests = fetcher.take_requests();
    if (requests.empty()) {
      if (auto ready = fetcher.take_ready()) return ready;
      if (!fetcher.active()) return std::nullopt;
      fetcher.tick();
      continue;
    }
    for (auto& [to, request] : requests) {
      EXPECT_NE(to, 0u) << "the fetcher (replica 0) asked itself";
      EXPECT_EQ(request.replica, 0u);
      auto it = peers.find(to);
      if (it == peers.end()) continue;
      if (std::optional<wire::StateReply> reply = it->second(request)) fetcher.on_reply(to, *reply);
    }
  }
  return std::nullopt;
}

// What the core does with a fetched snapshot: split off the reply cache and
// restore the manifest.
inline bool install(TestStore& store, const std::pair<Seq, Bytes>& ready) {
  size_t consumed = 0;
  if (!core::ClientTable::decode(ready.second, consumed)) return false;
  const ByteView manifest = ByteView(ready.second).subspan(consumed);
  if (!store.kv->restore(ready.first, manifest)) return false;
  EXPECT_EQ(store.kv->checkpoint(ready.first), Bytes(manifest.begin(), manifest.end()));
  store.persist();
  return true;
}

inline FetchOptions fetch_options(uint32_t n = 4, uint32_t chunk_bytes = 1 << 20) {
  FetchOptions o;
  o.self = 0;
  o.replica_count = n;
  o.chunk_bytes = chunk_bytes;
  o.timeout_ticks = 5;
  return o;
}

}  // namespace pbft::kv::testing
