// The vsock connection state machine (src/virtio/vsock_connection.h) on its
// own: each case drives one VsockConnection whose host socket is one end of
// a socketpair, playing the guest by calling its packet methods and the host
// through the other end. Deterministic: no threads, no timing. Prints one
// "ok"/"not ok" line per case (TAP-like) and exits 1 if any failed;
// test/kvm/vsock-connection.test.ts runs it.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "virtio/vsock_connection.h"
#include "virtio/vsock_packet.h"

using namespace vmstep;
using State = VsockConnection::State;

namespace {

int failures = 0;
std::string failure;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      failure = std::string(#cond) + " (line " + std::to_string(__LINE__) + ")"; \
      return;                                                            \
    }                                                                    \
  } while (0)

void Case(const char* name, const std::function<void()>& body) {
  failure.clear();
  body();
  if (failure.empty()) {
    printf("ok - %s\n", name);
  } else {
    printf("not ok - %s: %s\n", name, failure.c_str());
    failures++;
  }
}

// A connection plus the host end of its socket.
struct Pair {
  int host = -1;
  VsockConnection conn;
  explicit Pair(State initial, int sndbuf = 0) : conn(Make(initial, sndbuf, &host)) {}
  ~Pair() { close(host); }
  static VsockConnection Make(State initial, int sndbuf, int* host) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) abort();
    if (sndbuf > 0) {
      setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
    }
    *host = sv[1];
    return VsockConnection(UniqueFd(sv[0]), 1024, 5000, initial);
  }
  // What the host end can read now.
  std::string HostReads() {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = read(host, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  // The guest reads up to `room` bytes of host data through the connection.
  VsockConnection::HostRead GuestReads(uint32_t room, std::string* got) {
    std::vector<uint8_t> buf(room);
    uint32_t n = 0;
    auto r = conn.ReadHost({{buf.data(), buf.size()}}, &n);
    if (r == VsockConnection::HostRead::kData) got->append(reinterpret_cast<char*>(buf.data()), n);
    return r;
  }
};

void GuestSends(VsockConnection& c, std::string bytes) { c.OnData({{bytes.data(), bytes.size()}}); }

}  // namespace

