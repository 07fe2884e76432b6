// The host side of virtio-vsock, Firecracker's conventions (see the brief):
//  - a guest connection to host port P is connected to the Unix socket
//    "<uds>_P", if something listens there, else reset;
//  - a host process connects to "<uds>", writes "CONNECT <port>\n", and,
//    once the guest accepts, reads "OK <host port>\n" followed by the stream.
// Every method runs with the vsock device's mutex held: the guest's packets
// arrive from the device (tx queue), host socket events from the event loop
// (which takes the mutex), and packets for the guest leave through FillRx.
// Each connection's states and credit live in VsockConnection; the muxer
// routes to it, keeps its socket in the event loop, and queues what it asks
// the guest to hear.
//
// Control packets (RESPONSE, RST, CREDIT_UPDATE, ...) wait in a queue until
// the guest posts receive buffers. Most answer a guest packet, so the queue
// pushes back: past kTxPauseAt the device stops taking guest packets
// (TxPaused) until the guest has drained it, and the guest's transmit ring
// fills instead of our memory. Packets that host events queue are bounded
// by the connection limits; if the queue is at kMaxControlQueue all the
// same, the packet is dropped, counted and logged once on stderr, and its
// connection is closed on the host side (a later guest packet for it gets
// an RST), so that no connection goes on with a lost packet.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "virtio/vsock_connection.h"
#include "virtio/vsock_packet.h"
#include "vmm/event_loop.h"

namespace vmstep {

class VsockMuxer {
 public:
  VsockMuxer(EventLoop* loop, std::mutex* device_mutex, std::string uds_path, uint64_t guest_cid, std::function<void()> kick_rx);
  ~VsockMuxer();

  // Binds and listens on uds_path (before the jail: bind creates a file).
  void Listen();
  void SetDriverReady(bool ready);
  // From the jail on, the socket file is the launcher's to remove (the jail
  // forbids unlink); until then a failed set-up removes what it created.
  void LeaveSocketFile() { owns_socket_file_ = false; }
  // Drops every connection (device reset).
  void Reset();

  void OnGuestPacket(const GuestMemory& mem, const DescriptorChain& chain, const vsock::TxPacket& packet);
  // Writes one packet for the guest into an rx chain; returns the used
  // length, or 0 when there is nothing to send (the chain is untouched).
  uint32_t FillRx(const GuestMemory& mem, const DescriptorChain& chain);
  bool HasRx() const { return !control_.empty() || !ready_.empty(); }
  // Too many control packets wait for the guest: take no guest packets now.
  bool TxPaused() const { return control_.size() >= kTxPauseAt; }

  size_t connection_count() const { return conns_.size(); }
  uint64_t dropped_control_packets() const { return dropped_control_; }
  static constexpr size_t kMaxConnections = 64;
  static constexpr size_t kMaxControlQueue = 1024;
  static constexpr size_t kTxPauseAt = kMaxControlQueue / 2;

 private:
  using Key = uint64_t;
  static Key MakeKey(uint32_t local, uint32_t peer) { return (uint64_t(local) << 32) | peer; }

  // A connection and what the muxer keeps about it.
  struct Slot {
    std::unique_ptr<VsockConnection> conn;
    bool registered = false;     // its socket is in the event loop
    uint32_t interest = 0;       // epoll events asked for
    bool in_ready_list = false;  // in ready_
  };

  vsock::Header HostHeader(uint32_t local, uint32_t peer, uint16_t op) const;
  // False when the queue was full and the packet dropped.
  bool QueueControl(const vsock::Header& h);
  void QueueControl(Slot& s, uint16_t op, uint32_t flags = 0);
  void QueueReset(uint32_t local, uint32_t peer);
  void Close(Key key, bool send_rst);
  // After anything happened to a connection: do what it asks (close it, tell
  // the guest of freed credit, offer its data, change what the loop waits for).
  void Settle(Key key);

  void OnGuestRequest(const vsock::Header& h);
  Key Add(std::unique_ptr<VsockConnection> conn);
  void UpdateInterest(Slot& s);
  void OnHostEvent(Key key, uint32_t events);
  // One data (or EOF) packet from a ready connection; 0 if none.
  uint32_t FillData(const GuestMemory& mem, const DescriptorChain& chain);

  void OnListenerReady();
  void OnConnectLine(int fd);

  EventLoop* loop_;
  std::mutex* mu_;
  std::string uds_path_;
  uint64_t guest_cid_;
  std::function<void()> kick_rx_;
  UniqueFd listener_;
  bool owns_socket_file_ = false;
  bool driver_ready_ = false;
  uint32_t next_local_port_ = 1u << 30;  // host-initiated ports, out of the way of well-known ones

  std::map<Key, Slot> conns_;
  // Host sockets that have not finished their "CONNECT <port>\n" line yet.
  std::map<int, std::pair<UniqueFd, std::string>> handshakes_;
  std::deque<vsock::Header> control_;
  std::deque<Key> ready_;
  uint64_t dropped_control_ = 0;
};

}  // namespace vmstep
