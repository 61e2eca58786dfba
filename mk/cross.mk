# Cross builds, run under qemu-user (included from the Makefile, after its variables).
#
#   make check-cross    ARCH=generic natively, then aarch64 and riscv64 under emulation:
#                       the library (static and shared), the unit tests, the examples
#                       and a CROSS_STRESS_SECS stress pass, each in build/<target>/
#   make cross-deps     the Debian packages that needs (installed when run as root)
#   make run-tests CROSS=aarch64-linux-gnu- B=build/aarch64-linux-gnu   one step by hand
#                       (also lib, run-stress STRESS_SECS=n, examples; ARCH follows CROSS)
#
# aarch64's cmocka and liburcu come from Debian multiarch (arm64). Debian 12 has no
# riscv64 archive, so tests/cross/sysroot.sh builds both from Debian's source packages
# into build/sysroot/riscv64-linux-gnu (kept while build/ survives, never committed).
#
# RUN, the prefix for every test, stress and example binary, runs the target's binaries
# with qemu-user. With multiarch, the target's own Debian libc (libc6:arm64, which its
# libcmocka and liburcu need anyway) is installed at the usual paths and qemu finds it
# there; the cross toolchain's copy (/usr/<triplet>, libc6-arm64-cross) is often a
# different Debian build, and its ld.so must not meet that libc.so (they share private
# structures: pthread_create loops in a garbled stack cache). With a built sysroot, the
# cross toolchain's libc is the only one: QEMU_LD_PREFIX=/usr/<triplet>, and
# QEMU_SET_ENV gives the guest the sysroot's library directory. A test that re-executes
# itself for a fresh-process scenario must go through the emulator again, since the
# kernel cannot run a foreign binary without binfmt_misc (which this does not install or
# need): GS_TEST_EMULATOR names it for tests/harness.h. tests/cross/run.sh runs the
# binary with a time limit and checks the known failures below.
#
# Known failures, by target (CROSS_XFAIL_<arch>, e.g. CROSS_XFAIL_riscv64 := test_x; each
# must fail, and a pass is an error so that the list cannot go stale): none today.
# riscv64 once needed test_cond, test_once and stress_once there, for pthread
# cancellation and pthread_exit could not unwind out of gosync's frames; the library
# and tests are now built with -fasynchronous-unwind-tables (Debian's riscv64 gcc does
# not default to it) and riscv64 makes its futex system call inline
# (arch/riscv64/gs_arch.h), not through glibc's syscall(), which has no unwind
# information there.

CROSS_TARGETS     := aarch64-linux-gnu riscv64-linux-gnu
CROSS_STRESS_SECS ?= 1
CROSS_PKGS := qemu-user cmake dpkg-dev bzip2 xz-utils \
              gcc-aarch64-linux-gnu libc6-dev-arm64-cross libcmocka-dev:arm64 liburcu-dev:arm64 \
              gcc-riscv64-linux-gnu libc6-dev-riscv64-cross

QEMU := qemu-$(TARGET_M)
RUN  ?= $(if $(CROSS),env $(if $(SYSROOT),QEMU_LD_PREFIX=/usr/$(TRIPLET) \
          QEMU_SET_ENV=LD_LIBRARY_PATH=$(SYSROOT)/usr/lib) GS_TEST_EMULATOR=$(QEMU) \
          CROSS_XFAIL='$(CROSS_XFAIL_$(TARGET_M))' sh tests/cross/run.sh $(QEMU))

ifneq ($(CROSS),)
ifeq ($(B),build)
$(error CROSS=$(CROSS) builds for another machine: give it its own B=, e.g. B=build/$(TRIPLET))
endif
ifeq ($(URCU_LIBS),)
$(warning $(PKG_CONFIG) finds no liburcu-bp for $(TRIPLET): make cross-deps$(if $(SYSROOT), and tests/cross/sysroot.sh $(TRIPLET) $(SYSROOT)))
endif
endif

.PHONY: check-cross cross-deps

# Like need_pkgs, plus the arm64 architecture for multiarch; without recommends, so that
# qemu-user does not bring qemu-user-binfmt (which would register handlers system-wide).
cross-deps: check-deps
	@missing=""; for p in $(CROSS_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	arm64=; dpkg --print-foreign-architectures | grep -qx arm64 || arm64="dpkg --add-architecture arm64"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    { [ -z "$$arm64" ] || $$arm64; } && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 $$missing >/dev/null || exit 1; \
	  else \
	    echo "make check-cross needs Debian packages:$$missing"; \
	    echo "run: $${arm64:+sudo $$arm64 && }sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; exit 1; \
	  fi; \
	fi

check-cross: cross-deps
	@set -e; start=$$(date +%s); \
	step() { echo "=== $$1"; shift; "$$@"; echo "=== done at $$(( $$(date +%s) - start )) s"; }; \
	g="$(MAKE) --no-print-directory B=build/generic ARCH=generic"; \
	step "generic (x86_64, ARCH=generic)" sh -c "$$g lib && $$g run-tests examples && \
	  $$g run-stress STRESS_SECS=$(CROSS_STRESS_SECS)"; \
	step "riscv64 sysroot" sh tests/cross/sysroot.sh riscv64-linux-gnu build/sysroot/riscv64-linux-gnu; \
	for t in $(CROSS_TARGETS); do \
	  m="$(MAKE) --no-print-directory CROSS=$$t- ARCH=$${t%%-*} B=build/$$t"; \
	  step "$$t (qemu-user)" sh -c "$$m lib && $$m run-tests examples && \
	    $$m run-stress STRESS_SECS=$(CROSS_STRESS_SECS)"; \
	done; \
	echo "check-cross: generic (x86_64), $(CROSS_TARGETS) (qemu-user) OK in $$(( $$(date +%s) - start )) s"
