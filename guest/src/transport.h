/*
 * The connection to the host: AF_VSOCK to CID 2 port 1024 in the VM, or a
 * Unix socket in test mode. Connecting retries briefly, because the host may
 * still be setting up its listener while the guest boots.
 */
#ifndef VMSTEP_TRANSPORT_H
#define VMSTEP_TRANSPORT_H

#include <stddef.h>

/* unix_path: the test-mode socket, or NULL for vsock. Returns an fd or -1 with err. */
int transport_connect(const char *unix_path, char *err, size_t errlen);
/* The same to another host port (a link's carrier); unix_path stands in for it in test mode. */
int transport_dial(const char *unix_path, unsigned port, char *err, size_t errlen);

/* Service mode: listens for session connections on the vsock port, or on
 * the Unix socket unix_path in test mode. Returns an fd or -1 with err. */
int transport_listen(const char *unix_path, unsigned port, char *err, size_t errlen);

/* Ends our side and waits (bounded) until the host has closed its side, so
 * that nothing we sent is still in flight when the VM powers off. */
void transport_finish(int fd, int timeout_ms);

#endif
