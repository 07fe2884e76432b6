// A copy-on-write disk: reads come from a read-only base image (the cached
// root filesystem, shared by every run and never written), writes go to a
// per-run overlay file. Creating an overlay writes one 4 KiB header and sets
// the file's size, whatever the disk's size: that is what makes a warm run's
// disk O(1) (src/vm/overlay.ts creates them; flattenOverlay there turns
// base + overlay back into one image).
//
// Overlay file format, version 1 (all integers little-endian):
//
//   offset 0, 4096 bytes   header
//     0   8  magic "VMSTEPOV"
//     8   4  version (1)
//    12   4  cluster_bits: a cluster is 2^cluster_bits bytes, 12..20
//    16   8  disk_size: the guest-visible size in bytes, a multiple of 512
//    24   8  base_size: the size the base image must have (a guard against
//            pairing an overlay with the wrong base); at most disk_size.
//            Bytes of the disk past base_size read as zeros until written.
//    32..    zero
//   offset 4096            allocation bitmap, one bit per cluster (bit c%8 of
//                          byte c/8): set when the cluster's bytes live in the
//                          overlay's data area rather than in the base
//   data_offset            data area: cluster c at data_offset + c * cluster,
//                          the same layout as the disk itself, so the file is
//                          sparse where nothing was written. data_offset is
//                          4096 + the bitmap rounded up to 4096 bytes.
//
// Why a bitmap and a mirrored data area rather than an allocation table (as
// qcow2 has): the host filesystem already gives sparse files for free, so a
// cluster's place never needs recording, only whether it was written; and
// the whole map of a 2 GiB disk at 4 KiB clusters is 64 KiB. The bitmap is
// kept in memory (calloc'd: untouched parts cost no RAM) and each newly
// written cluster's bit is written through to the file straight after its
// data, so the overlay is complete whenever the VMM stops, even by SIGKILL.
// A write that covers part of an unwritten cluster first copies the base's
// bytes of that cluster into the overlay ("copy-up"); with 4 KiB clusters and
// ext4's 4 KiB blocks that is rare.
//
// The header and the bitmap come from a file that the guest never sees but
// that a user could hand us: ParseOverlayHeader checks every field, and no
// offset is computed from the file without the bounds that make it safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "virtio/disk.h"

namespace vmstep {

namespace overlay {
constexpr char kMagic[8] = {'V', 'M', 'S', 'T', 'E', 'P', 'O', 'V'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 4096;
constexpr uint32_t kMinClusterBits = 12, kMaxClusterBits = 20;
// 4 TiB: its bitmap at 4 KiB clusters is 128 MiB of address space, touched
// only where written.
constexpr uint64_t kMaxDiskBytes = 1ull << 42;
}  // namespace overlay

struct OverlayLayout {
  uint32_t cluster_bits = 0;
  uint64_t disk_size = 0;
  uint64_t base_size = 0;
  uint64_t clusters = 0;
  uint64_t bitmap_offset = 0;
  uint64_t bitmap_bytes = 0;
  uint64_t data_offset = 0;
};

// Checks a header (the first `len` bytes of an overlay file) and derives the
// layout. On failure returns false and says why in `why`.
bool ParseOverlayHeader(const uint8_t* header, size_t len, OverlayLayout* out, std::string* why);

class CowDisk : public Disk {
 public:
  // Takes ownership of both fds (base opened read-only, overlay read-write);
  // reads the header and the bitmap. Throws VmmError naming `overlay_name`
  // when the overlay is malformed or does not belong to this base.
  CowDisk(int base_fd, uint64_t base_size, int overlay_fd, const std::string& overlay_name);
  ~CowDisk() override;

  uint64_t size() const override { return layout_.disk_size; }
  bool Read(const std::vector<iovec>& iov, uint64_t offset) override;
  bool Write(const std::vector<iovec>& iov, uint64_t offset) override;
  bool Flush() override;

  uint64_t cluster_bytes() const { return 1ull << layout_.cluster_bits; }
  bool Allocated(uint64_t cluster) const { return (bitmap_[cluster >> 3] >> (cluster & 7)) & 1; }

 private:
  void LoadBitmap(const std::string& overlay_name);
  // Base bytes (zeros past the base's end) into iov, for disk offset `offset`.
  bool ReadBase(const std::vector<iovec>& iov, uint64_t offset);
  bool CopyUp(uint64_t cluster);

  int base_fd_, overlay_fd_;
  OverlayLayout layout_;
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t[], Free> bitmap_;
  std::unique_ptr<uint8_t[]> bounce_;  // one cluster, for copy-up
};

}  // namespace vmstep
