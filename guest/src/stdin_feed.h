/*
 * The guest half of stdin streaming (docs/protocol.md, "Stdin"): STDIN
 * frames from the host go into a buffer of PROTO_STDIN_WINDOW bytes and from
 * there into the command's stdin pipe, written without blocking so that a
 * command that never reads its stdin cannot stall guest init. Bytes leave
 * the buffer (written, or discarded once the command closed its stdin) and
 * are acknowledged with STDIN_ACK; the host never has more than the window
 * unacknowledged, so the buffer never overflows. Independent of how the
 * command is run, so that any process guest init feeds can use it.
 */
#ifndef VMSTEP_STDIN_FEED_H
#define VMSTEP_STDIN_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stdin_feed {
	int fd;            /* write end of the command's stdin pipe (non-blocking); -1 once closed */
	uint8_t *buf;      /* ring of PROTO_STDIN_WINDOW bytes */
	size_t head, len;  /* oldest unwritten byte, bytes held */
	uint64_t unacked;  /* bytes that left the buffer and are not yet acknowledged */
	bool end;          /* STDIN_END arrived: close the pipe once the buffer is empty */
	bool done;         /* the command ended: discard everything, acknowledge nothing */
};

/* Takes ownership of fd (the pipe's write end). Returns 0, or -1 when out of memory. */
int stdin_feed_init(struct stdin_feed *f, int fd);

/* Queues a STDIN frame's bytes. Returns 0, or -1 when the host overran the window. */
int stdin_feed_push(struct stdin_feed *f, int sock, const uint8_t *data, size_t len);

/* STDIN_END: the command sees end of file once what is buffered is written. */
void stdin_feed_end(struct stdin_feed *f, int sock);

/* Whether poll() should wait for the pipe to take more (POLLOUT on f->fd). */
bool stdin_feed_wants_write(const struct stdin_feed *f);

/* Writes what the pipe takes now and acknowledges it. Returns 0, or -1 when the host is gone. */
int stdin_feed_write(struct stdin_feed *f, int sock);

/* The command ended: close the pipe, drop the buffer, stop acknowledging. */
void stdin_feed_finish(struct stdin_feed *f);

#endif
