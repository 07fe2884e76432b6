#!/usr/bin/env bash
# native/guests/build.sh OUT_DIR: the freestanding test guest, an ELF that
# vmstep-vmm boots like a kernel (64-bit boot protocol). It avoids FXSAVE,
# XSAVE and SSE (-mgeneral-regs-only) so that it runs on KVMs that emulate
# CPL0, such as kvm_pvm.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
cc=${CC:-gcc}
flags=(-O2 -ffreestanding -fno-builtin -nostdlib -static -fno-pic -fno-pie -no-pie -mno-red-zone
  -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none
  -fno-tree-loop-distribute-patterns -Wall -Wextra -Wno-unused-parameter -Wl,--build-id=none
  -Wl,-T,"$here/link.ld" -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments)
"$cc" "${flags[@]}" -o "$out/test-guest.elf" \
  "$here/start.S" "$here/lib.c" "$here/main.c" "$here/virtio.c" "$here/blk.c" "$here/smp.c" "$here/vsock.c"

# Helpers that run inside a real Linux guest (test/e2e): static, no libc needs at run time.
"$cc" -O2 -static -Wall -Wextra -o "$out/vsock-stream" "$here/linux/vsock-stream.c"

# The benchmark guest, bootable by vmstep-vmm and QEMU microvm alike.
"$cc" -nostdlib -static -no-pie -Wl,-T,"$here/bench.ld" -Wl,--build-id=none -Wl,--no-warn-rwx-segments -o "$out/bench-guest.elf" "$here/bench.S"
