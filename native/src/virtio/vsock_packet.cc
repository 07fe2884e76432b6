#include "virtio/vsock_packet.h"

namespace vmstep::vsock {

bool ParseTxPacket(const GuestMemory& mem, const DescriptorChain& chain, TxPacket* out) {
  if (chain.readable_bytes < sizeof(Header)) return false;
  if (chain.Read(mem, 0, &out->header, sizeof(Header)) != sizeof(Header)) return false;
  const Header& h = out->header;
  if (h.len > kMaxPayload || h.len > chain.readable_bytes - sizeof(Header)) return false;
  // Only RW packets carry data.
  if (h.len != 0 && h.op != kOpRw) return false;
  out->payload_offset = sizeof(Header);
  return true;
}

}  // namespace vmstep::vsock
