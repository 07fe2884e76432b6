#!/bin/sh
# The built-in demo: a small CPU benchmark that reports what it sees of the
# VM and writes its result where vmstep collects output files.
set -e
echo "vmstep demo: running in $(uname -sr) with $(nproc) vCPUs and $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
mkdir -p /out
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
start=$(uptime_ms)
i=0
while [ $i -lt 20 ]; do
  head -c 1048576 /dev/zero | sha256sum > /dev/null
  i=$((i + 1))
done
ms=$(( $(uptime_ms) - start ))
echo "hashed 20 MiB in ${ms} ms"
printf '{"sha256 20 MiB": {"latency": {"value": %s}}}\n' "$ms" > /out/metrics.json
echo "wrote /out/metrics.json" >&2
