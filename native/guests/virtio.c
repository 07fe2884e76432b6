#include "virtio.h"

#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_AVAIL_LO 0x090
#define R_AVAIL_HI 0x094
#define R_USED_LO 0x0a0
#define R_USED_HI 0x0a4
#define R_CONFIG 0x100

int virtio_init(struct vdev *d, int n, u32 device_id, u64 want, struct vq *qs, int nq) {
  if (!virtio_mmio_entry(n, &d->base, &d->irq)) return -1;
  u64 b = d->base;
  if (mmio_read32(b + R_MAGIC) != 0x74726976 || mmio_read32(b + R_VERSION) != 2) return -2;
  if (mmio_read32(b + R_DEVICE_ID) != device_id) return -3;
  mmio_write32(b + R_STATUS, 0);
  mmio_write32(b + R_STATUS, 1 | 2);
  mmio_write32(b + R_DEV_FEATURES_SEL, 0);
  u64 f = mmio_read32(b + R_DEV_FEATURES);
  mmio_write32(b + R_DEV_FEATURES_SEL, 1);
  f |= (u64)mmio_read32(b + R_DEV_FEATURES) << 32;
  d->features = f;
  u64 use = (f & want) | (1ull << 32);
  mmio_write32(b + R_DRV_FEATURES_SEL, 0);
  mmio_write32(b + R_DRV_FEATURES, (u32)use);
  mmio_write32(b + R_DRV_FEATURES_SEL, 1);
  mmio_write32(b + R_DRV_FEATURES, (u32)(use >> 32));
  mmio_write32(b + R_STATUS, 1 | 2 | 8);
  if (!(mmio_read32(b + R_STATUS) & 8)) return -4;
  for (int i = 0; i < nq; i++) {
    struct vq *q = &qs[i];
    memset(q, 0, sizeof *q);
    q->base = b;
    q->index = (u32)i;
    for (int k = 0; k < VQ_SIZE; k++) q->desc[k].next = (u16)(k + 1);
    mmio_write32(b + R_QUEUE_SEL, (u32)i);
    if (mmio_read32(b + R_QUEUE_NUM_MAX) < VQ_SIZE) return -5;
    mmio_write32(b + R_QUEUE_NUM, VQ_SIZE);
    mmio_write32(b + R_DESC_LO, (u32)(u64)q->desc);
    mmio_write32(b + R_DESC_HI, 0);
    mmio_write32(b + R_AVAIL_LO, (u32)(u64)&q->avail);
    mmio_write32(b + R_AVAIL_HI, 0);
    mmio_write32(b + R_USED_LO, (u32)(u64)&q->used);
    mmio_write32(b + R_USED_HI, 0);
    mmio_write32(b + R_QUEUE_READY, 1);
  }
  mmio_write32(b + R_STATUS, 1 | 2 | 8 | 4);
  return 0;
}

u32 virtio_config32(struct vdev *d, u32 off) { return mmio_read32(d->base + R_CONFIG + off); }

int vq_add(struct vq *q, const u64 *addr, const u32 *len, const int *writable, int n) {
  int head = q->free_head, i = head, last = head;
  for (int k = 0; k < n; k++) {
    last = i;
    q->desc[i].addr = addr[k];
    q->desc[i].len = len[k];
    q->desc[i].flags = (u16)((writable[k] ? 2 : 0) | (k + 1 < n ? 1 : 0));
    i = q->desc[i].next;
  }
  q->free_head = q->desc[last].next;
  q->avail.ring[q->avail.idx % VQ_SIZE] = (u16)head;
  barrier();
  q->avail.idx++;
  barrier();
  return head;
}

void vq_kick(struct vq *q) { mmio_write32(q->base + R_QUEUE_NOTIFY, q->index); }

int vq_poll(struct vq *q, u32 *id, u32 *len) {
  barrier();
  if (*(volatile u16 *)&q->used.idx == q->last_used) return 0;
  struct vq_used_elem e = q->used.ring[q->last_used % VQ_SIZE];
  q->last_used++;
  /* Return the chain to the free list. */
  u16 i = (u16)e.id;
  while (q->desc[i].flags & 1) i = q->desc[i].next;
  q->desc[i].next = q->free_head;
  q->free_head = (u16)e.id;
  *id = e.id;
  *len = e.len;
  return 1;
}

int vq_wait(struct vq *q, u32 *id, u32 *len, u64 spins) {
  for (u64 s = 0; s < spins; s++) {
    if (vq_poll(q, id, len)) return 1;
    cpu_relax();
  }
  return 0;
}

void virtio_ack_interrupt(struct vdev *d) {
  u32 st = mmio_read32(d->base + R_INT_STATUS);
  mmio_write32(d->base + R_INT_ACK, st);
}
