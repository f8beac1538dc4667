#include "wire/codec.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace pbft::wire {
namespace {

constexpr uint64_t cluster = 0x1122334455667788ULL;

// ------------------------------------------------------------ sample data

Digest digest_of(uint8_t seed) {
  Digest d;
  for (size_t i = 0; i < d.bytes.size(); ++i) d.bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return d;
}

Signature sig_of(uint8_t seed) {
  Signature s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(seed * 17 + i * 3 + 1);
  return s;
}

Request sample_request(uint8_t seed) {
  return Request{.client = 1000u + seed,
                 .timestamp = 0x0102030405060708ULL + seed,
                 .operation = to_bytes("put key" + std::to_string(seed) + " value"),
                 .sig = sig_of(seed)};
}

PrePrepare sample_pre_prepare(uint8_t seed, size_t batch) {
  PrePrepare p{.view = 7u + seed, .seq = 100u + seed, .digest = digest_of(seed), .sig = sig_of(seed + 1)};
  for (size_t i = 0; i < batch; ++i) p.batch.push_back(sample_request(static_cast<uint8_t>(seed + i)));
  return p;
}

Prepare sample_prepare(uint8_t seed) {
  return Prepare{.view = 7, .seq = 100u + seed, .digest = digest_of(seed), .replica = seed, .sig = sig_of(seed + 2)};
}

Checkpoint sample_checkpoint(uint8_t seed) {
  return Checkpoint{.seq = 128, .state_digest = digest_of(40), .replica = seed, .sig = sig_of(seed + 3)};
}

PreparedCert sample_prepared_cert(uint8_t seed) {
  return PreparedCert{.pre_prepare = sample_pre_prepare(seed, 2),
                      .prepares = {sample_prepare(seed), sample_prepare(static_cast<uint8_t>(seed + 1))}};
}

ViewChange sample_view_change(uint8_t replica) {
  return ViewChange{.new_view = 8,
                    .stable_seq = 128,
                    .checkpoint_cert = {sample_checkpoint(0), sample_checkpoint(1), sample_checkpoint(2)},
                    .prepared = {sample_prepared_cert(1), sample_prepared_cert(2)},
                    .replica = replica,
                    .sig = sig_of(static_cast<uint8_t>(50 + replica))};
}

NewView sample_new_view() {
  return NewView{.view = 8,
                 .view_changes = {sample_view_change(0), sample_view_change(1), sample_view_change(2)},
                 .pre_prepares = {sample_pre_prepare(1, 0), sample_pre_prepare(2, 0), sample_pre_prepare(3, 0)},
                 .replica = 0,
                 .sig = sig_of(99)};
}

std::vector<Message> sample_messages() {
  return {
      sample_request(1),
      sample_pre_prepare(1, 3),
      sample_prepare(2),
      Commit{.view = 3, .seq = 0xFFFFFFFFFFFFFFFFULL, .digest = digest_of(9), .replica = 0xFFFFFFFFu},
      sample_checkpoint(3),
      sample_view_change(2),
      sample_new_view(),
      Reply{.view = 5, .timestamp = 77, .client = 1001, .replica = 3, .result = to_bytes("ok: value")},
      Reply{.view = 5, .timestamp = 78, .client = 1001, .replica = 2, .result = to_bytes("ok"), .seq = 12,
            .sig = sig_of(4)},
      Request{.client = 9, .timestamp = 3, .operation = to_bytes("op"), .sig = sig_of(5),
              .flags = Request::flag_signed_reply},
      Status{.replica = 2,
             .view = 9,
             .view_active = false,
             .stable_seq = 256,
             .last_executed = 300,
             .slot_flags = {0, 1, 3, 7, 2}},
      StableCheckpoint{.certificate = {sample_checkpoint(0), sample_checkpoint(1), sample_checkpoint(3)}},
      StateRequest{.seq = 40, .replica = 2},
      StateRequest{.seq = 40, .replica = 2, .part = StatePart::chunk, .bucket = 7, .bucket_end = 90,
                   .after = to_bytes("k/last"), .max_bytes = 1 << 20},
      StateReply{.seq = 40, .replica = 1, .payload = to_bytes("manifest bytes")},
      StateReply{.seq = 40, .replica = 1, .part = StatePart::chunk, .bucket = 7,
                 .after = to_bytes("k/last"), .available = true, .payload = to_bytes("records")},
  };
}

// Messages whose lists hold only minimal (default) items, to pin the
// minimum sizes the decoder assumes for each item.
std::vector<Message> minimal_messages() {
  ViewChange vc{.checkpoint_cert = {Checkpoint{}}, .prepared = {PreparedCert{}, PreparedCert{}}};
  return {
      Request{},
      PrePrepare{.batch = {Request{}, Request{}}},
      Prepare{},
      Commit{},
      Checkpoint{},
      vc,
      ViewChange{},
      NewView{.view_changes = {ViewChange{}, vc}, .pre_prepares = {PrePrepare{}}},
      NewView{},
      Reply{},
      Status{},
      StableCheckpoint{.certificate = {Checkpoint{}}},
      StableCheckpoint{},
      StateRequest{},
      StateReply{},
  };
}

// ------------------------------------------------------------ hand-built frames

void put_le(Bytes& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t get_le(const Bytes& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(b.at(at + i)) << (8 * i);
  return v;
}

void set_le(Bytes& b, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.at(at + i) = static_cast<uint8_t>(v >> (8 * i));
}

// Rewrites the header's body length and CRC to match the body that follows.
void fix_header(Bytes& frame) {
  ByteView body = ByteView(frame).subspan(frame_header_size);
  set_le(frame, 16, body.size(), 4);
  set_le(frame, 20, crc32c(body), 4);
}

Bytes make_frame(MessageType type, uint64_t cluster_id, const Bytes& body) {
  Bytes f;
  put_le(f, frame_magic, 4);
  put_le(f, frame_version, 1);
  put_le(f, static_cast<uint8_t>(type), 1);
  put_le(f, 0, 2);
  put_le(f, cluster_id, 8);
  put_le(f, 0, 4);
  put_le(f, 0, 4);
  f.insert(f.end(), body.begin(), body.end());
  fix_header(f);
  return f;
}

Bytes zeros(size_t n) { return Bytes(n, 0); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes u32le(uint32_t v) {
  Bytes b;
  put_le(b, v, 4);
  return b;
}

// ------------------------------------------------------------ tests

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(ByteView()), 0u);
  // RFC 3720, appendix B.4.
  EXPECT_EQ(crc32c(zeros(32)), 0x8A9136AAu);
  EXPECT_EQ(crc32c(Bytes(32, 0xFF)), 0x62A8AB43u);
  Bytes inc(32), dec(32);
  for (size_t i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(inc), 0x46DD794Eu);
  EXPECT_EQ(crc32c(dec), 0x113FDB5Cu);
}

TEST(Messages, TypeOfAndNames) {
  const std::vector<std::pair<MessageType, std::string>> expected = {
      {MessageType::request, "request"},         {MessageType::pre_prepare, "pre-prepare"},
      {MessageType::prepare, "prepare"},         {MessageType::commit, "commit"},
      {MessageType::checkpoint, "checkpoint"},   {MessageType::view_change, "view-change"},
      {MessageType::new_view, "new-view"},       {MessageType::reply, "reply"},
      {MessageType::reply, "reply"},             {MessageType::request, "request"},
      {MessageType::status, "status"},           {MessageType::stable_checkpoint, "stable-checkpoint"},
      {MessageType::state_request, "state-request"}, {MessageType::state_request, "state-request"},
      {MessageType::state_reply, "state-reply"},     {MessageType::state_reply, "state-reply"},
  };
  std::vector<Message> msgs = sample_messages();
  ASSERT_EQ(msgs.size(), expected.size());
  for (size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(type_of(msgs[i]), expected[i].first) << i;
    EXPECT_EQ(type_name(expected[i].first), expected[i].second);
    EXPECT_EQ(type_name(msgs[i]), expected[i].second);
  }
  EXPECT_EQ(type_name(static_cast<MessageType>(0)), "unknown");
  EXPECT_EQ(type_name(static_cast<MessageType>(13)), "unknown");
  EXPECT_EQ(type_name(static_cast<MessageType>(255)), "unknown");
}

TEST(Codec, RoundTripEveryType) {
  for (const std::vector<Message>& set : {sample_messages(), minimal_messages()}) {
    for (const Message& m : set) {
      SCOPED_TRACE(std::string(type_name(m)));
      Bytes frame = encode_frame(cluster, m);
      Decoded<Message> d = decode_frame(frame, cluster);
      ASSERT_TRUE(d.ok()) << d.error;
      EXPECT_TRUE(d.error.empty());
      EXPECT_EQ(type_of(*d.value), type_of(m));
      EXPECT_TRUE(*d.value == m);
      EXPECT_EQ(encode_frame(cluster, *d.value), frame);
    }
  }
}

TEST(Codec, NestedNewViewSurvivesRoundTrip) {
  NewView nv = sample_new_view();
  Decoded<Message> d = decode_frame(encode_frame(cluster, nv), cluster);
  ASSERT_TRUE(d.ok()) << d.error;
  const NewView& got = std::get<NewView>(*d.value);
  ASSERT_EQ(got.view_changes.size(), 3u);
  ASSERT_EQ(got.view_changes[1].prepared.size(), 2u);
  EXPECT_EQ(got.view_changes[1].prepared[1].pre_prepare.batch.size(), 2u);
  EXPECT_EQ(got.view_changes[1].prepared[1].prepares[1], sample_prepare(3));
  EXPECT_EQ(got.view_changes[2].checkpoint_cert[2], sample_checkpoint(2));
  EXPECT_EQ(got.pre_prepares[2], sample_pre_prepare(3, 0));
  EXPECT_EQ(got, nv);
}

TEST(Codec, HeaderLayout) {
  Message m = sample_prepare(4);
  Bytes frame = encode_frame(cluster, m);
  ASSERT_GE(frame.size(), frame_header_size);
  EXPECT_EQ(std::string(frame.begin(), frame.begin() + 4), "PBKV");
  EXPECT_EQ(frame[4], 3);
  EXPECT_EQ(frame[4], frame_version);
  EXPECT_EQ(frame[5], static_cast<uint8_t>(MessageType::prepare));
  EXPECT_EQ(get_le(frame, 6, 2), 0u);
  EXPECT_EQ(get_le(frame, 8, 8), cluster);
  EXPECT_EQ(get_le(frame, 16, 4), frame.size() - frame_header_size);
  EXPECT_EQ(get_le(frame, 20, 4), crc32c(ByteView(frame).subspan(frame_header_size)));
  // Prepare body: view, seq, digest, replica, signature, little-endian.
  EXPECT_EQ(frame.size() - frame_header_size, 8u + 8 + 32 + 4 + 64);
  EXPECT_EQ(get_le(frame, 24, 8), 7u);
  EXPECT_EQ(get_le(frame, 32, 8), 104u);
  EXPECT_EQ(frame[40], digest_of(4).bytes[0]);
  EXPECT_EQ(get_le(frame, 72, 4), 4u);
  EXPECT_EQ(frame[76], sig_of(6)[0]);

  Decoded<FrameHeader> h = decode_frame_header(ByteView(frame).first(frame_header_size));
  ASSERT_TRUE(h.ok()) << h.error;
  EXPECT_EQ(h.value->type, MessageType::prepare);
  EXPECT_EQ(h.value->cluster_id, cluster);
  EXPECT_EQ(h.value->body_size, frame.size() - frame_header_size);
  EXPECT_EQ(h.value->body_crc, get_le(frame, 20, 4));
}

TEST(Codec, HandBuiltFrameDecodes) {
  // Status: replica, view, view_active, stable_seq, last_executed, flags,
  // asks_view.
  Bytes body;
  put_le(body, 3, 4);
  put_le(body, 9, 8);
  put_le(body, 1, 1);
  put_le(body, 10, 8);
  put_le(body, 12, 8);
  put_le(body, 2, 4);
  body.push_back(1);
  body.push_back(7);
  put_le(body, 10, 8);
  Decoded<Message> d = decode_frame(make_frame(MessageType::status, cluster, body), cluster);
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(std::get<Status>(*d.value),
            (Status{.replica = 3, .view = 9, .view_active = true, .stable_seq = 10, .last_executed = 12,
                    .slot_flags = {1, 7}, .asks_view = 10}));
  // A status of frame version 2, without asks_view, is truncated.
  body.resize(body.size() - 8);
  EXPECT_FALSE(decode_frame(make_frame(MessageType::status, cluster, body), cluster).ok());
}

TEST(Codec, RejectsFlippedBodyByte) {
  for (const Message& m : sample_messages()) {
    Bytes frame = encode_frame(cluster, m);
    for (size_t i = frame_header_size; i < frame.size(); ++i) {
      Bytes bad = frame;
      bad[i] ^= 0x01;
      Decoded<Message> d = decode_frame(bad, cluster);
      EXPECT_FALSE(d.ok()) << type_name(m) << " byte " << i;
      EXPECT_NE(d.error.find("checksum"), std::string::npos) << d.error;
    }
  }
}

TEST(Codec, RejectsCrcFieldChange) {
  Bytes frame = encode_frame(cluster, sample_request(1));
  frame[20] ^= 0x80;
  EXPECT_FALSE(decode_frame(frame, cluster).ok());
}

TEST(Codec, RejectsWrongCluster) {
  Bytes frame = encode_frame(cluster, sample_prepare(1));
  Decoded<Message> d = decode_frame(frame, cluster + 1);
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.error.find("cluster"), std::string::npos) << d.error;
  EXPECT_TRUE(decode_frame(encode_frame(0, sample_prepare(1)), 0).ok());
  EXPECT_FALSE(decode_frame(encode_frame(0, sample_prepare(1)), cluster).ok());
}

