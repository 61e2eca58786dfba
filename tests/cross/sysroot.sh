#!/bin/sh
# Builds the target's cmocka and liburcu from Debian's own source packages into a
# sysroot, for a target Debian has no binary archive for (riscv64 on Debian 12):
#   sh tests/cross/sysroot.sh riscv64-linux-gnu build/sysroot/riscv64-linux-gnu
# The sources come from this Debian release's deb-src index, fetched with a private apt
# configuration under the sysroot's work directory (the machine's apt setup is neither
# needed nor changed, and no root is needed). Shared libraries go to SYSROOT/usr/lib,
# headers to SYSROOT/usr/include, .pc files to SYSROOT/usr/lib/pkgconfig. A finished
# sysroot is reused as long as this script is unchanged (the stamp holds its checksum);
# delete the directory to rebuild. DEBIAN_MIRROR overrides the mirror.
set -eu
triplet=$1
sysroot=$(realpath -m "$2")
stamp=$sysroot/.built
sum=$(sha256sum "$0" | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$sum" ]; then
	echo "sysroot $sysroot: cached ($(tail -n +2 "$stamp" | paste -sd' '))"
	exit 0
fi
for tool in "$triplet-gcc" cmake dpkg-source make; do
	command -v "$tool" >/dev/null || { echo "sysroot: $tool missing (make cross-deps)"; exit 1; }
done

work=$sysroot.work
rm -rf "$sysroot" "$work"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src" "$sysroot"
. /etc/os-release
cat >"$work/apt/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${DEBIAN_MIRROR:-http://deb.debian.org/debian} $VERSION_CODENAME main
SRC
apt() {
	# _apt cannot write here, so apt downloads as the caller (it says so once).
	apt-get -q -o Dir::Etc::SourceList="$work/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
	  -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache" \
	  -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" "$@"
}
echo "sysroot: fetching the cmocka and liburcu sources of Debian $VERSION_CODENAME"
apt update >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }
(cd "$work/src" && apt source cmocka liburcu) >>"$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }

# cmocka: CMake, shared library only.
src=$(echo "$work"/src/cmocka-*/)
echo "sysroot: building $(basename "$src") for $triplet"
cmake -S "$src" -B "$work/cmocka" -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="${triplet%%-*}" \
  -DCMAKE_C_COMPILER="$triplet-gcc" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_INSTALL_LIBDIR=lib -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >"$work/cmocka.log" 2>&1 &&
make -C "$work/cmocka" -j2 >>"$work/cmocka.log" 2>&1 &&
make -C "$work/cmocka" install DESTDIR="$sysroot" >>"$work/cmocka.log" 2>&1 || { cat "$work/cmocka.log"; exit 1; }

# liburcu: the shipped configure (Debian's patches touch Makefile.am files for other
# architectures; maintainer mode off keeps make from wanting automake), and only the
# two libraries gs_value links: liburcu-bp and the liburcu-common it needs.
src=$(echo "$work"/src/liburcu-*/)
echo "sysroot: building $(basename "$src") (liburcu-bp) for $triplet"
libs='lib_LTLIBRARIES=liburcu-common.la liburcu-bp.la'
(cd "$src" && ./configure -q --host="$triplet" --prefix=/usr --libdir=/usr/lib \
	--disable-static --disable-maintainer-mode &&
 make -C include -j2 && make -C src -j2 "$libs" &&
 make -C include install DESTDIR="$sysroot" &&
 make -C src install "$libs" pkgconfig_DATA=liburcu-bp.pc DESTDIR="$sysroot") \
  >"$work/liburcu.log" 2>&1 || { cat "$work/liburcu.log"; exit 1; }

find "$sysroot" -name '*.la' -delete
{ echo "$sum"; (cd "$work/src" && ls -d cmocka-*/ liburcu-*/ | tr -d /); } >"$stamp"
rm -rf "$work"
echo "sysroot $sysroot: built ($(tail -n +2 "$stamp" | paste -sd' '))"
