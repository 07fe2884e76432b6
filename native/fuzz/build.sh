#!/usr/bin/env bash
# native/fuzz/build.sh OUT_DIR: the libFuzzer target (clang, with ASan and
# UBSan) over the VMM's guest-facing parsers; see fuzz_devices.cc.
set -euo pipefail
out=${1:?usage: native/fuzz/build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../src"
mkdir -p "$out"
command -v clang++ >/dev/null || { echo "native/fuzz/build.sh: clang++ is missing (Debian: apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -I"$src" -o "$out/fuzz-devices" "$here/fuzz_devices.cc" \
  "$src/memory/guest_memory.cc" "$src/virtio/queue.cc" "$src/virtio/blk.cc" "$src/virtio/disk.cc" "$src/virtio/overlay.cc" "$src/virtio/mmio.cc" \
  "$src/virtio/vsock.cc" "$src/virtio/vsock_connection.cc" "$src/virtio/vsock_muxer.cc" "$src/virtio/vsock_packet.cc" \
  "$src/vmm/event_loop.cc" "$src/devices/irq.cc" "$src/kvm/kvm.cc"
