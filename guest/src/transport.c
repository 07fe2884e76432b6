#include "transport.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"

#define CONNECT_ATTEMPTS 100
#define CONNECT_RETRY_MS 50

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A vsock (cid, port) or, in test mode, a Unix socket path. */
union address {
	struct sockaddr_un un;
	struct sockaddr_vm vm;
};

/* Fills addr; returns its length, or 0 with err when the Unix path is too long. */
static socklen_t make_address(union address *addr, const char *unix_path, unsigned cid, unsigned port, char *err, size_t errlen)
{
	if (!unix_path) {
		addr->vm = (struct sockaddr_vm){.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
		return sizeof addr->vm;
	}
	addr->un = (struct sockaddr_un){.sun_family = AF_UNIX};
	if (strlen(unix_path) >= sizeof addr->un.sun_path) {
		snprintf(err, errlen, "the socket path %s is longer than %zu bytes", unix_path, sizeof addr->un.sun_path - 1);
		return 0;
	}
	strcpy(addr->un.sun_path, unix_path);
	return sizeof addr->un;
}

int transport_connect(const char *unix_path, char *err, size_t errlen)
{
	return transport_dial(unix_path, PROTO_VSOCK_PORT, err, errlen);
}

int transport_dial(const char *unix_path, unsigned port, char *err, size_t errlen)
{
	union address address;
	socklen_t addrlen = make_address(&address, unix_path, PROTO_VSOCK_HOST_CID, port, err, errlen);
	if (!addrlen)
		return -1;
	const struct sockaddr *addr = (const struct sockaddr *)&address;
	int last = 0;
	for (int attempt = 0; attempt < CONNECT_ATTEMPTS; attempt++) {
		int fd = socket(unix_path ? AF_UNIX : AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "cannot create a %s socket: %s%s", unix_path ? "Unix" : "vsock", strerror(errno),
				 unix_path ? "" : " (the guest kernel needs CONFIG_VSOCKETS and CONFIG_VIRTIO_VSOCKETS)");
			return -1;
		}
		if (connect(fd, addr, addrlen) == 0)
			return fd;
		last = errno;
		close(fd);
		sleep_ms(CONNECT_RETRY_MS);
	}
	if (unix_path)
		snprintf(err, errlen, "cannot connect to %s: %s", unix_path, strerror(last));
	else
		snprintf(err, errlen, "cannot connect to the host over vsock (CID %d port %u): %s; is the VM's vsock device configured and the host listening on <vsockUdsPath>_%u?",
			 PROTO_VSOCK_HOST_CID, port, strerror(last), port);
	return -1;
}

int transport_listen(const char *unix_path, unsigned port, char *err, size_t errlen)
{
	union address address;
	socklen_t addrlen = make_address(&address, unix_path, VMADDR_CID_ANY, port, err, errlen);
	if (!addrlen)
		return -1;
	const struct sockaddr *addr = (const struct sockaddr *)&address;
	if (unix_path)
		unlink(unix_path); /* a socket left by an earlier test */
	int fd = socket(unix_path ? AF_UNIX : AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, addr, addrlen) < 0 || listen(fd, 64) < 0) {
		if (unix_path)
			snprintf(err, errlen, "cannot listen for sessions on %s: %s", unix_path, strerror(errno));
		else
			snprintf(err, errlen, "cannot listen for sessions on vsock port %u: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void transport_finish(int fd, int timeout_ms)
{
	shutdown(fd, SHUT_WR);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[4096];
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			break;
		int r = poll(&p, 1, timeout_ms - (int)elapsed);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the host closed: everything we sent has arrived */
	}
	close(fd);
}
