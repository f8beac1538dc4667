// Storage on RocksDB: one database per data folder, with the write-ahead
// log on, so that a process crash loses nothing written and a machine crash
// loses at most the writes after the last sync (a suffix, never a hole:
// point-in-time WAL recovery).
#pragma once

#include <memory>
#include <string>

#include "storage/storage.h"

namespace rocksdb {
class DB;
}

namespace pbft::storage {

class RocksStorage final : public Storage {
 public:
  // Opens (creating if missing) the database in `dir`. Throws StorageError
  // when it cannot, e.g. when another process has the folder open.
  static std::unique_ptr<RocksStorage> open(const std::string& dir);
  ~RocksStorage() override;
  RocksStorage(const RocksStorage&) = delete;
  RocksStorage& operator=(const RocksStorage&) = delete;

  std::optional<std::string> get(std::string_view key) const override;
  void scan(std::string_view begin, std::string_view end, const Visitor& visit) const override;
  void write(const WriteBatch& batch, bool sync) override;
  void sync() override;
  // The view shares the database handle: the database (and its folder
  // lock) stays open until the storage and every view are gone.
  std::shared_ptr<const ReadView> snapshot() const override;

  const std::string& dir() const { return dir_; }

 private:
  RocksStorage(std::string dir, std::shared_ptr<rocksdb::DB> db);

  std::string dir_;
  std::shared_ptr<rocksdb::DB> db_;
};

}  // namespace pbft::storage
