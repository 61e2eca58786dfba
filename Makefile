# gosync — plain GNU make, read top to bottom.
#
#   make            the libraries: build/libgosync.a, build/libgosync.so
#   make check      unit tests, export and C++ header checks, examples, a short stress
#   make stress     the stress tests, long
#   make tsan       unit + stress tests under ThreadSanitizer (zero reports)
#   make asan       unit + stress tests under AddressSanitizer + UBSan
#   make bench      the side-by-side benchmark (QUICK=1 for a short run)
#   make install    PREFIX=/usr/local DESTDIR= ; make uninstall ; make clean
#
# Variants build into their own directory: B=build (default), build/tsan, build/asan.

VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include

# Cross builds (mk/cross.mk, make check-cross): CROSS=aarch64-linux-gnu- selects
# Debian's cross gcc and the target's architecture; pkg-config then sees only the
# target's .pc files: Debian multiarch (/usr/lib/<triplet>) or, for riscv64 (no Debian
# 12 archive), the sysroot make check-cross builds from Debian sources (SYSROOT).
CROSS   ?=
TRIPLET := $(CROSS:-=)
SYSROOT ?= $(if $(filter riscv64-linux-gnu,$(TRIPLET)),$(CURDIR)/build/sysroot/$(TRIPLET))

# The per-architecture layer: arch/$(ARCH)/gs_arch.h. ARCH=generic forces the
# portable one.
UNAME_M := $(shell uname -m)
TARGET_M := $(if $(CROSS),$(firstword $(subst -, ,$(CROSS))),$(UNAME_M))
ARCH    ?= $(if $(filter x86_64 aarch64 riscv64,$(TARGET_M)),$(TARGET_M),generic)

B        ?= build
SANITIZE ?=
CC       ?= cc
CXX      ?= c++
ifneq ($(CROSS),)
ifeq ($(origin CC),default)
CC       := $(CROSS)gcc
endif
ifeq ($(origin AR),default)
AR       := $(CROSS)ar
endif
endif
PKG_CONFIG := $(if $(CROSS),PKG_CONFIG_SYSROOT_DIR=$(SYSROOT) \
                PKG_CONFIG_LIBDIR=$(if $(SYSROOT),$(SYSROOT)/usr/lib/pkgconfig,/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig)) pkg-config

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
# gs_value is built on liburcu's bulletproof flavor (Debian liburcu-dev).
URCU_CFLAGS := $(shell $(PKG_CONFIG) --cflags liburcu-bp 2>/dev/null)
URCU_LIBS   := $(shell $(PKG_CONFIG) --libs liburcu-bp 2>/dev/null)
# Unwind tables everywhere: pthread cancellation and pthread_exit unwind through the
# library's frames and the callers' (x86_64 and aarch64 gcc emit them by default,
# Debian's riscv64 gcc does not).
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -pthread \
              -fasynchronous-unwind-tables -Iinclude -Isrc -Iarch/$(ARCH) $(URCU_CFLAGS) \
              $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer)
ALL_LDFLAGS := -pthread $(if $(SANITIZE),-fsanitize=$(SANITIZE)) $(LDFLAGS) $(URCU_LIBS)

