// Example of the verifying client library (include/pbft/client.h) against
// the dev cluster: `example-verified-client BASE_PORT put|get|del KEY
// [VALUE] [ENDPOINT_INDEX...]`, endpoints 127.0.0.1:BASE_PORT+i (all five
// when none are given). Prints the verified answer; exit 1 with the reasons
// when no endpoint gives one.
#include <pbft/client.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "node/config.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s BASE_PORT put|get|del KEY [VALUE] [ENDPOINT_INDEX...]\n", argv[0]);
    return 2;
  }
  const int base = std::atoi(argv[1]);
  const std::string command = argv[2], key = argv[3];
  int next = 4;
  std::string value;
  if (command == "put") {
    if (argc < 5) return 2;
    value = argv[next++];
  }
  pbft::ClientOptions options;
  for (pbft::ReplicaId i = 0; i < pbft::node::dev_replica_count; ++i)
    options.replica_keys.push_back(pbft::node::dev_key_pair(i).public_key);
  for (int i = next; i < argc; ++i) options.endpoints.push_back("127.0.0.1:" + std::to_string(base + std::atoi(argv[i])));
  if (options.endpoints.empty())
    for (int i = 0; i < 5; ++i) options.endpoints.push_back("127.0.0.1:" + std::to_string(base + i));
  try {
    pbft::VerifiedClient client(options);
    if (command == "put") {
      std::printf("%llu\n", static_cast<unsigned long long>(client.put(key, value)));
    } else if (command == "get") {
      auto v = client.get(key);
      std::printf("%s\n", v ? v->c_str() : "(absent)");
    } else if (command == "del") {
      std::printf("%s\n", client.del(key) ? "deleted" : "absent");
    } else {
      return 2;
    }
  } catch (const pbft::ClientError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
