# gosync benchmark — plain GNU make, run from the repository root.
#
#   make bench            full run (5 rounds, ~15 minutes on 2 CPUs)
#   make bench QUICK=1    short run (3 rounds, under 2 minutes)
#   RESULTS=DIR           write the results there instead of bench/results
#
# The top-level Makefile builds $(B)/libgosync.a first and then runs this file.
# One binary per implementation and source, so each one runs in its own process:
# bench/bench_mutex.c (the mutex rows), bench/bench_sync.c (rwmutex, cond,
# waitgroup, once, semaphore) and bench/bench_value.c (the atomic value beside
# rwlocks). bench/run.sh drives them round-robin and summarises; results go to
# $(RESULTS)/{mutex,sync,value}.csv (raw, one row per round and metric), the
# summary tables ({mutex,sync,value}.md), the plots and report.md.
# The Go peer (bench/go/, Go's own sync package) is one binary under several names
# (bench_{mutex,sync,value}_go, bench_value_go_value, bench_value_go_rwmutex), built
# with `go build` when a Go toolchain is found; the Abseil rows link the C sources
# with bench/absl_sync.cc when pkg-config knows absl_synchronization.
#
# Another implementation column: add it to the IMPLS lists here (or a rule of its
# own) and to the lists at the top of bench/run.sh; the summaries and plots pick up
# every implementation present in the CSVs.

B       ?= build
QUICK   ?=
CC      ?= cc
RESULTS ?= bench/results

OUT         := $(B)/bench
IMPLS       := gosync glibc adaptive nsync mutex3 floor
SYNC_IMPLS  := gosync glibc glibc_pw nsync barrier
BINS        := $(patsubst %,$(OUT)/bench_mutex_%,$(IMPLS)) \
               $(patsubst %,$(OUT)/bench_sync_%,$(SYNC_IMPLS))

BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -Iinclude

# What each implementation links beyond libc.
LIBS_gosync := $(B)/libgosync.a
LIBS_nsync  := -lnsync

.PHONY: run build
.DELETE_ON_ERROR:

run: build
	QUICK="$(QUICK)" RESULTS="$(RESULTS)" sh bench/run.sh $(OUT)

build: $(BINS)

$(B)/libgosync.a:
	@echo "$@ is missing: run 'make lib' (or 'make bench') from the top level"; exit 1

