/*
 * TCP carried over session connections (docs/protocol.md, "Ports and
 * links"): FORWARD connects to a port inside the VM for the host; LINK makes
 * a name resolve to a loopback address of its own and carries each
 * connection to it out to the host. Either way the bytes travel as DATA
 * frames, a half-close as FIN and a reset as RESET, through a relay with
 * bounded buffers.
 */
#ifndef VMSTEP_FORWARD_H
#define VMSTEP_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

/* A FORWARD request on a session connection; returns the session's exit status. */
int forward_serve(int conn, const uint8_t *payload, uint32_t len);

/* A LINK request: serves the link until the host closes conn; returns the exit status. */
int link_serve(int conn, const uint8_t *payload, uint32_t len, const char *etc, bool vm_mode);

/*
 * Relays between a TCP socket and a carrier that speaks DATA/FIN/RESET
 * frames, until both directions have ended or either side reset. The TCP
 * socket is closed (with RST when the carrier reset or vanished); the
 * carrier is left open for the caller. Returns 0 on a clean end.
 */
int relay(int carrier, int tcp);

#endif
