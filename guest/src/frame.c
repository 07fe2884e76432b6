#include "frame.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "protocol.h"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int write_all_v(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= w;
		}
	}
	return 0;
}

int frame_write(int fd, uint8_t type, const void *payload, size_t len)
{
	if (len > PROTO_MAX_PAYLOAD)
		return -EMSGSIZE;
	uint8_t header[PROTO_HEADER_LEN];
	header[0] = type;
	put_be32(header + 1, (uint32_t)len);
	struct iovec iov[2] = {{header, sizeof header}, {(void *)payload, len}};
	return write_all_v(fd, iov, len ? 2 : 1);
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		got += r;
	}
	return 0;
}

int frame_read(int fd, uint8_t *type, uint8_t **payload, uint32_t *len)
{
	uint8_t header[PROTO_HEADER_LEN];
	int rc = read_all(fd, header, sizeof header);
	if (rc)
		return rc;
	uint32_t n = get_be32(header + 1);
	if (n > PROTO_MAX_PAYLOAD)
		return -EPROTO;
	uint8_t *buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	rc = read_all(fd, buf, n);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = 0;
	*type = header[0];
	*payload = buf;
	*len = n;
	return 0;
}

static void record_reserve(struct record *r, size_t more)
{
	if (r->failed || r->len + more <= r->cap)
		return;
	size_t cap = r->cap ? r->cap : 256;
	while (cap < r->len + more)
		cap *= 2;
	uint8_t *b = realloc(r->buf, cap);
	if (!b) {
		r->failed = 1;
		return;
	}
	r->buf = b;
	r->cap = cap;
}

void record_bytes(struct record *r, uint8_t tag, const void *val, size_t len)
{
	record_reserve(r, 5 + len);
	if (r->failed)
		return;
	r->buf[r->len] = tag;
	put_be32(r->buf + r->len + 1, (uint32_t)len);
	if (len)
		memcpy(r->buf + r->len + 5, val, len);
	r->len += 5 + len;
}

void record_str(struct record *r, uint8_t tag, const char *s)
{
	record_bytes(r, tag, s, strlen(s));
}

void record_u64(struct record *r, uint8_t tag, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = v >> (56 - 8 * i);
	record_bytes(r, tag, b, 8);
}

int record_send(int fd, uint8_t type, struct record *r)
{
	int rc = r->failed ? -ENOMEM : frame_write(fd, type, r->buf, r->len);
	free(r->buf);
	*r = (struct record){0};
	return rc;
}

void fields_begin(struct field_iter *it, const uint8_t *payload, uint32_t len)
{
	it->p = payload;
	it->end = payload + len;
}

int fields_next(struct field_iter *it, struct field *f)
{
	size_t left = it->end - it->p;
	if (left == 0)
		return 0;
	if (left < 5)
		return -1;
	uint32_t n = get_be32(it->p + 1);
	if (n > left - 5)
		return -1;
	f->tag = it->p[0];
	f->len = n;
	f->val = it->p + 5;
	it->p += 5 + n;
	return 1;
}

int field_u64(const struct field *f, uint64_t *out)
{
	if (f->len != 8)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | f->val[i];
	*out = v;
	return 0;
}

char *field_strdup(const struct field *f)
{
	if (memchr(f->val, 0, f->len))
		return NULL;
	char *s = malloc(f->len + 1);
	if (!s)
		return NULL;
	memcpy(s, f->val, f->len);
	s[f->len] = 0;
	return s;
}

int send_hello(int fd)
{
	static const char agent[] = "vmstep-init";
	uint8_t buf[PROTO_MAGIC_LEN + 2 + sizeof agent];
	memcpy(buf, PROTO_MAGIC, PROTO_MAGIC_LEN);
	buf[PROTO_MAGIC_LEN] = PROTO_VERSION >> 8;
	buf[PROTO_MAGIC_LEN + 1] = PROTO_VERSION & 0xff;
	memcpy(buf + PROTO_MAGIC_LEN + 2, agent, sizeof agent - 1);
	return frame_write(fd, MSG_HELLO, buf, sizeof buf - 1);
}

int send_error(int fd, const char *stage, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* The console is the last resort when the host cannot hear us. */
	fprintf(stderr, "vmstep-init: %s: %s\n", stage, msg);
	struct record r = {0};
	record_str(&r, ERROR_STAGE, stage);
	record_str(&r, ERROR_MESSAGE, msg);
	return record_send(fd, MSG_ERROR, &r);
}

/* Waits for the host's HELLO and checks its version. */
int expect_hello(int sock)
{
	uint8_t type, *payload;
	uint32_t len;
	int rc = frame_read(sock, &type, &payload, &len);
	if (rc < 0) {
		send_error(sock, "hello", "the host did not answer the hello: %s",
			   rc == -EPROTO ? "it sent a frame over 1 MiB (not the vmstep protocol?)" : strerror(-rc));
		return -1;
	}
	int ok = 0;
	if (type == MSG_ERROR) {
		/* The host refused us (for example our version); say so on the console. */
		struct field_iter it;
		struct field f;
		fields_begin(&it, payload, len);
		while (fields_next(&it, &f) == 1)
			if (f.tag == ERROR_MESSAGE)
				fprintf(stderr, "vmstep-init: the host refused the session: %.*s\n", (int)f.len, f.val);
	} else if (type != MSG_HELLO || len < PROTO_MAGIC_LEN + 2 || memcmp(payload, PROTO_MAGIC, PROTO_MAGIC_LEN)) {
		send_error(sock, "hello", "the host's first message is not a vmstep hello (type 0x%02x): it does not speak the vmstep protocol", type);
	} else {
		unsigned version = (unsigned)payload[PROTO_MAGIC_LEN] << 8 | payload[PROTO_MAGIC_LEN + 1];
		if (version != PROTO_VERSION)
			send_error(sock, "hello",
				   "protocol version mismatch: the host speaks version %u, this guest init speaks version %u; "
				   "use the vmstep-init built with this vmstep (dist/vmstep-init, or rebuild the rootfs cache)",
				   version, PROTO_VERSION);
		else
			ok = 1;
	}
	free(payload);
	return ok ? 0 : -1;
}
