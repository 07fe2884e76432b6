#include "virtio/queue.h"

#include <atomic>
#include <cstring>

#include "virtio/virtio_defs.h"

namespace vmstep {

namespace {

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Desc) == 16);

uint64_t AvailBytes(uint16_t size) { return 4 + 2ull * size + 2; }
uint64_t UsedBytes(uint16_t size) { return 4 + 8ull * size + 2; }

}  // namespace

bool Virtqueue::Activate(const GuestMemory& mem) {
  active_ = false;
  broken_ = false;
  next_avail_ = 0;
  next_used_ = 0;
  // Alignments from spec 2.7: descriptors 16, driver area 2, device area 4.
  if (size == 0 || size > kMaxSize || (size & (size - 1)) != 0) return false;
  if ((desc_addr & 15) || (avail_addr & 1) || (used_addr & 3)) return false;
  if (!mem.Slice(desc_addr, 16ull * size) || !mem.Slice(avail_addr, AvailBytes(size)) || !mem.Slice(used_addr, UsedBytes(size))) {
    return false;
  }
  active_ = true;
  return true;
}

void Virtqueue::Reset() {
  size = kMaxSize;
  ready = false;
  desc_addr = avail_addr = used_addr = 0;
  active_ = broken_ = false;
  next_avail_ = next_used_ = 0;
}

bool Virtqueue::ReadAvailIdx(const GuestMemory& mem, uint16_t* idx) const {
  auto* p = reinterpret_cast<uint16_t*>(mem.Slice(avail_addr + 2, 2));
  if (!p) return false;
  // Acquire: ring entries written before the index are visible after it.
  *idx = __atomic_load_n(p, __ATOMIC_ACQUIRE);
  return true;
}

bool Virtqueue::HasAvailable(const GuestMemory& mem) {
  uint16_t idx;
  return active_ && !broken_ && ReadAvailIdx(mem, &idx) && idx != next_avail_;
}

Virtqueue::PopResult Virtqueue::Pop(const GuestMemory& mem, DescriptorChain* chain) {
  if (!active_ || broken_) return PopResult::kEmpty;
  uint16_t avail_idx;
  if (!ReadAvailIdx(mem, &avail_idx) || avail_idx == next_avail_) return PopResult::kEmpty;
  // More entries than the ring holds: the driver is broken, stop here.
  if (static_cast<uint16_t>(avail_idx - next_avail_) > size) {
    broken_ = true;
    return PopResult::kEmpty;
  }
  uint16_t head;
  mem.Read(avail_addr + 4 + 2ull * (next_avail_ % size), &head, 2);
  next_avail_++;

  chain->head = head;
  chain->segments.clear();
  chain->readable_bytes = chain->writable_bytes = 0;
  if (head >= size) {
    // Nothing sensible can be returned for an index outside the table.
    broken_ = true;
    return PopResult::kEmpty;
  }
  uint16_t index = head;
  bool seen_writable = false;
  for (unsigned count = 0;; count++) {
    if (count >= size) return PopResult::kBadChain;  // a loop
    Desc d;
    mem.Read(desc_addr + 16ull * index, &d, sizeof d);  // one copy: the guest may change it
    if (d.flags & virtio::kDescIndirect) return PopResult::kBadChain;  // not negotiated
    bool writable = (d.flags & virtio::kDescWrite) != 0;
    // Device-readable buffers come first (spec 2.7.4.2).
    if (!writable && seen_writable) return PopResult::kBadChain;
    seen_writable |= writable;
    if (d.len > 0) {
      if (!mem.Slice(d.addr, d.len)) return PopResult::kBadChain;
      chain->segments.push_back({d.addr, d.len, writable});
      (writable ? chain->writable_bytes : chain->readable_bytes) += d.len;
    }
    if (!(d.flags & virtio::kDescNext)) break;
    if (d.next >= size) return PopResult::kBadChain;
    index = d.next;
  }
  return PopResult::kChain;
}

void Virtqueue::PushUsed(const GuestMemory& mem, uint16_t head, uint32_t len) {
  if (!active_) return;
  uint32_t elem[2] = {head, len};
  mem.Write(used_addr + 4 + 8ull * (next_used_ % size), elem, sizeof elem);
  next_used_++;
  auto* idx = reinterpret_cast<uint16_t*>(mem.Slice(used_addr + 2, 2));
  // Release: the element is visible before the index that publishes it.
  if (idx) __atomic_store_n(idx, next_used_, __ATOMIC_RELEASE);
}

bool Virtqueue::ShouldInterrupt(const GuestMemory& mem) const {
  // Order our used-index store before reading the driver's flags.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint16_t flags = 0;
  mem.Read(avail_addr, &flags, 2);
  return !(flags & virtio::kAvailNoInterrupt);
}

uint64_t DescriptorChain::Read(const GuestMemory& mem, uint64_t offset, void* out, uint64_t len) const {
  auto* dst = static_cast<uint8_t*>(out);
  uint64_t done = 0;
  for (const auto& s : segments) {
    if (s.writable || done == len) continue;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(s.len - offset, len - done);
    const uint8_t* src = mem.Slice(s.gpa + offset, n);
    if (!src) break;
    std::memcpy(dst + done, src, n);
    done += n;
    offset = 0;
  }
  return done;
}

uint64_t DescriptorChain::Write(const GuestMemory& mem, uint64_t offset, const void* data, uint64_t len) const {
  auto* src = static_cast<const uint8_t*>(data);
  uint64_t done = 0;
  for (const auto& s : segments) {
    if (!s.writable || done == len) continue;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(s.len - offset, len - done);
    uint8_t* dst = mem.Slice(s.gpa + offset, n);
    if (!dst) break;
    std::memcpy(dst, src + done, n);
    done += n;
    offset = 0;
  }
  return done;
}

std::vector<iovec> DescriptorChain::Iovecs(const GuestMemory& mem, bool writable, uint64_t offset, uint64_t len) const {
  std::vector<iovec> out;
  for (const auto& s : segments) {
    if (s.writable != writable || len == 0) continue;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(s.len - offset, len);
    uint8_t* p = mem.Slice(s.gpa + offset, n);
    if (!p) break;
    out.push_back({p, n});
    len -= n;
    offset = 0;
  }
  return out;
}

}  // namespace vmstep
