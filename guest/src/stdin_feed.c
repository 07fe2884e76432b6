#include "stdin_feed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "protocol.h"

/* Acknowledge in batches: fewer frames, while the host always has most of its window open. */
#define ACK_BATCH (PROTO_STDIN_WINDOW / 4)

int stdin_feed_init(struct stdin_feed *f, int fd)
{
	*f = (struct stdin_feed){.fd = fd};
	f->buf = malloc(PROTO_STDIN_WINDOW);
	if (!f->buf)
		return -1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

static int send_ack(struct stdin_feed *f, int sock, bool all)
{
	if (f->done || f->unacked == 0 || (!all && f->unacked < ACK_BATCH))
		return 0;
	struct record r = {0};
	record_u64(&r, STDIN_ACK_BYTES, f->unacked);
	f->unacked = 0;
	return record_send(sock, MSG_STDIN_ACK, &r) < 0 ? -1 : 0;
}

/* The reader is gone (or never will read again): what is held and what comes is dropped, as acknowledged. */
static void close_pipe(struct stdin_feed *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->unacked += f->len;
	f->head = f->len = 0;
}

int stdin_feed_push(struct stdin_feed *f, int sock, const uint8_t *data, size_t len)
{
	if (f->done)
		return 0;
	if (f->fd < 0) {
		f->unacked += len;
		return send_ack(f, sock, true);
	}
	if (len > PROTO_STDIN_WINDOW - f->len)
		return -1;
	size_t tail = (f->head + f->len) % PROTO_STDIN_WINDOW;
	size_t first = len < PROTO_STDIN_WINDOW - tail ? len : PROTO_STDIN_WINDOW - tail;
	memcpy(f->buf + tail, data, first);
	memcpy(f->buf, data + first, len - first);
	f->len += len;
	/* Write at once: a pipe with room should not wait for the next poll round. */
	return stdin_feed_write(f, sock);
}

void stdin_feed_end(struct stdin_feed *f, int sock)
{
	f->end = true;
	if (f->fd >= 0 && f->len == 0) {
		close(f->fd);
		f->fd = -1;
	}
	(void)sock;
}

bool stdin_feed_wants_write(const struct stdin_feed *f)
{
	return !f->done && f->fd >= 0 && f->len > 0;
}

int stdin_feed_write(struct stdin_feed *f, int sock)
{
	while (f->fd >= 0 && f->len > 0) {
		size_t chunk = f->len < PROTO_STDIN_WINDOW - f->head ? f->len : PROTO_STDIN_WINDOW - f->head;
		ssize_t n = write(f->fd, f->buf + f->head, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			close_pipe(f); /* EPIPE: the command closed its stdin */
			break;
		}
		f->head = (f->head + (size_t)n) % PROTO_STDIN_WINDOW;
		f->len -= (size_t)n;
		f->unacked += (uint64_t)n;
	}
	if (f->len == 0)
		f->head = 0;
	if (f->end && f->fd >= 0 && f->len == 0) {
		close(f->fd);
		f->fd = -1;
	}
	return send_ack(f, sock, f->len == 0);
}

void stdin_feed_finish(struct stdin_feed *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->done = true;
	f->head = f->len = 0;
	free(f->buf);
	f->buf = NULL;
}
