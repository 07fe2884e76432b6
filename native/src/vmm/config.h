// What to run, from the command line of vmstep-vmm (src/vm/launch.ts builds
// it). Flags rather than a config file: the VMM must open nothing it was not
// told about, and argv is visible in `ps` for whoever debugs a stuck run.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vmstep {

struct DiskConfig {
  std::string path;
  bool read_only = false;
  // Set: `path` is a base image, opened read-only and never written, and the
  // guest's writes go to this copy-on-write overlay (virtio/overlay.h).
  std::string overlay;
};

struct VmConfig {
  std::string kernel;
  std::vector<DiskConfig> disks;
  unsigned vcpus = 1;
  uint64_t memory_mib = 128;
  std::string cmdline;          // the VMM appends the virtio_mmio.device= entries
  std::string vsock_uds;        // empty: no vsock device
  uint32_t guest_cid = 3;
  std::string console_log;      // empty: console only in the ring buffer
  int console_fd = -1;          // or an inherited descriptor (a pipe, a socket)
  uint64_t timeout_ms = 0;      // 0: no timeout
  int status_fd = -1;           // where the JSON status lines go
  std::vector<int> pin_cpus;    // host CPU of vCPU i at index i; empty: not pinned
  bool jail = true;
};

// Throws VmmError with a usage hint on bad arguments.
VmConfig ParseArgs(int argc, char** argv);
extern const char* const kUsage;

}  // namespace vmstep
