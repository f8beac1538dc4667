#include "core/client_table.h"

#include "common/assert.h"
#include "common/byte_io.h"

namespace pbft::core {
namespace {
constexpr uint64_t table_tag = 0x3276746e65696c63;  // "clientv2"
}  // namespace

const ClientTable::Entry* ClientTable::find(ClientId client) const {
  auto it = entries_.find(client);
  return it == entries_.end() ? nullptr : &it->second;
}

bool ClientTable::is_new(ClientId client, uint64_t timestamp) const {
  const Entry* e = find(client);
  return e == nullptr || timestamp > e->timestamp;
}

void ClientTable::record(ClientId client, uint64_t timestamp, Bytes result, Seq seq, Digest operation) {
  PBFT_ASSERT(is_new(client, timestamp), "a client's requests execute once, in timestamp order");
  entries_[client] = Entry{timestamp, std::move(result), seq, operation};
}

// tag u64, count u64, then (client u64, timestamp u64, seq u64, operation
// digest, result length u32, result bytes) in client order.
Bytes ClientTable::encode() const {
  Bytes out;
  byte_io::put_u64(out, table_tag);
  byte_io::put_u64(out, entries_.size());
  for (const auto& [client, e] : entries_) {
    byte_io::put_u64(out, client);
    byte_io::put_u64(out, e.timestamp);
    byte_io::put_u64(out, e.seq);
    out.insert(out.end(), e.operation.bytes.begin(), e.operation.bytes.end());
    byte_io::put_bytes(out, e.result);
  }
  return out;
}

std::optional<ClientTable> ClientTable::decode(ByteView in, size_t& consumed) {
  byte_io::Reader r(in);
  auto tag = r.u64();
  auto count = r.u64();
  if (!tag || *tag != table_tag || !count) return std::nullopt;
  constexpr size_t entry_min = 8 + 8 + 8 + digest_size + 4;
  if (*count > r.remaining() / entry_min) return std::nullopt;
  ClientTable table;
  for (uint64_t i = 0; i < *count; ++i) {
    auto client = r.u64();
    auto timestamp = r.u64();
    auto seq = r.u64();
    auto operation = r.raw(digest_size);
    if (!client || !timestamp || !seq || !operation) return std::nullopt;
    // Canonical: strictly increasing client ids.
    if (!table.entries_.empty() && *client <= table.entries_.rbegin()->first) return std::nullopt;
    auto result = r.bytes(r.remaining());
    if (!result) return std::nullopt;
    table.entries_.emplace_hint(table.entries_.end(), *client, Entry{*timestamp, std::move(*result), *seq, {}});
    std::copy(operation->begin(), operation->end(), table.entries_.rbegin()->second.operation.bytes.begin());
  }
  consumed = in.size() - r.remaining();
  return table;
}

}  // namespace pbft::core
