// kvctl's key-value commands, in the manner of etcdctl, over the HTTP API
// of the replicas (docs/API.md):
//
//   kvctl [--endpoints H:P,...] [--config FILE] [-o table|json] [--timeout-ms N] <command>
//     put KEY VALUE
//     get KEY
//     del KEY
//     scan [--prefix P | --start A [--end B]] [--limit N]
//     cas KEY VALUE (--expect V | --expect-absent)
//     txn [FILE]            the JSON body of POST /api/v1/kv/txn, from FILE or stdin ("-" or none)
//
// Endpoints are tried in order: when one cannot be reached or answers 503
// or 504, the same request (same request-id, so it runs at most once) goes
// to the next. Exit codes: 0 done; 1 the operation failed or its answer says
// no (a get of an absent key, a cas whose compare failed), with a message on
// stderr; 2 bad usage.
//
// --verify: every answer must carry a reply certificate of f+1 signed
// replies for exactly the operation kvctl sent (its own fresh request id
// included) and the result shown; an answer that fails any check is refused
// with exit code 1 and the reason. Without it kvctl trusts the replica that
// answers.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace pbft::client {

struct KvCommands {
  // Global options.
  std::vector<std::string> endpoints;
  std::string config;
  std::string output = "table";
  uint32_t timeout_ms = 15000;
  // Ask for reply certificates and accept only answers they prove
  // (client/reply_verifier.h), checked against the public keys of
  // --config's members, or of the dev cluster without --config.
  bool verify = false;

  // Per command.
  std::string key, value;
  std::string prefix, start, end;
  uint32_t limit = 0;  // scan: 0 = every key
  std::string expect;
  bool expect_absent = false;
  std::string txn_file;

  CLI::App* put = nullptr;
  CLI::App* get = nullptr;
  CLI::App* del = nullptr;
  CLI::App* scan = nullptr;
  CLI::App* cas = nullptr;
  CLI::App* txn = nullptr;

  void add_to(CLI::App& app);
  // Runs the parsed command; false when none of these was given.
  bool run(std::istream& in, std::ostream& out, std::ostream& err, int& exit_code);
};

}  // namespace pbft::client
