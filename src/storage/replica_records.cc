#include "storage/replica_records.h"

#include <algorithm>
#include <variant>

#include "common/byte_io.h"
#include "wire/codec.h"

namespace pbft::storage::records {
namespace {

using byte_io::Reader;

constexpr size_t frame_bytes_max = wire::frame_header_size + wire::frame_body_bytes_max;

std::string to_string(const Bytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

void put_bool(Bytes& out, bool v) { byte_io::put_u8(out, v ? 1 : 0); }

std::optional<bool> read_bool(Reader& r) {
  auto v = r.u8();
  if (!v || *v > 1) return std::nullopt;
  return *v == 1;
}

void put_digest(Bytes& out, const Digest& d) { byte_io::put_bytes(out, d.bytes); }

bool read_digest(Reader& r, Digest& d) {
  auto b = r.bytes(digest_size);
  if (!b || b->size() != digest_size) return false;
  std::copy(b->begin(), b->end(), d.bytes.begin());
  return true;
}

// A protocol message as a length-prefixed wire frame.
void put_message(Bytes& out, const wire::Message& m) { byte_io::put_bytes(out, wire::encode_frame(0, m)); }

template <typename T>
bool read_message(Reader& r, T& m) {
  auto frame = r.bytes(frame_bytes_max);
  if (!frame) return false;
  wire::Decoded<wire::Message> decoded = wire::decode_frame(*frame, 0);
  if (!decoded.ok()) return false;
  T* value = std::get_if<T>(&*decoded.value);
  if (value == nullptr) return false;
  m = std::move(*value);
  return true;
}

template <typename T>
void put_optional(Bytes& out, const std::optional<T>& m) {
  put_bool(out, m.has_value());
  if (m) put_message(out, *m);
}

template <typename T>
bool read_optional(Reader& r, std::optional<T>& m) {
  auto present = read_bool(r);
  if (!present) return false;
  m.reset();
  if (!*present) return true;
  return read_message(r, m.emplace());
}

template <typename T>
void put_list(Bytes& out, const std::vector<T>& items) {
  byte_io::put_u32(out, static_cast<uint32_t>(items.size()));
  for (const T& item : items) put_message(out, item);
}

template <typename T>
bool read_list(Reader& r, std::vector<T>& items) {
  auto n = r.u32();
  if (!n) return false;
  items.clear();
  for (uint32_t i = 0; i < *n; ++i)
    if (!read_message(r, items.emplace_back())) return false;
  return true;
}

// The replica id each message is filed under, then the message.
template <typename T>
void put_by_replica(Bytes& out, const std::map<ReplicaId, T>& items) {
  byte_io::put_u32(out, static_cast<uint32_t>(items.size()));
  for (const auto& [replica, m] : items) {
    byte_io::put_u32(out, replica);
    put_message(out, m);
  }
}

template <typename T>
bool read_by_replica(Reader& r, std::map<ReplicaId, T>& items) {
  auto n = r.u32();
  if (!n) return false;
  items.clear();
  for (uint32_t i = 0; i < *n; ++i) {
    auto replica = r.u32();
    if (!replica || items.contains(*replica)) return false;
    if (!read_message(r, items[*replica])) return false;
  }
  return true;
}

constexpr uint8_t slot_has_pre_prepare = 1;
constexpr uint8_t slot_prepared = 2;
constexpr uint8_t slot_committed = 4;

}  // namespace

std::string encode_meta(const core::DurableState& d) {
  Bytes out;
  byte_io::put_u8(out, format_version);
  byte_io::put_u64(out, d.view);
  put_bool(out, d.view_active);
  byte_io::put_u64(out, d.stable_seq);
  put_digest(out, d.stable_digest);
  byte_io::put_u64(out, d.last_executed);
  byte_io::put_u64(out, d.last_proposed);
  byte_io::put_u64(out, d.asked_view);
  return to_string(out);
}

bool decode_meta(ByteView in, core::DurableState& d) {
  Reader r(in);
  auto version = r.u8();
  if (!version || *version != format_version) return false;
  auto view = r.u64();
  auto view_active = read_bool(r);
  if (!view || !view_active) return false;
  d.view = *view;
  d.view_active = *view_active;
  auto stable_seq = r.u64();
  if (!stable_seq || !read_digest(r, d.stable_digest)) return false;
  d.stable_seq = *stable_seq;
  auto last_executed = r.u64();
  auto last_proposed = r.u64();
  if (!last_executed || !last_proposed) return false;
  d.last_executed = *last_executed;
  d.last_proposed = *last_proposed;
  auto asked_view = r.u64();
  if (!asked_view) return false;
  d.asked_view = *asked_view;
  return r.at_end();
}

bool same_meta(const core::DurableState& a, const core::DurableState& b) {
  return a.view == b.view && a.view_active == b.view_active && a.stable_seq == b.stable_seq &&
         a.stable_digest == b.stable_digest && a.last_executed == b.last_executed &&
         a.last_proposed == b.last_proposed && a.asked_view == b.asked_view;
}

std::string encode_certificates(const core::DurableState& d) {
  Bytes out;
  put_optional(out, d.new_view);
  put_optional(out, d.view_change);
  put_list(out, d.stable_cert);
  return to_string(out);
}

bool decode_certificates(ByteView in, core::DurableState& d) {
  Reader r(in);
  return read_optional(r, d.new_view) && read_optional(r, d.view_change) &&
         read_list(r, d.stable_cert) && r.at_end();
}

bool same_certificates(const core::DurableState& a, const core::DurableState& b) {
  return a.new_view == b.new_view && a.view_change == b.view_change && a.stable_cert == b.stable_cert;
}

std::string encode(const core::Slot& slot) {
  Bytes out;
  uint8_t flags = (slot.pre_prepare ? slot_has_pre_prepare : 0) | (slot.prepared ? slot_prepared : 0) |
                  (slot.committed ? slot_committed : 0);
  byte_io::put_u8(out, flags);
  put_by_replica(out, slot.prepares);
  put_by_replica(out, slot.commits);
  return to_string(out);
}

bool decode(ByteView in, core::Slot& slot) {
  Reader r(in);
  auto flags = r.u8();
  if (!flags || (*flags & ~(slot_has_pre_prepare | slot_prepared | slot_committed)) != 0) return false;
  slot.prepared = (*flags & slot_prepared) != 0;
  slot.committed = (*flags & slot_committed) != 0;
  slot.pre_prepare.reset();
  // A placeholder, replaced by the "p/pp" record (load() checks it is there).
  if ((*flags & slot_has_pre_prepare) != 0) slot.pre_prepare.emplace();
  return read_by_replica(r, slot.prepares) && read_by_replica(r, slot.commits) && r.at_end();
}

bool same_votes(const core::Slot& a, const core::Slot& b) {
  return a.pre_prepare.has_value() == b.pre_prepare.has_value() && a.prepared == b.prepared &&
         a.committed == b.committed && a.prepares == b.prepares && a.commits == b.commits;
}

std::string encode(const wire::PrePrepare& pre_prepare) {
  Bytes out;
  put_message(out, pre_prepare);
  return to_string(out);
}

bool decode(ByteView in, wire::PrePrepare& pre_prepare) {
  Reader r(in);
  return read_message(r, pre_prepare) && r.at_end();
}

std::string encode(const wire::PreparedCert& cert) {
  Bytes out;
  put_message(out, cert.pre_prepare);
  put_list(out, cert.prepares);
  return to_string(out);
}

bool decode(ByteView in, wire::PreparedCert& cert) {
  Reader r(in);
  return read_message(r, cert.pre_prepare) && read_list(r, cert.prepares) && r.at_end();
}

std::string encode(const Digest& digest) {
  Bytes out;
  put_digest(out, digest);
  return to_string(out);
}

bool decode(ByteView in, Digest& digest) {
  Reader r(in);
  return read_digest(r, digest) && r.at_end();
}

std::string encode(const core::OwnCheckpoint& checkpoint) {
  Bytes out;
  put_digest(out, checkpoint.digest);
  byte_io::put_bytes(out, checkpoint.snapshot);
  return to_string(out);
}

bool decode(ByteView in, core::OwnCheckpoint& checkpoint) {
  Reader r(in);
  if (!read_digest(r, checkpoint.digest)) return false;
  auto snapshot = r.bytes(r.remaining());
  if (!snapshot) return false;
  checkpoint.snapshot = std::move(*snapshot);
  return r.at_end();
}

// timestamp u64, seq u64, operation digest (32 bytes), then the result.
std::string encode(const core::ClientTable::Entry& entry) {
  Bytes out;
  byte_io::put_u64(out, entry.timestamp);
  byte_io::put_u64(out, entry.seq);
  out.insert(out.end(), entry.operation.bytes.begin(), entry.operation.bytes.end());
  out.insert(out.end(), entry.result.begin(), entry.result.end());
  return to_string(out);
}

bool decode(ByteView in, core::ClientTable::Entry& entry) {
  Reader r(in);
  auto timestamp = r.u64();
  auto seq = r.u64();
  auto operation = r.raw(digest_size);
  if (!timestamp || !seq || !operation) return false;
  entry.timestamp = *timestamp;
  entry.seq = *seq;
  std::copy(operation->begin(), operation->end(), entry.operation.bytes.begin());
  entry.result.assign(in.begin() + 16 + digest_size, in.end());
  return true;
}

}  // namespace pbft::storage::records
