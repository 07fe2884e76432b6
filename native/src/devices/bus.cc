#include "devices/bus.h"

#include <cstring>

namespace vmstep {

const Bus::Range* Bus::Find(uint64_t addr, size_t len) const {
  for (const Range& r : ranges_) {
    if (addr >= r.base && addr - r.base < r.size && len <= r.size - (addr - r.base)) return &r;
  }
  return nullptr;
}

bool Bus::Read(uint64_t addr, uint8_t* data, size_t len, uint8_t fill) const {
  const Range* r = Find(addr, len);
  if (!r) {
    std::memset(data, fill, len);
    return false;
  }
  r->device->Read(addr - r->base, data, len);
  return true;
}

bool Bus::Write(uint64_t addr, const uint8_t* data, size_t len) const {
  const Range* r = Find(addr, len);
  if (!r) return false;
  r->device->Write(addr - r->base, data, len);
  return true;
}

}  // namespace vmstep
