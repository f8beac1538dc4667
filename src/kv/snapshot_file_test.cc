#include "kv/snapshot_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "common/temp_dir.h"
#include "core/client_table.h"
#include "crypto/sodium_crypto.h"
#include "kv/kv_test_util.h"
#include "kv/manifest.h"
#include "wire/codec.h"

namespace pbft::kv {
namespace {

constexpr uint32_t replicas = 4;  // f = 1, q = 3
constexpr Seq seq = 20;
constexpr uint32_t interval = 10;

crypto::KeyPair key_of(uint32_t i) {
  std::array<uint8_t, crypto::seed_size> seed{};
  seed[0] = static_cast<uint8_t>(i + 1);
  return crypto::key_pair_from_seed(seed);
}

crypto::Keyring keyring(bool replica, uint32_t self) {
  crypto::Keyring k;
  k.self = key_of(self);
  k.self_is_replica = replica;
  k.self_id = self;
  for (uint32_t i = 0; i < replicas; ++i) k.replicas.push_back(key_of(i).public_key);
  return k;
}

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_all(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A store with some keys, its header at `seq` signed by replicas 0..2, and
// its records by bucket.
struct Fixture {
  testing::TestStore store;
  SnapshotHeader header;
  std::map<uint32_t, std::vector<ChunkRecord>> buckets;
  crypto::SodiumCrypto checker{keyring(false, 0)};

  Fixture() {
    for (int i = 0; i < 300; ++i) store.put("key/" + std::to_string(i), std::string(i % 50, 'v'), 7);
    store.run({OpKind::put, "with-id", "x", "request-1"}, 8);
    Bytes manifest = store.kv->checkpoint(seq);
    store.persist();
    header.cluster_id = 42;
    header.seq = seq;
    header.replica_count = replicas;
    header.state = core::ClientTable{}.encode();
    header.state.insert(header.state.end(), manifest.begin(), manifest.end());
    crypto_generichash(header.digest.bytes.data(), digest_size, header.state.data(), header.state.size(), nullptr, 0);
    for (uint32_t i = 0; i < 3; ++i) header.certificate.push_back(sign(i, header.digest));
    const std::vector<Digest> leaves = *decode_manifest(manifest);
    for (uint32_t b = 0; b < bucket_count; ++b) {
      if (leaves[b] == Digest{}) continue;
      std::optional<Bytes> chunk = store.kv->read_chunk(seq, b, {}, b + 1, KvStore::chunk_bytes_cap);
      buckets[b] = decode_chunk(*chunk)->records;
    }
  }

  wire::Checkpoint sign(uint32_t replica, const Digest& digest) const {
    crypto::SodiumCrypto signer(keyring(true, replica));
    wire::Checkpoint c{seq, digest, replica, {}};
    c.sig = signer.sign(wire::signing_bytes(c));
    return c;
  }

  void write(const std::string& path, const SnapshotHeader& h) const {
    SnapshotWriter w(path, h);
    for (const auto& [b, records] : buckets) w.add_bucket(b, records);
    w.commit();
  }
};

TEST(SnapshotFile, RoundTripGivesTheSameHeaderAndRecords) {
  TempDir dir;
  Fixture f;
  const std::string path = dir.file("s.pbkv");
  f.write(path, f.header);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  std::map<uint32_t, std::vector<ChunkRecord>> seen;
  SnapshotSummary s = read_snapshot_file(path, [&](uint32_t b, std::vector<ChunkRecord>& r) { seen[b] = r; });
  EXPECT_EQ(s.header.cluster_id, 42u);
  EXPECT_EQ(s.header.seq, seq);
  EXPECT_EQ(s.header.digest, f.header.digest);
  EXPECT_EQ(s.header.state, f.header.state);
  EXPECT_EQ(s.header.certificate, f.header.certificate);
  EXPECT_EQ(s.keys, 301u);
  EXPECT_EQ(s.records, 302u);  // and the request id
  EXPECT_EQ(s.file_bytes, std::filesystem::file_size(path));
  EXPECT_EQ(seen, f.buckets);
  EXPECT_EQ(check_certificate(seq, s.header.digest, s.header.certificate, replicas, interval, f.checker), "");
  EXPECT_EQ(read_snapshot_header(path).seq, seq);
}

TEST(SnapshotFile, EveryTruncationIsRefused) {
  TempDir dir;
  Fixture f;
  const std::string path = dir.file("s.pbkv");
  f.write(path, f.header);
  const Bytes good = read_all(path);
  // Every length short of the whole, in steps that hit header, state, records and trailer.
  for (size_t size = 0; size < good.size(); size += (size < 200 || size + 100 > good.size()) ? 1 : 997) {
    write_all(path, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size)));
    EXPECT_THROW(read_snapshot_file(path), SnapshotError) << "truncated to " << size;
  }
  Bytes longer = good;
  longer.push_back(0);
  write_all(path, longer);
  EXPECT_THROW(read_snapshot_file(path), SnapshotError);
}

TEST(SnapshotFile, EveryFlippedByteIsRefused) {
  TempDir dir;
  Fixture f;
  const std::string path = dir.file("s.pbkv");
  f.write(path, f.header);
  const Bytes good = read_all(path);
  for (size_t i = 0; i < good.size(); i += (i < 400 || i + 64 > good.size()) ? 1 : 131) {
    Bytes bad = good;
    bad[i] ^= 0x01;
    write_all(path, bad);
    EXPECT_THROW(read_snapshot_file(path), SnapshotError) << "byte " << i << " flipped went unnoticed";
  }
}

TEST(SnapshotFile, AWrongDigestIsRefusedEvenWithAGoodChecksum) {
  TempDir dir;
  Fixture f;
  const std::string path = dir.file("s.pbkv");
  SnapshotHeader h = f.header;
  h.digest.bytes[0] ^= 1;  // the file is well formed and checksummed, but its state is not this digest
  f.write(path, h);
  try {
    read_snapshot_file(path);
    FAIL() << "accepted";
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find("digest"), std::string::npos) << e.what();
  }
}

