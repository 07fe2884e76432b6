#!/usr/bin/env bash
# native/build.sh OUT_DIR: builds the VMM and everything its tests need, with
# no network:
#   OUT_DIR/vmstep.node        the node addon (KVM probe)
#   OUT_DIR/vmstep-vmm         the VMM executable (static)
#   OUT_DIR/test-guests/*.elf  tiny freestanding guests for test/kvm
#   OUT_DIR/tests/*            C++ tests of single VMM parts (run by test/kvm)
set -euo pipefail
out=${1:?usage: native/build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
mkdir -p "$out/test-guests"
out=$(cd "$out" && pwd)

gyp="$root/node_modules/.bin/node-gyp"
[ -x "$gyp" ] || { echo "native/build.sh: $gyp is missing: run 'npm ci' first" >&2; exit 1; }
# Node's headers come from the local install (Debian's nodejs-dev or the
# official tarball layout under the node prefix), never from the network.
nodedir=${npm_config_nodedir:-$(node -p 'require("path").resolve(process.execPath, "..", "..")')}
[ -f "$nodedir/include/node/node_api.h" ] || { echo "native/build.sh: no Node headers under $nodedir/include/node: install Node's headers (Debian: libnode-dev)" >&2; exit 1; }

cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)
NODE_PATH="$root/node_modules" "$gyp" rebuild --nodedir="$nodedir" --jobs="$jobs" --loglevel=warn >&2
cp build/Release/vmstep.node "$out/vmstep.node"
cp build/Release/vmstep-vmm "$out/vmstep-vmm"
mkdir -p "$out/tests"
cp build/Release/vsock-connection-test "$out/tests/vsock-connection-test"

bash "$here/guests/build.sh" "$out/test-guests"
