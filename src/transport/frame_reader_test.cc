#include "transport/frame_reader.h"

#include <gtest/gtest.h>

#include "transport/test_util.h"

namespace pbft::transport {
namespace {

using testing::replica_crypto;
using testing::sample_message;
using testing::wire_record;
using Kind = FrameReader::Event::Kind;

constexpr uint64_t cluster = 77;
constexpr uint32_t n = 4;

class FrameReaderTest : public ::testing::Test {
 protected:
  // Records from `sender` to replica 0.
  Bytes record_from(ReplicaId sender, const wire::Message& m) {
    return wire_record(sender, 0, wire::encode_frame(cluster, m), *cryptos_[sender]);
  }

  std::vector<std::unique_ptr<crypto::SodiumCrypto>> cryptos_ = [] {
    std::vector<std::unique_ptr<crypto::SodiumCrypto>> v;
    for (ReplicaId r = 0; r < n; ++r) v.push_back(replica_crypto(r, n));
    return v;
  }();
  FrameReader reader_{cluster, 0, n, *cryptos_[0]};
};

TEST_F(FrameReaderTest, DeliversRecordsFedByteByByte) {
  Bytes stream = record_from(1, sample_message(1, 0));
  const Bytes second = record_from(1, sample_message(1, 2));
  stream.insert(stream.end(), second.begin(), second.end());

  std::vector<wire::Message> got;
  for (size_t i = 0; i < stream.size(); ++i) {
    FrameReader::Event ev;
    ASSERT_EQ(reader_.feed(ByteView(&stream[i], 1), ev), 1u);
    ASSERT_NE(ev.kind, Kind::fault) << ev.reason;
    if (ev.kind == Kind::message) {
      EXPECT_EQ(ev.sender, 1u);
      got.push_back(std::move(*ev.message));
      EXPECT_FALSE(reader_.mid_frame());
    } else {
      EXPECT_TRUE(reader_.mid_frame());
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], sample_message(1, 0));
  EXPECT_EQ(got[1], sample_message(1, 2));
  EXPECT_EQ(reader_.bound_sender(), 1u);
}

TEST_F(FrameReaderTest, StopsAtTheEndOfEachRecord) {
  Bytes stream = record_from(2, sample_message(2, 1));
  const size_t first = stream.size();
  const Bytes second = record_from(2, sample_message(2, 3));
  stream.insert(stream.end(), second.begin(), second.end());

  FrameReader::Event ev;
  EXPECT_EQ(reader_.feed(stream, ev), first);
  EXPECT_EQ(ev.kind, Kind::message);
  EXPECT_EQ(reader_.feed(ByteView(stream).subspan(first), ev), second.size());
  EXPECT_EQ(ev.kind, Kind::message);
  EXPECT_EQ(*ev.message, sample_message(2, 3));
}

TEST_F(FrameReaderTest, RejectsABadHeaderBeforeTheBody) {
  Bytes record = record_from(1, sample_message(1, 0));
  record[sender_id_size] ^= 0xff;  // magic
  FrameReader::Event ev;
  EXPECT_EQ(reader_.feed(ByteView(record).first(record_prefix_size), ev), record_prefix_size);
  EXPECT_EQ(ev.kind, Kind::fault);
  EXPECT_EQ(ev.fault, FrameReader::Fault::bad_frame);
  EXPECT_TRUE(reader_.failed());
  EXPECT_EQ(reader_.feed(record, ev), 0u);
  EXPECT_EQ(ev.kind, Kind::fault);
}

TEST_F(FrameReaderTest, RejectsAnOversizedBodyFromTheHeaderAlone) {
  Bytes record = record_from(1, sample_message(1, 0));
  const uint32_t huge = static_cast<uint32_t>(wire::frame_body_bytes_max + 1);
  for (size_t i = 0; i < 4; ++i) {
    record[sender_id_size + 16 + i] = static_cast<uint8_t>(huge >> (8 * i));
  }
  FrameReader::Event ev;
  reader_.feed(ByteView(record).first(record_prefix_size), ev);
  EXPECT_EQ(ev.kind, Kind::fault);
  EXPECT_EQ(ev.fault, FrameReader::Fault::bad_frame);
}

TEST_F(FrameReaderTest, RejectsAnotherCluster) {
  const Bytes record = wire_record(1, 0, wire::encode_frame(cluster + 1, sample_message(1, 0)),
                                   *cryptos_[1]);
  FrameReader::Event ev;
  reader_.feed(record, ev);
  EXPECT_EQ(ev.kind, Kind::fault);
  EXPECT_EQ(ev.fault, FrameReader::Fault::bad_frame);
}

TEST_F(FrameReaderTest, RejectsAMacUnderAnotherKey) {
  // Replica 2 claims to be replica 1.
  const Bytes record =
      wire_record(1, 0, wire::encode_frame(cluster, sample_message(1, 0)), *cryptos_[2]);
  FrameReader::Event ev;
  reader_.feed(record, ev);
  EXPECT_EQ(ev.kind, Kind::fault);
  EXPECT_EQ(ev.fault, FrameReader::Fault::bad_mac);
  EXPECT_FALSE(reader_.bound_sender().has_value());
}

TEST_F(FrameReaderTest, RejectsACorruptBodyWithAValidMac) {
  // The MAC is fine but the frame's checksum is not: an undecodable frame.
  Bytes frame = wire::encode_frame(cluster, sample_message(1, 0));
  frame.back() ^= 1;
  const Bytes record = wire_record(1, 0, frame, *cryptos_[1]);
  FrameReader::Event ev;
  reader_.feed(record, ev);
  EXPECT_EQ(ev.kind, Kind::fault);
  EXPECT_EQ(ev.fault, FrameReader::Fault::bad_frame);
}

TEST_F(FrameReaderTest, RejectsSendersThatAreNotPeers) {
  for (ReplicaId sender : {ReplicaId{0}, ReplicaId{n}, ReplicaId{1000}}) {
    FrameReader reader(cluster, 0, n, *cryptos_[0]);
    Bytes record = record_from(1, sample_message(1, 0));
    for (size_t i = 0; i < 4; ++i) record[i] = static_cast<uint8_t>(sender >> (8 * i));
    FrameReader::Event ev;
    EXPECT_EQ(reader.feed(record, ev), record_prefix_size);
    EXPECT_EQ(ev.kind, Kind::fault) << sender;
    EXPECT_EQ(ev.fault, FrameReader::Fault::bad_mac) << sender;
  }
}

TEST_F(FrameReaderTest, ABoundConnectionRefusesAnotherSender) {
  const Bytes one = record_from(1, sample_message(1, 0));
  const Bytes two = record_from(2, sample_message(2, 0));
  FrameReader::Event ev;
  reader_.feed(one, ev);
  ASSERT_EQ(ev.kind, Kind::message);
  reader_.feed(two, ev);
  EXPECT_EQ(ev.kind, Kind::fault);
  EXPECT_EQ(ev.fault, FrameReader::Fault::bad_mac);
}

}  // namespace
}  // namespace pbft::transport
