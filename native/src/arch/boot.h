// Loading the guest kernel: an ELF vmlinux (no decompressor, no real-mode
// setup code) booted through the 64-bit boot protocol, with boot_params
// ("the zero page") carrying the e820 memory map and the command line.
#pragma once
#include <cstdint>
#include <string>

#include "memory/guest_memory.h"

namespace vmstep {

struct LoadedKernel {
  uint64_t entry;     // guest-physical address of the 64-bit entry point
  uint64_t end;       // first byte above the highest loaded segment
};

// Loads the PT_LOAD segments of a 64-bit x86 ELF at their physical
// addresses. The file is untrusted input in the sense that a broken one must
// give a clear error, never a write outside guest RAM.
LoadedKernel LoadElfKernel(int fd, const GuestMemory& mem);

// Writes the command line and boot_params (setup header fields, e820 map).
void WriteBootParams(const GuestMemory& mem, const std::string& cmdline);

// Offsets inside struct boot_params (arch/x86/include/uapi/asm/bootparam.h),
// shared with the tests' expectations.
namespace zero_page {
constexpr uint64_t kE820Entries = 0x1e8;
constexpr uint64_t kSetupHeader = 0x1f1;
constexpr uint64_t kBootFlag = 0x1fe;
constexpr uint64_t kHeader = 0x202;
constexpr uint64_t kVersion = 0x206;
constexpr uint64_t kTypeOfLoader = 0x210;
constexpr uint64_t kLoadFlags = 0x211;
constexpr uint64_t kCmdLinePtr = 0x228;
constexpr uint64_t kKernelAlignment = 0x230;
constexpr uint64_t kCmdlineSize = 0x238;
constexpr uint64_t kE820Table = 0x2d0;
constexpr unsigned kE820MaxEntries = 128;
}  // namespace zero_page

}  // namespace vmstep
