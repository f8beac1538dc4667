// pbft-micro: Google Benchmark micro-benchmarks of the codec, the crypto,
// the state digest and single protocol steps. `make micro` runs them and
// writes bench/results/micro.json.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
