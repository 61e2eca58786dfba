# gosync benchmark — plain GNU make, run from the repository root.
#
#   make bench            full run (5 rounds, ~7 minutes on 2 CPUs)
#   make bench QUICK=1    short run (3 rounds, under 2 minutes)
#
# The top-level Makefile builds $(B)/libgosync.a first and then runs this file.
# One binary per implementation and source, so each one runs in its own process:
# bench/bench_mutex.c (the mutex rows) and bench/bench_sync.c (rwmutex, cond,
# waitgroup, once, semaphore). bench/run.sh drives them round-robin and summarises;
# results go to bench/results/{mutex,sync}.csv (raw, one row per round and metric)
# and bench/results/{mutex,sync}.md (the summary tables).

B     ?= build
QUICK ?=
CC    ?= cc

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
	QUICK="$(QUICK)" sh bench/run.sh $(OUT)

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

# bench/bench_value.c (the seeds' read-mostly experiment): gs_value as a user gets
# it, through the shared library; raw liburcu-bp with its inline read side and through
# its out-of-line calls; pthread_rwlock; gs_rwmutex.
VALUE_IMPLS := gosync urcu urcu_sym rwlock rwmutex
URCU_CFLAGS := $(shell pkg-config --cflags liburcu-bp)
URCU_LIBS   := $(shell pkg-config --libs liburcu-bp)
GOSYNC_SO   := -L$(B) -lgosync -Wl,-rpath,$(CURDIR)/$(B) $(URCU_LIBS)
VLIBS_gosync   := $(GOSYNC_SO)
VLIBS_rwmutex  := $(GOSYNC_SO)
VLIBS_urcu     := $(URCU_CFLAGS) $(URCU_LIBS)
VLIBS_urcu_sym := $(URCU_CFLAGS) $(URCU_LIBS)

build: $(patsubst %,$(OUT)/bench_value_%,$(VALUE_IMPLS))

$(OUT)/bench_value_%: bench/bench_value.c bench/bench.mk $(B)/libgosync.so
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DIMPL_$* $< -o $@ $(VLIBS_$*) -pthread
