// libFuzzer target for everything in the VMM that parses guest-controlled
// data: virtqueue descriptor chains (addresses outside RAM, loops, huge
// lengths, bad ring indices), virtio-blk requests, and vsock packets with
// the connection state machine behind them, plus the virtio-mmio register
// interface that sets the queues up; and the one host file the VMM parses,
// a copy-on-write overlay (its header and bitmap), with guest requests over it.
//
// Input: an 8-byte header, then the initial contents of a 64 KiB guest RAM
// (so the fuzzer writes the rings and descriptors directly). Queue i has its
// descriptors at 0x40 + 0x300 i, driver ring +0x100, device ring +0x140.
//   header[0]  target: 0 blk, 1 vsock, 2 raw virtqueue, 3 mmio registers,
//              4 blk over a copy-on-write overlay
//   header[1]  log2 of the queue size (clamped by the device)
//   header[2]  flags: bit 0 read-only disk, bit 1 ring addresses from RAM[0..48),
//              bit 2 overlay header as raw bytes from RAM (else a well-formed one
//              from header[5..7]), bit 3 raw header with the right base size
//   header[3..7] rounds of notifications, register write count, overlay fields
// Target 4 takes the overlay's header from RAM[kRam-4096, +64) in raw mode
// and its bitmap from RAM[kRam-1024, kRam).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "memory/guest_memory.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/overlay.h"
#include "virtio/vsock.h"
#include "virtio/vsock_packet.h"
#include "util/error.h"
#include "vmm/event_loop.h"

using namespace vmstep;

