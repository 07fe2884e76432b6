#!/usr/bin/env bash
# guest/build.sh OUT_DIR: builds guest init, a static x86-64 binary, into
# OUT_DIR/vmstep-init. Needs musl-gcc (Debian: musl-tools) and nothing else:
# no network, no other libraries.
set -euo pipefail

out=${1:?usage: guest/build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
cc=${MUSL_GCC:-musl-gcc}

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "guest/build.sh: $cc not found: install it with 'apt-get install musl-tools' (Debian package list: scripts/lib/deps.mjs)" >&2
  exit 1
fi

mkdir -p "$out"
# musl's headers do not include the kernel's uapi headers (linux/*.h); the
# system's are used read-only for constants and struct layouts.
uapi=()
for dir in /usr/include/x86_64-linux-gnu /usr/include; do
  [ -d "$dir/asm" ] && uapi+=(-idirafter "$dir") && break
done

"$cc" -std=gnu11 -D_GNU_SOURCE -Os -static -s -Wall -Wextra -Werror -Wno-unused-parameter \
  -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections -Wl,--gc-sections \
  "${uapi[@]}" -idirafter /usr/include \
  -o "$out/vmstep-init.tmp" "$here"/src/*.c
mv "$out/vmstep-init.tmp" "$out/vmstep-init"
echo "guest/build.sh: built $out/vmstep-init ($(stat -c %s "$out/vmstep-init") bytes)"
