// The crypto of the normal case through src/crypto (libsodium): the MAC of
// every replica-to-replica frame (keyed BLAKE2b), the batch digest
// (BLAKE2b), and Ed25519 signatures (client requests, prepares,
// pre-prepares, checkpoints).
#include <benchmark/benchmark.h>

#include "bench/micro/fixtures.h"

namespace pbft::micro {
namespace {

Bytes message(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 31 + 7);
  return b;
}

void BM_Mac(benchmark::State& state) {
  auto c = replica_crypto(0);
  const Bytes m = message(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(c->mac(1, m));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_Mac)->Arg(128)->Arg(1024)->Arg(32 << 10);

void BM_VerifyMac(benchmark::State& state) {
  auto sender = replica_crypto(0);
  auto receiver = replica_crypto(1);
  const Bytes m = message(static_cast<size_t>(state.range(0)));
  const Mac mac = sender->mac(1, m);
  for (auto _ : state) {
    if (!receiver->verify_mac(0, m, mac)) {
      state.SkipWithError("MAC did not verify");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_VerifyMac)->Arg(128)->Arg(1024);

void BM_Digest(benchmark::State& state) {
  auto c = replica_crypto(0);
  const Bytes m = message(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(c->digest(m));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_Digest)->Arg(128)->Arg(16 << 10);

void BM_SignEd25519(benchmark::State& state) {
  auto c = replica_crypto(0);
  const Bytes m = message(150);  // about a gateway request's signing bytes
  for (auto _ : state) benchmark::DoNotOptimize(c->sign(m));
}
BENCHMARK(BM_SignEd25519);

void BM_VerifyEd25519(benchmark::State& state) {
  auto signer = replica_crypto(0);
  auto verifier = replica_crypto(1);
  const Bytes m = message(150);
  const Signature sig = signer->sign(m);
  for (auto _ : state) {
    if (!verifier->verify_replica(0, m, sig)) {
      state.SkipWithError("signature did not verify");
      break;
    }
  }
}
BENCHMARK(BM_VerifyEd25519);

}  // namespace
}  // namespace pbft::micro
