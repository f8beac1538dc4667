// Writes the seed corpora of the fuzz targets from real encoded values:
// `fuzz_seeds DIR` fills DIR/<target>/ (fuzz/corpus in the repository).
// Signatures are real (the fixed keys of fuzz_keys.h), so the seeds reach
// past authentication; the fuzzer mutates from there.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/client_id.h"
#include "core/replica.h"
#include "core/request_bundle.h"
#include "fuzz_keys.h"
#include "kv/operation.h"
#include "node/config.h"
#include "transport/stream_format.h"
#include "wire/codec.h"

using namespace pbft;
namespace fs = std::filesystem;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
  const fs::path dir = root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
void write(const std::string& target, const std::string& name, const std::string& text) {
  write(target, name, to_bytes(text));
}

// The keys that sign the examples. For the replica target only replica 3's
// key is real (the attacker's): what "replica 0..2" sign there is forged
// with replica 3's key, as the attacker would have to.
struct Signers {
  std::vector<crypto::SodiumCrypto> replicas;
  crypto::SodiumCrypto client{fuzz::keyring_for_client(fuzz::first_client)};
  explicit Signers(bool honest_keys) {
    for (uint32_t i = 0; i < fuzz::replica_count; ++i)
      replicas.emplace_back(fuzz::keyring_for_replica(honest_keys ? i : 3));
  }
};

template <typename M>
M signed_by(const crypto::Crypto& c, M m) {
  m.sig = c.sign(wire::signing_bytes(m));
  return m;
}

// One example of every message type, signed by replica 3 where it signs.
std::vector<std::pair<std::string, wire::Message>> examples(const Signers& s) {
  const crypto::Crypto& r3 = s.replicas[3];
  wire::Request req{fuzz::first_client, 1, kv::encode_operation({kv::OpKind::put, "k", "v"}), {}};
  req = signed_by(s.client, req);
  const std::vector<wire::Request> batch{req};
  const Digest digest = r3.digest(wire::batch_bytes(batch));
  wire::PrePrepare pp{3, 1, digest, batch, {}};
  pp = signed_by(r3, pp);  // replica 3 is the primary of view 3
  wire::Prepare prepare = signed_by(r3, wire::Prepare{0, 1, digest, 3, {}});
  wire::Commit commit{0, 1, digest, 3};
  wire::Checkpoint cp = signed_by(r3, wire::Checkpoint{2, digest, 3, {}});
  wire::PrePrepare pp0 = signed_by(s.replicas[0], wire::PrePrepare{0, 1, digest, batch, {}});
  wire::PreparedCert cert{pp0, {signed_by(s.replicas[1], wire::Prepare{0, 1, digest, 1, {}}),
                                signed_by(s.replicas[2], wire::Prepare{0, 1, digest, 2, {}})}};
  wire::ViewChange vc = signed_by(r3, wire::ViewChange{3, 0, {}, {cert}, 3, {}});
  wire::PrePrepare header{3, 1, digest, {}, {}};
  header = signed_by(r3, header);
  wire::NewView nv = signed_by(r3, wire::NewView{3, {vc}, {header}, 3, {}});
  wire::Reply reply{0, 1, fuzz::first_client, 3, Bytes{1, 2, 3}};
  wire::Status status{3, 0, true, 0, 0, {1, 3, 7}, 1};
  std::vector<wire::Checkpoint> certificate;
  for (ReplicaId i : {0u, 2u, 3u}) certificate.push_back(signed_by(s.replicas[i], wire::Checkpoint{2, digest, i, {}}));
  wire::StableCheckpoint stable{certificate};
  wire::StateRequest sreq{2, 3, wire::StatePart::chunk, 0, 16, to_bytes("after"), 1 << 20};
  wire::StateReply srep{2, 3, wire::StatePart::manifest, 0, {}, true, Bytes{9, 9}};
  // Three requests of replica 3's gateway under one signature
  // (core/request_bundle.h), alone and in replica 3's proposal.
  std::vector<wire::Request> bundled;
  for (uint32_t slot = 0; slot < 3; ++slot)
    bundled.push_back(wire::Request{gateway_client_id(3, slot), 1,
                                    kv::encode_operation({kv::OpKind::put, "b" + std::to_string(slot), "v"}), {}});
  std::vector<wire::Request*> ptrs;
  for (wire::Request& r : bundled) ptrs.push_back(&r);
  core::sign_bundle(r3, ptrs);
  wire::PrePrepare ppb = signed_by(r3, wire::PrePrepare{3, 2, r3.digest(wire::batch_bytes(bundled)), bundled, {}});
  return {{"request", req},       {"pre_prepare", pp},         {"prepare", prepare},
          {"commit", commit},     {"checkpoint", cp},          {"view_change", vc},
          {"new_view", nv},       {"reply", reply},            {"status", status},
          {"stable_checkpoint", stable}, {"state_request", sreq}, {"state_reply", srep},
          {"request_bundled", bundled[1]}, {"pre_prepare_bundled", ppb}};
}

