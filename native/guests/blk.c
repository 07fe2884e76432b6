/* virtio-blk from the guest's side: capacity, id, read, write + flush,
   out-of-range requests, a read-only disk, malformed chains, and
   (test_irq) completion interrupts plus the in-kernel PIT. */
#include "tests.h"
#include "virtio.h"

static struct vq q0 __attribute__((aligned(4096)));
static struct vq q1 __attribute__((aligned(4096)));
static struct { u32 type, reserved; u64 sector; } hdr;
static u8 data[8192] __attribute__((aligned(512)));
static volatile u8 status;

static int request(struct vq *q, u32 type, u64 sector, u32 len, int device_writes) {
  hdr.type = type;
  hdr.reserved = 0;
  hdr.sector = sector;
  status = 0xee;
  u64 addr[3] = {(u64)&hdr, (u64)data, (u64)&status};
  u32 lens[3] = {16, len, 1};
  int wr[3] = {0, device_writes, 1};
  if (len) {
    vq_add(q, addr, lens, wr, 3);
  } else {
    u64 a2[2] = {addr[0], addr[2]};
    u32 l2[2] = {16, 1};
    int w2[2] = {0, 1};
    vq_add(q, a2, l2, w2, 2);
  }
  vq_kick(q);
  u32 id, used;
  if (!vq_wait(q, &id, &used, 5000000)) return -1;
  return status;
}

/* Waits for a used element without walking its chain (which may be the
   malformed one we built). */
static int raw_wait(struct vq *q, u32 *id, u32 *len) {
  for (u64 s = 0; s < 5000000; s++) {
    barrier();
    if (*(volatile u16 *)&q->used.idx != q->last_used) {
      struct vq_used_elem e = q->used.ring[q->last_used % VQ_SIZE];
      q->last_used++;
      *id = e.id;
      *len = e.len;
      return 1;
    }
    cpu_relax();
  }
  return 0;
}

static void put_str(const char *label, const u8 *p, int n) {
  char s[64];
  int i;
  for (i = 0; i < n && i < 63 && p[i] >= 0x20 && p[i] < 0x7f; i++) s[i] = (char)p[i];
  s[i] = 0;
  print("%s %s\n", label, s);
}

void test_blk(void) {
  struct vdev d;
  int r = virtio_init(&d, 0, 2, (1ull << 5) | (1ull << 9), &q0, 1);
  if (r) { print("BLK0 INIT FAILED %d\n", (u64)-r); return; }
  u64 cap = virtio_config32(&d, 0) | ((u64)virtio_config32(&d, 4) << 32);
  print("BLK0 CAPACITY %d\n", cap);
  memset(data, 0, sizeof data);
  print("BLK0 GET_ID STATUS %d\n", (u64)request(&q0, 8, 0, 20, 1));
  put_str("BLK0 ID", data, 20);
  print("BLK0 READ STATUS %d\n", (u64)request(&q0, 0, 0, 512, 1));
  put_str("BLK0 SECTOR0", data, 32);
  for (int i = 0; i < 1024; i++) data[i] = (u8)(i * 7 + 3);
  print("BLK0 WRITE STATUS %d\n", (u64)request(&q0, 1, 2, 1024, 0));
  print("BLK0 FLUSH STATUS %d\n", (u64)request(&q0, 4, 0, 0, 0));
  memset(data, 0, sizeof data);
  request(&q0, 0, 2, 1024, 1);
  int ok = 1;
  for (int i = 0; i < 1024; i++) ok &= data[i] == (u8)(i * 7 + 3);
  print("BLK0 READBACK %s\n", ok ? "MATCH" : "MISMATCH");
  print("BLK0 OUT_OF_RANGE STATUS %d\n", (u64)request(&q0, 0, cap, 512, 1));
  print("BLK0 UNSUPPORTED STATUS %d\n", (u64)request(&q0, 99, 0, 512, 1));

  /* Malformed chains: the device must survive them and keep working. */
  u32 id, used;
  q0.desc[q0.free_head].addr = 0xffff00000000ull; /* outside guest RAM */
  q0.desc[q0.free_head].len = 4096;
  q0.desc[q0.free_head].flags = 2;
  u16 head = q0.free_head;
  q0.free_head = q0.desc[head].next;
  q0.desc[head].next = 0;
  q0.avail.ring[q0.avail.idx % VQ_SIZE] = head;
  barrier();
  q0.avail.idx++;
  vq_kick(&q0);
  used = 99;
  int got = raw_wait(&q0, &id, &used);
  q0.desc[head].next = q0.free_head;
  q0.free_head = head;
  print("BLK0 BAD_ADDRESS USED %d LEN %d\n", (u64)got, (u64)used);
  head = q0.free_head;
  u16 next = q0.desc[head].next;
  q0.desc[head].addr = (u64)&hdr;
  q0.desc[head].len = 16;
  q0.desc[head].flags = 1;           /* NEXT ... */
  q0.desc[head].next = head;         /* ... pointing at itself: a loop */
  q0.avail.ring[q0.avail.idx % VQ_SIZE] = head;
  barrier();
  q0.avail.idx++;
  vq_kick(&q0);
  used = 99;
  got = raw_wait(&q0, &id, &used);
  q0.desc[head].flags = 0;
  q0.desc[head].next = next;
  q0.free_head = head;
  print("BLK0 LOOP USED %d LEN %d\n", (u64)got, (u64)used);
  print("BLK0 AFTER_BAD_CHAINS STATUS %d\n", (u64)request(&q0, 0, 0, 512, 1));

  struct vdev d1;
  r = virtio_init(&d1, 1, 2, (1ull << 5) | (1ull << 9), &q1, 1);
  if (r) { print("BLK1 ABSENT %d\n", (u64)-r); return; }
  print("BLK1 READ_ONLY %d\n", (u64)((d1.features >> 5) & 1));
  print("BLK1 WRITE STATUS %d\n", (u64)request(&q1, 1, 0, 512, 0));
  print("BLK1 READ STATUS %d\n", (u64)request(&q1, 0, 0, 512, 1));
  put_str("BLK1 SECTOR0", data, 32);
}

