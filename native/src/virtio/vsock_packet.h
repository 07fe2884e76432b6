// virtio-vsock packets (virtio 1.2, 5.10.6): a fixed 44-byte little-endian
// header followed by `len` payload bytes. Parsing a guest's packet out of a
// descriptor chain happens here and only here, with every length checked.
#pragma once
#include <cstdint>

#include "memory/guest_memory.h"
#include "virtio/queue.h"

namespace vmstep::vsock {

#pragma pack(push, 1)
struct Header {
  uint64_t src_cid;
  uint64_t dst_cid;
  uint32_t src_port;
  uint32_t dst_port;
  uint32_t len;
  uint16_t type;
  uint16_t op;
  uint32_t flags;
  uint32_t buf_alloc;
  uint32_t fwd_cnt;
};
#pragma pack(pop)
static_assert(sizeof(Header) == 44);

// include/uapi/linux/virtio_vsock.h
constexpr uint64_t kHostCid = 2;
constexpr uint16_t kTypeStream = 1;
enum Op : uint16_t {
  kOpInvalid = 0,
  kOpRequest = 1,
  kOpResponse = 2,
  kOpRst = 3,
  kOpShutdown = 4,
  kOpRw = 5,
  kOpCreditUpdate = 6,
  kOpCreditRequest = 7,
};
// Shutdown flags: the sender will receive no more / send no more.
constexpr uint32_t kShutdownRcv = 1;
constexpr uint32_t kShutdownSend = 2;
// Largest payload a guest may put in one packet (Linux's
// VIRTIO_VSOCK_MAX_PKT_BUF_SIZE); anything larger is malformed.
constexpr uint32_t kMaxPayload = 64 * 1024;

struct TxPacket {
  Header header;
  uint64_t payload_offset;  // in the chain's readable bytes
};

// A guest-to-host packet from a tx-queue chain. False when the chain cannot
// hold what the header claims, or the header is not a packet we accept.
bool ParseTxPacket(const GuestMemory& mem, const DescriptorChain& chain, TxPacket* out);

}  // namespace vmstep::vsock
