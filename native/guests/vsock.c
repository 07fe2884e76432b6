/* virtio-vsock from the guest's side. Phase 1: the guest connects to host
   port 1234, streams vmstep.vsock_bytes bytes, half-closes, and receives
   the host's reply stream until the host half-closes; then the host resets.
   Phase 2: the guest accepts host-initiated connections on port 6000
   (refusing any other port with a reset), answers "ping" with "pong", and
   waits for the host to close. The guest advertises a small receive buffer
   so that the host must follow credit updates. */
#include "tests.h"
#include "virtio.h"

struct hdr {
  u64 src_cid, dst_cid;
  u32 src_port, dst_port, len;
  u16 type, op;
  u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };
#define RX_BUFS 8
#define RX_PAYLOAD 1024
#define GUEST_BUF_ALLOC 8192

static struct vq qs[3] __attribute__((aligned(4096)));
static u8 rxbuf[RX_BUFS][sizeof(struct hdr) + RX_PAYLOAD];
static u8 txbuf[sizeof(struct hdr) + RX_PAYLOAD];
static u8 evbuf[8];
static u64 guest_cid;

/* One connection's counters. */
struct conn {
  u32 local, peer;
  u32 fwd_cnt, last_fwd_sent, tx_cnt, peer_buf_alloc, peer_fwd_cnt;
};

static void post_rx(int i) {
  u64 a = (u64)rxbuf[i];
  u32 l = sizeof rxbuf[i];
  int w = 1;
  vq_add(&qs[0], &a, &l, &w, 1);
}

static void send(struct conn *c, u16 op, u32 flags, const u8 *payload, u32 len) {
  struct hdr h = {guest_cid, 2, c->local, c->peer, len, 1, op, flags, GUEST_BUF_ALLOC, c->fwd_cnt};
  memcpy(txbuf, &h, sizeof h);
  if (len) memcpy(txbuf + sizeof h, payload, len);
  u64 a = (u64)txbuf;
  u32 l = (u32)sizeof h + len;
  int w = 0;
  vq_add(&qs[1], &a, &l, &w, 1);
  vq_kick(&qs[1]);
  u32 id, used;
  vq_wait(&qs[1], &id, &used, 5000000);
  c->last_fwd_sent = c->fwd_cnt;
  if (op == OP_RW) c->tx_cnt += len;
}

/* Next packet from the host; its payload is copied to `payload`. */
static int recv(struct hdr *h, u8 *payload) {
  u32 id, len;
  if (!vq_wait(&qs[0], &id, &len, 20000000)) return 0;
  int i = -1;
  for (int k = 0; k < RX_BUFS; k++) if ((u64)rxbuf[k] == qs[0].desc[id].addr) i = k;
  if (i < 0 || len < sizeof *h) return 0;
  memcpy(h, rxbuf[i], sizeof *h);
  if (h->len > RX_PAYLOAD || len < sizeof *h + h->len) {
    print("VSOCK BAD PACKET len=%d used=%d\n", (u64)h->len, (u64)len);
    return 0;
  }
  if (h->len) memcpy(payload, rxbuf[i] + sizeof *h, h->len);
  post_rx(i);
  vq_kick(&qs[0]);
  return 1;
}

static void consumed(struct conn *c, u32 n) {
  c->fwd_cnt += n;
  if (c->fwd_cnt - c->last_fwd_sent >= GUEST_BUF_ALLOC / 2) send(c, OP_CREDIT_UPDATE, 0, 0, 0);
}

static u8 payload[RX_PAYLOAD];
/* A connection request that arrived while phase 1 was still closing. */
static struct hdr early_request;
static int have_early_request;