TEST(Codec, RejectsBadHeaderFields) {
  const Bytes good = encode_frame(cluster, sample_checkpoint(1));
  ASSERT_TRUE(decode_frame(good, cluster).ok());
  struct Case {
    size_t offset;
    uint8_t value;
    const char* what;
  };
  const Case cases[] = {
      {0, 'X', "magic"},    {3, 'k', "magic"},     {4, 0, "version"},  {4, 2, "version"},  {4, 4, "version"},
      {5, 0, "type"},       {5, 13, "type"},       {5, 255, "type"},   {6, 1, "reserved"},
      {7, 0x80, "reserved"},
  };
  for (const Case& c : cases) {
    Bytes bad = good;
    bad[c.offset] = c.value;
    Decoded<Message> d = decode_frame(bad, cluster);
    EXPECT_FALSE(d.ok()) << c.what;
    EXPECT_FALSE(decode_frame_header(ByteView(bad).first(frame_header_size)).ok()) << c.what;
  }
  // Header-only decoding wants exactly a header.
  EXPECT_FALSE(decode_frame_header(ByteView(good).first(frame_header_size - 1)).ok());
  EXPECT_FALSE(decode_frame_header(ByteView(good).first(frame_header_size + 1)).ok());
  EXPECT_FALSE(decode_frame_header(ByteView()).ok());
  // A body length over the limit is refused from the header alone.
  Bytes big = good;
  set_le(big, 16, frame_body_bytes_max + 1, 4);
  EXPECT_FALSE(decode_frame_header(ByteView(big).first(frame_header_size)).ok());
  set_le(big, 16, frame_body_bytes_max, 4);
  EXPECT_TRUE(decode_frame_header(ByteView(big).first(frame_header_size)).ok());
}