/* A copy-on-write disk (base + overlay, 4 KiB clusters), seen from the
   guest: the host filled the base with base_byte(offset) and made the disk
   one cluster larger than the base. */
static u8 base_byte(u64 off) { return (u8)(off * 13 + 5); }
static u8 new_byte(u64 off) { return (u8)(off * 7 + 3); }

/* Checks data[0..len) against the disk from `disk_off`: bytes inside
   [w0, w1) should hold new_byte, the rest base_byte (zero past `base_end`). */
static int expect_bytes(u64 disk_off, u32 len, u64 w0, u64 w1, u64 base_end) {
  for (u32 i = 0; i < len; i++) {
    u64 o = disk_off + i;
    u8 want = (o >= w0 && o < w1) ? new_byte(o) : (o < base_end ? base_byte(o) : 0);
    if (data[i] != want) return 0;
  }
  return 1;
}

static void fill_new(u64 disk_off, u32 len) {
  for (u32 i = 0; i < len; i++) data[i] = new_byte(disk_off + i);
}

void test_blkcow(void) {
  struct vdev d;
  int r = virtio_init(&d, 0, 2, (1ull << 5) | (1ull << 9), &q0, 1);
  if (r) { print("COW INIT FAILED %d\n", (u64)-r); return; }
  u64 cap = virtio_config32(&d, 0) | ((u64)virtio_config32(&d, 4) << 32);
  u64 base_end = (cap << 9) - 4096;
  print("COW READ_ONLY %d\n", (u64)((d.features >> 5) & 1));
  print("COW CAPACITY %d\n", cap);
  /* Clusters 0 and 1, unwritten: the base. */
  int st = request(&q0, 0, 0, 8192, 1);
  print("COW READ_UNWRITTEN STATUS %d %s\n", (u64)st, expect_bytes(0, 8192, 0, 0, base_end) ? "BASE" : "WRONG");
  /* 1 KiB into the middle of cluster 0: the rest of the cluster stays the base's. */
  fill_new(1024, 1024);
  print("COW PARTIAL_WRITE STATUS %d\n", (u64)request(&q0, 1, 2, 1024, 0));
  /* A whole cluster (cluster 2), and the last 512 bytes of cluster 3 across
     from a write that starts inside cluster 3 and ends inside cluster 4. */
  fill_new(8192, 4096);
  print("COW CLUSTER_WRITE STATUS %d\n", (u64)request(&q0, 1, 16, 4096, 0));
  fill_new(12288 + 3584, 1024);
  print("COW SPANNING_WRITE STATUS %d\n", (u64)request(&q0, 1, (12288 + 3584) / 512, 1024, 0));
  print("COW FLUSH STATUS %d\n", (u64)request(&q0, 4, 0, 0, 0));
  /* Read back: clusters 0-1 (written, unwritten), then 2-3, then 4-5. */
  memset(data, 0, sizeof data);
  st = request(&q0, 0, 0, 8192, 1);
  print("COW READBACK_0 STATUS %d %s\n", (u64)st, expect_bytes(0, 8192, 1024, 2048, base_end) ? "MATCH" : "MISMATCH");
  memset(data, 0, sizeof data);
  st = request(&q0, 0, 16, 8192, 1);
  int ok = 1;
  for (u32 i = 0; i < 4096; i++) ok &= data[i] == new_byte(8192 + i);
  for (u32 i = 4096; i < 8192; i++) {
    u64 o = 8192 + i;
    ok &= data[i] == (o >= 12288 + 3584 ? new_byte(o) : base_byte(o));
  }
  print("COW READBACK_2 STATUS %d %s\n", (u64)st, ok ? "MATCH" : "MISMATCH");
  memset(data, 0, sizeof data);
  st = request(&q0, 0, 32, 8192, 1);
  print("COW READBACK_4 STATUS %d %s\n", (u64)st, expect_bytes(16384, 8192, 12288 + 3584, 12288 + 3584 + 1024, base_end) ? "MATCH" : "MISMATCH");
  /* Past the base's end, within the disk: zeros until written. */
  u64 last = cap - 8;
  memset(data, 0xaa, sizeof data);
  st = request(&q0, 0, last, 4096, 1);
  print("COW PAST_BASE STATUS %d %s\n", (u64)st, expect_bytes(last << 9, 4096, 0, 0, base_end) ? "ZEROS" : "NOT_ZEROS");
  fill_new((last + 7) << 9, 512);
  request(&q0, 1, last + 7, 512, 0);
  memset(data, 0, sizeof data);
  request(&q0, 0, last + 7, 512, 1);
  ok = 1;
  for (u32 i = 0; i < 512; i++) ok &= data[i] == new_byte(((last + 7) << 9) + i);
  print("COW PAST_BASE_WRITE %s\n", ok ? "MATCH" : "MISMATCH");
  print("COW OUT_OF_RANGE STATUS %d\n", (u64)request(&q0, 0, cap, 512, 1));
}