int main() {
  Case("host data reaches the guest only as far as the guest's credit allows", [] {
    Pair p(State::kEstablished);
    p.conn.OnPeerCredit(1000, 0);
    CHECK(!p.conn.HasDataForGuest());
    CHECK(write(p.host, std::string(3000, 'h').data(), 3000) == 3000);
    p.conn.OnHostEvent(EPOLLIN);
    CHECK(p.conn.HasDataForGuest());
    CHECK(p.conn.PeerCredit() == 1000);
    std::string got;
    CHECK(p.GuestReads(p.conn.PeerCredit(), &got) == VsockConnection::HostRead::kData);
    CHECK(got.size() == 1000 && p.conn.rx_cnt() == 1000);
    CHECK(p.conn.PeerCredit() == 0);
    // The guest consumed 600 bytes: that much more may go.
    p.conn.OnPeerCredit(1000, 600);
    CHECK(p.conn.PeerCredit() == 600);
    CHECK(p.GuestReads(p.conn.PeerCredit(), &got) == VsockConnection::HostRead::kData);
    CHECK(got.size() == 1600 && got == std::string(1600, 'h'));
    // A guest that claims to have consumed more than it was sent gets nothing.
    p.conn.OnPeerCredit(1000, 5000);
    CHECK(p.conn.PeerCredit() == 0);
  });

  Case("guest data goes to the host socket, and freed credit is announced past a quarter of the buffer", [] {
    Pair p(State::kEstablished);
    GuestSends(p.conn, std::string(1000, 'g'));
    CHECK(p.conn.fwd_cnt() == 1000 && !p.conn.CreditUpdateDue());
    CHECK(p.HostReads() == std::string(1000, 'g'));
    for (int i = 0; i < 64; i++) {
      GuestSends(p.conn, std::string(1024, 'g'));
      p.HostReads();
    }
    CHECK(p.conn.fwd_cnt() == 1000 + 64 * 1024);
    CHECK(p.conn.CreditUpdateDue());
    CHECK(p.conn.StampFwdCnt() == 1000 + 64 * 1024);
    CHECK(!p.conn.CreditUpdateDue());
  });

  Case("a slow host socket holds guest bytes up to the credit given, and a guest past it is reset", [] {
    Pair p(State::kEstablished, 4096);
    const std::string chunk(64 * 1024, 'x');
    int sends = 0;
    while (!p.conn.closed() && sends < 100) {
      GuestSends(p.conn, chunk);
      sends++;
      CHECK(p.conn.PendingBytes() <= VsockConnection::kBufAlloc);
    }
    CHECK(p.conn.closed() && p.conn.reset_guest());
    // Nothing the host took was counted as consumed that it did not take.
    CHECK(sends <= static_cast<int>(VsockConnection::kBufAlloc / chunk.size()) + 2);
  });

  Case("shutting both directions with bytes pending closes only once the host has them, then resets the guest", [] {
    Pair p(State::kEstablished, 4096);
    GuestSends(p.conn, std::string(100 * 1024, 'z'));
    CHECK(p.conn.PendingBytes() > 0);
    p.conn.OnShutdown(vsock::kShutdownRcv | vsock::kShutdownSend);
    CHECK(p.conn.state() == State::kClosing);
    CHECK(p.conn.WantedEvents() == EPOLLOUT);
    std::string host;
    for (int i = 0; i < 1000 && !p.conn.closed(); i++) {
      host += p.HostReads();
      p.conn.OnHostEvent(EPOLLOUT);
    }
    host += p.HostReads();
    CHECK(p.conn.closed() && p.conn.reset_guest());
    CHECK(host == std::string(100 * 1024, 'z'));
  });

  Case("the guest's SHUTDOWN SEND half-closes the host socket; the host's EOF then ends the connection with a reset", [] {
    Pair p(State::kEstablished);
    p.conn.OnPeerCredit(65536, 0);
    p.conn.OnShutdown(vsock::kShutdownSend);
    CHECK(p.conn.state() == State::kEstablished);
    char b;
    CHECK(read(p.host, &b, 1) == 0);  // EOF on the host side
    shutdown(p.host, SHUT_WR);
    p.conn.OnHostEvent(EPOLLIN);
    std::string got;
    CHECK(p.GuestReads(100, &got) == VsockConnection::HostRead::kEof);
    CHECK(p.conn.closed() && p.conn.reset_guest());
  });

  Case("guest data after its own SHUTDOWN SEND resets the connection", [] {
    Pair p(State::kEstablished);
    p.conn.OnShutdown(vsock::kShutdownSend);
    GuestSends(p.conn, "late");
    CHECK(p.conn.closed() && p.conn.reset_guest());
  });

  Case("the host's EOF reaches the guest as an end of stream, and the guest may still send", [] {
    Pair p(State::kEstablished);
    p.conn.OnPeerCredit(65536, 0);
    CHECK(write(p.host, "bye", 3) == 3);
    shutdown(p.host, SHUT_WR);
    p.conn.OnHostEvent(EPOLLIN);
    std::string got;
    CHECK(p.GuestReads(100, &got) == VsockConnection::HostRead::kData && got == "bye");
    CHECK(p.GuestReads(100, &got) == VsockConnection::HostRead::kEof);
    CHECK(!p.conn.closed() && !p.conn.HasDataForGuest());
    CHECK((p.conn.WantedEvents() & EPOLLIN) == 0);
    GuestSends(p.conn, "still");
    CHECK(p.HostReads() == "still");
    // The guest then closes its side: both done, the connection ends.
    p.conn.OnShutdown(vsock::kShutdownSend);
    CHECK(p.conn.closed() && p.conn.reset_guest());
  });

  Case("a guest RST closes without an RST back", [] {
    Pair p(State::kEstablished);
    p.conn.OnReset();
    CHECK(p.conn.closed() && !p.conn.reset_guest());
  });

  Case("a host-initiated connection opens on the guest's RESPONSE and tells the host its port", [] {
    Pair p(State::kConnecting);
    CHECK(p.conn.WantedEvents() == 0);
    p.conn.OnResponse();
    CHECK(p.conn.state() == State::kEstablished);
    CHECK(p.HostReads() == "OK 1024\n");
    CHECK(p.conn.WantedEvents() == EPOLLIN);
  });

  Case("before the guest answers, data is a protocol error and a host hangup a reset", [] {
    Pair a(State::kConnecting);
    GuestSends(a.conn, "too early");
    CHECK(a.conn.closed() && a.conn.reset_guest());
    Pair b(State::kConnecting);
    b.conn.OnHostEvent(EPOLLHUP);
    CHECK(b.conn.closed() && b.conn.reset_guest());
    Pair c(State::kEstablished);
    c.conn.OnResponse();  // a RESPONSE to nothing
    CHECK(c.conn.closed() && c.conn.reset_guest());
  });

  Case("a host socket that hung up with nothing left leaves the event loop", [] {
    Pair p(State::kEstablished);
    p.conn.OnShutdown(vsock::kShutdownRcv);
    CHECK((p.conn.WantedEvents() & EPOLLIN) == 0);
    close(p.host);
    p.host = -1;
    p.conn.OnHostEvent(EPOLLHUP);
    CHECK(p.conn.HostSocketDone() && p.conn.WantedEvents() == 0 && !p.conn.closed());
  });

  printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