TEST(Codec, RejectsTypeThatDoesNotMatchBody) {
  // A prepare body read as a commit leaves the signature as trailing bytes.
  Bytes frame = encode_frame(cluster, sample_prepare(1));
  frame[5] = static_cast<uint8_t>(MessageType::commit);
  EXPECT_FALSE(decode_frame(frame, cluster).ok());
}

TEST(Codec, RejectsBodyLengthMismatch) {
  const Bytes good = encode_frame(cluster, sample_request(2));
  const uint32_t size = static_cast<uint32_t>(good.size() - frame_header_size);
  for (uint32_t claimed : {size - 1, size + 1, 0u, size * 2}) {
    Bytes bad = good;
    set_le(bad, 16, claimed, 4);
    EXPECT_FALSE(decode_frame(bad, cluster).ok()) << claimed;
  }
}

TEST(Codec, RejectsEveryTruncation) {
  for (const std::vector<Message>& set : {sample_messages(), minimal_messages()}) {
    for (const Message& m : set) {
      const Bytes frame = encode_frame(cluster, m);
      for (size_t len = 0; len < frame.size(); ++len) {
        Decoded<Message> d = decode_frame(ByteView(frame).first(len), cluster);
        EXPECT_FALSE(d.ok()) << type_name(m) << " len " << len;
        EXPECT_FALSE(d.error.empty());
      }
      // The body cut short with the header made consistent again: the body
      // parser itself must notice.
      for (size_t len = frame_header_size; len < frame.size(); ++len) {
        Bytes cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(len));
        fix_header(cut);
        EXPECT_FALSE(decode_frame(cut, cluster).ok()) << type_name(m) << " body len " << len;
      }
    }
  }
}

