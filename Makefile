# pbft-kv: the two commands a new user needs are `make cluster` (once the
# server exists) and `make test`. Everything else is set up from here.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
SIM_SEEDS ?= 1000

# Compiler cache: rebuilds of unchanged sources (a second checkout, the
# sanitizer build after a clean, CI on this machine) come from ~/.cache/ccache.
# Paths are made relative to the checkout so that checkouts share entries.
CCACHE := $(shell command -v ccache 2>/dev/null)
LAUNCHER := $(if $(CCACHE),-DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE))
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

# Debian packages the project builds with.
DEB_PACKAGES := build-essential cmake ninja-build pkg-config python3 libsodium-dev libgtest-dev \
  libgmock-dev libboost1.81-dev nlohmann-json3-dev libspdlog-dev libcli11-dev libtomlplusplus-dev \
  librocksdb-dev chromium chromium-driver nodejs ccache

.PHONY: deps browser-deps build test test-asan sim cluster clean bench-state-transfer bench-signing

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

# A local 5-replica dev cluster in the foreground (Ctrl-C stops it):
# HTTP on 127.0.0.1:10000..10004, data in ./data. BASE_PORT moves the ports.
BASE_PORT ?= 10000
cluster: build
	$(BUILD_DIR)/bin/kvctl dev-cluster --base-port $(BASE_PORT) --data-dir data

sim: build
	$(BUILD_DIR)/bin/pbft-sim --seeds $(SIM_SEEDS)

# Benchmark (not part of `make test`): loads BYTES of 512 KiB values into a dev
# cluster (at most LOAD_SECONDS_MAX of loading), then times the state transfer
# to a wiped replica and a restart of every replica after SIGKILL. Prints a
# table; writes bench/results/state_transfer.json.
BYTES ?= 1G
LOAD_SECONDS_MAX ?= 300
bench-state-transfer: build
	python3 bench/state_transfer.py --bytes $(BYTES) --load-seconds-max $(LOAD_SECONDS_MAX) \
	  --kv-node $(BUILD_DIR)/bin/kv-node

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)

# What signing a reply costs next to a MAC (not part of `make test`).
bench-signing: deps
	@mkdir -p $(BUILD_DIR)
	cc -O2 bench/reply_signing.c -o $(BUILD_DIR)/reply_signing $$(pkg-config --cflags --libs libsodium)
	$(BUILD_DIR)/reply_signing