TEST(SnapshotFile, RecordsThatDoNotMatchTheManifestAreRefused) {
  TempDir dir;
  Fixture f;
  const std::string path = dir.file("s.pbkv");
  Fixture changed;
  changed.buckets.begin()->second.back().value.back() ^= 1;  // a value changed, checksum recomputed
  changed.write(path, f.header);
  EXPECT_THROW(read_snapshot_file(path), SnapshotError);
  Fixture missing;
  missing.buckets.erase(missing.buckets.begin());  // a whole bucket left out
  missing.write(path, f.header);
  EXPECT_THROW(read_snapshot_file(path), SnapshotError);
}

TEST(SnapshotFile, WrongCertificatesAreRefused) {
  Fixture f;
  const Digest& d = f.header.digest;
  auto check = [&](const std::vector<wire::Checkpoint>& cert) {
    return check_certificate(seq, d, cert, replicas, interval, f.checker);
  };
  EXPECT_EQ(check(f.header.certificate), "");
  std::vector<wire::Checkpoint> two(f.header.certificate.begin(), f.header.certificate.begin() + 2);
  EXPECT_NE(check(two), "");  // below the quorum of 3
  std::vector<wire::Checkpoint> dup = two;
  dup.push_back(two[0]);
  EXPECT_NE(check(dup), "");  // one replica twice
  std::vector<wire::Checkpoint> forged = f.header.certificate;
  forged[2].sig[5] ^= 1;
  EXPECT_NE(check(forged), "");
  std::vector<wire::Checkpoint> other = f.header.certificate;
  Digest another = d;
  another.bytes[3] ^= 1;
  other[1] = f.sign(1, another);  // signed, but for another state
  EXPECT_NE(check(other), "");
  std::vector<wire::Checkpoint> stranger = f.header.certificate;
  stranger[2].replica = 7;
  EXPECT_NE(check(stranger), "");
  EXPECT_NE(check_certificate(seq + 1, d, f.header.certificate, replicas, interval, f.checker), "");
  EXPECT_NE(check_certificate(0, d, {}, replicas, interval, f.checker), "");
  // Another cluster's keys.
  crypto::Keyring k = keyring(false, 0);
  k.replicas[0] = key_of(9).public_key;
  crypto::SodiumCrypto strangers(k);
  EXPECT_NE(check_certificate(seq, d, f.header.certificate, replicas, interval, strangers), "");
}

TEST(SnapshotFile, AnUncommittedWriterLeavesNothing) {
  TempDir dir;
  Fixture f;
  const std::string path = dir.file("s.pbkv");
  {
    SnapshotWriter w(path, f.header);
    w.add_bucket(f.buckets.begin()->first, f.buckets.begin()->second);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  // A check before the rename that refuses keeps the old name untouched.
  write_all(path, Bytes{1, 2, 3});
  {
    SnapshotWriter w(path, f.header);
    EXPECT_THROW(w.commit([](const std::string&) { throw SnapshotError("refused"); }), SnapshotError);
  }
  EXPECT_EQ(read_all(path), (Bytes{1, 2, 3}));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace pbft::kv
