#!/usr/bin/env bash
# guest/fuzz/build.sh OUT_DIR: the libFuzzer target (clang, with ASan and
# UBSan) over guest init's parsers of host frames; see fuzz_host_frames.c.
set -euo pipefail
out=${1:?usage: guest/fuzz/build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../src"
mkdir -p "$out"
command -v clang >/dev/null || { echo "guest/fuzz/build.sh: clang is missing (Debian: apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
clang -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -o "$out/fuzz-host-frames" "$here/fuzz_host_frames.c" "$src/frame.c" "$src/spec.c" "$src/entry.c"
