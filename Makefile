# The project's entry points. `make test` and `make demo` do all set-up on a
# fresh machine (scripts/install-deps.sh); nothing else needs to be run first.
#
#   make demo    build everything and run a live closed loop (launcher, reference
#                modules, latency table, a picture in $(BUILD)/closed_loop.png)
#   make test    install what is missing, build (normal, ASan+UBSan, TSan, fuzz),
#                lint, docs check, run ctest in the three builds, valgrind, the
#                fuzzers for FUZZ_SECONDS each, and pytest
#   make fuzz-long  every fuzzer for a long time: FUZZ_SECONDS (here 600) each
#   make bench   Release build + benchmarks against the Python reference; writes
#                docs/benchmarks.md and its plots (docs/img/)
#   make bench-check  five benchmark runs in a row, each must succeed
#   make lint    clang-format check and clang-tidy
#   make docs    API reference (Doxygen) into $(BUILD)/docs/html
#   make package Debian packages (.deb) into $(BUILD)/packages
#
# Build directories can be moved with BUILD=..., so two checkouts or two
# people never share one.
BUILD       ?= build
ASAN_BUILD  ?= $(BUILD)-asan
TSAN_BUILD  ?= $(BUILD)-tsan
FUZZ_BUILD  ?= $(BUILD)-fuzz
BENCH_BUILD ?= $(BUILD)-release
VENV        ?= .venv
FUZZ_SECONDS ?= 15
PY          := $(CURDIR)/$(VENV)/bin/python

# The single place that confines LSL to this machine: every test, demo and
# benchmark is run from here with the loopback-only liblsl configuration.
export LSLAPICFG := $(CURDIR)/tests/lsl_api.cfg
# Where the tests find the programs and the liblsl of the test venv's pylsl.
export DP_BIN_DIR := $(CURDIR)/$(BUILD)/bin
ifeq ($(strip $(DP_LSL_LIB)),)
DP_LSL_LIB := $(firstword $(wildcard $(CURDIR)/$(VENV)/lib/python3*/site-packages/pylsl/lib/liblsl.so.2))
endif
export DP_LSL_LIB

CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps build asan tsan fuzz-build test test-c test-asan test-tsan test-valgrind \
        test-fuzz fuzz-long test-py demo bench bench-build bench-check lint format clean docs \
        docs-check package

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DDP_WERROR=ON
$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DDP_WERROR=ON -DDP_SANITIZE=ON \
	  -DDP_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
$(TSAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(TSAN_BUILD) $(CMAKE_GEN) -DDP_WERROR=ON -DDP_SANITIZE=thread \
	  -DDP_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DDP_FUZZ=ON -DDP_SANITIZE=ON \
	  -DDP_BUILD_TESTS=OFF -DDP_BUILD_TOOLS=OFF -DDP_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
$(BENCH_BUILD)/CMakeCache.txt:
	cmake -S . -B $(BENCH_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DDP_BUILD_TESTS=OFF

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD)
asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD)
tsan: deps $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD)
fuzz-build: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD)

test: deps
	@$(MAKE) --no-print-directory build asan tsan fuzz-build
	@$(MAKE) --no-print-directory lint docs-check test-c test-asan test-tsan test-valgrind \
	  test-fuzz test-py
	@echo "make test: all suites passed"

test-c: build
	ctest --test-dir $(BUILD) --output-on-failure
test-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure
# ThreadSanitizer: any report fails the test (halt_on_error, exit code 66).
test-tsan: tsan
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure
# The C unit tests once more under valgrind's memcheck: any error or definite
# leak fails the run. Forked children that do not exec (the supervisor of a
# process worker) are not checked: they end with _exit() holding the parent's
# heap, which memcheck would call leaked.
test-valgrind: build
	@for src in tests/c/test_*.c; do \
	  name=$${src##*/}; t=$(BUILD)/bin/$${name%.c}; log=$(BUILD)/$${name%.c}.valgrind.log; \
	  echo "valgrind: $${name%.c}"; \
	  DP_BIN_DIR=$(DP_BIN_DIR) valgrind -q --error-exitcode=99 --leak-check=full --child-silent-after-fork=yes \
	    --errors-for-leak-kinds=definite,indirect $$t >$$log 2>&1 \
	    || { cat $$log; exit 1; }; \
	done; echo "valgrind: all C unit tests clean"
# Every fuzz/fuzz_<name>.c for FUZZ_SECONDS on a copy of fuzz/corpus/<name>/;
# an input that crashes, leaks, or takes over 30 s is kept in
# $(FUZZ_BUILD)/artifacts/ (add it to the corpus once fixed).
test-fuzz fuzz-long: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@for src in fuzz/fuzz_*.c; do \
	  [ -f "$$src" ] || continue; name=$${src##*/fuzz_}; name=$${name%.c}; \
	  f=$(FUZZ_BUILD)/bin/fuzz_$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  work=$$(mktemp -d); cp -r fuzz/corpus/$$name/. $$work/ 2>/dev/null; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=30 -print_final_stats=0 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$name- $$work >$$work.log 2>&1 \
	    || { tail -50 $$work.log; rm -rf $$work $$work.log; exit 1; }; \
	  tail -1 $$work.log; rm -rf $$work $$work.log; \
	done
fuzz-long: FUZZ_SECONDS = 600
test-py: build
	$(PY) -m pytest -q tests/interop

docs: build
	cmake --build $(BUILD) --target docs
# Fails when a public symbol lacks documentation (Doxygen warnings as errors).
docs-check: build
	cmake --build $(BUILD) --target docs-check

# Debian packages: libdareplane0, libdareplane-dev, dareplane-tools.
package: build
	cmake --build $(BUILD) --target package

# The live closed loop (examples/example_closed_loop.c), then its picture.
demo: build
	$(BUILD)/bin/example-closed-loop --seconds 10 --json $(BUILD)/closed_loop.json \
	  --logfile $(BUILD)/closed_loop.log
	$(PY) scripts/plot_closed_loop.py $(BUILD)/closed_loop.json $(BUILD)/closed_loop.png

# REPEATS: how often each suite runs (median and spread are reported).
REPEATS ?= 3
bench: bench-build
	DP_BIN_DIR=$(CURDIR)/$(BENCH_BUILD)/bin $(PY) bench/run.py --repeats $(REPEATS) \
	  --report docs/benchmarks.md --plots docs/img
bench-build: deps $(BENCH_BUILD)/CMakeCache.txt
	cmake --build $(BENCH_BUILD)
# The benchmark's own reliability: five whole runs in a row, each must succeed.
bench-check: bench-build
	@for i in 1 2 3 4 5; do echo "bench-check: run $$i of 5"; \
	  DP_BIN_DIR=$(CURDIR)/$(BENCH_BUILD)/bin $(PY) bench/run.py --repeats 1 >/dev/null \
	    || exit 1; done; echo "bench-check: 5 runs in a row succeeded"

lint: build
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
	@echo "clang-tidy (its 'N warnings generated' notes about system headers: $(BUILD)/clang-tidy.log)"
	clang-tidy -p $(BUILD) --quiet \
	  $$(git ls-files 'src/*.c' 'tools/*.c' 'examples/*.c' 'docs/*.c' 'modules/*.c') \
	  2>$(BUILD)/clang-tidy.log
format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(BENCH_BUILD)
