#!/usr/bin/env bash
# Builds a vmstep kernel from a pinned Linux source.
#
#   kernel/build.sh guest|host OUT_DIR [SOURCE]
#
# guest: the microVM kernel users' images boot (kernel/guest.config).
# host:  the emulated KVM host that runs the real-Linux tests (kernel/host.config).
# SOURCE is a Linux source tarball (.tar.xz, .tar.gz) or an unpacked tree; the
# default is Debian's linux-source-6.1 package. Its version must be in the
# series pinned in kernel/VERSION.
#
# OUT_DIR receives: vmlinux (uncompressed ELF, booted directly with no
# decompressor), config, version, and for the guest also vmlinux.gz (stripped,
# gzip'd: the copy shipped in dist/). The build is reproducible: timestamps,
# user and host are fixed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kind=${1:?usage: kernel/build.sh guest|host OUT_DIR [SOURCE]}
out=${2:?usage: kernel/build.sh guest|host OUT_DIR [SOURCE]}
src=${3:-/usr/src/linux-source-$(cat "$here/VERSION").tar.xz}
fragment="$here/$kind.config"
[ -f "$fragment" ] || { echo "kernel/build.sh: unknown kernel '$kind' (expected guest or host)" >&2; exit 2; }
[ -e "$src" ] || { echo "kernel/build.sh: no kernel source at $src; install Debian's linux-source-$(cat "$here/VERSION") (apt-get install linux-source-$(cat "$here/VERSION")) or pass an upstream tarball" >&2; exit 2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/.work"
rm -rf "$work"
mkdir -p "$work/obj"
trap 'rm -rf "$work"' EXIT

if [ -d "$src" ]; then
  tree=$(cd "$src" && pwd)
else
  echo "kernel/build.sh: unpacking $src"
  mkdir -p "$work/src"
  tar -xf "$src" -C "$work/src" --strip-components=1
  tree="$work/src"
fi

version=$(make -s -C "$tree" kernelversion)
pinned=$(cat "$here/VERSION")
case "$version" in
  "$pinned" | "$pinned".*) ;;
  *) echo "kernel/build.sh: source is Linux $version but kernel/VERSION pins $pinned.x; use a $pinned source or update kernel/VERSION and the configs together" >&2; exit 2 ;;
esac

export KBUILD_BUILD_TIMESTAMP='2024-01-01 00:00:00 UTC' KBUILD_BUILD_USER=vmstep KBUILD_BUILD_HOST=vmstep
mk() { make -s -C "$tree" O="$work/obj" ARCH=x86_64 "$@"; }

echo "kernel/build.sh: configuring the $kind kernel (Linux $version)"
mk tinyconfig >/dev/null
"$tree/scripts/kconfig/merge_config.sh" -m -O "$work/obj" "$work/obj/.config" "$fragment" >/dev/null
mk olddefconfig >/dev/null

# Every option the fragment names must have survived olddefconfig: a missing
# dependency silently drops an option, and the kernel then fails far away.
missing=0
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  name=${line%%=*}; want=${line#*=}
  if [ "$want" = n ]; then
    if grep -q "^$name=" "$work/obj/.config"; then echo "kernel/build.sh: $name is set but $kind.config wants it off" >&2; missing=1; fi
  elif ! grep -qx "$name=$want" "$work/obj/.config"; then
    echo "kernel/build.sh: $name=$want from $kind.config did not survive olddefconfig (a dependency is missing)" >&2; missing=1
  fi
done < "$fragment"
[ "$missing" = 0 ] || exit 1

echo "kernel/build.sh: building the $kind kernel with $(nproc) jobs"
mk -j"$(nproc)" vmlinux
cp "$work/obj/vmlinux" "$out/vmlinux"
cp "$work/obj/.config" "$out/config"
echo "$version" > "$out/version"
if [ "$kind" = guest ]; then
  strip -o "$work/vmlinux.stripped" "$out/vmlinux"
  gzip -9n < "$work/vmlinux.stripped" > "$out/vmlinux.gz"
fi
echo "kernel/build.sh: $kind kernel ready in $out ($(du -h "$out/vmlinux" | cut -f1) vmlinux)"
