/* A minimal virtio-mmio (version 2) driver for the test guests: split
   queues of 16 entries, polled or interrupt-driven. */
#pragma once
#include "lib.h"

#define VQ_SIZE 16
struct vq_desc { u64 addr; u32 len; u16 flags, next; };
struct vq_avail { u16 flags, idx, ring[VQ_SIZE], used_event; };
struct vq_used_elem { u32 id, len; };
struct vq_used { u16 flags, idx; struct vq_used_elem ring[VQ_SIZE]; u16 avail_event; };

struct vq {
  struct vq_desc desc[VQ_SIZE] __attribute__((aligned(16)));
  struct vq_avail avail __attribute__((aligned(4)));
  struct vq_used used __attribute__((aligned(4)));
  u16 last_used;
  u16 free_head;
  u64 base;
  u32 index;
};

struct vdev { u64 base; u32 irq; u64 features; };

/* Finds the n-th device on the command line, negotiates VERSION_1 plus
   `want` of its features, sets up nq queues. 0 on success. */
int virtio_init(struct vdev *d, int n, u32 device_id, u64 want, struct vq *qs, int nq);
u32 virtio_config32(struct vdev *d, u32 off);
/* Adds a chain of (addr, len, writable) buffers; returns the head. */
int vq_add(struct vq *q, const u64 *addr, const u32 *len, const int *writable, int n);
void vq_kick(struct vq *q);
/* Next used element, or 0 if none yet. */
int vq_poll(struct vq *q, u32 *id, u32 *len);
/* Polls until a used element arrives (or `spins` run out). */
int vq_wait(struct vq *q, u32 *id, u32 *len, u64 spins);
void virtio_ack_interrupt(struct vdev *d);
