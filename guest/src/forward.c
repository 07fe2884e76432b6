#include "forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "protocol.h"
#include "transport.h"

/* What the relay holds per direction: at most this much in flight inside guest init. */
#define RELAY_IN_BYTES (256u << 10)
#define RELAY_CHUNK (64u << 10)
/* Ports one LINK may name, and connections it carries at once. */
#define LINK_MAX_PORTS 16
#define LINK_MAX_CONNECTIONS 256
#define LINK_MAX_NAME 253

static void put_header(uint8_t *h, uint8_t type, uint32_t len)
{
	h[0] = type;
	h[1] = (uint8_t)(len >> 24);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
}

/* Closes a TCP socket with RST rather than FIN: how a reset or a lost carrier reaches the local peer. */
static void tcp_abort(int tcp)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	setsockopt(tcp, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(tcp);
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static bool would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

int relay(int carrier, int tcp)
{
	static uint8_t in[RELAY_IN_BYTES];                     /* frames from the carrier, not yet delivered */
	static uint8_t out[PROTO_HEADER_LEN + RELAY_CHUNK]; /* one frame for the carrier */
	size_t in_off = 0, in_len = 0, out_off = 0, out_len = 0;
	uint32_t payload_left = 0;
	bool got_fin = false, tcp_eof = false, fin_sent = false, reset_queued = false, reset_pending = false;
	uint8_t out_type = 0;
	set_nonblocking(carrier);
	set_nonblocking(tcp);

	for (;;) {
		if (got_fin && fin_sent && payload_left == 0 && in_off == in_len) {
			close(tcp);
			return 0;
		}
		/* A reset from the TCP side waits until the frame in flight is out, then goes as RESET. */
		if (reset_pending && out_off == out_len) {
			put_header(out, MSG_STREAM_RESET, 0);
			out_off = 0;
			out_len = PROTO_HEADER_LEN;
			out_type = MSG_STREAM_RESET;
			reset_pending = false;
			reset_queued = true;
		}
		/* What was delivered makes room for more from the carrier. */
		if (in_off > 0) {
			memmove(in, in + in_off, in_len - in_off);
			in_len -= in_off;
			in_off = 0;
		}
		bool deliver = payload_left > 0 && in_off < in_len;
		struct pollfd p[2] = {
			{.fd = carrier, .events = (in_len < sizeof in ? POLLIN : 0) | (out_off < out_len ? POLLOUT : 0)},
			{.fd = tcp, .events = (!tcp_eof && !reset_queued && !reset_pending && out_off == out_len ? POLLIN : 0) | (deliver ? POLLOUT : 0)},
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			tcp_abort(tcp);
			return 1;
		}

		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (in_len < sizeof in) {
				ssize_t n = read(carrier, in + in_len, sizeof in - in_len);
				if (n == 0 || (n < 0 && !would_block())) {
					/* The carrier ended without a RESET: if not both ways done, the other side vanished. */
					tcp_abort(tcp);
					return 1;
				}
				if (n > 0)
					in_len += (size_t)n;
			}
		}
		/* Deliver what arrived: DATA payload to the TCP socket, FIN and RESET acted on. */
		for (;;) {
			if (payload_left > 0) {
				size_t avail = in_len - in_off;
				if (avail > payload_left)
					avail = payload_left;
				if (avail == 0)
					break;
				ssize_t w = write(tcp, in + in_off, avail);
				if (w < 0) {
					if (would_block())
						break;
					/* The local peer reset: the carrier hears it as RESET. */
					reset_pending = true;
					payload_left = 0;
					in_off = in_len;
					break;
				}
				in_off += (size_t)w;
				payload_left -= (uint32_t)w;
				continue;
			}
			if (in_len - in_off < PROTO_HEADER_LEN)
				break;
			uint8_t type = in[in_off];
			uint32_t len = (uint32_t)in[in_off + 1] << 24 | (uint32_t)in[in_off + 2] << 16 | (uint32_t)in[in_off + 3] << 8 | in[in_off + 4];
			in_off += PROTO_HEADER_LEN;
			if (type == MSG_STREAM_DATA && len <= PROTO_MAX_PAYLOAD && !got_fin) {
				payload_left = len;
			} else if (type == MSG_STREAM_FIN && len == 0 && !got_fin) {
				got_fin = true;
				shutdown(tcp, SHUT_WR);
			} else if (type == MSG_STREAM_RESET && len == 0) {
				tcp_abort(tcp);
				return 0;
			} else {
				/* Anything else breaks the stream: the local peer sees a reset. */
				fprintf(stderr, "vmstep-init: a relayed connection got a bad frame (type 0x%02x, %u bytes); resetting it\n", type, len);
				tcp_abort(tcp);
				return 1;
			}
		}

		if (p[1].revents & POLLERR && !(p[1].revents & POLLIN))
			reset_pending = !reset_queued;
		if ((p[1].revents & (POLLIN | POLLHUP)) && !tcp_eof && !reset_queued && !reset_pending && out_off == out_len) {
			ssize_t n = read(tcp, out + PROTO_HEADER_LEN, RELAY_CHUNK);
			if (n > 0) {
				put_header(out, MSG_STREAM_DATA, (uint32_t)n);
				out_off = 0;
				out_len = PROTO_HEADER_LEN + (size_t)n;
				out_type = MSG_STREAM_DATA;
			} else if (n == 0) {
				put_header(out, MSG_STREAM_FIN, 0);
				out_off = 0;
				out_len = PROTO_HEADER_LEN;
				out_type = MSG_STREAM_FIN;
				tcp_eof = true;
			} else if (!would_block()) {
				reset_pending = true;
			}
		}
		if (out_off < out_len) {
			ssize_t w = write(carrier, out + out_off, out_len - out_off);
			if (w < 0 && !would_block()) {
				tcp_abort(tcp);
				return 1;
			}
			if (w > 0)
				out_off += (size_t)w;
			if (out_off == out_len) {
				if (out_type == MSG_STREAM_FIN)
					fin_sent = true;
				if (out_type == MSG_STREAM_RESET) {
					tcp_abort(tcp);
					return 0;
				}
				out_type = 0;
			}
		}
	}
}

