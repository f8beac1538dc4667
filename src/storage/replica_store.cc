#include "storage/replica_store.h"

#include "storage/replica_records.h"

namespace pbft::storage {
namespace {

const std::string meta_key = "p/meta";
const std::string certs_key = "p/certs";
const std::string slot_prefix = "p/slot/";
const std::string pre_prepare_prefix = "p/pp/";
const std::string cert_prefix = "p/cert/";
const std::string exec_prefix = "p/exec/";
const std::string ckpt_prefix = "p/ckpt/";
const std::string client_prefix = "p/client/";

// The first key after every key that starts with `prefix` (which ends in
// '/', so incrementing its last byte cannot overflow).
std::string prefix_end(std::string prefix) {
  ++prefix.back();
  return prefix;
}

std::string seq_key(const std::string& prefix, Seq seq) {
  std::string key = prefix;
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(seq >> shift));
  return key;
}

// A key as error messages name it: the sequence number in decimal.
std::string key_name(const std::string& prefix, std::string_view key) {
  if (key.size() != prefix.size() + 8) return std::string(key);
  Seq seq = 0;
  for (size_t i = prefix.size(); i < key.size(); ++i) seq = (seq << 8) | static_cast<uint8_t>(key[i]);
  return prefix + std::to_string(seq);
}

[[noreturn]] void corrupt(const std::string& key, const std::string& what) {
  throw StorageError("replica state record " + key + " " + what);
}

template <typename T>
bool same_record(const T& a, const T& b) {
  return a == b;
}
// A pre-prepare's batch is determined by its digest (the core accepts only
// pre-prepares whose digest is batch_digest(batch)), so a slot compares
// without walking its batch: most slots are unchanged at each persist.
bool same_pre_prepare(const std::optional<wire::PrePrepare>& a, const std::optional<wire::PrePrepare>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->view == b->view && a->seq == b->seq && a->digest == b->digest && a->sig == b->sig &&
         a->batch.size() == b->batch.size();
}
bool same_record(const core::Slot& a, const core::Slot& b) {
  return records::same_votes(a, b) && same_pre_prepare(a.pre_prepare, b.pre_prepare);
}
// A checkpoint's snapshot (about 140 KB with the KV manifest) is determined
// by its digest: comparing digests spares a large compare per persist.
bool same_record(const core::OwnCheckpoint& a, const core::OwnCheckpoint& b) {
  return a.digest == b.digest && a.snapshot.size() == b.snapshot.size();
}

template <typename T>
void put_record(WriteBatch& batch, const std::string& prefix, Seq seq, const T*, const T& after) {
  batch.put(seq_key(prefix, seq), records::encode(after));
}
template <typename T>
void del_record(WriteBatch& batch, const std::string& prefix, Seq seq, const T&) {
  batch.del(seq_key(prefix, seq));
}
// A slot is two records: its votes, rewritten as they arrive, and its
// pre-prepare (with the batch), written once.
void put_record(WriteBatch& batch, const std::string& prefix, Seq seq, const core::Slot* before,
                const core::Slot& after) {
  if (before == nullptr || !same_pre_prepare(before->pre_prepare, after.pre_prepare)) {
    if (after.pre_prepare) batch.put(seq_key(pre_prepare_prefix, seq), records::encode(*after.pre_prepare));
    else if (before != nullptr) batch.del(seq_key(pre_prepare_prefix, seq));
  }
  if (before == nullptr || !records::same_votes(*before, after))
    batch.put(seq_key(prefix, seq), records::encode(after));
}
void del_record(WriteBatch& batch, const std::string& prefix, Seq seq, const core::Slot& slot) {
  batch.del(seq_key(prefix, seq));
  if (slot.pre_prepare) batch.del(seq_key(pre_prepare_prefix, seq));
}

// Puts the records of `after` that differ from `known` and deletes those
// that disappeared, walking both maps in key order; `known` becomes
// `after`, entry by entry.
template <typename T>
void stage_records(std::map<uint64_t, T>& known, const std::map<uint64_t, T>& after,
                   const std::string& prefix, WriteBatch& batch) {
  auto b = known.begin();
  auto a = after.begin();
  while (b != known.end() || a != after.end()) {
    if (a == after.end() || (b != known.end() && b->first < a->first)) {
      del_record(batch, prefix, b->first, b->second);
      b = known.erase(b);
    } else if (b == known.end() || a->first < b->first) {
      put_record(batch, prefix, a->first, static_cast<const T*>(nullptr), a->second);
      known.emplace_hint(b, a->first, a->second);
      ++a;
    } else {
      if (!same_record(a->second, b->second)) {
        put_record(batch, prefix, a->first, &b->second, a->second);
        b->second = a->second;
      }
      ++a;
      ++b;
    }
  }
}

template <typename T>
void load_records(const ReadView& view, const std::string& prefix, std::map<Seq, T>& out) {
  view.scan(prefix, prefix_end(prefix), [&](std::string_view key, std::string_view value) {
    if (key.size() != prefix.size() + 8) corrupt(std::string(key), "has a malformed key");
    T record{};
    ByteView bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size());
    if (!records::decode(bytes, record)) corrupt(key_name(prefix, key), "does not decode");
    Seq seq = 0;
    for (size_t i = prefix.size(); i < key.size(); ++i) seq = (seq << 8) | static_cast<uint8_t>(key[i]);
    out.emplace_hint(out.end(), seq, std::move(record));
    return true;
  });
}

}  // namespace