static void phase_guest_connects(u32 bytes) {
  struct conn c = {5000, 1234, 0, 0, 0, 0, 0};
  struct hdr h;
  send(&c, OP_REQUEST, 0, 0, 0);
  if (!recv(&h, payload) || h.op != OP_RESPONSE || h.src_port != 1234 || h.dst_port != 5000) {
    print("VSOCK CONNECT FAILED op=%d\n", (u64)h.op);
    return;
  }
  c.peer_buf_alloc = h.buf_alloc;
  c.peer_fwd_cnt = h.fwd_cnt;
  print("VSOCK CONNECTED port=1234 host_buf_alloc=%d\n", (u64)h.buf_alloc);
  u32 sent = 0, waits = 0;
  while (sent < bytes) {
    u32 credit = c.peer_buf_alloc - (c.tx_cnt - c.peer_fwd_cnt);
    if (credit == 0) {
      /* Out of credit: wait for the host's update. */
      waits++;
      if (!recv(&h, payload)) { print("VSOCK NO CREDIT UPDATE\n"); return; }
      if (h.op == OP_CREDIT_UPDATE || h.op == OP_RW) { c.peer_buf_alloc = h.buf_alloc; c.peer_fwd_cnt = h.fwd_cnt; }
      continue;
    }
    u32 n = bytes - sent;
    if (n > RX_PAYLOAD) n = RX_PAYLOAD;
    if (n > credit) n = credit;
    for (u32 i = 0; i < n; i++) payload[i] = (u8)((sent + i) * 31 + 7);
    send(&c, OP_RW, 0, payload, n);
    sent += n;
  }
  send(&c, OP_SHUTDOWN, 2, 0, 0); /* no more data from us */
  print("VSOCK SENT %d credit_waits=%d\n", (u64)sent, (u64)waits);
  u32 got = 0, bad = 0;
  for (;;) {
    if (!recv(&h, payload)) { print("VSOCK RECV TIMEOUT after %d\n", (u64)got); return; }
    if (h.op == OP_RW) {
      for (u32 i = 0; i < h.len; i++) bad += payload[i] != (u8)((got + i) * 17 + 3);
      got += h.len;
      consumed(&c, h.len);
    } else if (h.op == OP_SHUTDOWN) {
      print("VSOCK HOST SHUTDOWN flags=%d\n", (u64)h.flags);
    } else if (h.op == OP_REQUEST) {
      early_request = h;
      have_early_request = 1;
    } else if (h.op == OP_RST) {
      break;
    }
  }
  print("VSOCK RECEIVED %d bad=%d\n", (u64)got, (u64)bad);
  print("VSOCK PHASE1 DONE\n");
}

static void phase_host_connects(void) {
  struct hdr h;
  struct conn c = {6000, 0, 0, 0, 0, 0, 0};
  for (;;) {
    if (have_early_request) {
      h = early_request;
      have_early_request = 0;
    } else if (!recv(&h, payload)) {
      print("VSOCK NO HOST CONNECTION\n");
      return;
    }
    if (h.op != OP_REQUEST) continue;
    if (h.dst_port != 6000) {
      struct conn other = {h.dst_port, h.src_port, 0, 0, 0, 0, 0};
      send(&other, OP_RST, 0, 0, 0);
      print("VSOCK REFUSED port=%d\n", (u64)h.dst_port);
      continue;
    }
    c.peer = h.src_port;
    send(&c, OP_RESPONSE, 0, 0, 0);
    print("VSOCK ACCEPTED host_port=%d\n", (u64)h.src_port);
    break;
  }
  for (;;) {
    if (!recv(&h, payload)) { print("VSOCK HOST CONN TIMEOUT\n"); return; }
    if (h.op == OP_RW) {
      consumed(&c, h.len);
      if (h.len >= 4 && memcmp(payload, "ping", 4) == 0) send(&c, OP_RW, 0, (const u8 *)"pong\n", 5);
    } else if (h.op == OP_SHUTDOWN) {
      send(&c, OP_SHUTDOWN, 3, 0, 0);
    } else if (h.op == OP_RST) {
      print("VSOCK HOST CONN CLOSED\n");
      return;
    }
  }
}

