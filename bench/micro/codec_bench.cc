// The wire codec: a pre-prepare carrying a batch of puts, encoded into a
// checksummed frame and decoded back (what every backup does per batch).
#include <benchmark/benchmark.h>

#include "bench/micro/fixtures.h"

namespace pbft::micro {
namespace {

wire::PrePrepare pre_prepare_with_batch(size_t batch) {
  auto primary = replica_crypto(0);
  wire::PrePrepare pp{0, 1, {}, {}, {}};
  for (size_t i = 0; i < batch; ++i) pp.batch.push_back(gateway_request(*primary, 0, static_cast<uint32_t>(i), 1, i));
  pp.digest = primary->digest(wire::batch_bytes(pp.batch));
  pp.sig = primary->sign(wire::signing_bytes(pp));
  return pp;
}

void BM_EncodePrePrepare(benchmark::State& state) {
  const wire::Message m = pre_prepare_with_batch(static_cast<size_t>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    Bytes frame = wire::encode_frame(1, m);
    bytes = frame.size();
    benchmark::DoNotOptimize(frame.data());
  }
  state.counters["frame_bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodePrePrepare)->Arg(1)->Arg(16)->Arg(64)->Arg(256);

void BM_DecodePrePrepare(benchmark::State& state) {
  const Bytes frame = wire::encode_frame(1, wire::Message(pre_prepare_with_batch(static_cast<size_t>(state.range(0)))));
  for (auto _ : state) {
    auto decoded = wire::decode_frame(frame, 1);
    if (!decoded.ok()) {
      state.SkipWithError(decoded.error.c_str());
      break;
    }
    benchmark::DoNotOptimize(decoded.value);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodePrePrepare)->Arg(1)->Arg(16)->Arg(64)->Arg(256);

void BM_Crc32c(benchmark::State& state) {
  const Bytes data(static_cast<size_t>(state.range(0)), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(wire::crc32c(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Crc32c)->Arg(160)->Arg(64 << 10);

}  // namespace
}  // namespace pbft::micro
