// Example of the verifying client library (include/pbft/client.h) against
// the dev cluster: `example-verified-client [--native CLIENT_ID] BASE_PORT
// COMMAND ARGS... [ENDPOINT_INDEX...]`. Over HTTP (the default) the
// endpoints are 127.0.0.1:BASE_PORT+i (all five when none are given).
// --native: the binary protocol as dev client CLIENT_ID (1..64, its fixed
// dev key), to every replica's client port BASE_PORT+200+i. Commands:
//   put KEY VALUE        prints the sequence number
//   get KEY              prints the value, or (absent)
//   fastget KEY          --native: the fast path; prints the value and fast
//                        or ordered
//   del KEY              prints deleted or absent
//   scan PREFIX          prints "key value revision" per key, every page
//   cas KEY EXPECTED NEW EXPECTED "-" means absent; prints succeeded or
//                        "failed CURRENT"
//   txn KEY VALUE K2 V2  if KEY == VALUE then put K2 = V2 else get KEY;
//                        prints succeeded or "failed CURRENT"
// Prints the verified answer; exit 1 with the reasons when no endpoint
// gives one.
#include <pbft/client.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "node/config.h"

namespace {

const std::map<std::string, int> arity{{"put", 2}, {"get", 1}, {"fastget", 1}, {"del", 1},
                                       {"scan", 1}, {"cas", 3}, {"txn", 4}};

std::string or_absent(const std::optional<std::string>& v) { return v ? *v : "(absent)"; }

void run(pbft::VerifiedClient& client, const std::string& command, const std::vector<std::string>& a) {
  if (command == "put") {
    std::printf("%llu\n", static_cast<unsigned long long>(client.put(a[0], a[1])));
  } else if (command == "get") {
    std::printf("%s\n", or_absent(client.get(a[0])).c_str());
  } else if (command == "fastget") {
    bool fast = false;
    std::optional<pbft::KeyValue> kv = client.get_fast(a[0], &fast);
    std::printf("%s %s\n", kv ? kv->value.c_str() : "(absent)", fast ? "fast" : "ordered");
  } else if (command == "del") {
    std::printf("%s\n", client.del(a[0]) ? "deleted" : "absent");
  } else if (command == "scan") {
    std::optional<std::string> after;
    do {
      pbft::RangePage page = client.scan_prefix(a[0], 2, after);
      for (const pbft::KeyValue& kv : page.entries)
        std::printf("%s %s %llu\n", kv.key.c_str(), kv.value.c_str(), static_cast<unsigned long long>(kv.revision));
      after = page.next;
    } while (after);
  } else if (command == "cas") {
    std::optional<std::string> expected;
    if (a[1] != "-") expected = a[1];
    pbft::CasOutcome r = client.cas(a[0], expected, a[2]);
    if (r.succeeded) std::printf("succeeded\n");
    else std::printf("failed %s\n", or_absent(r.value).c_str());
  } else {
    pbft::Txn txn;
    txn.compares.push_back({pbft::TxnCompare::Kind::value_equals, a[0], a[1], 0});
    txn.success.push_back({pbft::TxnStep::Kind::put, a[2], a[3]});
    txn.failure.push_back({pbft::TxnStep::Kind::get, a[0], ""});
    pbft::TxnOutcome r = client.txn(txn);
    if (r.succeeded) std::printf("succeeded\n");
    else std::printf("failed %s\n", or_absent(r.results.at(0).value).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* program = argv[0];
  std::optional<uint64_t> native;
  if (argc > 2 && std::string(argv[1]) == "--native") {
    native = std::strtoull(argv[2], nullptr, 10);
    argc -= 2;
    argv += 2;
  }
  if (argc < 3 || !arity.contains(argv[2]) || argc < 3 + arity.at(argv[2])) {
    std::fprintf(stderr, "usage: %s [--native CLIENT_ID] BASE_PORT put|get|fastget|del|scan|cas|txn ARGS... [ENDPOINT_INDEX...]\n",
                 program);
    return 2;
  }
  const int base = std::atoi(argv[1]);
  const std::string command = argv[2];
  const int first_endpoint = 3 + arity.at(command);
  const std::vector<std::string> args(argv + 3, argv + first_endpoint);
  pbft::ClientOptions options;
  for (pbft::ReplicaId i = 0; i < pbft::node::dev_replica_count; ++i)
    options.replica_keys.push_back(pbft::node::dev_key_pair(i).public_key);
  for (int i = first_endpoint; i < argc; ++i)
    options.endpoints.push_back("127.0.0.1:" + std::to_string(base + std::atoi(argv[i])));
  if (options.endpoints.empty())
    for (int i = 0; i < 5; ++i) options.endpoints.push_back("127.0.0.1:" + std::to_string(base + i));
  try {
    if (native) {
      const pbft::crypto::KeyPair key = pbft::node::dev_client_key_pair(*native);
      pbft::ClientIdentity identity;
      identity.id = *native;
      std::copy_n(key.secret_key.begin(), identity.seed.size(), identity.seed.begin());
      options.identity = identity;
      options.endpoints.clear();
      for (pbft::ReplicaId i = 0; i < pbft::node::dev_replica_count; ++i)
        options.endpoints.push_back("127.0.0.1:" + std::to_string(base + 200 + static_cast<int>(i)));
    }
    pbft::VerifiedClient client(options);
    run(client, command, args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
