/*
 * libFuzzer target over everything guest init parses from the host: the
 * input is a byte stream of frames, read with frame_read (as from the
 * socket), and each frame's payload goes to the parser its type selects:
 * RUN, SERVE, PUT/GET/LIST requests and ENTRY. The parsers must never read
 * out of bounds, leak, or accept what the protocol forbids (an entry path
 * that is absolute or has "..").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/entry.h"
#include "../src/frame.h"
#include "../src/protocol.h"
#include "../src/spec.h"

static void parse(uint8_t type, const uint8_t *p, uint32_t len)
{
	char err[512];
	switch (type) {
	case MSG_RUN:
	case MSG_SERVE: {
		struct run_spec spec;
		int rc = (type == MSG_RUN ? spec_parse : serve_parse)(p, len, &spec, err, sizeof err);
		if (rc == 0 && (!spec.workdir || spec.workdir[0] != '/' || !spec.env))
			abort();
		spec_free(&spec);
		break;
	}
	case MSG_PUT:
	case MSG_GET:
	case MSG_LIST: {
		struct transfer_request r;
		if (transfer_request_parse(type, p, len, &r, err, sizeof err) == 0) {
			if (r.path[0] != '/')
				abort();
			transfer_request_free(&r);
		}
		break;
	}
	case MSG_ENTRY: {
		struct entry e;
		if (entry_parse(p, len, &e, err, sizeof err) == 0) {
			/* What was accepted must be a safe relative path. */
			if (entry_path_problem(e.path) || e.path[0] == '/' || strstr(e.path, "..") == e.path)
				abort();
			for (const char *s = e.path; (s = strstr(s, "/..")); s++)
				if (s[3] == '/' || s[3] == 0)
					abort();
			if (e.type == ENTRY_SYMLINK && !e.link_target)
				abort();
			entry_free(&e);
		}
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[2];
	if (size > 60000 || pipe(fds) < 0)
		return 0;
	/* The whole input fits in the pipe's buffer: no second thread needed. */
	if (write(fds[1], data, size) != (ssize_t)size) {
		close(fds[0]);
		close(fds[1]);
		return 0;
	}
	close(fds[1]);
	uint8_t type, *payload;
	uint32_t len;
	while (frame_read(fds[0], &type, &payload, &len) == 0) {
		parse(type, payload, len);
		free(payload);
	}
	close(fds[0]);
	return 0;
}