void put_u16(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  root = argv[1];
  const Signers signers(true);
  const auto all = examples(signers);
  const auto attacker = examples(Signers(false));

  for (size_t i = 0; i < all.size(); ++i) {
    const auto& [name, m] = all[i];
    const Bytes frame = wire::encode_frame(fuzz::cluster_id, m);
    write("wire_frame_fuzz", name, frame);
    Bytes body{static_cast<uint8_t>(static_cast<uint8_t>(wire::type_of(m)) - 1)};
    body.insert(body.end(), frame.begin() + wire::frame_header_size, frame.end());
    write("wire_body_fuzz", name, body);

    // A record from replica 2 to replica 1, MAC'd, twice in a row.
    const Bytes record = transport::make_record(2, frame);
    const Mac mac = signers.replicas[2].mac(1, record);
    Bytes stream{0x00};
    for (int i = 0; i < 2; ++i) {
      stream.insert(stream.end(), record.begin(), record.end());
      stream.insert(stream.end(), mac.begin(), mac.end());
    }
    write("frame_reader_fuzz", name, stream);

    // To replica 1 on replica 3's link, with and without the fix-ups.
    const Bytes forged = wire::encode_frame(fuzz::cluster_id, attacker[i].second);
    Bytes rec;
    for (uint8_t control : {0x00, 0x38}) {
      rec.push_back(control);
      rec.push_back(static_cast<uint8_t>(wire::type_of(m)));
      put_u16(rec, forged.size() - wire::frame_header_size);
      rec.insert(rec.end(), forged.begin() + wire::frame_header_size, forged.end());
    }
    write("replica_fuzz", name, rec);
    write("replica_primary_fuzz", name, rec);
  }
  {
    // A bad MAC, a record from a non-peer, a wrong cluster id.
    const Bytes frame = wire::encode_frame(fuzz::cluster_id, all[3].second);
    Bytes bad{0x00};
    const Bytes record = transport::make_record(2, frame);
    bad.insert(bad.end(), record.begin(), record.end());
    bad.insert(bad.end(), mac_size, 0xab);
    write("frame_reader_fuzz", "bad_mac", bad);
    Bytes stranger{0x01};
    const Bytes r9 = transport::make_record(9, frame);
    stranger.insert(stranger.end(), r9.begin(), r9.end());
    stranger.insert(stranger.end(), mac_size, 0);
    write("frame_reader_fuzz", "non_peer", stranger);
    write("wire_frame_fuzz", "wrong_cluster", wire::encode_frame(fuzz::cluster_id + 1, all[3].second));
  }
  {
    // Replica 1's own messages replayed, a tick, a request straight from a client.
    Bytes rec;
    const Bytes frame = wire::encode_frame(fuzz::cluster_id, attacker[0].second);
    for (uint8_t control : {0x46, 0x07, 0x07}) {
      rec.push_back(control);
      rec.push_back(control == 0x46 ? 1 : 0xf0);
      const size_t len = control == 0x46 ? frame.size() - wire::frame_header_size : 0;
      put_u16(rec, len);
      rec.insert(rec.end(), frame.begin() + wire::frame_header_size,
                 frame.begin() + static_cast<std::ptrdiff_t>(wire::frame_header_size + len));
    }
    write("replica_fuzz", "client_then_ticks_and_replays", rec);
    write("replica_primary_fuzz", "client_then_ticks_and_replays", rec);
  }

  {
    // The client protocol: client 100's requests to replica 1, each frame
    // followed by its MAC; one with the MAC left for the target to put on,
    // one with a MAC of zeros.
    crypto::Keyring k = fuzz::keyring_for_replica(1);
    k.self = fuzz::client_key(fuzz::first_client);
    k.self_is_replica = false;
    k.self_id = fuzz::first_client;
    const crypto::SodiumCrypto client(k);
    wire::Request read{fuzz::first_client, 2, kv::encode_operation({kv::OpKind::get, "k", ""}), {},
                       wire::Request::flag_read_only};
    read = signed_by(signers.client, read);
    Bytes stream{0x00};
    Bytes unmaced{0x01};
    for (const wire::Message& m : {all[0].second, wire::Message(read)}) {
      const Bytes frame = wire::encode_frame(fuzz::cluster_id, m);
      const Mac mac = *client.mac_to_replica(1, frame);
      stream.insert(stream.end(), frame.begin(), frame.end());
      stream.insert(stream.end(), mac.begin(), mac.end());
      unmaced.insert(unmaced.end(), frame.begin(), frame.end());
      unmaced.insert(unmaced.end(), mac_size, 0);
    }
    write("client_stream_fuzz", "request_then_read", stream);
    write("client_stream_fuzz", "macs_to_fill_in", unmaced);
  }

  // HTTP: requests in text form, "\n--\n" between them.
  const std::string id = "request-id: 123e4567-e89b-12d3-a456-426614174000\n";
  const std::string json = "Content-Type: application/json\n";
  write("http_api_fuzz", "put_get",
        "POST /api/v1/kv HTTP/1.1\n" + json + id + "\n{\"key\":\"a\",\"value\":\"1\"}\n--\n"
        "POST /api/v1/kv HTTP/1.1\n" + json + id + "\n{\"key\":\"a\",\"value\":\"1\"}\n--\n"
        "GET /api/v1/kv?key=a HTTP/1.1\n\n--\nGET /api/v1/kv/local?key=a HTTP/1.0\n\n");
  write("http_api_fuzz", "delete_range",
        "POST /api/v1/kv HTTP/1.1\n" + json + "\n{\"key\":\"user/1\",\"value\":\"ann\"}\n--\n"
        "POST /api/v1/kv HTTP/1.1\n" + json + "\n{\"key\":\"user/2\",\"value\":\"bob\"}\n--\n"
        "GET /api/v1/kv/range?prefix=user%2F&limit=1 HTTP/1.1\n\n--\n"
        "GET /api/v1/kv/range?start=a&end=z&token=757365722f32 HTTP/1.1\n\n--\n"
        "DELETE /api/v1/kv?key=user%2F1 HTTP/1.1\n\n");
  write("http_api_fuzz", "cas_txn",
        "POST /api/v1/kv/cas HTTP/1.1\n" + json + "\n{\"key\":\"c\",\"value\":\"2\",\"expected\":null}\n--\n"
        "POST /api/v1/kv/cas HTTP/1.1\n" + json + "\n{\"key\":\"c\",\"value\":\"3\",\"expected\":\"2\"}\n--\n"
        "POST /api/v1/kv/txn HTTP/1.1\n" + json +
        "\n{\"compare\":[{\"key\":\"c\",\"value\":\"3\"},{\"key\":\"o\",\"absent\":true},{\"key\":\"c\",\"revision\":2}],"
        "\"success\":[{\"op\":\"put\",\"key\":\"o\",\"value\":\"x\"},{\"op\":\"del\",\"key\":\"c\"}],"
        "\"failure\":[{\"op\":\"get\",\"key\":\"c\"}]}\n");
  write("http_api_fuzz", "errors",
        "PUT /api/v1/kv HTTP/1.1\n\n--\nPOST /api/v1/kv HTTP/1.1\n" + json + "\n{\"key\":1}\n--\n"
        "GET /api/v1/kv?key=%zz HTTP/1.1\n\n--\nGET /nowhere HTTP/1.1\n\n--\n"
        "POST /api/v1/kv HTTP/1.1\nrequest-id: nope\n\n{}\n--\nBREW /api/v1/kv HTTP/1.1\n\n");
  write("http_api_fuzz", "ops",
        "GET /api/v1/pbft/state HTTP/1.1\n\n--\nGET /api/v1/health HTTP/1.1\n\n--\n"
        "GET /api/v1/ready HTTP/1.1\nOrigin: http://example.com\n\n--\nGET /metrics HTTP/1.1\n\n--\n"
        "GET /api/v1/cluster HTTP/1.1\n\n--\nGET /api/v1/pbft/slots HTTP/1.1\n\n--\n"
        "GET /api/v1/pbft/activity HTTP/1.1\n\n--\nGET / HTTP/1.1\n\n");

  // Config: a whole valid file (replica 0's dev key is the harness's), and
  // one with environment overrides.
  std::string config = "cluster_id = 7\n\n";
  for (uint32_t i = 0; i < 4; ++i) {
    config += "[[replicas]]\nid = " + std::to_string(i) + "\nhost = \"127.0.0.1\"\nreplica_port = " +
              std::to_string(20100 + i) + "\nhttp_port = " + std::to_string(20000 + i) + "\npublic_key = \"" +
              node::public_key_hex(node::dev_key_pair(i).public_key) + "\"\n\n";
  }
  config += "[node]\nid = 0\nkey_file = \"replica-0.key\"\ndata_dir = \"data\"\n\n"
            "[protocol]\ncheckpoint_interval = 10\nwindow_size = 40\npipeline_depth_max = 8\n"
            "batch_requests_max = 256\nview_change_timeout_ms = 5000\nstatus_interval_ms = 100\ntick_ms = 10\n\n"
            "[limits]\nbody_bytes_max = 1048576\nkey_bytes_max = 65536\nvalue_bytes_max = 1048576\n"
            "request_timeout_ms = 10000\nrequest_retry_ms = 1000\n\n"
            "[storage]\nengine = \"rocksdb\"\nsync = \"always\"\n";
  write("config_fuzz", "cluster", config);
  write("config_fuzz", "cluster_env",
        config + "#--env--\nPBFT_CLUSTER_ID=9\nPBFT_NODE_ID=1\nPBFT_HTTP_LISTEN=127.0.0.1:30000\n"
                 "PBFT_WINDOW_SIZE=20\nPBFT_CHECKPOINT_INTERVAL=5\nPBFT_TICK_MS=5\nPBFT_SYNC=batch\n"
                 "PBFT_STORAGE=memory\nPBFT_LOG=debug\nPBFT_VIEW_CHANGE_TIMEOUT_MS=100\n"
                 "PBFT_BATCH_REQUESTS_MAX=3\nPBFT_BODY_BYTES_MAX=10\nPBFT_REQUEST_TIMEOUT_MS=1\n"
                 "PBFT_DATA_DIR=/tmp/x\nPBFT_REPLICA_LISTEN=[::1]:1\n");
  write("config_fuzz", "bad_toml", "cluster_id = [1, \n[[replicas]]\nid = \"x\"\n");
  return 0;
}
