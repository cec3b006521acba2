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
#   make windows, make test-windows   cross-build for Windows (mingw-w64), and run
#                the C unit tests and an interop smoke test under Wine
#
# Build directories can be moved with BUILD=..., so two checkouts or two
# people never share one.
BUILD       ?= build
ASAN_BUILD  ?= $(BUILD)-asan
TSAN_BUILD  ?= $(BUILD)-tsan
FUZZ_BUILD  ?= $(BUILD)-fuzz
BENCH_BUILD ?= $(BUILD)-release
WIN_BUILD   ?= $(BUILD)-windows
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
        test-fuzz fuzz-long test-py demo windows test-windows package-windows bench bench-build \
        bench-check lint format clean docs docs-check package

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
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure
# The C unit tests once more under valgrind's memcheck: any error or definite
# leak fails the run. Forked children that do not exec (the supervisor of a
# process worker) are not checked: they end with _exit() holding the parent's
# heap, which memcheck would call leaked. A test still running after
# VALGRIND_TIMEOUT seconds fails the run instead of holding it up.
VALGRIND_TIMEOUT ?= 900
test-valgrind: build
	@for src in tests/c/test_*.c; do \
	  name=$${src##*/}; t=$(BUILD)/bin/$${name%.c}; log=$(BUILD)/$${name%.c}.valgrind.log; \
	  echo "valgrind: $${name%.c}"; \
	  DP_BIN_DIR=$(DP_BIN_DIR) timeout -k 10 $(VALGRIND_TIMEOUT) valgrind -q --error-exitcode=99 \
	    --leak-check=full --child-silent-after-fork=yes --errors-for-leak-kinds=definite,indirect \
	    $$t >$$log 2>&1 || { rc=$$?; cat $$log; \
	    echo "valgrind: $${name%.c} failed, status $$rc (124: timed out)"; exit 1; }; \
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
# ---- Windows: cross-built with mingw-w64, tested under Wine -----------------
# $(WIN_BUILD)/deps holds libuv, jansson and cmocka built from Debian's source
# packages (scripts/windows-deps.sh); $(WIN_BUILD)/wine is the Wine prefix.
WIN_ENV := PKG_CONFIG_LIBDIR=$(CURDIR)/$(WIN_BUILD)/deps/lib/pkgconfig \
  WINEPREFIX=$(CURDIR)/$(WIN_BUILD)/wine WINEDEBUG=-all WINEARCH=win64
$(WIN_BUILD)/deps/.ready:
	scripts/windows-deps.sh $(WIN_BUILD)/deps
	touch $@
$(WIN_BUILD)/build/CMakeCache.txt: $(WIN_BUILD)/deps/.ready
	$(WIN_ENV) cmake -S . -B $(WIN_BUILD)/build -G Ninja -DDP_WERROR=ON \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/mingw-w64-x86_64.cmake \
	  -DDP_WINDOWS_PREFIX=$(CURDIR)/$(WIN_BUILD)/deps -DDP_BUILD_BENCH=OFF
windows: $(WIN_BUILD)/build/CMakeCache.txt
	$(WIN_ENV) cmake --build $(WIN_BUILD)/build
# liblsl for Windows: the lsl.dll of pylsl's Windows wheel (the version the
# test venv pins), for the smoke test under Wine. Nothing of it is committed.
WIN_LSL := $(WIN_BUILD)/lsl/lsl.dll
$(WIN_LSL): tests/interop/requirements.txt | build
	rm -rf $(WIN_BUILD)/lsl && mkdir -p $(WIN_BUILD)/lsl
	$(PY) -m pip download -q --no-deps --only-binary=:all: --platform win_amd64 \
	  --python-version 3.11 -d $(WIN_BUILD)/lsl \
	  "$$(grep -i '^pylsl==' tests/interop/requirements.txt)"
	$(PY) -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('$(WIN_BUILD)/lsl/*.whl')[0]); \
	  open('$@', 'wb').write(z.read('pylsl/lib/lsl.dll'))"
# The zip for Windows users: DLL, import libraries (MinGW .dll.a, MSVC .lib),
# static library with the libuv and jansson it needs, headers, tools,
# dareplane.pc, CMake package; checked by building a consumer from it.
DP_VERSION := $(shell awk '/^\#define DP_VERSION_(MAJOR|MINOR|PATCH) / {printf "%s%s", s, $$3; s="."}' \
  include/dareplane/common.h)
WIN_PKG := dareplane-$(DP_VERSION)-windows-x86_64
package-windows: windows
	rm -rf $(WIN_BUILD)/package && mkdir -p $(WIN_BUILD)/package
	$(WIN_ENV) cmake --install $(WIN_BUILD)/build --prefix $(WIN_BUILD)/package/$(WIN_PKG) >/dev/null
	mkdir -p $(WIN_BUILD)/package/$(WIN_PKG)/share/doc/dareplane
	cp README.md LICENSE $(WIN_BUILD)/package/$(WIN_PKG)/share/doc/dareplane/
	cp $(WIN_BUILD)/deps/src/libuv1-*/LICENSE $(WIN_BUILD)/package/$(WIN_PKG)/share/doc/dareplane/LICENSE.libuv
	cp $(WIN_BUILD)/deps/src/jansson-*/LICENSE $(WIN_BUILD)/package/$(WIN_PKG)/share/doc/dareplane/LICENSE.jansson
	cd $(WIN_BUILD)/package && $(PY) -c "import shutil; shutil.make_archive('$(WIN_PKG)', 'zip', '.', '$(WIN_PKG)')"
	$(WIN_ENV) PY=$(PY) tests/install/check_windows_zip.sh $(CURDIR) $(WIN_BUILD)/package/$(WIN_PKG).zip
	@echo "package-windows: $(WIN_BUILD)/package/$(WIN_PKG).zip"
# Every C unit test under Wine, then the interop smoke test: Linux-side
# Python peers against the Windows programs over loopback.
test-windows: windows $(WIN_LSL)
	$(WIN_ENV) ctest --test-dir $(WIN_BUILD)/build --output-on-failure
	$(WIN_ENV) DP_WIN_BIN_DIR=$(CURDIR)/$(WIN_BUILD)/build/bin DP_WIN_LSL_LIB=$(CURDIR)/$(WIN_LSL) \
	  $(PY) -m pytest -q tests/interop/test_windows_smoke.py
	@$(MAKE) --no-print-directory package-windows

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
	  $$(git ls-files 'src/*.c' 'tools/*.c' 'examples/*.c' 'docs/*.c' 'modules/*.c' \
	    | grep -v '_win\.c$$') \
	  2>$(BUILD)/clang-tidy.log
format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(BENCH_BUILD)
