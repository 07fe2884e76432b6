#include "virtio/disk.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

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

}  // namespace vmstep
