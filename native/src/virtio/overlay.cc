#include "virtio/overlay.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace vmstep {

namespace {

uint64_t LeBytes(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}


bool PwriteAll(int fd, const uint8_t* buf, uint64_t len, uint64_t offset) {
  return TransferAll(fd, {{const_cast<uint8_t*>(buf), static_cast<size_t>(len)}}, offset, true);
}

}  // namespace

bool ParseOverlayHeader(const uint8_t* header, size_t len, OverlayLayout* out, std::string* why) {
  if (len < 32) {
    *why = "it is too short to be an overlay (" + std::to_string(len) + " bytes)";
    return false;
  }
  if (std::memcmp(header, overlay::kMagic, sizeof overlay::kMagic) != 0) {
    *why = "it is not a vmstep overlay (no VMSTEPOV magic)";
    return false;
  }
  const auto version = static_cast<uint32_t>(LeBytes(header + 8, 4));
  if (version != overlay::kVersion) {
    *why = "its format version is " + std::to_string(version) + ", this VMM reads version " + std::to_string(overlay::kVersion);
    return false;
  }
  OverlayLayout l;
  l.cluster_bits = static_cast<uint32_t>(LeBytes(header + 12, 4));
  l.disk_size = LeBytes(header + 16, 8);
  l.base_size = LeBytes(header + 24, 8);
  if (l.cluster_bits < overlay::kMinClusterBits || l.cluster_bits > overlay::kMaxClusterBits) {
    *why = "its cluster size 2^" + std::to_string(l.cluster_bits) + " is outside 4 KiB..1 MiB";
    return false;
  }
  if (l.disk_size == 0 || l.disk_size % 512 != 0 || l.disk_size > overlay::kMaxDiskBytes) {
    *why = "its disk size " + std::to_string(l.disk_size) + " is not a multiple of 512 from 512 bytes to 4 TiB";
    return false;
  }
  if (l.base_size > l.disk_size) {
    *why = "its base size " + std::to_string(l.base_size) + " is larger than its disk size " + std::to_string(l.disk_size);
    return false;
  }
  // Every term is bounded by kMaxDiskBytes (2^42): nothing below overflows.
  l.clusters = (l.disk_size + (1ull << l.cluster_bits) - 1) >> l.cluster_bits;
  l.bitmap_offset = overlay::kHeaderBytes;
  l.bitmap_bytes = (l.clusters + 7) / 8;
  l.data_offset = l.bitmap_offset + ((l.bitmap_bytes + 4095) & ~4095ull);
  *out = l;
  return true;
}

void CowDisk::Free::operator()(uint8_t* p) const { std::free(p); }

CowDisk::CowDisk(int base_fd, uint64_t base_size, int overlay_fd, const std::string& overlay_name)
    : base_fd_(base_fd), overlay_fd_(overlay_fd) {
  uint8_t header[overlay::kHeaderBytes] = {};
  ssize_t n;
  do n = pread(overlay_fd_, header, sizeof header, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    close(base_fd_);
    close(overlay_fd_);
    throw SystemError("cannot read the overlay " + overlay_name, err);
  }
  std::string why;
  bool ok = ParseOverlayHeader(header, static_cast<size_t>(n), &layout_, &why);
  if (ok && layout_.base_size != base_size) {
    ok = false;
    why = "it was made for a base image of " + std::to_string(layout_.base_size) + " bytes, and the base given has " + std::to_string(base_size);
  }
  if (!ok) {
    close(base_fd_);
    close(overlay_fd_);
    throw VmmError("the overlay " + overlay_name + " cannot be used: " + why + " (create a new overlay for this base)");
  }
  try {
    LoadBitmap(overlay_name);
  } catch (...) {
    close(base_fd_);
    close(overlay_fd_);
    throw;
  }
}

CowDisk::~CowDisk() {
  close(base_fd_);
  close(overlay_fd_);
}