TEST(Codec, RejectsTrailingBytes) {
  for (const Message& m : sample_messages()) {
    Bytes frame = encode_frame(cluster, m);
    // A byte after the declared body.
    Bytes after = frame;
    after.push_back(0);
    EXPECT_FALSE(decode_frame(after, cluster).ok()) << type_name(m);
    // A byte inside the declared body, length and checksum updated.
    Bytes inside = frame;
    inside.push_back(0);
    fix_header(inside);
    Decoded<Message> d = decode_frame(inside, cluster);
    EXPECT_FALSE(d.ok()) << type_name(m);
    EXPECT_NE(d.error.find("trailing"), std::string::npos) << d.error;
  }
}

TEST(Codec, BoolMustBeZeroOrOne) {
  Status s{.replica = 1, .view = 2, .view_active = true, .stable_seq = 3, .last_executed = 4, .slot_flags = {1}};
  Bytes frame = encode_frame(cluster, s);
  const size_t at = frame_header_size + 4 + 8;  // view_active
  ASSERT_EQ(frame[at], 1);
  for (int v = 0; v < 256; ++v) {
    Bytes f = frame;
    f[at] = static_cast<uint8_t>(v);
    fix_header(f);
    Decoded<Message> d = decode_frame(f, cluster);
    if (v <= 1) {
      ASSERT_TRUE(d.ok()) << d.error;
      EXPECT_EQ(std::get<Status>(*d.value).view_active, v == 1);
    } else {
      EXPECT_FALSE(d.ok()) << v;
    }
  }
}

// One bounded list of a message, described by the bytes around it in a
// hand-built body whose items are all minimal (all-zero) encodings.
struct ListCase {
  const char* name;
  const char* keyword;  // how the decoder's error names this list
  MessageType type;
  Bytes prefix;      // everything before the count
  size_t limit;      // the count's limit
  size_t item_size;  // bytes of one all-zero item
  Bytes suffix;      // everything after the items
};

std::vector<ListCase> list_cases() {
  const size_t request = 8 + 8 + 4 + 1 + 64;
  const size_t pre_prepare = 8 + 8 + 32 + 4 + 64;
  const size_t prepare = 8 + 8 + 32 + 4 + 64;
  const size_t checkpoint = 8 + 32 + 4 + 64;
  const size_t prepared_cert = pre_prepare + 4;
  const size_t view_change = 8 + 8 + 4 + 4 + 4 + 64;
  return {
      {"request operation", "operation", MessageType::request, zeros(16), operation_bytes_max, 1, zeros(1 + 64)},
      {"reply result", "result", MessageType::reply, zeros(28), result_bytes_max, 1, zeros(8 + 1)},
      {"pre-prepare batch", "batch", MessageType::pre_prepare, zeros(48), batch_requests_max, request, zeros(64)},
      {"status slots", "slots", MessageType::status, zeros(29), status_slots_max, 1, zeros(8)},
      {"stable checkpoint", "checkpoints", MessageType::stable_checkpoint, {}, certificate_entries_max, checkpoint, {}},
      {"view-change checkpoints", "checkpoints", MessageType::view_change, zeros(16), certificate_entries_max, checkpoint,
       zeros(4 + 4 + 64)},
      {"view-change prepared", "prepared", MessageType::view_change, zeros(20), prepared_certs_max, prepared_cert,
       zeros(4 + 64)},
      {"prepared-cert prepares", "prepares", MessageType::view_change, cat({zeros(20), u32le(1), zeros(pre_prepare)}),
       certificate_entries_max, prepare, zeros(4 + 64)},
      {"new-view view changes", "view changes", MessageType::new_view, zeros(8), view_changes_max, view_change,
       zeros(4 + 4 + 64)},
      {"new-view pre-prepares", "pre-prepares", MessageType::new_view, zeros(12), view_changes_max, pre_prepare, zeros(4 + 64)},
      {"new-view nested batch", "batch", MessageType::new_view, cat({zeros(8), u32le(0), u32le(1), zeros(48)}),
       batch_requests_max, request, zeros(64 + 4 + 64)},
  };
}