static int send_done(int conn, const char *error)
{
	struct record r = {0};
	if (error)
		record_str(&r, DONE_ERROR, error);
	return record_send(conn, MSG_DONE, &r);
}

int forward_serve(int conn, const uint8_t *payload, uint32_t len)
{
	uint64_t port = 0;
	struct field_iter it;
	struct field f;
	fields_begin(&it, payload, len);
	int r;
	while ((r = fields_next(&it, &f)) == 1)
		if (f.tag == FORWARD_PORT && field_u64(&f, &port) < 0)
			port = 0;
	if (r < 0 || port == 0 || port > 65535) {
		send_error(conn, "forward", "FORWARD needs a port from 1 to 65535");
		return 1;
	}
	int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (tcp < 0 || connect(tcp, (struct sockaddr *)&addr, sizeof addr) < 0) {
		char msg[160];
		snprintf(msg, sizeof msg, "cannot connect to port %u in the VM: %s", (unsigned)port,
			 errno == ECONNREFUSED ? "nothing listens there (connection refused)" : strerror(errno));
		if (tcp >= 0)
			close(tcp);
		send_done(conn, msg);
		return 1;
	}
	if (send_done(conn, NULL) < 0) {
		tcp_abort(tcp);
		return 1;
	}
	return relay(conn, tcp);
}