void test_irq(void) {
  struct vdev d;
  if (virtio_init(&d, 0, 2, 0, &q0, 1)) { print("IRQ NO DISK\n"); return; }
  idt_init();
  lapic_enable();
  ioapic_route(d.irq, 48, (u8)lapic_id());
  __asm__ volatile("sti");
  hdr.type = 0;
  hdr.sector = 0;
  u64 addr[3] = {(u64)&hdr, (u64)data, (u64)&status};
  u32 lens[3] = {16, 512, 1};
  int wr[3] = {0, 1, 1};
  vq_add(&q0, addr, lens, wr, 3);
  vq_kick(&q0);
  for (u64 i = 0; i < 1000 && irq_count[48] == 0; i++) __asm__ volatile("hlt");
  virtio_ack_interrupt(&d);
  print("IRQ VIRTIO line=%d vector=48 count=%d\n", (u64)d.irq, (u64)irq_count[48]);

  /* The in-kernel PIT, channel 0 at 100 Hz, through I/O APIC pin 0. */
  ioapic_route(0, 49, (u8)lapic_id());
  outb(0x43, 0x34);
  outb(0x40, 11932 & 0xff);
  outb(0x40, 11932 >> 8);
  for (u64 i = 0; i < 1000 && irq_count[49] < 3; i++) __asm__ volatile("hlt");
  print("IRQ PIT ticks=%d\n", (u64)irq_count[49]);
  __asm__ volatile("cli");
}
