#include "spec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "protocol.h"

/* Appends to a NULL-terminated list, keeping one spare slot for spec_addenv. */
static int list_push(char ***list, size_t *n, char *s)
{
	char **l = realloc(*list, (*n + 3) * sizeof *l);
	if (!l)
		return -1;
	l[(*n)++] = s;
	l[*n] = NULL;
	*list = l;
	return 0;
}

static int fail_in(const char *what, char *err, size_t errlen, const char *msg, const struct field *f)
{
	snprintf(err, errlen, "malformed %s: %s (field %u)", what, msg, f ? f->tag : 0);
	return -1;
}
#define fail(err, errlen, msg, f) fail_in(serve ? "service spec" : "run spec", err, errlen, msg, f)

static int parse(const uint8_t *payload, uint32_t len, struct run_spec *spec, bool serve, char *err, size_t errlen)
{
	*spec = (struct run_spec){
		.max_file_bytes = DEFAULT_MAX_FILE_BYTES,
		.max_files = DEFAULT_MAX_FILES,
		.exec_port = PROTO_EXEC_VSOCK_PORT,
	};
	struct field_iter it;
	struct field f;
	int rc;
	fields_begin(&it, payload, len);
	while ((rc = fields_next(&it, &f)) == 1) {
		uint64_t v;
		char *s = NULL;
		switch (f.tag) {
		case RUN_ARG:
		case RUN_ENV:
		case RUN_WORKDIR:
		case RUN_USER:
		case RUN_HOSTNAME:
		case RUN_OUTPUT:
		case RUN_VOLUME_DEVICE:
		case RUN_VOLUME:
			s = field_strdup(&f);
			if (!s)
				return fail(err, errlen, "a string contains a NUL byte", &f);
			break;
		case SERVE_EXEC_PORT:
			if (!serve)
				continue;
			/* fall through */
		case RUN_MAX_FILE_BYTES:
		case RUN_MAX_FILES:
			if (field_u64(&f, &v))
				return fail(err, errlen, "a number is not 8 bytes", &f);
			break;
		case RUN_PRIVILEGED:
		case RUN_STDIN:
			if (f.len != 1 || f.val[0] > 1)
				return fail(err, errlen, "a flag is not one byte 0 or 1", &f);
			break;
		default:
			continue; /* unknown tags are ignored, as the protocol says */
		}
		switch (f.tag) {
		case RUN_ARG:
			if (list_push(&spec->argv, &spec->argc, s)) {
				free(s);
				return fail(err, errlen, "out of memory", &f);
			}
			break;
		case RUN_ENV:
			if (!strchr(s, '=') || s[0] == '=') {
				free(s);
				return fail(err, errlen, "an environment entry is not NAME=value", &f);
			}
			if (list_push(&spec->env, &spec->envc, s)) {
				free(s);
				return fail(err, errlen, "out of memory", &f);
			}
			break;
		case RUN_WORKDIR: free(spec->workdir); spec->workdir = s; break;
		case RUN_USER: free(spec->user); spec->user = s; break;
		case RUN_HOSTNAME: free(spec->hostname); spec->hostname = s; break;
		case RUN_OUTPUT:
			if (!s[0]) {
				free(s);
				return fail(err, errlen, "an output path is empty", &f);
			}
			if (list_push(&spec->outputs, &spec->noutputs, s)) {
				free(s);
				return fail(err, errlen, "out of memory", &f);
			}
			break;
		case SERVE_EXEC_PORT:
			if (v == 0 || v > UINT32_MAX)
				return fail(err, errlen, "the exec port is not a vsock port", &f);
			spec->exec_port = (uint32_t)v;
			break;
		case RUN_MAX_FILE_BYTES: spec->max_file_bytes = v; break;
		case RUN_MAX_FILES: spec->max_files = v; break;
		case RUN_PRIVILEGED: spec->privileged = f.val[0]; break;
		case RUN_STDIN: spec->stream_stdin = f.val[0]; break;
		case RUN_VOLUME_DEVICE: free(spec->volume_device); spec->volume_device = s; break;
		case RUN_VOLUME: {
			const char *colon = strchr(s, ':');
			bool dots = s[0] == '.' && (colon == s + 1 || (s[1] == '.' && colon == s + 2));
			if (!colon || colon == s || dots || colon[1] != '/' || memchr(s, '/', (size_t)(colon - s))) {
				free(s);
				return fail(err, errlen, "a volume is not NAME:/absolute/path", &f);
			}
			if (list_push(&spec->volumes, &spec->nvolumes, s)) {
				free(s);
				return fail(err, errlen, "out of memory", &f);
			}
			break;
		}
		}
	}
	if (rc < 0)
		return fail(err, errlen, "a field runs past the end of the message", NULL);
	if (serve ? spec->argc > 0 && !spec->argv[0][0] : spec->argc == 0 || !spec->argv[0][0]) {
		snprintf(err, errlen, "no command to run: the image has no ENTRYPOINT or CMD and none was given");
		return -1;
	}
	if (!spec->env && list_push(&spec->env, &spec->envc, NULL) == 0)
		spec->envc = 0; /* an empty, NULL-terminated environment */
	if (!spec->env)
		return fail(err, errlen, "out of memory", NULL);
	if (!spec->workdir || !spec->workdir[0]) {
		free(spec->workdir);
		spec->workdir = strdup("/");
		if (!spec->workdir)
			return fail(err, errlen, "out of memory", NULL);
	}
	if (spec->workdir[0] != '/') {
		snprintf(err, errlen, "the working directory '%s' is not an absolute path", spec->workdir);
		return -1;
	}
	if (spec->nvolumes && (!spec->volume_device || spec->volume_device[0] != '/'))
		return fail(err, errlen, "volumes without an absolute volume device", NULL);
	if (!spec->user)
		spec->user = strdup("");
	if (!spec->hostname || !spec->hostname[0]) {
		free(spec->hostname);
		spec->hostname = strdup("vmstep");
	}
	if (!spec->user || !spec->hostname)
		return fail(err, errlen, "out of memory", NULL);
	return 0;
}

#undef fail

int spec_parse(const uint8_t *payload, uint32_t len, struct run_spec *spec, char *err, size_t errlen)
{
	return parse(payload, len, spec, false, err, errlen);
}

int serve_parse(const uint8_t *payload, uint32_t len, struct run_spec *spec, char *err, size_t errlen)
{
	return parse(payload, len, spec, true, err, errlen);
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

void spec_free(struct run_spec *spec)
{
	free_list(spec->argv, spec->argc);
	free_list(spec->env, spec->envc);
	free_list(spec->outputs, spec->noutputs);
	free_list(spec->volumes, spec->nvolumes);
	free(spec->workdir);
	free(spec->user);
	free(spec->hostname);
	free(spec->volume_device);
	*spec = (struct run_spec){0};
}

const char *spec_getenv(const struct run_spec *spec, const char *name)
{
	size_t n = strlen(name);
	/* The last definition wins, as it would for a shell reading environ. */
	for (size_t i = spec->envc; i-- > 0;)
		if (strncmp(spec->env[i], name, n) == 0 && spec->env[i][n] == '=')
			return spec->env[i] + n + 1;
	return NULL;
}

int spec_addenv(struct run_spec *spec, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *s = malloc(len);
	if (!s)
		return -1;
	snprintf(s, len, "%s=%s", name, value);
	spec->env[spec->envc++] = s;
	spec->env[spec->envc] = NULL;
	return 0;
}