/* A host name as /etc/hosts takes it: letters, digits, '-', '.', '_'; not starting with '-' or '.'. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LINK_MAX_NAME || s[0] == '-' || s[0] == '.')
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_'))
			return false;
	return true;
}

/* Adds "ADDRESS NAME" to hosts, never through a symlink the image put there. */
static int add_host(const char *etc, const char *address, const char *name, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/hosts", etc);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot add %.64s to %.256s: %s", name, path, strerror(errno));
		return -1;
	}
	char line[512];
	int n = snprintf(line, sizeof line, "%s\t%s\n", address, name);
	ssize_t w = write(fd, line, (size_t)n);
	close(fd);
	if (w != n) {
		snprintf(err, errlen, "cannot add %.64s to %.256s: %s", name, path, w < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

/* Opens a connection to the host's link port and asks for NAME:PORT; returns the carrier or -1. */
static int dial_host(bool vm_mode, const char *name, unsigned port)
{
	char err[256];
	const char *path = vm_mode ? NULL : getenv("VMSTEP_INIT_LINK_SOCKET");
	if (!vm_mode && (!path || !*path))
		return -1;
	int fd = transport_dial(path, PROTO_LINK_VSOCK_PORT, err, sizeof err);
	if (fd < 0) {
		fprintf(stderr, "vmstep-init: link %s:%u: %s\n", name, port, err);
		return -1;
	}
	struct record r = {0};
	record_str(&r, DIAL_NAME, name);
	record_u64(&r, DIAL_PORT, port);
	uint8_t type, *payload = NULL;
	uint32_t len;
	if (record_send(fd, MSG_DIAL, &r) < 0 || frame_read(fd, &type, &payload, &len) < 0 || type != MSG_DONE) {
		free(payload);
		close(fd);
		return -1;
	}
	struct field_iter it;
	struct field f;
	bool refused = false;
	fields_begin(&it, payload, len);
	while (fields_next(&it, &f) == 1)
		if (f.tag == DONE_ERROR) {
			refused = true;
			fprintf(stderr, "vmstep-init: link %s:%u refused by the host: %.*s\n", name, port, (int)f.len, (const char *)f.val);
		}
	free(payload);
	if (refused) {
		close(fd);
		return -1;
	}
	return fd;
}

int link_serve(int conn, const uint8_t *payload, uint32_t len, const char *etc, bool vm_mode)
{
	char *name = NULL, *address = NULL;
	unsigned ports[LINK_MAX_PORTS];
	size_t nports = 0;
	bool bad = false;
	struct field_iter it;
	struct field f;
	fields_begin(&it, payload, len);
	int r;
	while ((r = fields_next(&it, &f)) == 1) {
		uint64_t v;
		if (f.tag == LINK_NAME) {
			free(name);
			name = field_strdup(&f);
		} else if (f.tag == LINK_ADDRESS) {
			free(address);
			address = field_strdup(&f);
		} else if (f.tag == LINK_PORT) {
			if (field_u64(&f, &v) < 0 || v == 0 || v > 65535 || nports == LINK_MAX_PORTS)
				bad = true;
			else
				ports[nports++] = (unsigned)v;
		}
	}
	struct in_addr ip;
	if (r < 0 || bad || !name || !address || !valid_name(name) || nports == 0 || inet_pton(AF_INET, address, &ip) != 1 ||
	    (ntohl(ip.s_addr) >> 24) != 127) {
		send_error(conn, "link", "LINK needs a host name, a 127.x.y.z address and 1 to %d ports from 1 to 65535", LINK_MAX_PORTS);
		free(name);
		free(address);
		return 1;
	}
	char err[512];
	int listeners[LINK_MAX_PORTS];
	for (size_t i = 0; i < nports; i++) {
		struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[i]), .sin_addr = ip};
		int one = 1;
		listeners[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (listeners[i] < 0 || setsockopt(listeners[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		    bind(listeners[i], (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listeners[i], 64) < 0) {
			snprintf(err, sizeof err, "cannot listen on %s:%u for the link %s: %s", address, ports[i], name, strerror(errno));
			send_done(conn, err);
			return 1;
		}
	}
	if (add_host(etc, address, name, err, sizeof err) < 0) {
		send_done(conn, err);
		return 1;
	}
	if (send_done(conn, NULL) < 0)
		return 1;

	/* The link lives as long as the host keeps this session open. */
	size_t active = 0;
	for (;;) {
		struct pollfd p[1 + LINK_MAX_PORTS];
		p[0] = (struct pollfd){.fd = conn, .events = POLLIN};
		for (size_t i = 0; i < nports; i++)
			p[1 + i] = (struct pollfd){.fd = listeners[i], .events = POLLIN};
		int n = poll(p, 1 + nports, 500);
		pid_t pid;
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			if (active > 0)
				active--;
		if (n < 0 && errno != EINTR)
			return 1;
		if (p[0].revents)
			return 0; /* the host closed the session (or sent something it should not): the link ends */
		for (size_t i = 0; i < nports; i++) {
			if (!(p[1 + i].revents & POLLIN))
				continue;
			int tcp = accept4(listeners[i], NULL, NULL, SOCK_CLOEXEC);
			if (tcp < 0)
				continue;
			if (active >= LINK_MAX_CONNECTIONS) {
				fprintf(stderr, "vmstep-init: link %s:%u: %d connections already; refusing one more\n", name, ports[i], LINK_MAX_CONNECTIONS);
				tcp_abort(tcp);
				continue;
			}
			pid_t child = fork();
			if (child == 0) {
				close(conn);
				for (size_t j = 0; j < nports; j++)
					close(listeners[j]);
				int carrier = dial_host(vm_mode, name, ports[i]);
				if (carrier < 0) {
					tcp_abort(tcp);
					_exit(1);
				}
				int rc = relay(carrier, tcp);
				transport_finish(carrier, 5000);
				_exit(rc);
			}
			if (child > 0)
				active++;
			close(tcp);
		}
	}
}