void CowDisk::LoadBitmap(const std::string& overlay_name) {
  bitmap_.reset(static_cast<uint8_t*>(std::calloc(layout_.bitmap_bytes, 1)));
  bounce_.reset(new uint8_t[cluster_bytes()]);
  if (!bitmap_) throw VmmError("no memory for the bitmap of the overlay " + overlay_name);
  // Only the parts of the bitmap that hold data are read: a fresh overlay's
  // bitmap is one hole, so opening it costs the same for any disk size.
  const auto begin = static_cast<off_t>(layout_.bitmap_offset);
  const auto end = static_cast<off_t>(layout_.bitmap_offset + layout_.bitmap_bytes);
  off_t at = begin;
  while (at < end) {
    off_t data = lseek(overlay_fd_, at, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // nothing but holes to the end of the file
      data = at;                  // no SEEK_DATA here: read everything
    }
    if (data >= end) break;
    off_t hole = lseek(overlay_fd_, data, SEEK_HOLE);
    if (hole < 0 || hole <= data) hole = end;
    hole = std::min(hole, end);
    const auto len = static_cast<uint64_t>(hole - data);
    uint8_t* dst = bitmap_.get() + (data - begin);
    // A bitmap that stops early (a truncated file) reads as unwritten clusters.
    ssize_t n;
    uint64_t done = 0;
    while (done < len) {
      n = pread(overlay_fd_, dst + done, len - done, data + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw SystemError("cannot read the bitmap of the overlay " + overlay_name);
      if (n == 0) break;
      done += static_cast<uint64_t>(n);
    }
    at = hole;
  }
  // Bits past the last cluster mean nothing; cleared so they never count.
  if (layout_.clusters % 8 != 0) bitmap_[layout_.bitmap_bytes - 1] &= static_cast<uint8_t>((1u << (layout_.clusters % 8)) - 1);
}

bool CowDisk::ReadBase(const std::vector<iovec>& iov, uint64_t offset) {
  const uint64_t len = IovecBytes(iov);
  const uint64_t from_base = offset >= layout_.base_size ? 0 : std::min(len, layout_.base_size - offset);
  if (from_base > 0 && !TransferAll(base_fd_, SliceIovecs(iov, 0, from_base), offset, false)) return false;
  if (from_base < len) ZeroIovecs(SliceIovecs(iov, from_base, len - from_base));
  return true;
}

bool CowDisk::Read(const std::vector<iovec>& iov, uint64_t offset) {
  const uint64_t len = IovecBytes(iov);
  if (offset > layout_.disk_size || len > layout_.disk_size - offset) return false;
  const uint64_t end = offset + len;
  uint64_t pos = offset;
  while (pos < end) {
    // The longest run of clusters that are all in the overlay, or all not.
    uint64_t cluster = pos >> layout_.cluster_bits;
    const bool in_overlay = Allocated(cluster);
    uint64_t run_end = pos;
    do {
      run_end = std::min(end, (cluster + 1) << layout_.cluster_bits);
      cluster++;
    } while (run_end < end && Allocated(cluster) == in_overlay);
    std::vector<iovec> part = SliceIovecs(iov, pos - offset, run_end - pos);
    if (!(in_overlay ? TransferAll(overlay_fd_, part, layout_.data_offset + pos, false) : ReadBase(part, pos))) return false;
    pos = run_end;
  }
  return true;
}

bool CowDisk::CopyUp(uint64_t cluster) {
  const uint64_t start = cluster << layout_.cluster_bits;
  const uint64_t len = std::min(cluster_bytes(), layout_.disk_size - start);
  return ReadBase({{bounce_.get(), static_cast<size_t>(len)}}, start) && PwriteAll(overlay_fd_, bounce_.get(), len, layout_.data_offset + start);
}

bool CowDisk::Write(const std::vector<iovec>& iov, uint64_t offset) {
  const uint64_t len = IovecBytes(iov);
  if (len == 0) return true;
  if (offset > layout_.disk_size || len > layout_.disk_size - offset) return false;
  const uint64_t end = offset + len;
  const uint64_t first = offset >> layout_.cluster_bits, last = (end - 1) >> layout_.cluster_bits;
  // An unwritten cluster that this write covers only in part keeps the
  // base's bytes around the write: only the first and the last can be such.
  auto covered = [&](uint64_t c) {
    const uint64_t c_start = c << layout_.cluster_bits;
    return offset <= c_start && end >= std::min(c_start + cluster_bytes(), layout_.disk_size);
  };
  if (!Allocated(first) && !covered(first) && !CopyUp(first)) return false;
  if (last != first && !Allocated(last) && !covered(last) && !CopyUp(last)) return false;
  if (!TransferAll(overlay_fd_, iov, layout_.data_offset + offset, true)) return false;
  // Mark the clusters, then write through the bitmap bytes that changed.
  uint64_t changed_from = UINT64_MAX, changed_to = 0;
  for (uint64_t c = first; c <= last; c++) {
    if (Allocated(c)) continue;
    bitmap_[c >> 3] |= static_cast<uint8_t>(1u << (c & 7));
    changed_from = std::min(changed_from, c >> 3);
    changed_to = c >> 3;
  }
  if (changed_from == UINT64_MAX) return true;
  return PwriteAll(overlay_fd_, bitmap_.get() + changed_from, changed_to - changed_from + 1, layout_.bitmap_offset + changed_from);
}

bool CowDisk::Flush() { return fdatasync(overlay_fd_) == 0; }

}  // namespace vmstep