Bytes list_frame(const ListCase& c, uint64_t count, size_t items) {
  Bytes body = c.prefix;
  put_le(body, count, 4);
  body.resize(body.size() + items * c.item_size, 0);
  body.insert(body.end(), c.suffix.begin(), c.suffix.end());
  return make_frame(c.type, cluster, body);
}

TEST(Codec, CountsAtTheirLimitDecode) {
  for (const ListCase& c : list_cases()) {
    EXPECT_TRUE(decode_frame(list_frame(c, 0, 0), cluster).ok()) << c.name;
    Decoded<Message> d = decode_frame(list_frame(c, c.limit, c.limit), cluster);
    EXPECT_TRUE(d.ok()) << c.name << ": " << d.error;
  }
}

TEST(Codec, RejectsCountsOverTheirLimit) {
  for (const ListCase& c : list_cases()) {
    // The items are really there and the checksum is right: only the limit
    // is wrong.
    Decoded<Message> d = decode_frame(list_frame(c, c.limit + 1, c.limit + 1), cluster);
    EXPECT_FALSE(d.ok()) << c.name;
    EXPECT_NE(d.error.find("too many"), std::string::npos) << c.name << ": " << d.error;
    EXPECT_NE(d.error.find(c.keyword), std::string::npos) << c.name << ": " << d.error;
    EXPECT_FALSE(decode_frame(list_frame(c, 0xFFFFFFFFu, 0), cluster).ok()) << c.name;
  }
}

TEST(Codec, RejectsCountsLargerThanTheBytesLeft) {
  for (const ListCase& c : list_cases()) {
    // Within the limit but the items are missing: the count itself is
    // refused (so nothing is reserved on its word), before any item is read.
    Decoded<Message> d = decode_frame(list_frame(c, c.limit, 0), cluster);
    EXPECT_FALSE(d.ok()) << c.name;
    EXPECT_NE(d.error.find("truncated"), std::string::npos) << c.name << ": " << d.error;
    EXPECT_NE(d.error.find(c.keyword), std::string::npos) << c.name << ": " << d.error;
    EXPECT_FALSE(decode_frame(list_frame(c, 2, 1), cluster).ok()) << c.name;
  }
}

TEST(CodecDeathTest, EncodingOverLimitIsAnInvariantFailure) {
  Request r = sample_request(1);
  r.operation.assign(operation_bytes_max + 1, 'x');
  EXPECT_DEATH(encode_frame(cluster, r), "too many");
  Status s;
  s.slot_flags.assign(status_slots_max + 1, 0);
  EXPECT_DEATH(encode_frame(cluster, s), "too many");
}

