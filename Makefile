# The two Quick start commands (README.md) and their friends.
#   make run    set up, build and start a single-node server on embedded defaults
#   make test   set up, build and run every test (unit, integration, ASan/UBSan, fuzz smoke)
#   make install  the binaries on PATH, a systemd unit, /etc/kiseki/kiseki.toml (PREFIX, DESTDIR)
BUILD      ?= build
ASAN_BUILD ?= build-asan
BENCH_BUILD ?= build-release
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
JOBS       ?= 2
DATA_DIR   ?= var
PREFIX     ?= /usr/local
CMAKE_GEN  := -G Ninja

.PHONY: all bootstrap build install run test test-unit test-asan fuzz fuzz-build test-fuzz bench bench-build bench-peers bench-nfs format clean

all: build

bootstrap:
	./scripts/bootstrap

$(BUILD)/build.ninja: CMakeLists.txt | bootstrap
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# DESTDIR stages the tree (packaging); without it the kiseki user is made and
# systemd told (scripts/install-system).
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)
	@if [ -z "$(DESTDIR)" ]; then ./scripts/install-system $(PREFIX); fi

run: build
	$(BUILD)/src/server/kiseki-server --data-dir $(DATA_DIR)

test-unit: build
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure

# Unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: bootstrap
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DKISEKI_SANITIZE=ON -DKISEKI_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 KISEKI_SIM_SEEDS=100 \
	  ctest --test-dir $(ASAN_BUILD) -j $(JOBS) --output-on-failure -LE integration

# libFuzzer targets (tests/fuzz), clang with ASan/UBSan: `make fuzz` runs each
# for FUZZ_SECONDS (600); `make test` runs each for 20 s.
fuzz-build: bootstrap
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DKISEKI_FUZZ=ON -DKISEKI_WERROR=OFF -DKISEKI_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz

fuzz: fuzz-build
	./scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

test-fuzz: fuzz-build
	./scripts/run-fuzzers $(FUZZ_BUILD) 20

test: test-unit test-asan test-fuzz

# Release build; micro benchmarks and the machine's limits; then the protocol
# matrix against a fresh kiseki-server, written into docs/performance.md.
bench-build: bootstrap
	cmake -S . -B $(BENCH_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DKISEKI_WERROR=ON
	cmake --build $(BENCH_BUILD) -j $(JOBS)

bench: bench-build
	./scripts/run-benchmarks $(BENCH_BUILD)
	./scripts/bench-matrix $(BENCH_BUILD)

# Kiseki S3 beside the peers of ../shared/peers in interleaved rounds, loaded by
# kiseki-profile and by ../shared/peers/s3load (BENCH_SECONDS, BENCH_REPEAT).
BENCH_PEERS ?= radosgw,s3rver
bench-peers: bench-build
	./scripts/bootstrap peers
	./scripts/bench-matrix $(BENCH_BUILD) --peers $(BENCH_PEERS)

# NFSv3: Kiseki beside the local file system and nfs-ganesha, same run.
bench-nfs: bench-build
	./scripts/bootstrap peers
	./scripts/bench-matrix $(BENCH_BUILD) --nfs --peers ganesha

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD)
