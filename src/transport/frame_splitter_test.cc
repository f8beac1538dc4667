#include "transport/frame_splitter.h"

#include <gtest/gtest.h>

#include "wire/codec.h"

namespace pbft::transport {
namespace {

constexpr uint64_t cluster = 7;

wire::Request request(uint64_t ts, size_t size = 10) {
  return wire::Request{3, ts, Bytes(size, static_cast<uint8_t>(ts)), {}, wire::Request::flag_signed_reply};
}

std::vector<wire::Message> drain(FrameSplitter& s) {
  std::vector<wire::Message> out;
  for (;;) {
    FrameSplitter::Event e = s.next();
    if (e.kind != FrameSplitter::Event::Kind::message) break;
    out.push_back(*e.message);
  }
  return out;
}

TEST(FrameSplitter, SplitsFramesHoweverTheBytesArrive) {
  Bytes stream;
  for (uint64_t ts = 1; ts <= 5; ++ts) {
    Bytes f = wire::encode_frame(cluster, request(ts, 100 * ts));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (size_t piece : {size_t{1}, size_t{7}, size_t{24}, size_t{333}, stream.size()}) {
    FrameSplitter s(cluster, 1 << 20);
    std::vector<wire::Message> got;
    for (size_t at = 0; at < stream.size(); at += piece) {
      s.append(ByteView(stream).subspan(at, std::min(piece, stream.size() - at)));
      for (wire::Message& m : drain(s)) got.push_back(std::move(m));
    }
    ASSERT_EQ(got.size(), 5u) << "pieces of " << piece;
    for (uint64_t ts = 1; ts <= 5; ++ts) EXPECT_EQ(std::get<wire::Request>(got[ts - 1]), request(ts, 100 * ts));
    EXPECT_EQ(s.buffered(), 0u);
  }
}

TEST(FrameSplitter, AFrameOverTheLimitIsAFaultBeforeItsBody) {
  FrameSplitter s(cluster, 100);
  Bytes f = wire::encode_frame(cluster, request(1, 200));
  s.append(ByteView(f).first(wire::frame_header_size));  // the header alone
  FrameSplitter::Event e = s.next();
  EXPECT_EQ(e.kind, FrameSplitter::Event::Kind::fault);
  EXPECT_NE(e.reason.find("over the limit"), std::string::npos) << e.reason;
  // Final: nothing more comes out, whatever follows.
  Bytes good = wire::encode_frame(cluster, request(2));
  s.append(good);
  EXPECT_EQ(s.next().kind, FrameSplitter::Event::Kind::fault);
}

TEST(FrameSplitter, OtherClustersAndDamagedFramesAreFaults) {
  {
    FrameSplitter s(cluster, 1 << 20);
    s.append(wire::encode_frame(cluster + 1, request(1)));
    FrameSplitter::Event e = s.next();
    EXPECT_EQ(e.kind, FrameSplitter::Event::Kind::fault);
    EXPECT_EQ(e.reason, "wrong cluster id");
  }
  {
    FrameSplitter s(cluster, 1 << 20);
    Bytes f = wire::encode_frame(cluster, request(1));
    f.back() ^= 1;
    s.append(f);
    EXPECT_EQ(s.next().kind, FrameSplitter::Event::Kind::fault);
  }
  {
    FrameSplitter s(cluster, 1 << 20);
    s.append(Bytes(wire::frame_header_size, 'x'));
    EXPECT_EQ(s.next().kind, FrameSplitter::Event::Kind::fault);
  }
}

}  // namespace
}  // namespace pbft::transport