namespace {

constexpr size_t kRam = 64 * 1024;
constexpr size_t kHeader = 8;

// A disk image in memory and a listening socket for vsock port 1024, made
// once; per input, the disk is reset and the listener's backlog drained.
struct Fixture {
  int disk = -1;
  int overlay = -1;
  int listener = -1;
  std::string uds;
  EventLoop loop;
  Fixture() {
    disk = memfd_create("fuzz-disk", MFD_CLOEXEC);
    if (ftruncate(disk, 64 * 1024) != 0) abort();
    overlay = memfd_create("fuzz-overlay", MFD_CLOEXEC);
    char dir[] = "/tmp/vmstep-fuzz-XXXXXX";
    if (!mkdtemp(dir)) abort();
    uds = std::string(dir) + "/v";
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string port = uds + "_1024";
    std::memcpy(addr.sun_path, port.c_str(), port.size() + 1);
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 1024) != 0) abort();
    dir_ = dir;
  }
  ~Fixture() {
    unlink((uds + "_1024").c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
  void DrainBacklog() {
    for (int fd; (fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) close(fd);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void SetUpQueue(Virtqueue& q, const uint8_t* header, const GuestMemory& mem, unsigned index) {
  q.Reset();
  q.size = static_cast<uint16_t>(1u << (header[1] % 10));  // 1..512: 512 is refused
  if (header[2] & 2) {
    // Ring addresses straight from guest RAM: anything at all.
    uint64_t a[3];
    mem.Read(index * 24, a, sizeof a);
    q.desc_addr = a[0];
    q.avail_addr = a[1];
    q.used_addr = a[2];
  } else {
    // Compact, so that small inputs hold whole requests (see seeds/).
    const uint64_t base = 0x40 + index * 0x300;
    q.desc_addr = base;
    q.avail_addr = base + 0x100;
    q.used_addr = base + 0x140;
  }
  q.ready = true;
  q.Activate(mem);
}

void FuzzBlk(const uint8_t* header, GuestMemory& mem) {
  Fixture& f = fixture();
  ftruncate(f.disk, 0);
  ftruncate(f.disk, 64 * 1024);
  BlockDevice blk(&mem, nullptr, std::make_unique<RawDisk>(dup(f.disk), 64 * 1024, header[2] & 1), header[2] & 1, "fuzz");
  blk.driver_ok = true;
  SetUpQueue(blk.queues()[0], header, mem, 0);
  for (unsigned round = 0; round <= header[3] % 4; round++) blk.QueueNotify(0);
}

void FuzzCowBlk(const uint8_t* header, GuestMemory& mem) {
  Fixture& f = fixture();
  constexpr uint64_t kBase = 64 * 1024;
  uint8_t ovh[64] = {};
  if (header[2] & 4) {
    mem.Read(kRam - 4096, ovh, sizeof ovh);
    if (header[2] & 8) std::memcpy(ovh + 24, &kBase, 8);
  } else {
    std::memcpy(ovh, overlay::kMagic, 8);
    const uint32_t version = overlay::kVersion, bits = overlay::kMinClusterBits + header[5] % 9;
    const uint64_t disk = kBase + (header[6] % 64) * 512;
    std::memcpy(ovh + 8, &version, 4);
    std::memcpy(ovh + 12, &bits, 4);
    std::memcpy(ovh + 16, &disk, 8);
    std::memcpy(ovh + 24, &kBase, 8);
  }
  // The overlay file: header, then a bitmap from RAM (its first bytes
  // anywhere in a 1 KiB window), over holes of any length.
  if (ftruncate(f.overlay, 0) != 0 || pwrite(f.overlay, ovh, sizeof ovh, 0) != sizeof ovh) abort();
  if (pwrite(f.overlay, mem.Slice(kRam - 1024, 1024), 1024, overlay::kHeaderBytes + (header[7] % 4) * 256) != 1024) abort();
  if (header[7] & 0x80 && ftruncate(f.overlay, overlay::kHeaderBytes + 512) != 0) abort();  // cut short
  ftruncate(f.disk, 0);
  ftruncate(f.disk, kBase);
  std::unique_ptr<Disk> disk;
  try {
    disk = std::make_unique<CowDisk>(dup(f.disk), kBase, dup(f.overlay), "fuzz-overlay");
  } catch (const VmmError&) {
    return;  // refused, with a reason: what a bad overlay must get
  }
  BlockDevice blk(&mem, nullptr, std::move(disk), false, "fuzz");
  blk.driver_ok = true;
  SetUpQueue(blk.queues()[0], header, mem, 0);
  for (unsigned round = 0; round <= header[3] % 4; round++) blk.QueueNotify(0);
}

void FuzzVsock(const uint8_t* header, GuestMemory& mem) {
  Fixture& f = fixture();
  {
    VsockDevice vsock(&mem, nullptr, &f.loop, f.uds, 3);
    for (unsigned q = 0; q < 3; q++) SetUpQueue(vsock.queues()[q], header, mem, q);
    vsock.driver_ok = true;
    vsock.Activate();
    for (unsigned round = 0; round <= header[3] % 8; round++) {
      vsock.QueueNotify(1);  // guest packets
      vsock.QueueNotify(0);  // replies into receive buffers
    }
  }
  f.DrainBacklog();
}

void FuzzQueue(const uint8_t* header, GuestMemory& mem) {
  Virtqueue q;
  SetUpQueue(q, header, mem, 0);
  DescriptorChain chain;
  uint8_t scratch[512];
  for (unsigned i = 0; i < 1024; i++) {
    auto r = q.Pop(mem, &chain);
    if (r == Virtqueue::PopResult::kEmpty) break;
    if (r == Virtqueue::PopResult::kChain) {
      chain.Read(mem, header[4], scratch, sizeof scratch);
      chain.Write(mem, header[5], scratch, sizeof scratch);
      (void)chain.Iovecs(mem, true, header[6], 1u << 20);
      vsock::TxPacket p;
      (void)vsock::ParseTxPacket(mem, chain, &p);
    }
    q.PushUsed(mem, chain.head, static_cast<uint32_t>(chain.writable_bytes));
  }
}

void FuzzMmio(const uint8_t* header, GuestMemory& mem) {
  // Register writes from the end of RAM: (offset u16, value u32) pairs.
  Fixture& f = fixture();
  BlockDevice blk(&mem, nullptr, std::make_unique<RawDisk>(dup(f.disk), 64 * 1024, false), false, "fuzz");
  MmioTransport t(&blk, &mem);
  const uint8_t* ops = mem.Slice(kRam - 1536, 1536);
  for (unsigned i = 0; i < 1 + header[4] % 255; i++) {
    uint16_t off;
    uint32_t value;
    std::memcpy(&off, ops + i * 6, 2);
    std::memcpy(&value, ops + i * 6 + 2, 4);
    off &= 0x1ff;
    if (off & 1) {
      uint8_t v[4];
      t.Read(off & ~1u, v, 1 + (value & 3));
    } else {
      t.Write(off, reinterpret_cast<const uint8_t*>(&value), 4);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader) return 0;
  static std::vector<uint8_t> ram(kRam);
  std::memset(ram.data(), 0, kRam);
  std::memcpy(ram.data(), data + kHeader, std::min(size - kHeader, kRam));
  GuestMemory mem(ram.data(), kRam);
  switch (data[0] % 5) {
    case 0: FuzzBlk(data, mem); break;
    case 1: FuzzVsock(data, mem); break;
    case 2: FuzzQueue(data, mem); break;
    case 3: FuzzMmio(data, mem); break;
    case 4: FuzzCowBlk(data, mem); break;
  }
  return 0;
}
