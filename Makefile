# coro - build, test, demo, install.
#
#   make              the static and shared libraries and coro.pc, in build/
#   make test         build and run every test (unit, examples, C++, install)
#   make demo         build and run the examples, showing their output
#   make bench        install the peers if missing, run the benchmark suite
#                     (bench/); make bench-json also writes JSON and a chart
#   make install      install header, libraries and pkg-config file
#                     (PREFIX=/usr/local, DESTDIR= for staging)
#   make format       reformat the sources; make format-check checks only
#   make fuzz         run every fuzz target (tests/fuzz/) under libFuzzer for
#                     FUZZ_TIME seconds each (clang, ASan + UBSan)
#
# Build options (each configuration builds in its own directory):
#   CC=clang          another compiler
#   SANITIZE=1        AddressSanitizer + UndefinedBehaviorSanitizer
#   SANITIZE=thread   ThreadSanitizer (every coroutine a TSan fiber; with
#                     CC=clang, or gcc where its libtsan is installed)
#   BACKEND=ucontext  the portable context switch instead of assembly
#   STACK=copy        every coroutine in copy-stack mode (CORO_COPY_STACK)
#   CROSS=aarch64-linux-gnu-  cross-compile; tests run under $(EMU)
#                     (also CROSS=riscv64-linux-gnu-; EMU is qemu-<arch> -L /usr/<triplet>)
#   VALGRIND=1        run the tests under valgrind memcheck
#   BUILD=dir         where objects go (default: derived from the above)

CROSS ?=
CC = $(CROSS)gcc
CXX = $(CROSS)g++
AR = $(CROSS)ar
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

VERSION := 0.1.0
SOMAJOR := 0

SANITIZE ?=
BACKEND ?= asm
VALGRIND ?=

# Each configuration gets its own build directory, so switching options never
# mixes objects.
CONFIG := $(notdir $(firstword $(CC)))$(if $(SANITIZE),$(if $(filter thread,$(SANITIZE)),-tsan,-san))$(if $(filter ucontext,$(BACKEND)),-ucontext)$(if $(filter copy,$(STACK)),-copy)
BUILD ?= build/$(CONFIG)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wundef -Wpointer-arith -Wcast-align -Wvla
OPT ?= -O2 -g
CFLAGS ?=
# -iquote: these folders hold sched.h and poll.h, which must not stand for
# the system's <sched.h> and <poll.h>.
SRC_INC := -iquote src/core -iquote src/runtime -iquote src/io
XCFLAGS := -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) \
           -fPIC -fvisibility=hidden -Iinclude $(SRC_INC) -pthread
# SAN_FLAGS: what a program linked with this build's library needs too
# (tests/check_*.sh build some).
ifeq ($(SANITIZE),thread)
SAN_FLAGS := -fsanitize=thread
else ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
endif
ifneq ($(SANITIZE),)
XCFLAGS += $(SAN_FLAGS) -fno-omit-frame-pointer
LDSAN := $(SAN_FLAGS)
endif
# io_uring for file operations and receiving ahead where liburing is
# installed (not when cross-compiling: the cross sysroots have none); the
# pool and read() otherwise.
URING ?= $(if $(CROSS),,$(shell printf '\043include <liburing.h>\nint main(void){return 0;}' | \
           $(CC) -x c - -luring -o /dev/null 2>/dev/null && echo 1))
ifneq ($(URING),)
LDSAN += -luring
PC_REQUIRES := liburing
CORO_LIBS := -luring
endif
ifeq ($(BACKEND),ucontext)
XCFLAGS += -DCORO_BACKEND_UCONTEXT
endif
# STACK=copy: every coroutine in copy-stack mode (CORO_COPY_STACK), so the
# whole suite runs in that mode too.
ifeq ($(STACK),copy)
XCFLAGS += -DCORO_DEFAULT_COPY_STACK
endif
# Tests and examples check internal invariants too, and so does the library
# itself in the sanitizer builds (or with ASSERTS=1): its wait queues, timer
# heap, run queue and channels (coro__assert). A release build has none.
TEST_CFLAGS := -DCORO_ASSERTS
ASSERTS ?= $(if $(SANITIZE),1,)
ifneq ($(ASSERTS),)
XCFLAGS += -DCORO_ASSERTS
endif

