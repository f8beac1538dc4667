// The state digest (src/kv/lthash): what one put costs the bucket digest
// (the old record's hash out, the new one's in), and the parts.
#include <benchmark/benchmark.h>

#include "bench/micro/fixtures.h"
#include "kv/lthash.h"

namespace pbft::micro {
namespace {

void BM_LtHashOfRecord(benchmark::State& state) {
  const std::string key = bench_key(42);
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  for (auto _ : state) benchmark::DoNotOptimize(kv::LtHash::of_record(key, value));
}
BENCHMARK(BM_LtHashOfRecord)->Arg(100)->Arg(4096);

void BM_LtHashAdd(benchmark::State& state) {
  kv::LtHash sum;
  const kv::LtHash one = kv::LtHash::of_record("a", "b");
  for (auto _ : state) {
    sum.add(one);
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_LtHashAdd);

// Overwriting a key: remove the old record's hash, add the new one's.
void BM_LtHashUpdateOnPut(benchmark::State& state) {
  kv::LtHash bucket;
  const std::string key = bench_key(7);
  std::string old_value(value_size, 'a'), new_value(value_size, 'b');
  uint64_t n = 0;
  for (auto _ : state) {
    new_value[n % value_size] = static_cast<char>('a' + n % 26);
    bucket.remove(kv::LtHash::of_record(key, old_value));
    bucket.add(kv::LtHash::of_record(key, new_value));
    std::swap(old_value, new_value);
    ++n;
  }
  benchmark::DoNotOptimize(bucket);
}
BENCHMARK(BM_LtHashUpdateOnPut);

}  // namespace
}  // namespace pbft::micro
