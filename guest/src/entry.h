/*
 * The records of file transfers (docs/protocol.md, "PUT, GET and LIST"):
 * the request naming a guest path, and ENTRY (one file, directory or
 * symbolic link with a relative path). Parsing only, with every check on
 * what the host sent in one place, so that the fuzz target covers it.
 */
#ifndef VMSTEP_ENTRY_H
#define VMSTEP_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum entry_type { ENTRY_FILE, ENTRY_DIR, ENTRY_SYMLINK };

struct entry {
	char *path;        /* relative, normalised, no ".." */
	enum entry_type type;
	uint32_t mode;     /* & 07777 */
	uint64_t size;     /* file bytes that follow as FILE_DATA */
	char *link_target; /* symlink only */
	bool has_mtime;
	uint64_t mtime_ns;
};

/* PUT, GET or LIST: the absolute guest path, and PUT's owner (NULL: root). */
struct transfer_request {
	char *path;
	char *user;
};

/* Returns 0, or -1 with a message for the host in err. */
int entry_parse(const uint8_t *payload, uint32_t len, struct entry *e, char *err, size_t errlen);
void entry_free(struct entry *e);

/* NULL when path is relative, normalised (no "", "." or ".." components) and short enough; else why not. */
const char *entry_path_problem(const char *path);

/* type: MSG_PUT, MSG_GET or MSG_LIST. Returns 0, or -1 with a message for the host in err. */
int transfer_request_parse(uint8_t type, const uint8_t *payload, uint32_t len, struct transfer_request *r, char *err, size_t errlen);
void transfer_request_free(struct transfer_request *r);

#endif
