#!/bin/sh
# Fails unless every symbol the shared library defines for the dynamic linker is
# a public gs_* name (internal gs__* names and everything else stay hidden).
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $3}')
[ -n "$syms" ] || { echo "exports: $lib exports nothing"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^gs_[a-z]' || true)
internal=$(printf '%s\n' "$syms" | grep '^gs__' || true)
if [ -n "$bad$internal" ]; then
	echo "exports: $lib leaks non-public symbols:"; printf '%s\n' $bad $internal
	exit 1
fi
echo "exports: $(printf '%s\n' "$syms" | wc -l) symbols, all public gs_*"