$(OUT)/bench_mutex_gosync: $(B)/libgosync.a include/gosync/mutex.h
$(OUT)/bench_sync_gosync: $(B)/libgosync.a $(wildcard include/gosync/*.h)

$(OUT)/bench_mutex_%: bench/bench_mutex.c bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DIMPL_$* $< -o $@ $(LIBS_$*) -pthread

$(OUT)/bench_sync_%: bench/bench_sync.c bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DIMPL_$* $< -o $@ $(LIBS_$*) -pthread

# The pthread shim (libgosync-pthread.so, README "Drop-in for pthreads"): the glibc
# rows' code, unchanged, linked with -lgosync-pthread, so its pthread_* calls run on
# gosync; in the CSVs as shim (the glibc row's mutex, rwlock, cond, once, sem_t) and
# shim_pw (the PREFER_WRITER_NONRECURSIVE rwlock, which the shim maps to gs_rwmutex).
SHIM_LIBS := -L$(B) -lgosync-pthread -Wl,-rpath,$(CURDIR)/$(B)
SHIM_BINS := $(OUT)/bench_mutex_shim $(OUT)/bench_sync_shim $(OUT)/bench_sync_shim_pw

build: $(SHIM_BINS)

$(OUT)/bench_mutex_shim: bench/bench_mutex.c
$(OUT)/bench_sync_shim: bench/bench_sync.c
$(OUT)/bench_sync_shim_pw: bench/bench_sync.c
# SHIM = the glibc implementation it builds, then the name it goes by.
$(OUT)/bench_mutex_shim:   SHIM = glibc shim
$(OUT)/bench_sync_shim:    SHIM = glibc shim
$(OUT)/bench_sync_shim_pw: SHIM = glibc_pw shim_pw
$(SHIM_BINS): bench/bench.mk $(B)/libgosync-pthread.so
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DIMPL_$(word 1,$(SHIM)) -DIMPL_LABEL='"$(word 2,$(SHIM))"' \
		$(filter %.c,$^) -o $@ $(SHIM_LIBS) -pthread

$(B)/libgosync-pthread.so:
	@echo "$@ is missing: run 'make lib' (or 'make bench') from the top level"; exit 1

# bench/bench_value.c (the seeds' read-mostly experiment): gs_value as a user gets
# it, through the shared library; raw liburcu-bp with its inline read side and through
# its out-of-line calls; pthread_rwlock; gs_rwmutex; nsync_mu.
VALUE_IMPLS := gosync urcu urcu_sym rwlock rwmutex nsync
URCU_CFLAGS := $(shell pkg-config --cflags liburcu-bp)
URCU_LIBS   := $(shell pkg-config --libs liburcu-bp)
GOSYNC_SO   := -L$(B) -lgosync -Wl,-rpath,$(CURDIR)/$(B) $(URCU_LIBS)
VLIBS_gosync   := $(GOSYNC_SO)
VLIBS_rwmutex  := $(GOSYNC_SO)
VLIBS_urcu     := $(URCU_CFLAGS) $(URCU_LIBS)
VLIBS_urcu_sym := $(URCU_CFLAGS) $(URCU_LIBS)
VLIBS_nsync    := -lnsync

build: $(patsubst %,$(OUT)/bench_value_%,$(VALUE_IMPLS))

$(OUT)/bench_value_%: bench/bench_value.c bench/bench.mk $(B)/libgosync.so
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DIMPL_$* $< -o $@ $(VLIBS_$*) -pthread

# The Go peer: bench/go/main.go, standard library only, built off the network into
# $(OUT)/bench_go and hard-linked as bench_mutex_go, bench_sync_go, bench_value_go
# (atomic.Pointer), bench_value_go_value (atomic.Value) and bench_value_go_rwmutex
# (sync.RWMutex): the program reads its own name. No Go toolchain: a note, and run.sh
# runs without the go rows.
GO        ?= $(shell command -v go 2>/dev/null)
GOCACHE   ?= $(CURDIR)/$(B)/gocache
GO_NAMES  := $(patsubst %,$(OUT)/bench_%_go,mutex sync value) \
             $(OUT)/bench_value_go_value $(OUT)/bench_value_go_rwmutex

ifneq ($(GO),)
build: $(GO_NAMES)

$(OUT)/bench_go: bench/go/main.go bench/go/nanotime.s bench/go/go.mod bench/bench.mk
	@mkdir -p $(@D)
	cd bench/go && GOCACHE="$(GOCACHE)" GOFLAGS=-mod=mod GOPROXY=off $(GO) build -o "$(CURDIR)/$@" .

$(GO_NAMES): $(OUT)/bench_go
	ln -f $< $@
else
build: go-missing

.PHONY: go-missing
go-missing:
	@echo "note: no 'go' in PATH: the Go peer (bench/go) is skipped (Debian: apt-get install golang-go)"
	@rm -f $(OUT)/bench_go $(GO_NAMES)
endif

# Abseil (Debian libabsl-dev): bench_mutex.c, bench_sync.c and bench_value.c with
# -DIMPL_absl, linked with the extern "C" adapter bench/absl_sync.cc. Without
# pkg-config's absl_synchronization: a note, and run.sh runs without the absl rows.
ABSL_CFLAGS := $(shell pkg-config --cflags absl_synchronization 2>/dev/null)
ABSL_LIBS   := $(shell pkg-config --libs absl_synchronization 2>/dev/null)
ABSL_NAMES  := $(patsubst %,$(OUT)/bench_%_absl,mutex sync value)

ifneq ($(ABSL_LIBS),)
build: $(ABSL_NAMES)

$(OUT)/absl_sync.o: bench/absl_sync.cc bench/bench.mk
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror $(ABSL_CFLAGS) -c $< -o $@

$(OUT)/bench_sync_absl $(OUT)/bench_value_absl: $(wildcard include/gosync/*.h)
$(ABSL_NAMES): $(OUT)/bench_%_absl: bench/bench_%.c $(OUT)/absl_sync.o bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DIMPL_absl $< $(OUT)/absl_sync.o -o $@ $(ABSL_LIBS) -lstdc++ -pthread
else
build: absl-missing

.PHONY: absl-missing
absl-missing:
	@echo "note: pkg-config knows no absl_synchronization: the absl rows are skipped (Debian: apt-get install libabsl-dev)"
	@rm -f $(ABSL_NAMES)
endif