// Random mutations of valid frames, with the header fixed afterwards so that
// the body parser sees them. Decoding either fails or yields a message whose
// encoding is exactly the mutated frame (the encoding is canonical).
TEST(Codec, RandomMutationsNeverCrash) {
  std::mt19937_64 rng(20240601);
  std::vector<Bytes> frames;
  for (const std::vector<Message>& set : {sample_messages(), minimal_messages()})
    for (const Message& m : set) frames.push_back(encode_frame(cluster, m));

  size_t accepted = 0, rejected = 0;
  for (int iter = 0; iter < 40000; ++iter) {
    Bytes f = frames[rng() % frames.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t body = f.size() - frame_header_size;
      const size_t at = frame_header_size + (body == 0 ? 0 : rng() % body);
      switch (rng() % 8) {
        case 0:  // random byte
          if (body > 0) f[at] = static_cast<uint8_t>(rng());
          break;
        case 1:  // flip a bit
          if (body > 0) f[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 2:  // a plausible small count or a big one
          if (body >= 4) {
            const size_t p = frame_header_size + rng() % (body - 3);
            const uint32_t v = (rng() % 2) ? static_cast<uint32_t>(rng() % 6) : static_cast<uint32_t>(rng());
            set_le(f, p, v, 4);
          }
          break;
        case 3:  // truncate
          f.resize(at);
          break;
        case 4: {  // insert bytes
          Bytes ins(1 + rng() % 8);
          for (uint8_t& b : ins) b = static_cast<uint8_t>(rng() % 3 == 0 ? rng() : 0);
          f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
          break;
        }
        case 5: {  // erase bytes
          const size_t n = std::min<size_t>(1 + rng() % 8, f.size() - at);
          f.erase(f.begin() + static_cast<std::ptrdiff_t>(at), f.begin() + static_cast<std::ptrdiff_t>(at + n));
          break;
        }
        case 6:  // parse the body as another type
          f[5] = static_cast<uint8_t>(1 + rng() % 10);
          break;
        case 7:  // a bool-ish byte
          if (body > 0) f[at] = static_cast<uint8_t>(rng() % 3);
          break;
      }
    }
    fix_header(f);
    Decoded<Message> d = decode_frame(f, cluster);
    if (d.ok()) {
      ++accepted;
      EXPECT_TRUE(d.error.empty());
      Bytes again = encode_frame(cluster, *d.value);
      ASSERT_EQ(again, f) << "iteration " << iter;
      Decoded<Message> d2 = decode_frame(again, cluster);
      ASSERT_TRUE(d2.ok()) << d2.error;
      EXPECT_TRUE(*d2.value == *d.value);
    } else {
      ++rejected;
      EXPECT_FALSE(d.error.empty());
    }
  }
  // Both paths were exercised.
  EXPECT_GT(accepted, 1000u);
  EXPECT_GT(rejected, 1000u);
}

// Random bytes, unfixed and fixed, straight into the decoder.
TEST(Codec, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    Bytes f(rng() % 200);
    for (uint8_t& b : f) b = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : 0);
    Decoded<Message> raw = decode_frame(f, cluster);
    if (f.size() < frame_header_size) {
      EXPECT_FALSE(raw.ok());
    }
    if (f.size() >= frame_header_size) {
      set_le(f, 0, frame_magic, 4);
      f[4] = frame_version;
      f[5] = static_cast<uint8_t>(1 + rng() % 10);
      f[6] = f[7] = 0;
      set_le(f, 8, cluster, 8);
      fix_header(f);
      Decoded<Message> d = decode_frame(f, cluster);
      if (d.ok()) {
        EXPECT_EQ(encode_frame(cluster, *d.value), f);
      }
    }
  }
}

// ------------------------------------------------------------ signing bytes

template <typename T>
struct Mutation {
  const char* name;
  std::function<void(T&)> apply;
};

template <typename T>
void expect_signed_fields(const T& base, const std::vector<Mutation<T>>& covered,
                          const std::vector<Mutation<T>>& not_covered) {
  const Bytes before = signing_bytes(base);
  for (const Mutation<T>& m : covered) {
    T changed = base;
    m.apply(changed);
    ASSERT_FALSE(changed == base) << m.name << " did not change the message";
    EXPECT_NE(signing_bytes(changed), before) << m.name << " is not signed";
  }
  for (const Mutation<T>& m : not_covered) {
    T changed = base;
    m.apply(changed);
    ASSERT_FALSE(changed == base) << m.name << " did not change the message";
    EXPECT_EQ(signing_bytes(changed), before) << m.name << " should not be signed";
  }
}

TEST(SigningBytes, Request) {
  expect_signed_fields<Request>(sample_request(1),
                                {
                                    {"client", [](Request& m) { m.client++; }},
                                    {"timestamp", [](Request& m) { m.timestamp ^= 1ULL << 40; }},
                                    {"operation byte", [](Request& m) { m.operation[0] ^= 1; }},
                                    {"operation length", [](Request& m) { m.operation.push_back(0); }},
                                    {"operation empty", [](Request& m) { m.operation.clear(); }},
                                },
                                {{"sig", [](Request& m) { m.sig[63] ^= 1; }}});
}

TEST(SigningBytes, PrePrepareCoversHeaderNotBatch) {
  expect_signed_fields<PrePrepare>(sample_pre_prepare(1, 2),
                                   {
                                       {"view", [](PrePrepare& m) { m.view++; }},
                                       {"seq", [](PrePrepare& m) { m.seq++; }},
                                       {"digest", [](PrePrepare& m) { m.digest.bytes[31] ^= 1; }},
                                   },
                                   {
                                       {"sig", [](PrePrepare& m) { m.sig[0] ^= 1; }},
                                       {"batch emptied", [](PrePrepare& m) { m.batch.clear(); }},
                                       {"batch request", [](PrePrepare& m) { m.batch[1].operation.push_back(1); }},
                                       {"batch grown", [](PrePrepare& m) { m.batch.push_back(sample_request(9)); }},
                                   });
}

TEST(SigningBytes, Prepare) {
  expect_signed_fields<Prepare>(sample_prepare(1),
                                {
                                    {"view", [](Prepare& m) { m.view++; }},
                                    {"seq", [](Prepare& m) { m.seq++; }},
                                    {"digest", [](Prepare& m) { m.digest.bytes[0] ^= 1; }},
                                    {"replica", [](Prepare& m) { m.replica++; }},
                                },
                                {{"sig", [](Prepare& m) { m.sig[5] ^= 1; }}});
}

