/*
 * Protocol framing: whole frames written with blocking writes (so a host that
 * reads slowly stalls us instead of making us buffer), frames read with a
 * bound on their size, and records (tag-length-value fields) built and parsed
 * in one place.
 */
#ifndef VMSTEP_FRAME_H
#define VMSTEP_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Writes one frame; returns 0 or -errno. */
int frame_write(int fd, uint8_t type, const void *payload, size_t len);

/*
 * Reads one frame into a malloc'd payload (NUL-terminated for convenience).
 * Returns 0, -EPROTO when the length exceeds PROTO_MAX_PAYLOAD, -ECONNRESET
 * on end of stream, or another -errno.
 */
int frame_read(int fd, uint8_t *type, uint8_t **payload, uint32_t *len);

/* A record under construction. On allocation failure `failed` is set. */
struct record {
	uint8_t *buf;
	size_t len, cap;
	int failed;
};

void record_bytes(struct record *r, uint8_t tag, const void *val, size_t len);
void record_str(struct record *r, uint8_t tag, const char *s);
void record_u64(struct record *r, uint8_t tag, uint64_t v);
/* Sends the record as one frame and frees it; returns 0 or -errno. */
int record_send(int fd, uint8_t type, struct record *r);

/* Walking a received record. */
struct field {
	uint8_t tag;
	const uint8_t *val;
	uint32_t len;
};
struct field_iter {
	const uint8_t *p, *end;
};
void fields_begin(struct field_iter *it, const uint8_t *payload, uint32_t len);
/* 1: got a field; 0: end; -1: a field runs past the end of the payload. */
int fields_next(struct field_iter *it, struct field *f);
/* 0 or -1 when the value is not exactly 8 bytes. */
int field_u64(const struct field *f, uint64_t *out);
/* A malloc'd NUL-terminated copy, or NULL when it contains NUL or on OOM. */
char *field_strdup(const struct field *f);

/* Convenience senders. */
int send_hello(int fd);
int send_error(int fd, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Waits for the host's HELLO and checks its version; on a mismatch tells the host why. Returns 0 or -1. */
int expect_hello(int fd);

#endif