LIB_SRCS := $(wildcard src/*.c)
LIB_OBJS := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRCS))
HEADERS  := $(wildcard include/*.h include/gosync/*.h)
TESTS    := $(patsubst tests/%.c,$(B)/%,$(wildcard tests/test_*.c))
STRESS   := $(patsubst stress/%.c,$(B)/%,$(wildcard stress/stress_*.c))
EXAMPLES := $(patsubst examples/%.c,$(B)/example_%,$(wildcard examples/*.c))

# Seconds each stress test runs, per target.
STRESS_SECS_CHECK := 3
STRESS_SECS_LONG  := 60
STRESS_SECS_TSAN  := 4

# Sanitizer runs: stop at the first report, no exit sleep, allow fork+exec scenarios.
export TSAN_OPTIONS  ?= halt_on_error=1 abort_on_error=0 atexit_sleep_ms=0 die_after_fork=0 second_deadlock_stack=1
export ASAN_OPTIONS  ?= detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1

# Debian packages a target needs: installed when run as root, else the apt-get line
# is printed and make stops.
CHECK_PKGS := gcc g++ clang make pkg-config libcmocka-dev liburcu-dev
BENCH_PKGS := gcc g++ make pkg-config valgrind libnsync-dev liburcu-dev golang-go gnuplot-nox libabsl-dev
define need_pkgs
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "gosync needs Debian packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

.PHONY: all lib check check-deps run-tests run-stress check-exports check-cxx check-clang check-install \
        examples stress tsan asan bench bench-deps install uninstall clean
.DELETE_ON_ERROR:

all: lib
lib: $(B)/libgosync.a $(B)/libgosync.so

$(B)/obj/%.o: src/%.c $(wildcard src/*.h) $(HEADERS) arch/$(ARCH)/gs_arch.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
# pthread cancellation unwinds through these and they run cleanups on the way.
$(B)/obj/once.o $(B)/obj/park.o: ALL_CFLAGS += -fexceptions

$(B)/libgosync.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/libgosync.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libgosync.so.$(SOVERSION) -Wl,-z,nodelete -o $@.$(VERSION) $^ $(ALL_LDFLAGS)
	ln -sf libgosync.so.$(VERSION) $(B)/libgosync.so.$(SOVERSION)
	ln -sf libgosync.so.$(VERSION) $@

# Tests see the internal headers (park, sema) and link the static library.
$(B)/test_%: tests/test_%.c tests/harness.h $(B)/libgosync.a
	$(CC) $(ALL_CFLAGS) -Itests $< -o $@ $(B)/libgosync.a $(ALL_LDFLAGS) -lcmocka

$(B)/stress_%: stress/stress_%.c $(B)/libgosync.a
	$(CC) $(ALL_CFLAGS) $< -o $@ $(B)/libgosync.a $(ALL_LDFLAGS)

$(B)/example_%: examples/%.c $(B)/libgosync.a
	$(CC) $(ALL_CFLAGS) $< -o $@ $(B)/libgosync.a $(ALL_LDFLAGS)

# --- the pthread shim --------------------------------------------------------
# libgosync-pthread.so defines glibc's pthread mutex, cond, rwlock, semaphore, once and
# barrier functions on gosync (shim/), for LD_PRELOAD or -lgosync-pthread. It links
# against libgosync.so (one park table) and finds it next to itself ($$ORIGIN). It
# carries its own copy of the stateless system-call layer (src/futex.c, src/fatal.c):
# sem_post must be async-signal-safe, so the semaphore sleeps on its own futex word.
# Sanitizer builds skip it: TSan and ASan intercept pthreads themselves.
SHIM       := $(if $(SANITIZE),,$(B)/libgosync-pthread.so)
SHIM_OBJS  := $(patsubst shim/%.c,$(B)/obj/shim/%.o,$(wildcard shim/*.c)) \
              $(B)/obj/shim/sys_futex.o $(B)/obj/shim/sys_fatal.o

$(B)/obj/shim/%.o: shim/%.c shim/shim.h $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fexceptions -Ishim -c $< -o $@
$(B)/obj/shim/sys_%.o: src/%.c $(wildcard src/*.h) arch/$(ARCH)/gs_arch.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# stress_shim runs the shim's own code under threads, in every build — also the TSan
# and ASan ones, which skip the .so: the shim's objects, compiled with this build's
# flags, are linked into the program with the static libgosync, so the pthread_*,
# sem_* and pthread_once it calls are the shim's (the program checks that it runs them).
$(B)/stress_shim: stress/stress_shim.c $(SHIM_OBJS) $(B)/libgosync.a
	$(CC) $(ALL_CFLAGS) $< -o $@ $(SHIM_OBJS) $(B)/libgosync.a -ldl $(ALL_LDFLAGS)

lib: $(SHIM)
$(B)/libgosync-pthread.so: $(SHIM_OBJS) $(B)/libgosync.so
	$(CC) -shared -Wl,-soname,libgosync-pthread.so.$(SOVERSION) -Wl,-z,nodelete \
	  -Wl,-rpath,'$$ORIGIN' -o $@.$(VERSION) $(SHIM_OBJS) -L$(B) -lgosync -ldl $(ALL_LDFLAGS)
	ln -sf libgosync-pthread.so.$(VERSION) $(B)/libgosync-pthread.so.$(SOVERSION)
	ln -sf libgosync-pthread.so.$(VERSION) $@

# Its tests: only the replaced POSIX names leave the shim; every tests/posix program is
# built against plain glibc and run plainly, preloaded and linked with -lgosync-pthread,
# outputs compared (tests/posix/run.sh); real Debian programs run on it with outputs
# compared and shim/glibc wall-time ratios (tests/apps/run.sh: the quick set in check,
# everything with check-apps).
.PHONY: check-shim check-apps check-apps-quick
check-shim: lib
	sh tests/check_shim_exports.sh $(B)/libgosync-pthread.so
	sh tests/posix/run.sh $(B)
check-apps-quick: lib
	sh tests/apps/run.sh --quick $(B)
check-apps: lib
	sh tests/apps/run.sh $(B)

# --- tests -------------------------------------------------------------------

check-deps:
	$(call need_pkgs,$(CHECK_PKGS))

check: check-deps
	$(MAKE) lib
	$(MAKE) run-tests check-exports check-cxx check-clang examples check-tsan-user check-install
	$(MAKE) check-shim check-apps-quick
	$(MAKE) run-stress STRESS_SECS=$(STRESS_SECS_CHECK)
	sh tests/check_hang_guard.sh $(B)/stress_once

run-tests: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $(RUN) $$t; done

# STRESS_SECS per test; each prints its own progress and verdict.
run-stress: $(STRESS)
	@set -e; for t in $(STRESS); do echo "== $$t $(STRESS_SECS)s"; $(RUN) $$t $(STRESS_SECS); done

# Only gs_* symbols leave the shared library.
check-exports: $(B)/libgosync.so
	sh tests/check_exports.sh $(B)/libgosync.so

# A user's -fsanitize=thread program linked against the normal libgosync.so sees
# gosync's locks (DESIGN.md §3 rule 5).
.PHONY: check-tsan-user
check-tsan-user: $(B)/libgosync.so
	sh tests/check_tsan_user.sh $(B)

# make install into a staging directory, then build and run an example against the
# staged headers and shared library found through pkg-config, as a user would.
STAGE := $(CURDIR)/$(B)/stage
check-install: lib
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr >/dev/null
	PKG_CONFIG_SYSROOT_DIR=$(STAGE) PKG_CONFIG_PATH=$(STAGE)/usr/lib/pkgconfig \
	  sh -c '$(CC) examples/counter.c $$(pkg-config --cflags --libs gosync) \
	         -Wl,-rpath,$(STAGE)/usr/lib -o $(B)/installed_counter'
	$(B)/installed_counter
	$(MAKE) --no-print-directory uninstall DESTDIR=$(STAGE) PREFIX=/usr >/dev/null
	@test -z "$$(find $(STAGE) -type f)" || { echo "uninstall left files behind"; exit 1; }
	@echo "install: pkg-config build against the staged install OK; uninstall clean"

# Every public header compiles alone, as C and as C++.
check-cxx:
	@set -e; for h in $(HEADERS); do \
	  echo "#include \"$$h\"" | $(CXX) -std=c++11 $(WARN) -Iinclude -fsyntax-only -x c++ -; \
	  echo "#include \"$$h\"" | $(CC) -std=gnu11 $(WARN) -Iinclude -fsyntax-only -x c -; \
	done; echo "headers: C and C++ OK"

# The library and tests build warning-free with clang as well as gcc.
check-clang:
	$(MAKE) B=build/clang CC=clang CXX=clang++ lib $(patsubst $(B)/%,build/clang/%,$(TESTS) $(STRESS))

examples: $(EXAMPLES)
	@set -e; for e in $(EXAMPLES); do echo "== $$e"; $(RUN) $$e; done

stress: check-deps
	$(MAKE) run-stress STRESS_SECS=$(STRESS_SECS_LONG)

tsan: check-deps
	$(MAKE) B=build/tsan SANITIZE=thread run-tests
	$(MAKE) B=build/tsan SANITIZE=thread run-stress STRESS_SECS=$(STRESS_SECS_TSAN)

asan: check-deps
	$(MAKE) B=build/asan SANITIZE=address,undefined run-tests
	$(MAKE) B=build/asan SANITIZE=address,undefined run-stress STRESS_SECS=$(STRESS_SECS_TSAN)

include mk/cross.mk

# --- benchmark ---------------------------------------------------------------

bench-deps:
	$(call need_pkgs,$(BENCH_PKGS))

bench: bench-deps
	$(MAKE) lib
	$(MAKE) -f bench/bench.mk B=$(B) QUICK=$(QUICK)

# --- install -----------------------------------------------------------------

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/gosync
	install -m 644 include/gosync.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 include/gosync/*.h $(DESTDIR)$(INCLUDEDIR)/gosync/
	install -m 644 $(B)/libgosync.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libgosync.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libgosync.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgosync.so.$(SOVERSION)
	ln -sf libgosync.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgosync.so
	install -m 755 $(B)/libgosync-pthread.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libgosync-pthread.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgosync-pthread.so.$(SOVERSION)
	ln -sf libgosync-pthread.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgosync-pthread.so
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	  gosync.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/gosync.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/gosync.h $(DESTDIR)$(LIBDIR)/pkgconfig/gosync.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/gosync
	rm -f $(DESTDIR)$(LIBDIR)/libgosync.a $(DESTDIR)$(LIBDIR)/libgosync.so*
	rm -f $(DESTDIR)$(LIBDIR)/libgosync-pthread.so*

clean:
	rm -rf build