TEST(SigningBytes, Checkpoint) {
  expect_signed_fields<Checkpoint>(sample_checkpoint(1),
                                   {
                                       {"seq", [](Checkpoint& m) { m.seq++; }},
                                       {"state digest", [](Checkpoint& m) { m.state_digest.bytes[7] ^= 1; }},
                                       {"replica", [](Checkpoint& m) { m.replica++; }},
                                   },
                                   {{"sig", [](Checkpoint& m) { m.sig[5] ^= 1; }}});
}

TEST(SigningBytes, ViewChangeCoversNestedCertificates) {
  using VC = ViewChange;
  expect_signed_fields<VC>(
      sample_view_change(1),
      {
          {"new view", [](VC& m) { m.new_view++; }},
          {"stable seq", [](VC& m) { m.stable_seq++; }},
          {"checkpoint dropped", [](VC& m) { m.checkpoint_cert.pop_back(); }},
          {"checkpoint sig", [](VC& m) { m.checkpoint_cert[1].sig[0] ^= 1; }},
          {"checkpoint digest", [](VC& m) { m.checkpoint_cert[0].state_digest.bytes[0] ^= 1; }},
          {"prepared dropped", [](VC& m) { m.prepared.pop_back(); }},
          {"prepared pre-prepare sig", [](VC& m) { m.prepared[0].pre_prepare.sig[0] ^= 1; }},
          {"prepared batch", [](VC& m) { m.prepared[0].pre_prepare.batch[0].operation[0] ^= 1; }},
          {"prepared batch sig", [](VC& m) { m.prepared[0].pre_prepare.batch[1].sig[9] ^= 1; }},
          {"prepare sig", [](VC& m) { m.prepared[1].prepares[1].sig[0] ^= 1; }},
          {"prepare replica", [](VC& m) { m.prepared[1].prepares[0].replica = 77; }},
          {"replica", [](VC& m) { m.replica++; }},
      },
      {{"sig", [](VC& m) { m.sig[0] ^= 1; }}});
}

TEST(SigningBytes, NewViewCoversEverythingButItsSignature) {
  expect_signed_fields<NewView>(
      sample_new_view(),
      {
          {"view", [](NewView& m) { m.view++; }},
          {"view change dropped", [](NewView& m) { m.view_changes.pop_back(); }},
          {"view change sig", [](NewView& m) { m.view_changes[1].sig[0] ^= 1; }},
          {"nested prepare sig", [](NewView& m) { m.view_changes[2].prepared[0].prepares[0].sig[3] ^= 1; }},
          {"nested checkpoint", [](NewView& m) { m.view_changes[0].checkpoint_cert[0].seq++; }},
          {"pre-prepare dropped", [](NewView& m) { m.pre_prepares.pop_back(); }},
          {"pre-prepare digest", [](NewView& m) { m.pre_prepares[0].digest.bytes[0] ^= 1; }},
          {"pre-prepare sig", [](NewView& m) { m.pre_prepares[1].sig[0] ^= 1; }},
          {"replica", [](NewView& m) { m.replica++; }},
      },
      {{"sig", [](NewView& m) { m.sig[0] ^= 1; }}});
}

TEST(SigningBytes, DomainTagsSeparateTypes) {
  const std::vector<Bytes> all = {
      signing_bytes(Request{}),    signing_bytes(PrePrepare{}), signing_bytes(Prepare{}),
      signing_bytes(Checkpoint{}), signing_bytes(ViewChange{}), signing_bytes(NewView{}),
      batch_bytes({}),             reply_signing_bytes(0, 0, 0, 0, {}, {}),
      fast_reply_signing_bytes(0, 0, 0, 0, {}, {}),
  };
  const std::vector<std::string> tags = {"pbft/request/v2",    "pbft/pre-prepare/v1", "pbft/prepare/v1",
                                         "pbft/checkpoint/v1", "pbft/view-change/v1", "pbft/new-view/v1",
                                         "pbft/batch/v1",      "pbft/reply/v1",       "pbft/fast-reply/v1"};
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string s(all[i].begin(), all[i].end());
    EXPECT_NE(s.find(tags[i]), std::string::npos) << tags[i];
    for (size_t j = i + 1; j < all.size(); ++j) EXPECT_NE(all[i], all[j]) << i << " vs " << j;
  }
  // Signing bytes are not the frame body: a signature over one can not be
  // replayed as the other.
  Prepare p = sample_prepare(1);
  Bytes frame = encode_frame(cluster, p);
  EXPECT_NE(signing_bytes(p), Bytes(frame.begin() + frame_header_size, frame.end()));
}

TEST(BatchBytes, CoverEveryRequestWithItsSignature) {
  const std::vector<Request> batch = {sample_request(1), sample_request(2), sample_request(3)};
  const Bytes base = batch_bytes(batch);
  EXPECT_EQ(batch_bytes(batch), base);
  EXPECT_NE(batch_bytes({}), base);

  std::vector<std::function<void(std::vector<Request>&)>> changes = {
      [](auto& b) { b[0].sig[0] ^= 1; },
      [](auto& b) { b[2].sig[63] ^= 1; },
      [](auto& b) { b[1].operation.push_back('!'); },
      [](auto& b) { b[1].client++; },
      [](auto& b) { b[1].timestamp++; },
      [](auto& b) { std::swap(b[0], b[1]); },
      [](auto& b) { b.pop_back(); },
      [](auto& b) { b.push_back(Request{}); },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    std::vector<Request> changed = batch;
    changes[i](changed);
    EXPECT_NE(batch_bytes(changed), base) << "change " << i;
  }
  // Request boundaries are unambiguous: moving a byte from one operation to
  // the next changes the bytes.
  std::vector<Request> a = {Request{.operation = to_bytes("ab")}, Request{.operation = to_bytes("c")}};
  std::vector<Request> b = {Request{.operation = to_bytes("a")}, Request{.operation = to_bytes("bc")}};
  EXPECT_NE(batch_bytes(a), batch_bytes(b));
}


