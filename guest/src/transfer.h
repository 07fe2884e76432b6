/*
 * File transfers of a serving VM (docs/protocol.md, "PUT, GET and LIST"):
 * PUT creates the host's entries beneath a guest directory without ever
 * following a symbolic link it finds at a parent; GET and LIST walk a guest
 * path with lstat, sending links as links.
 */
#ifndef VMSTEP_TRANSFER_H
#define VMSTEP_TRANSFER_H

#include <stdint.h>

/* Serves one PUT, GET or LIST request to its DONE. Returns 0, or -1 when the connection broke. */
int transfer_serve(int sock, uint8_t type, const uint8_t *payload, uint32_t len, const char *etc);

#endif
