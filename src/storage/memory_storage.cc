#include "storage/memory_storage.h"

namespace pbft::storage {
namespace {

// A frozen map: nobody writes to it once a view shares it.
class MapView final : public ReadView {
 public:
  explicit MapView(std::shared_ptr<const KeyValueMap> data) : data_(std::move(data)) {}

  std::optional<std::string> get(std::string_view key) const override {
    auto it = data_->find(key);
    if (it == data_->end()) return std::nullopt;
    return it->second;
  }
  void scan(std::string_view begin, std::string_view end, const Visitor& visit) const override {
    scan_map(*data_, begin, end, visit);
  }

 private:
  std::shared_ptr<const KeyValueMap> data_;
};

}  // namespace

void scan_map(const KeyValueMap& map, std::string_view begin, std::string_view end,
              const Visitor& visit) {
  for (auto it = map.lower_bound(begin); it != map.end(); ++it) {
    if (!end.empty() && std::string_view(it->first) >= end) break;
    if (!visit(it->first, it->second)) break;
  }
}

void apply_to_map(KeyValueMap& map, const WriteBatch& batch) {
  for (const WriteOp& op : batch.ops()) {
    switch (op.kind) {
      case WriteOp::Kind::put:
        map.insert_or_assign(op.key, op.value);
        break;
      case WriteOp::Kind::del:
        map.erase(op.key);
        break;
      case WriteOp::Kind::del_range:
        if (op.key < op.value) map.erase(map.lower_bound(op.key), map.lower_bound(op.value));
        break;
    }
  }
}

MemoryStorage::MemoryStorage() : data_(std::make_shared<KeyValueMap>()) {}

std::optional<std::string> MemoryStorage::get(std::string_view key) const {
  auto it = data_->find(key);
  if (it == data_->end()) return std::nullopt;
  return it->second;
}

void MemoryStorage::scan(std::string_view begin, std::string_view end, const Visitor& visit) const {
  scan_map(*data_, begin, end, visit);
}

void MemoryStorage::write(const WriteBatch& batch, bool /*sync*/) {
  if (batch.empty()) return;
  // Build the new map aside when a snapshot shares the current one. Else
  // apply in place: std::map operations only throw bad_alloc, which stops
  // the replica anyway.
  if (data_.use_count() > 1) {
    auto copy = std::make_shared<KeyValueMap>(*data_);
    apply_to_map(*copy, batch);
    data_ = std::move(copy);
  } else {
    apply_to_map(*data_, batch);
  }
}

std::shared_ptr<const ReadView> MemoryStorage::snapshot() const {
  return std::make_shared<MapView>(data_);
}

}  // namespace pbft::storage
