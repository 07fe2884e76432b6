// Guest RAM: one anonymous mapping, seen by the guest as one or two regions
// (below the 32-bit MMIO hole and from 4 GiB up). Every access the VMM makes
// on the guest's behalf goes through Slice(), which refuses any range that is
// not entirely inside one region: guest-supplied addresses are untrusted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmstep {

struct MemoryRegion {
  uint64_t guest_addr;
  uint64_t size;
  uint8_t* host;
};

class GuestMemory {
 public:
  // Maps `bytes` of guest RAM laid out per arch/layout.h. Pages are not
  // touched, so untouched guest memory costs nothing.
  explicit GuestMemory(uint64_t bytes);
  // For tests and the fuzzer: one region at guest address 0 over caller memory.
  GuestMemory(uint8_t* host, uint64_t bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // Host pointer to [gpa, gpa+len), or nullptr when any byte is outside RAM.
  uint8_t* Slice(uint64_t gpa, uint64_t len) const;
  bool Read(uint64_t gpa, void* out, uint64_t len) const;
  bool Write(uint64_t gpa, const void* data, uint64_t len) const;

  const std::vector<MemoryRegion>& regions() const { return regions_; }
  uint64_t size() const { return size_; }
  // Bytes of guest RAM below 4 GiB and above it, for the e820 map.
  uint64_t below4g() const;
  uint64_t above4g() const;

 private:
  std::vector<MemoryRegion> regions_;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  bool owned_ = false;
};

}  // namespace vmstep
