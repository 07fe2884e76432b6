// Port I/O and MMIO dispatch: each device claims a range and sees offsets
// into it. Accesses nobody claims read as all ones (PIO) or zero (MMIO),
// as on real hardware, and never stop the VM.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmstep {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  virtual void Read(uint64_t offset, uint8_t* data, size_t len) = 0;
  virtual void Write(uint64_t offset, const uint8_t* data, size_t len) = 0;
};

class Bus {
 public:
  void Add(uint64_t base, uint64_t size, BusDevice* device) { ranges_.push_back({base, size, device}); }
  // False when no device claims the address (data is then filled with `fill`).
  bool Read(uint64_t addr, uint8_t* data, size_t len, uint8_t fill) const;
  bool Write(uint64_t addr, const uint8_t* data, size_t len) const;

 private:
  struct Range {
    uint64_t base, size;
    BusDevice* device;
  };
  const Range* Find(uint64_t addr, size_t len) const;
  std::vector<Range> ranges_;
};

}  // namespace vmstep