# The library's three layers, each a folder; a lower one includes nothing
# of a higher one (tests/check_layers.sh): core (coroutines), runtime
# (loops and tasks), io (fds, sockets, files, the pollers and the ring).
CORE_SRC := $(addprefix src/core/,coro.c error.c unwind.c switch.c stack.c copystack.c \
              overflow.c thread.c alloc.c arch/ucontext.c)
RUNTIME_SRC := $(addprefix src/runtime/,loop.c sched.c handle.c worker.c group.c timer.c chan.c shared.c \
                 select.c sync.c remote.c cross.c run.c)
# The io_uring layer (ring.c, and its users ring_file.c and ring_rx.c)
# where liburing is; ring_none.c, which says "no ring", where it is not.
IO_RING := $(if $(URING),ring.c ring_file.c ring_rx.c,ring_none.c)
IO_SRC := $(addprefix src/io/,fd.c rw.c ahead.c net.c poll_epoll.c offload.c serve.c file.c $(IO_RING))
LIB_SRC := $(CORE_SRC) $(RUNTIME_SRC) $(IO_SRC)
LIB_ASM := $(addprefix src/core/arch/,x86_64.S aarch64.S riscv64.S)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(LIB_ASM:%.S=$(BUILD)/%.o)

TESTS := $(basename $(notdir $(wildcard tests/test_*.c)))
TEST_BIN := $(TESTS:%=$(BUILD)/tests/%)
EXAMPLES := $(basename $(notdir $(wildcard examples/*.c)))
EXAMPLE_BIN := $(EXAMPLES:%=$(BUILD)/examples/%)
# Servers run until stopped: built with the examples, not run by demo/test.
SERVERS := $(basename $(notdir $(wildcard examples/servers/*.c)))
SERVER_BIN := $(SERVERS:%=$(BUILD)/examples/servers/%)
# Their protocol parsers, which the fuzz targets include too.
SERVER_H := $(wildcard examples/servers/*.h)
# Fuzz targets: tests/fuzz/fuzz_<name>.c, each an LLVMFuzzerTestOneInput
# with a seed corpus in tests/fuzz/corpus/fuzz_<name>/. make test replays
# every corpus through a plain driver (in every configuration); make fuzz
# explores under libFuzzer.
FUZZ := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BIN := $(FUZZ:%=$(BUILD)/fuzz/%)

ifneq ($(CROSS),)
EMU ?= qemu-$(patsubst %-linux-gnu-,%,$(CROSS)) -L /usr/$(patsubst %-,%,$(CROSS))
endif
# Not -q: at the default verbosity valgrind also logs its warnings, such as
# "client switching stacks?", which CI greps the logs for.
ifneq ($(VALGRIND),)
EMU := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
       --log-file=$(BUILD)/valgrind.%p.log
endif

.PHONY: all lib test demo bench install uninstall clean format format-check \
        tests examples check-examples check-cxx check-install fuzz
all: lib
lib: $(BUILD)/libcoro.a $(BUILD)/libcoro.so $(BUILD)/coro.pc

# The configuration a build directory was made with (compiler, flags,
# whether liburing was found), rewritten only when it changes: every object
# and coro.pc depend on it, so a change of any of them (liburing installed
# since, say) rebuilds instead of keeping a library made otherwise.
CONFIG_REC := $(BUILD)/config
CONFIG_NOW := $(CC) $(XCFLAGS) $(CFLAGS) | uring=$(URING) | version=$(VERSION)
$(CONFIG_REC): FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(CONFIG_NOW)' | cmp -s - $@ 2>/dev/null || printf '%s\n' '$(CONFIG_NOW)' > $@
.PHONY: FORCE
FORCE:

# Header dependencies are generated by the compiler (-MMD; -MP: a header
# that goes away does not break the build).
$(BUILD)/%.o: %.c $(CONFIG_REC)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@
-include $(LIB_OBJ:.o=.d)

# clang's integrated assembler describes assembly functions to debuggers as
# bare labels, so gdb falls back to the ELF symbol and prints coro__ctx_entry
# as "coro.ctx_entry"; GNU as (binutils, always beside the compiler on Linux)
# writes real DWARF subprograms.
comma := ,
ASM_FLAGS = $(if $(findstring clang,$(CC)),-fno-integrated-as -Wa$(comma)--gdwarf-5)
$(BUILD)/%.o: %.S $(CONFIG_REC)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(ASM_FLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcoro.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libcoro.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libcoro.so.$(SOMAJOR) -pthread $^ $(LDSAN) -o $@

# coro.pc: liburing, where the build used it, is a private requirement
# (pkg-config --static then adds its flags); the line goes without it.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
             -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
             -e 's|@REQUIRES@|$(PC_REQUIRES)|' -e '/^Requires.private: *$$/d'
$(BUILD)/coro.pc: coro.pc.in Makefile $(CONFIG_REC)
	$(PC_SED) $< > $@

# Tests: one binary per tests/test_<area>.c, linked with the shared runner
# (and the objects in its TEST_EXTRA).
$(BUILD)/tests/%: tests/%.c tests/test.h tests/runner.c $(BUILD)/libcoro.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(TEST_CFLAGS) $(CFLAGS) $< tests/runner.c $(TEST_EXTRA) \
	    $(BUILD)/libcoro.a $(LDSAN) -pthread -o $@

# test_stack's frames larger than any guard, built with stack-clash
# protection (alone: the rest of the test needs frames that jump).
$(BUILD)/tests/test_stack: TEST_EXTRA = $(BUILD)/tests/clash_frames.o
$(BUILD)/tests/test_stack: $(BUILD)/tests/clash_frames.o tests/clash_frames.h
$(BUILD)/tests/clash_frames.o: tests/clash_frames.c tests/clash_frames.h
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -fstack-clash-protection -c $< -o $@

# A fuzz target with the replay driver (tests/fuzz/driver.c).
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c tests/fuzz/fuzz.h $(SERVER_H) $(BUILD)/libcoro.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(TEST_CFLAGS) $(CFLAGS) -Iexamples/servers $< tests/fuzz/driver.c \
	    $(BUILD)/libcoro.a $(LDSAN) -pthread -o $@

$(BUILD)/examples/%: examples/%.c $(BUILD)/libcoro.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(TEST_CFLAGS) $(CFLAGS) $< $(BUILD)/libcoro.a $(LDSAN) -pthread -o $@
$(BUILD)/examples/servers/%: examples/servers/%.c $(SERVER_H) $(BUILD)/libcoro.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(TEST_CFLAGS) $(CFLAGS) $< $(BUILD)/libcoro.a $(LDSAN) -pthread -o $@

# Benchmarks (bench/; bench/README.md says how to read them).
# `make bench` installs the reference peers if missing (bench/setup.sh, from
# Debian's packages), then builds and runs the suite and prints the table;
# `make bench-json` also writes $(BENCH_RESULTS)/bench.json, table.md and,
# with gnuplot, chart.png. BENCH_FLAGS reaches the driver (-r ROUNDS, -t MS
# per sample, -c CPU, -n: skip instruction and system call counts). A peer
# that does not build is reported "n/a", never an error.
BENCH_RESULTS ?= bench/results
BENCH_FLAGS ?=
BENCH_BIN := $(BUILD)/bench/coro-bench
BENCH_OBJ := $(patsubst %,$(BUILD)/bench/%.o,main spawn report ops_coro floor floor_x86_64)
BENCH_PEERS := $(BUILD)/bench/peer_boost.so $(BUILD)/bench/peer_pcl.so $(BUILD)/bench/peer_go
BENCH_GOENV = GOCACHE=$(abspath $(BUILD))/bench/go-cache GOPATH=$(abspath $(BUILD))/bench/go-path \
              GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
BENCH_NA = || { rm -f $@; echo "bench: $@ not built: its rows will show n/a"; }

-include $(BENCH_OBJ:.o=.d)
# ops_rt.c and goals.c are parts of ops_coro.c and report.c (#included: they
# use those files' static helpers).
$(BUILD)/bench/ops_coro.o: bench/ops_rt.c
$(BUILD)/bench/report.o: bench/goals.c
$(BENCH_BIN): $(BENCH_OBJ) $(BUILD)/libcoro.a
	$(CC) $(XCFLAGS) $(CFLAGS) $(BENCH_OBJ) $(BUILD)/libcoro.a $(LDSAN) -pthread -ldl -lm -o $@
$(BUILD)/bench/peer_boost.so: bench/peer_boost.cpp bench/bench.h
	@mkdir -p $(dir $@)
	$(CXX) $(OPT) -Wall -Wextra -Werror -fPIC -shared -Ibench $< -lboost_context -o $@ $(BENCH_NA)
$(BUILD)/bench/peer_pcl.so: bench/peer_pcl.c bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_POSIX_C_SOURCE=200809L $(OPT) $(WARN) -fPIC -shared -Ibench $< -lpcl -o $@ $(BENCH_NA)
$(BUILD)/bench/peer_go: bench/peer_go.go
	@mkdir -p $(dir $@)
	$(BENCH_GOENV) go build -o $@ $< $(BENCH_NA)

# The network and file benchmark (bench/net.sh): the example servers against
# a hand-written epoll server, libuv, Go's net/http and redis-server under
# wrk, echo_load and redis-benchmark, each server pinned to its own CPU; and
# 4 KiB random file reads through io_uring, the pool and plain pread.
# `make bench-net` writes $(BENCH_RESULTS)/net.json, net.md and net.png.
NET_BIN := $(patsubst %,$(BUILD)/bench/net/%,epoll_server uv_server go_server echo_load fileread)
$(BUILD)/bench/net/epoll_server $(BUILD)/bench/net/uv_server: bench/net/hello.h
$(BUILD)/bench/net/epoll_server $(BUILD)/bench/net/echo_load: $(BUILD)/bench/net/%: bench/net/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c99 $(OPT) $(WARN) $< -o $@
$(BUILD)/bench/net/uv_server: bench/net/uv_server.c
	@mkdir -p $(dir $@)
	$(CC) -std=c99 $(OPT) $(WARN) $< -luv -o $@ $(BENCH_NA)
$(BUILD)/bench/net/go_server: bench/net/go_server.go
	@mkdir -p $(dir $@)
	$(BENCH_GOENV) go build -o $@ $< $(BENCH_NA)
$(BUILD)/bench/net/fileread: bench/fileread.c $(BUILD)/libcoro.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -D_GNU_SOURCE $< $(BUILD)/libcoro.a $(CORO_LIBS) -pthread -o $@

# nginx, the reference of the HTTP-on-both-CPUs row: Debian's binary taken
# out of its package (apt-get download, dpkg-deb -x) into the build tree and
# run with bench/net.sh's own configuration. The package is never installed:
# installing it would start and enable a system service. Without it the row
# shows n/a.
NGINX := $(BUILD)/bench/nginx/usr/sbin/nginx
$(NGINX):
	@mkdir -p $(BUILD)/bench/nginx
	@cd $(BUILD)/bench/nginx && rm -f nginx_*.deb && apt-get download nginx > /dev/null 2>&1 && \
	    dpkg-deb -x nginx_*.deb . && rm -f nginx_*.deb || \
	    echo "nginx could not be downloaded (its row shows n/a)" >&2

.PHONY: bench-net bench-net-run
bench-net: bench-setup
	@$(MAKE) --no-print-directory bench-net-run
bench-net-run: $(NET_BIN) $(SERVER_BIN)
	@$(MAKE) --no-print-directory $(NGINX) || true
	@mkdir -p $(BENCH_RESULTS)
	BUILD=$(BUILD) RESULTS=$(BENCH_RESULTS) bash bench/net.sh $(NET_FLAGS)

# Figures across cores (bench/cores.c): the spin floor of a cross-core round
# trip, a task spawned on another loop and awaited, a post from a thread;
# each with its ratio to the floor of the same run. Needs two CPUs.
CORES_BIN := $(BUILD)/bench/coro-bench-cores
CORES_FLAGS ?=
$(CORES_BIN): bench/cores.c $(BUILD)/libcoro.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) $< $(BUILD)/libcoro.a $(CORO_LIBS) -pthread -o $@
.PHONY: bench-cores
bench-cores: $(CORES_BIN)
	@$(MAKE) --no-print-directory $(BUILD)/bench/peer_go || true
	$(CORES_BIN) $(or $(CORES_FLAGS),11 20000) $(BUILD)/bench/peer_go

.PHONY: bench-json bench-setup bench-run bench-json-run
bench-setup:
	@sh bench/setup.sh
bench: bench-setup
	@$(MAKE) --no-print-directory bench-run
bench-json: bench-setup
	@$(MAKE) --no-print-directory bench-json-run
bench-run: $(BENCH_BIN) $(BENCH_PEERS)
	$(BENCH_BIN) -s bench $(BENCH_FLAGS)
bench-json-run: $(BENCH_BIN) $(BENCH_PEERS)
	@mkdir -p $(BENCH_RESULTS)
	$(BENCH_BIN) -s bench -j $(BENCH_RESULTS)/bench.json -m $(BENCH_RESULTS)/table.md \
	    -d $(BUILD)/bench/chart.dat $(BENCH_FLAGS)
	gnuplot -e "data='$(BUILD)/bench/chart.dat'; out='$(BENCH_RESULTS)/chart.png'" \
	    bench/chart.gp || echo "bench: gnuplot failed: no chart"

tests: $(TEST_BIN) $(FUZZ_BIN)
examples: $(EXAMPLE_BIN) $(SERVER_BIN)

# Runs every test binary (each test in its own process), the examples
# against their expected output, the C++ header check and the install check,
# and ends with one "N passed, N failed" line.
test: tests examples
	@BUILD=$(BUILD) EMU="$(EMU)" CC="$(CC)" CXX="$(CXX)" CROSS="$(CROSS)" SANITIZE="$(SANITIZE)" SAN_FLAGS="$(SAN_FLAGS)" BACKEND="$(BACKEND)" CORO_LIBS="$(CORO_LIBS)" \
	    FUZZ="$(FUZZ)" sh tests/run.sh $(TESTS)

demo: examples
	@for e in $(EXAMPLES); do \
	    echo "=== examples/$$e.c"; $(EMU) $(BUILD)/examples/$$e || exit 1; echo; \
	done

# libFuzzer: the library built by clang with ASan + UBSan and coverage
# (fuzzer-no-link) in its own directory, each target linked with libFuzzer,
# then tests/fuzz/run.sh. FUZZ_TIME: seconds per target; FUZZ_TARGETS: a
# subset; FUZZ_ARGS: more libFuzzer flags (-jobs=2, -seed=N ...).
FUZZ_TIME ?= 60
FUZZ_TARGETS ?= $(FUZZ)
FUZZ_ARGS ?=
FUZZ_DIR ?= build/libfuzzer
fuzz:
	@$(MAKE) --no-print-directory CC=clang SANITIZE=1 BUILD=$(FUZZ_DIR) \
	    CFLAGS=-fsanitize=fuzzer-no-link lib
	@for t in $(FUZZ_TARGETS); do \
	    echo "clang ... -fsanitize=fuzzer tests/fuzz/$$t.c -o $(FUZZ_DIR)/$$t"; \
	    clang -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -g $(WARN) -Iinclude $(SRC_INC) \
	        -Iexamples/servers $(TEST_CFLAGS) -fsanitize=fuzzer,address,undefined \
	        -fno-sanitize-recover=all tests/fuzz/$$t.c $(FUZZ_DIR)/libcoro.a \
	        $(if $(URING),-luring) -pthread -o $(FUZZ_DIR)/$$t || exit 1; \
	done
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_ARGS="$(FUZZ_ARGS)" sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_TARGETS)

# coro.pc is written from this PREFIX, which may differ from the build's.
install: lib
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/coro.h $(DESTDIR)$(INCLUDEDIR)/coro.h
	install -m 644 $(BUILD)/libcoro.a $(DESTDIR)$(LIBDIR)/libcoro.a
	install -m 755 $(BUILD)/libcoro.so $(DESTDIR)$(LIBDIR)/libcoro.so.$(VERSION)
	ln -sf libcoro.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libcoro.so.$(SOMAJOR)
	ln -sf libcoro.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libcoro.so
	$(PC_SED) coro.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/coro.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/coro.h $(DESTDIR)$(LIBDIR)/libcoro.a \
	      $(DESTDIR)$(LIBDIR)/libcoro.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libcoro.so.$(SOMAJOR) \
	      $(DESTDIR)$(LIBDIR)/libcoro.so $(DESTDIR)$(PKGCONFIGDIR)/coro.pc

FORMAT_FILES = $(wildcard include/*.h src/*/*.c src/*/*.h src/core/arch/*.c tests/*.c tests/*.h \
                          tests/*.cpp tests/fuzz/*.c tests/fuzz/*.h examples/*.c \
                          examples/servers/*.c examples/servers/*.h bench/*.c)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build
