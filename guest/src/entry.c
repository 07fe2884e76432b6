#include "entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "protocol.h"

const char *entry_path_problem(const char *path)
{
	size_t len = strlen(path);
	if (len == 0)
		return "it is empty";
	if (len > PROTO_MAX_ENTRY_PATH)
		return "it is too long";
	if (path[0] == '/')
		return "it is absolute";
	for (const char *p = path;;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "it contains ..";
		if (n == 0 || (n == 1 && p[0] == '.'))
			return "it is not normalised";
		if (!*end)
			return NULL;
		p = end + 1;
	}
}

void entry_free(struct entry *e)
{
	free(e->path);
	free(e->link_target);
	*e = (struct entry){0};
}

int entry_parse(const uint8_t *payload, uint32_t len, struct entry *e, char *err, size_t errlen)
{
	*e = (struct entry){0};
	struct field_iter it;
	struct field f;
	int rc;
	bool has_type = false, has_mode = false;
	const char *why = NULL;
	fields_begin(&it, payload, len);
	while (!why && (rc = fields_next(&it, &f)) == 1) {
		uint64_t v;
		switch (f.tag) {
		case ENTRY_PATH:
		case ENTRY_LINK_TARGET: {
			char *s = field_strdup(&f);
			if (!s) {
				why = "a string contains a NUL byte";
				break;
			}
			char **slot = f.tag == ENTRY_PATH ? &e->path : &e->link_target;
			free(*slot);
			*slot = s;
			break;
		}
		case ENTRY_TYPE:
			has_type = true;
			if (f.len == 4 && !memcmp(f.val, "file", 4))
				e->type = ENTRY_FILE;
			else if (f.len == 3 && !memcmp(f.val, "dir", 3))
				e->type = ENTRY_DIR;
			else if (f.len == 7 && !memcmp(f.val, "symlink", 7))
				e->type = ENTRY_SYMLINK;
			else
				why = "the type is not file, dir or symlink";
			break;
		case ENTRY_MODE:
		case ENTRY_SIZE:
		case ENTRY_MTIME_NS:
			if (field_u64(&f, &v)) {
				why = "a number is not 8 bytes";
				break;
			}
			if (f.tag == ENTRY_MODE) {
				e->mode = (uint32_t)(v & 07777);
				has_mode = true;
			} else if (f.tag == ENTRY_SIZE) {
				e->size = v;
			} else {
				e->mtime_ns = v;
				e->has_mtime = true;
			}
			break;
		default:
			break; /* unknown tags are ignored, as the protocol says */
		}
	}
	if (!why && rc < 0)
		why = "a field runs past the end of the message";
	if (!why && (!e->path || !has_type || !has_mode))
		why = "the path, type or mode is missing";
	const char *path_why = why ? NULL : entry_path_problem(e->path);
	if (path_why) {
		snprintf(err, errlen, "refused the entry path '%.200s': %s", e->path, path_why);
		entry_free(e);
		return -1;
	}
	if (!why && e->type == ENTRY_SYMLINK && (!e->link_target || !e->link_target[0] || strlen(e->link_target) > PROTO_MAX_ENTRY_PATH))
		why = "a symbolic link without a target (or with one too long)";
	if (why) {
		snprintf(err, errlen, "malformed entry: %s", why);
		entry_free(e);
		return -1;
	}
	if (e->type != ENTRY_FILE)
		e->size = 0;
	return 0;
}

void transfer_request_free(struct transfer_request *r)
{
	free(r->path);
	free(r->user);
	*r = (struct transfer_request){0};
}

int transfer_request_parse(uint8_t type, const uint8_t *payload, uint32_t len, struct transfer_request *r, char *err, size_t errlen)
{
	*r = (struct transfer_request){0};
	struct field_iter it;
	struct field f;
	int rc;
	const char *why = NULL;
	fields_begin(&it, payload, len);
	while (!why && (rc = fields_next(&it, &f)) == 1) {
		/* PUT_PATH, GET_PATH and LIST_PATH are one tag; only PUT has an owner. */
		if (f.tag != PUT_PATH && !(type == MSG_PUT && f.tag == PUT_USER))
			continue;
		char *s = field_strdup(&f);
		if (!s) {
			why = "a string contains a NUL byte";
			break;
		}
		char **slot = f.tag == PUT_PATH ? &r->path : &r->user;
		free(*slot);
		*slot = s;
	}
	if (!why && rc < 0)
		why = "a field runs past the end of the message";
	if (!why && (!r->path || r->path[0] != '/'))
		why = "the guest path is missing or not absolute";
	if (!why && strlen(r->path) > PROTO_MAX_ENTRY_PATH)
		why = "the guest path is too long";
	if (why) {
		snprintf(err, errlen, "malformed %s request: %s", type == MSG_PUT ? "PUT" : type == MSG_GET ? "GET" : "LIST", why);
		transfer_request_free(r);
		return -1;
	}
	return 0;
}
