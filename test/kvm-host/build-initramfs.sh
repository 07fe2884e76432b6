#!/usr/bin/env bash
# Builds the emulated KVM host's initramfs: busybox-static and the init script
# beside this file, as a gzip'd newc cpio archive.
#   test/kvm-host/build-initramfs.sh OUT.cpio.gz
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-initramfs.sh OUT.cpio.gz}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "build-initramfs.sh: no $busybox; apt-get install busybox-static" >&2; exit 2; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/host"
cp "$busybox" "$root/bin/busybox"
install -m 0755 "$here/init" "$root/init"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null --quiet -o -H newc --reproducible) | gzip -9n > "$out"
