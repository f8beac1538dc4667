// Storage in a std::map: for tests, the simulator and --in-memory runs.
// Nothing is durable; sync() does nothing (so it may run on any thread).
// Otherwise not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "storage/storage.h"

namespace pbft::storage {

// std::less<> lets get() and scan() look up string_views without copying.
// std::string compares bytes as unsigned char, the order RocksDB uses.
using KeyValueMap = std::map<std::string, std::string, std::less<>>;

// Visits the keys of `map` in [begin, end) (empty `end`: no bound) until
// `visit` returns false.
void scan_map(const KeyValueMap& map, std::string_view begin, std::string_view end,
              const Visitor& visit);
// Applies `batch` to `map` in order.
void apply_to_map(KeyValueMap& map, const WriteBatch& batch);

class MemoryStorage final : public Storage {
 public:
  MemoryStorage();

  std::optional<std::string> get(std::string_view key) const override;
  void scan(std::string_view begin, std::string_view end, const Visitor& visit) const override;
  void write(const WriteBatch& batch, bool sync) override;
  void sync() override {}
  // Shares the current map; the next write copies it (copy on write), so a
  // snapshot costs nothing until something changes.
  std::shared_ptr<const ReadView> snapshot() const override;

  size_t size() const { return data_->size(); }

 private:
  std::shared_ptr<KeyValueMap> data_;
};

}  // namespace pbft::storage
