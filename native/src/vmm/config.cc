#include "vmm/config.h"

#include <sched.h>

#include <cstdlib>

#include "util/error.h"
#include "vmm/limits.h"

namespace vmstep {

const char* const kUsage =
    "usage: vmstep-vmm --kernel VMLINUX [--disk IMG | --disk-ro IMG | --disk-cow BASE OVERLAY]...\n"
    "                  [--vcpus N] [--memory-mib N] [--cmdline STR] [--vsock-uds PATH] [--guest-cid N]\n"
    "                  [--console-log PATH | --console-fd N] [--timeout-ms N] [--status-fd N] [--pin-cpus CPU,CPU...] [--no-jail]";

namespace {

uint64_t Number(const std::string& flag, const char* text, uint64_t min, uint64_t max) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
    throw VmmError(flag + " needs a number between " + std::to_string(min) + " and " + std::to_string(max) + ", got '" + text + "'");
  }
  return v;
}

// "2,3": one host CPU per vCPU, in vCPU order.
std::vector<int> CpuList(const std::string& flag, const char* text) {
  std::vector<int> cpus;
  std::string item;
  for (const char* p = text;; p++) {
    if (*p == ',' || *p == '\0') {
      cpus.push_back(static_cast<int>(Number(flag, item.c_str(), 0, CPU_SETSIZE - 1)));
      item.clear();
      if (*p == '\0') break;
    } else {
      item += *p;
    }
  }
  return cpus;
}

}  // namespace

VmConfig ParseArgs(int argc, char** argv) {
  VmConfig c;
  for (int i = 1; i < argc; i++) {
    std::string flag = argv[i];
    if (flag == "--no-jail") {
      c.jail = false;
      continue;
    }
    if (i + 1 >= argc) throw VmmError(flag + " needs a value\n" + kUsage);
    const char* v = argv[++i];
    if (flag == "--kernel") c.kernel = v;
    else if (flag == "--disk") c.disks.push_back({v, false});
    else if (flag == "--disk-ro") c.disks.push_back({v, true});
    else if (flag == "--disk-cow") {
      if (i + 1 >= argc) throw VmmError("--disk-cow needs two values: the base image and the overlay\n" + std::string(kUsage));
      c.disks.push_back({v, false, argv[++i]});
    }
    else if (flag == "--vcpus") c.vcpus = static_cast<unsigned>(Number(flag, v, 1, limits::kMaxVcpus));
    else if (flag == "--memory-mib") c.memory_mib = Number(flag, v, limits::kMinMemoryMiB, limits::kMaxMemoryMiB);
    else if (flag == "--cmdline") c.cmdline = v;
    else if (flag == "--vsock-uds") c.vsock_uds = v;
    else if (flag == "--guest-cid") c.guest_cid = static_cast<uint32_t>(Number(flag, v, 3, 0xfffffffe));
    else if (flag == "--console-log") c.console_log = v;
    else if (flag == "--console-fd") c.console_fd = static_cast<int>(Number(flag, v, 0, 1 << 20));
    else if (flag == "--timeout-ms") c.timeout_ms = Number(flag, v, 0, 1ull << 40);
    else if (flag == "--status-fd") c.status_fd = static_cast<int>(Number(flag, v, 0, 1 << 20));
    else if (flag == "--pin-cpus") c.pin_cpus = CpuList(flag, v);
    else throw VmmError("unknown option " + flag + "\n" + kUsage);
  }
  if (c.kernel.empty()) throw VmmError(std::string("no --kernel given\n") + kUsage);
  if (!c.pin_cpus.empty() && c.pin_cpus.size() != c.vcpus) {
    throw VmmError("--pin-cpus names " + std::to_string(c.pin_cpus.size()) + " CPUs for " + std::to_string(c.vcpus) + " vCPUs: give one host CPU per vCPU");
  }
  if (c.disks.size() > limits::kMaxDisks) throw VmmError("too many disks: at most " + std::to_string(limits::kMaxDisks));
  return c;
}

}  // namespace vmstep
