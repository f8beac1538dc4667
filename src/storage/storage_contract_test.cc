// The Storage contract, run over every implementation.
#include <gtest/gtest.h>

#include <memory>

#include "common/temp_dir.h"
#include "storage/faulty_storage.h"
#include "storage/memory_storage.h"
#include "storage/rocks_storage.h"
#include "storage/test_util.h"

namespace pbft::storage {
namespace {

using testing::Contents;
using testing::contents;

struct MemoryCase {
  MemoryStorage storage;
};

struct RocksCase {
  TempDir dir{"pbft-storage"};
  std::unique_ptr<RocksStorage> db = RocksStorage::open(dir.file("db"));
  RocksStorage& storage = *db;
};

struct FaultyCase {
  MemoryStorage inner;
  FaultyStorage storage{inner};
};

template <typename Case>
class StorageContract : public ::testing::Test {
 protected:
  Storage& s() { return case_.storage; }
  void put(const std::string& k, const std::string& v, bool sync = false) {
    WriteBatch b;
    b.put(k, v);
    s().write(b, sync);
  }
  Contents scan(std::string_view begin, std::string_view end) {
    Contents out;
    s().scan(begin, end, [&](std::string_view k, std::string_view v) {
      out.emplace_back(k, v);
      return true;
    });
    return out;
  }

  Case case_;
};

using Implementations = ::testing::Types<MemoryCase, RocksCase, FaultyCase>;
TYPED_TEST_SUITE(StorageContract, Implementations);

TYPED_TEST(StorageContract, GetPutDel) {
  EXPECT_EQ(this->s().get("a"), std::nullopt);
  this->put("a", "1");
  this->put("empty", "");
  EXPECT_EQ(this->s().get("a"), "1");
  EXPECT_EQ(this->s().get("empty"), "");  // an empty value is not a missing key
  this->put("a", "2");
  EXPECT_EQ(this->s().get("a"), "2");

  WriteBatch b;
  b.del("a");
  b.del("never-there");
  this->s().write(b, true);
  EXPECT_EQ(this->s().get("a"), std::nullopt);
  EXPECT_EQ(this->s().get("empty"), "");
}

TYPED_TEST(StorageContract, KeysAndValuesAreArbitraryBytes) {
  const std::string key("k\0\xff", 3);
  const std::string value("\0v\x80\0", 4);
  this->put(key, value);
  EXPECT_EQ(this->s().get(key), value);
  EXPECT_EQ(this->s().get(std::string("k\0", 2)), std::nullopt);
}

TYPED_TEST(StorageContract, DelRangeRemovesHalfOpenRange) {
  for (const char* k : {"a", "b", "ba", "c", "d"}) this->put(k, k);
  WriteBatch b;
  b.del_range("b", "d");
  this->s().write(b, false);
  EXPECT_EQ(contents(this->s()), (Contents{{"a", "a"}, {"d", "d"}}));

  WriteBatch reversed;  // an empty range removes nothing
  reversed.del_range("d", "a");
  this->s().write(reversed, false);
  EXPECT_EQ(contents(this->s()), (Contents{{"a", "a"}, {"d", "d"}}));
}

TYPED_TEST(StorageContract, ScanIsBytewiseOrderedAndBounded) {
  // Written out of order; "\x80" sorts after ASCII (unsigned bytes).
  for (const char* k : {"c", "\x80", "a", "b2", "b", "b1", "\x01"}) this->put(k, std::string("v") + k);
  Contents all = this->scan("", "");
  std::vector<std::string> keys;
  for (auto& [k, v] : all) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"\x01", "a", "b", "b1", "b2", "c", "\x80"}));
  EXPECT_EQ(all[1], (std::pair<std::string, std::string>{"a", "va"}));

  EXPECT_EQ(this->scan("b", "c"), (Contents{{"b", "vb"}, {"b1", "vb1"}, {"b2", "vb2"}}));
  EXPECT_EQ(this->scan("b0", "b2"), (Contents{{"b1", "vb1"}}));  // begin need not exist
  EXPECT_EQ(this->scan("c", ""), (Contents{{"c", "vc"}, {"\x80", "v\x80"}}));  // no end bound
  EXPECT_TRUE(this->scan("d", "e").empty());
}

TYPED_TEST(StorageContract, ScanStopsWhenVisitorSaysSo) {
  for (const char* k : {"a", "b", "c", "d"}) this->put(k, k);
  std::vector<std::string> seen;
  this->s().scan("", "", [&](std::string_view k, std::string_view) {
    seen.emplace_back(k);
    return seen.size() < 2;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

TYPED_TEST(StorageContract, BatchAppliesInOrderAndAtOnce) {
  this->put("gone", "x");
  this->put("r1", "x");
  this->put("r2", "x");
  auto before = this->s().snapshot();

  WriteBatch b;
  b.put("k", "1");
  b.put("k", "2");        // the later op wins
  b.put("tmp", "t");
  b.del("tmp");           // put then delete: absent
  b.del("gone");
  b.put("gone", "back");  // delete then put: present
  b.del_range("r", "s");
  b.put("r3", "new");     // after the range delete: kept
  this->s().write(b, true);

  EXPECT_EQ(contents(this->s()), (Contents{{"gone", "back"}, {"k", "2"}, {"r3", "new"}}));
  // A view taken before the batch sees none of it.
  EXPECT_EQ(contents(*before), (Contents{{"gone", "x"}, {"r1", "x"}, {"r2", "x"}}));
}

TYPED_TEST(StorageContract, SnapshotIgnoresLaterWrites) {
  this->put("a", "1");
  this->put("b", "2");
  auto snap = this->s().snapshot();

  this->put("a", "10");
  this->put("c", "3");
  WriteBatch b;
  b.del("b");
  this->s().write(b, false);
  EXPECT_EQ(snap->get("a"), "1");
  EXPECT_EQ(snap->get("b"), "2");
  EXPECT_EQ(snap->get("c"), std::nullopt);

  auto second = this->s().snapshot();
  WriteBatch wipe;
  wipe.del_range("", std::string(1, '\xff'));
  this->s().write(wipe, true);
  this->put("z", "26");

  EXPECT_EQ(contents(*snap), (Contents{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(contents(*second), (Contents{{"a", "10"}, {"c", "3"}}));
  EXPECT_EQ(contents(this->s()), (Contents{{"z", "26"}}));
}

TYPED_TEST(StorageContract, SyncKeepsContents) {
  this->put("a", "1");
  this->s().sync();
  EXPECT_EQ(contents(this->s()), (Contents{{"a", "1"}}));
}

}  // namespace
}  // namespace pbft::storage
