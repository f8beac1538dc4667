// Persists the protocol core's DurableState in a Storage, under the key
// prefix "p/", one record per sequence number for what grows with the
// window and one record for the rest, so that a step of the protocol
// rewrites only what it changed:
//
//   p/meta            format version, then view, view_active, stable
//                     seq/digest, last_executed, last_proposed
//   p/certs           new_view, view_change, stable checkpoint certificate
//   p/slot/<seq>      a slot's flags and votes  (seq: 8 bytes big-endian,
//   p/pp/<seq>        its pre-prepare, batch     so that keys sort by
//   p/cert/<seq>      PreparedCert               sequence number)
//   p/exec/<seq>      executed digest
//   p/ckpt/<seq>      OwnCheckpoint
//   p/client/<id>     the client's last timestamp and result
//
// Protocol messages inside are wire frames (cluster id 0), so their
// encoding is the strict, checksummed one of the wire codec.
#pragma once

#include <optional>

#include "core/replica.h"
#include "storage/storage.h"

namespace pbft::storage {

class ReplicaStore {
 public:
  explicit ReplicaStore(const Storage& storage) : storage_(storage) {}

  // The state last written (nullopt: storage holds none). Throws
  // StorageError, naming the key, when a record does not decode.
  std::optional<core::DurableState> load();

  // Adds to `batch` the writes that turn what storage holds (as last
  // loaded or staged) into `d`, and remembers `d` as written. Before any
  // load() or stage(), what storage holds is unknown: the batch then
  // clears "p/" and writes every record.
  void stage(const core::DurableState& d, WriteBatch& batch);

 private:
  const Storage& storage_;
  // What storage holds once the staged batches are written: the base the
  // next stage() compares against, per record, with operator==. Updated
  // record by record, so a step costs what it changed, not a copy of all.
  std::optional<core::DurableState> known_;
  std::map<ClientId, core::ClientTable::Entry> known_clients_;
};

}  // namespace pbft::storage