void test_vsock(void) {
  struct vdev d;
  int r = virtio_init(&d, 0, 19, 0, qs, 3);
  if (r) { print("VSOCK INIT FAILED %d\n", (u64)-r); return; }
  guest_cid = virtio_config32(&d, 0) | ((u64)virtio_config32(&d, 4) << 32);
  print("VSOCK GUEST_CID %d\n", guest_cid);
  for (int i = 0; i < RX_BUFS; i++) post_rx(i);
  {
    u64 a = (u64)evbuf; u32 l = sizeof evbuf; int w = 1;
    vq_add(&qs[2], &a, &l, &w, 1);
  }
  vq_kick(&qs[0]);
  char buf[24];
  u32 bytes = cmdline_get("vmstep.vsock_bytes", buf, sizeof buf) ? (u32)parse_u64(buf) : 65536;
  phase_guest_connects(bytes);
  phase_host_connects();
}

/* Back-pressure: the guest sends packets that each earn an RST (data for a
   connection that does not exist) while it has posted no receive buffers.
   The device must stop taking its packets once replies pile up, rather than
   drop replies; once the guest posts buffers, every reply arrives. */
void test_vsockflood(void) {
  struct vdev d;
  int r = virtio_init(&d, 0, 19, 0, qs, 3);
  if (r) { print("FLOOD INIT FAILED %d\n", (u64)-r); return; }
  guest_cid = virtio_config32(&d, 0) | ((u64)virtio_config32(&d, 4) << 32);
  const u32 total = 1500;
  struct hdr h = {guest_cid, 2, 7000, 9999, 0, 1, OP_RW, 0, GUEST_BUF_ALLOC, 0};
  memcpy(txbuf, &h, sizeof h);
  u64 a = (u64)txbuf;
  u32 l = sizeof h, id, len;
  int w = 0;
  u32 added = 0, taken = 0;
  /* Phase 1: no receive buffers. Keep the transmit queue full until the
     device stops taking packets. */
  for (u64 idle = 0; added < total && idle < 100000;) {
    if (added - taken < VQ_SIZE) {
      vq_add(&qs[1], &a, &l, &w, 1);
      vq_kick(&qs[1]);
      added++;
    } else if (vq_poll(&qs[1], &id, &len)) {
      taken++;
      idle = 0;
    } else {
      idle++;
    }
  }
  while (vq_poll(&qs[1], &id, &len)) taken++;
  print("FLOOD TAKEN_WITHOUT_RX %d\n", (u64)taken);
  /* Phase 2: receive buffers; count the resets while sending the rest. */
  for (int i = 0; i < RX_BUFS; i++) post_rx(i);
  vq_kick(&qs[0]);
  u32 resets = 0, other = 0;
  for (u64 idle = 0; resets + other < total && idle < 1000000;) {
    int progress = 0;
    if (added < total && added - taken < VQ_SIZE) {
      vq_add(&qs[1], &a, &l, &w, 1);
      vq_kick(&qs[1]);
      added++;
      progress = 1;
    }
    if (vq_poll(&qs[1], &id, &len)) { taken++; progress = 1; }
    if (vq_poll(&qs[0], &id, &len)) {
      int k = -1;
      for (int j = 0; j < RX_BUFS; j++) if ((u64)rxbuf[j] == qs[0].desc[id].addr) k = j;
      struct hdr got;
      if (k >= 0 && len >= sizeof got) {
        memcpy(&got, rxbuf[k], sizeof got);
        if (got.op == OP_RST && got.dst_port == 7000 && got.src_port == 9999) resets++;
        else other++;
        post_rx(k);
        vq_kick(&qs[0]);
      }
      progress = 1;
    }
    idle = progress ? 0 : idle + 1;
  }
  print("FLOOD SENT %d RESETS %d OTHER %d\n", (u64)added, (u64)resets, (u64)other);
}
