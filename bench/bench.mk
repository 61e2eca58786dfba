# gosync mutex benchmark — plain GNU make, run from the repository root.
#
#   make bench            full run (5 rounds, ~6-8 minutes on 2 CPUs)
#   make bench QUICK=1    short run (2 rounds, under 2 minutes)
#
# The top-level Makefile builds $(B)/libgosync.a first and then runs this file.
# One binary per implementation, all from bench/bench_mutex.c, so each one runs in
# its own process. bench/run.sh drives them round-robin and summarises; results go
# to bench/results/mutex.csv (raw, one row per round and metric) and
# bench/results/mutex.md (the summary tables).

B     ?= build
QUICK ?=
CC    ?= cc

OUT   := $(B)/bench
IMPLS := gosync glibc adaptive nsync mutex3 floor
BINS  := $(patsubst %,$(OUT)/bench_mutex_%,$(IMPLS))

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

$(OUT)/bench_mutex_%: bench/bench_mutex.c bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DIMPL_$* $< -o $@ $(LIBS_$*) -pthread
