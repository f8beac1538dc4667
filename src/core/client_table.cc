#include "core/client_table.h"

#include "common/assert.h"

namespace pbft::core {
namespace {

void put_u64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
bool get_u64(ByteView in, size_t& pos, uint64_t& v) {
  if (in.size() - pos < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{in[pos + i]} << (8 * i);
  pos += 8;
  return true;
}
bool get_u32(ByteView in, size_t& pos, uint32_t& v) {
  if (in.size() - pos < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{in[pos + i]} << (8 * i);
  pos += 4;
  return true;
}

constexpr uint64_t table_tag = 0x3176746e65696c63;  // "clientv1"

}  // namespace

const ClientTable::Entry* ClientTable::find(ClientId client) const {
  auto it = entries_.find(client);
  return it == entries_.end() ? nullptr : &it->second;
}

bool ClientTable::is_new(ClientId client, uint64_t timestamp) const {
  const Entry* e = find(client);
  return e == nullptr || timestamp > e->timestamp;
}

void ClientTable::record(ClientId client, uint64_t timestamp, Bytes result) {
  PBFT_ASSERT(is_new(client, timestamp), "a client's requests execute once, in timestamp order");
  entries_[client] = Entry{timestamp, std::move(result)};
}

// tag u64, count u64, then (client u64, timestamp u64, result length u32,
// result bytes) in client order.
Bytes ClientTable::encode() const {
  Bytes out;
  put_u64(out, table_tag);
  put_u64(out, entries_.size());
  for (const auto& [client, e] : entries_) {
    put_u64(out, client);
    put_u64(out, e.timestamp);
    put_u32(out, static_cast<uint32_t>(e.result.size()));
    out.insert(out.end(), e.result.begin(), e.result.end());
  }
  return out;
}

std::optional<ClientTable> ClientTable::decode(ByteView in, size_t& consumed) {
  size_t pos = 0;
  uint64_t tag = 0, count = 0;
  if (!get_u64(in, pos, tag) || tag != table_tag || !get_u64(in, pos, count)) return std::nullopt;
  if (count > (in.size() - pos) / 20) return std::nullopt;  // each entry is at least 20 bytes
  ClientTable table;
  bool first = true;
  ClientId previous = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t client = 0, timestamp = 0;
    uint32_t len = 0;
    if (!get_u64(in, pos, client) || !get_u64(in, pos, timestamp) || !get_u32(in, pos, len))
      return std::nullopt;
    if (!first && client <= previous) return std::nullopt;  // canonical: strictly increasing
    if (in.size() - pos < len) return std::nullopt;
    table.entries_[client] = Entry{timestamp, Bytes(in.begin() + pos, in.begin() + pos + len)};
    pos += len;
    previous = client;
    first = false;
  }
  consumed = pos;
  return table;
}

}  // namespace pbft::core
