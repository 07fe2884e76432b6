#include "virtio/disk.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vmstep {

RawDisk::~RawDisk() {
  if (fd_ >= 0) close(fd_);
}

bool RawDisk::Read(const std::vector<iovec>& iov, uint64_t offset) { return TransferAll(fd_, iov, offset, false); }

bool RawDisk::Write(const std::vector<iovec>& iov, uint64_t offset) { return !read_only_ && TransferAll(fd_, iov, offset, true); }

bool RawDisk::Flush() { return read_only_ || fdatasync(fd_) == 0; }

bool TransferAll(int fd, std::vector<iovec> iov, uint64_t offset, bool write) {
  size_t first = 0;
  while (first < iov.size() && iov[first].iov_len == 0) first++;
  while (first < iov.size()) {
    int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = write ? pwritev(fd, &iov[first], count, static_cast<off_t>(offset))
                      : preadv(fd, &iov[first], count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += static_cast<uint64_t>(n);
    auto left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

std::vector<iovec> SliceIovecs(const std::vector<iovec>& iov, uint64_t from, uint64_t len) {
  std::vector<iovec> out;
  for (const iovec& v : iov) {
    if (len == 0) break;
    if (from >= v.iov_len) {
      from -= v.iov_len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(v.iov_len - from, len);
    out.push_back({static_cast<uint8_t*>(v.iov_base) + from, static_cast<size_t>(n)});
    from = 0;
    len -= n;
  }
  return out;
}

uint64_t IovecBytes(const std::vector<iovec>& iov) {
  uint64_t n = 0;
  for (const iovec& v : iov) n += v.iov_len;
  return n;
}

void ZeroIovecs(const std::vector<iovec>& iov) {
  for (const iovec& v : iov) std::memset(v.iov_base, 0, v.iov_len);
}

}  // namespace vmstep
