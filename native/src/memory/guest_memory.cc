#include "memory/guest_memory.h"

#include <sys/mman.h>

#include <cstring>

#include "arch/layout.h"
#include "util/error.h"

namespace vmstep {

GuestMemory::GuestMemory(uint64_t bytes) : size_(bytes), owned_(true) {
  if (bytes < (2u << 20)) throw VmmError("guest memory must be at least 2 MiB");
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw SystemError("cannot map " + std::to_string(bytes >> 20) + " MiB of guest memory");
  base_ = static_cast<uint8_t*>(p);
  // The guest's memory is never part of a core dump of the VMM.
  madvise(base_, bytes, MADV_DONTDUMP);
  uint64_t low = bytes < layout::kRamBelow4GEnd ? bytes : layout::kRamBelow4GEnd;
  regions_.push_back({0, low, base_});
  if (bytes > low) regions_.push_back({layout::kRamAbove4GStart, bytes - low, base_ + low});
}

GuestMemory::GuestMemory(uint8_t* host, uint64_t bytes) : base_(host), size_(bytes) {
  regions_.push_back({0, bytes, host});
}

GuestMemory::~GuestMemory() {
  if (owned_ && base_) munmap(base_, size_);
}

uint8_t* GuestMemory::Slice(uint64_t gpa, uint64_t len) const {
  for (const auto& r : regions_) {
    // Written so that no sum can overflow: gpa and len are guest-controlled.
    if (gpa >= r.guest_addr && gpa - r.guest_addr <= r.size && len <= r.size - (gpa - r.guest_addr)) {
      return r.host + (gpa - r.guest_addr);
    }
  }
  return nullptr;
}

bool GuestMemory::Read(uint64_t gpa, void* out, uint64_t len) const {
  const uint8_t* p = Slice(gpa, len);
  if (!p) return false;
  std::memcpy(out, p, len);
  return true;
}

bool GuestMemory::Write(uint64_t gpa, const void* data, uint64_t len) const {
  uint8_t* p = Slice(gpa, len);
  if (!p) return false;
  std::memcpy(p, data, len);
  return true;
}

uint64_t GuestMemory::below4g() const { return regions_.empty() ? 0 : regions_[0].size; }
uint64_t GuestMemory::above4g() const { return regions_.size() > 1 ? regions_[1].size : 0; }

}  // namespace vmstep