TEST(Codec, RequestWithUnknownFlagsIsRejected) {
  Request r{.client = 9, .timestamp = 3, .operation = to_bytes("op"), .flags = Request::flag_signed_reply};
  Bytes frame = encode_frame(1, r);
  ASSERT_TRUE(decode_frame(frame, 1).ok());
  // The flags byte follows the operation: header, client, timestamp, length, "op".
  const size_t at = frame_header_size + 8 + 8 + 4 + 2;
  ASSERT_EQ(frame[at], Request::flag_signed_reply);
  frame[at] = 0x80;
  // Recompute the body checksum so that only the flags are wrong.
  uint32_t crc = crc32c(ByteView(frame).subspan(frame_header_size));
  for (int i = 0; i < 4; ++i) frame[20 + i] = static_cast<uint8_t>(crc >> (8 * i));
  Decoded<Message> d = decode_frame(frame, 1);
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.error, "unknown request flags");
}

// A bundled request (core/request_bundle.h) carries its path; the codec
// takes only a path that matches the flag and fits its index.
TEST(Codec, BundledRequestKeepsItsPathAndRefusesAPathThatCannotBe) {
  Request r{.client = 9, .timestamp = 3, .operation = to_bytes("op"), .sig = sig_of(4),
            .flags = Request::flag_bundled, .bundle_path = {digest_of(1), digest_of(2)}, .bundle_index = 3};
  Bytes frame = encode_frame(1, r);
  Decoded<Message> d = decode_frame(frame, 1);
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(std::get<Request>(*d.value), r);
  EXPECT_EQ(frame.size(), encode_frame(1, Request{.client = 9, .timestamp = 3, .operation = to_bytes("op")}).size() +
                              1 + 4 + 2 * 32);
  // depth, then the index: after header, client, timestamp, length, "op", flags, signature.
  const size_t at = frame_header_size + 8 + 8 + 4 + 2 + 1 + 64;
  auto with = [&](size_t offset, uint8_t value) {
    Bytes f = frame;
    f[offset] = value;
    uint32_t crc = crc32c(ByteView(f).subspan(frame_header_size));
    for (int i = 0; i < 4; ++i) f[20 + i] = static_cast<uint8_t>(crc >> (8 * i));
    return decode_frame(f, 1);
  };
  EXPECT_EQ(with(at, 0).error, "bundle path depth not 1..16");
  EXPECT_EQ(with(at, 17).error, "bundle path depth not 1..16");
  EXPECT_EQ(with(at + 1, 4).error, "bundle index past its path");
  EXPECT_FALSE(with(at, 3).ok()) << "a path longer than the bytes that follow";
  EXPECT_TRUE(with(at + 1, 2).ok());
  // The path is not signed by the request's own signing bytes (the leaf
  // is; the path leads from it to the signed root).
  Request plain = r;
  plain.bundle_path = {digest_of(7)};
  EXPECT_EQ(signing_bytes(plain), signing_bytes(r));
  EXPECT_NE(bundle_leaf_bytes(r), signing_bytes(r));
  EXPECT_NE(bundle_node_bytes(digest_of(1), digest_of(2)), bundle_node_bytes(digest_of(2), digest_of(1)));
}

TEST(Codec, ReplySigningBytesCoverEveryCertifiedField) {
  Digest op = digest_of(1), result = digest_of(2);
  Bytes base = reply_signing_bytes(1, 2, 3, 4, op, result);
  EXPECT_NE(base, reply_signing_bytes(9, 2, 3, 4, op, result));
  EXPECT_NE(base, reply_signing_bytes(1, 9, 3, 4, op, result));
  EXPECT_NE(base, reply_signing_bytes(1, 2, 9, 4, op, result));
  EXPECT_NE(base, reply_signing_bytes(1, 2, 3, 9, op, result));
  EXPECT_NE(base, reply_signing_bytes(1, 2, 3, 4, result, result));
  EXPECT_NE(base, reply_signing_bytes(1, 2, 3, 4, op, op));
  // A fast-path answer's signature is no ordered reply's.
  EXPECT_NE(base, fast_reply_signing_bytes(1, 2, 3, 4, op, result));
  Request flagged{.client = 1, .timestamp = 2, .operation = to_bytes("x"), .flags = Request::flag_signed_reply};
  Request plain = flagged;
  plain.flags = 0;
  EXPECT_NE(signing_bytes(flagged), signing_bytes(plain));
}
}  // namespace
}  // namespace pbft::wire
