# pbft-kv: the two commands a new user needs are `make cluster` (once the
# server exists) and `make test`. Everything else is set up from here.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
SIM_SEEDS ?= 1000

# Compiler cache: rebuilds of unchanged sources (a second checkout, the
# sanitizer build after a clean, CI on this machine) come from ~/.cache/ccache.
# Paths are made relative to the checkout so that checkouts share entries.
CCACHE = $(shell command -v ccache 2>/dev/null)
LAUNCHER = $(if $(CCACHE),-DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE))
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

# Debian packages the project builds with.
DEB_PACKAGES := build-essential cmake ninja-build pkg-config python3 libsodium-dev libgtest-dev \
  libgmock-dev libboost1.81-dev nlohmann-json3-dev libspdlog-dev libcli11-dev libtomlplusplus-dev \
  librocksdb-dev chromium chromium-driver nodejs ccache libbenchmark-dev faketime clang libclang-rt-14-dev

.PHONY: deps browser-deps build test test-asan sim cluster clean bench-state-transfer bench micro chaos \
  chaos-report fuzz-build fuzz fuzz-smoke fuzz-seeds fuzz-report

# Installs what is missing (idempotent; needs root or sudo on a fresh machine).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The browser test's npm packages (playwright-core), exactly as locked.
# npm comes with nodejs from some sources and as its own Debian package
# from Debian's.
browser-deps: deps
	@command -v npm >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm; }
	cd tests/browser && npm ci --no-audit --no-fund

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPBFT_SIM_SEEDS=$(SIM_SEEDS) $(LAUNCHER)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build browser-deps
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The same tests under AddressSanitizer and UBSan, in their own build folder
# (fewer simulator seeds: the instrumented build is several times slower).
# Line tables only (-g1): reports still name file and line, and the build is
# much quicker than with full debug information.
test-asan: deps browser-deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPBFT_SANITIZE=ON -DPBFT_SIM_SEEDS=30 $(LAUNCHER) \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS)

# libFuzzer targets (fuzz/, see fuzz/README.md) under ASan + UBSan, built
# with clang in their own folder; only the modules they need are built.
# `make fuzz` runs each target for FUZZ_SECONDS; `make fuzz-smoke` (CI) runs
# each over its corpus and then for FUZZ_SMOKE_SECONDS. A crash fails the
# run and leaves the reproducer in $(FUZZ_DIR)/artifacts/<target>/.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
fuzz-build: deps
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPBFT_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++ $(LAUNCHER) -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only"
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SMOKE_SECONDS)

# Rewrites the seed corpora in fuzz/corpus from real encoded messages.
fuzz-seeds: fuzz-build
	$(FUZZ_DIR)/fuzz/fuzz_seeds fuzz/corpus

# Runs every target for FUZZ_SECONDS and prints the tables of
# docs/RELIABILITY.md's "Fuzzing" section (also kept in $(FUZZ_DIR)/report.md).
fuzz-report: fuzz-build
	fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) | tee $(FUZZ_DIR)/report.md

# A local 5-replica dev cluster in the foreground (Ctrl-C stops it):
# HTTP on 127.0.0.1:10000..10004, data in ./data. BASE_PORT moves the ports.
BASE_PORT ?= 10000
cluster: build
	$(BUILD_DIR)/bin/kvctl dev-cluster --base-port $(BASE_PORT) --data-dir data

sim: build
	$(BUILD_DIR)/bin/pbft-sim --seeds $(SIM_SEEDS)

# Chaos runner (tests/chaos/run_chaos.py): a 4-replica cluster of real kv-node
# processes under SIGKILL/restart, SIGSTOP/SIGCONT, partitions and connection
# loss (one faulty replica at a time), with concurrent recorded clients; then
# read-back, linearizability and agreement checks; a healed replica that does
# not rejoin the others' view fails the run too. Fails naming the seed to
# replay. The default is short (part of CI); soak with e.g.
#   make chaos SEEDS=1-20 DURATION=600
# chaos-report runs the same and rewrites the figures in docs/RELIABILITY.md.
# DURATION means seconds per seed here and seconds per point for `make bench`:
# each target has its own default, so neither is set globally.
SEEDS ?= 1,2
CHAOS = KV_NODE=$(CURDIR)/$(BUILD_DIR)/bin/kv-node KVCTL=$(CURDIR)/$(BUILD_DIR)/bin/kvctl PYTHONDONTWRITEBYTECODE=1 \
  python3 tests/chaos/run_chaos.py --seeds $(SEEDS) --duration $(or $(DURATION),60) --strict-rejoin
chaos: build
	$(CHAOS)

chaos-report: build
	$(CHAOS) --report docs/RELIABILITY.md

# Benchmark (not part of `make test`): loads BYTES of 512 KiB values into a dev
# cluster (at most LOAD_SECONDS_MAX of loading), then times the state transfer
# to a wiped replica and a restart of every replica after SIGKILL. Prints a
# table; writes bench/results/state_transfer.json.
BYTES ?= 1G
LOAD_SECONDS_MAX ?= 300
bench-state-transfer: build
	python3 bench/state_transfer.py --bytes $(BYTES) --load-seconds-max $(LOAD_SECONDS_MAX) \
	  --kv-node $(BUILD_DIR)/bin/kv-node

# Benchmark (not part of `make test`): pbft-kv n = 1, n = 4 and a 3-member etcd
# (installed with apt-get if missing) under the same closed-loop load,
# interleaved over REPS repetitions; writes BENCHMARKS.md, bench/results/bench.json
# and bench/results/bench.png. QUICK=1: a smoke test of about a minute.
# Reads go through the read-only fast path; READ_PATH=ordered orders them.
REPS ?= 3
WARMUP ?= 2
READ_PATH ?= fast
QUICK ?=
bench: build
	python3 bench/run_bench.py --reps $(REPS) --duration $(or $(DURATION),8) --warmup $(WARMUP) --read-path $(READ_PATH) \
	  --bin-dir $(BUILD_DIR)/bin $(if $(filter 1 yes true,$(QUICK)),--quick)

# Micro-benchmarks (Google Benchmark): codec, crypto, state digest, core steps.
# Prints a table; writes bench/results/micro.json. MICRO_FILTER: a regex of names.
MICRO_FILTER ?= .
micro: build
	mkdir -p bench/results
	$(BUILD_DIR)/bin/pbft-micro --benchmark_filter='$(MICRO_FILTER)' \
	  --benchmark_out=bench/results/micro.json --benchmark_out_format=json

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
