// The bytes behind a virtio-blk device. BlockDevice checks every request
// against size() and hands the rest here: a raw image file (RawDisk), or a
// read-only base image under a copy-on-write overlay (CowDisk, overlay.h).
// Offsets and lengths are in bytes; the iovecs point into guest memory and
// cover exactly the bytes to move.
#pragma once
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "util/iovec.h"

namespace vmstep {

class Disk {
 public:
  virtual ~Disk() = default;
  virtual uint64_t size() const = 0;
  virtual bool Read(const std::vector<iovec>& iov, uint64_t offset) = 0;
  virtual bool Write(const std::vector<iovec>& iov, uint64_t offset) = 0;
  virtual bool Flush() = 0;
};

// One image file, read and written in place. Takes ownership of fd.
class RawDisk : public Disk {
 public:
  RawDisk(int fd, uint64_t size, bool read_only) : fd_(fd), size_(size), read_only_(read_only) {}
  ~RawDisk() override;
  uint64_t size() const override { return size_; }
  bool Read(const std::vector<iovec>& iov, uint64_t offset) override;
  bool Write(const std::vector<iovec>& iov, uint64_t offset) override;
  bool Flush() override;

 private:
  int fd_;
  uint64_t size_;
  bool read_only_;
};

// preadv/pwritev to completion across short transfers; false on an error or
// on end of file before the iovecs are full.
bool TransferAll(int fd, std::vector<iovec> iov, uint64_t offset, bool write);

}  // namespace vmstep
