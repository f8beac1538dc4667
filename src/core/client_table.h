// The per-client reply cache: for each client, the timestamp of its last
// executed request and that request's result. Part of the replicated state
// (it is in every checkpoint), so every correct replica agrees on which
// requests have run.
#pragma once

#include <map>
#include <optional>

#include "common/types.h"

namespace pbft::core {

class ClientTable {
 public:
  struct Entry {
    uint64_t timestamp = 0;
    Bytes result;
    Seq seq = 0;         // where the request executed
    Digest operation;    // digest of its operation: a retransmission must match it
    bool operator==(const Entry&) const = default;
  };

  // The last executed request of `client`, if any.
  const Entry* find(ClientId client) const;
  // True when a request with this timestamp has not run yet.
  bool is_new(ClientId client, uint64_t timestamp) const;
  void record(ClientId client, uint64_t timestamp, Bytes result, Seq seq = 0, Digest operation = {});

  Bytes encode() const;
  // Decodes a table; nullopt when the bytes are malformed. `consumed` is set
  // to the number of bytes read.
  static std::optional<ClientTable> decode(ByteView bytes, size_t& consumed);

  size_t size() const { return entries_.size(); }
  const std::map<ClientId, Entry>& entries() const { return entries_; }
  bool operator==(const ClientTable&) const = default;

 private:
  std::map<ClientId, Entry> entries_;
};

}  // namespace pbft::core