std::optional<core::DurableState> ReplicaStore::load() {
  // One snapshot, so that the records read belong to one written state.
  std::shared_ptr<const ReadView> view = storage_.snapshot();
  std::optional<std::string> meta = view->get(meta_key);
  if (!meta) {
    known_.reset();
    return std::nullopt;
  }
  if (meta->empty()) corrupt(meta_key, "is empty");
  auto version = static_cast<uint8_t>((*meta)[0]);
  if (version != records::format_version)
    corrupt(meta_key, "has unknown format version " + std::to_string(version) + " (this build reads " +
                          std::to_string(records::format_version) + ")");
  core::DurableState d;
  if (!records::decode_meta(as_bytes(*meta), d)) corrupt(meta_key, "does not decode");
  std::optional<std::string> certs = view->get(certs_key);
  if (!certs) corrupt(certs_key, "is missing");
  if (!records::decode_certificates(as_bytes(*certs), d)) corrupt(certs_key, "does not decode");
  load_records(*view, slot_prefix, d.slots);
  std::map<Seq, wire::PrePrepare> pre_prepares;
  load_records(*view, pre_prepare_prefix, pre_prepares);
  for (auto& [seq, slot] : d.slots) {
    if (!slot.pre_prepare) continue;
    auto it = pre_prepares.find(seq);
    if (it == pre_prepares.end()) corrupt(key_name(pre_prepare_prefix, seq_key(pre_prepare_prefix, seq)), "is missing");
    slot.pre_prepare = std::move(it->second);
    pre_prepares.erase(it);
  }
  if (!pre_prepares.empty())
    corrupt(key_name(pre_prepare_prefix, seq_key(pre_prepare_prefix, pre_prepares.begin()->first)),
            "has no slot");
  load_records(*view, cert_prefix, d.prepared_certs);
  load_records(*view, exec_prefix, d.executed_digests);
  load_records(*view, ckpt_prefix, d.checkpoints);
  std::map<ClientId, core::ClientTable::Entry> clients;
  load_records(*view, client_prefix, clients);
  for (auto& [client, entry] : clients) d.clients.record(client, entry.timestamp, entry.result, entry.seq, entry.operation);
  known_ = d;
  known_clients_ = std::move(clients);
  return d;
}

void ReplicaStore::stage(const core::DurableState& d, WriteBatch& batch) {
  if (!known_) {
    batch.del_range("p/", prefix_end("p/"));
    known_.emplace();
    known_clients_.clear();
    batch.put(meta_key, records::encode_meta(d));
    batch.put(certs_key, records::encode_certificates(d));
  } else {
    if (!records::same_meta(*known_, d)) batch.put(meta_key, records::encode_meta(d));
    if (!records::same_certificates(*known_, d)) batch.put(certs_key, records::encode_certificates(d));
  }
  core::DurableState& k = *known_;
  k.view = d.view;
  k.view_active = d.view_active;
  if (k.new_view != d.new_view) k.new_view = d.new_view;
  if (k.view_change != d.view_change) k.view_change = d.view_change;
  k.stable_seq = d.stable_seq;
  k.stable_digest = d.stable_digest;
  if (k.stable_cert != d.stable_cert) k.stable_cert = d.stable_cert;
  k.last_executed = d.last_executed;
  k.last_proposed = d.last_proposed;
  k.asked_view = d.asked_view;
  stage_records(k.slots, d.slots, slot_prefix, batch);
  stage_records(k.prepared_certs, d.prepared_certs, cert_prefix, batch);
  stage_records(k.executed_digests, d.executed_digests, exec_prefix, batch);
  stage_records(k.checkpoints, d.checkpoints, ckpt_prefix, batch);
  stage_records(known_clients_, d.clients.entries(), client_prefix, batch);
}

}  // namespace pbft::storage
