/* The run spec (RUN) and the service spec (SERVE, which shares RUN's tags
 * where they share a meaning), parsed and checked before anything runs. */
#ifndef VMSTEP_SPEC_H
#define VMSTEP_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct run_spec {
	char **argv;      /* NULL-terminated */
	size_t argc;
	char **env;       /* NULL-terminated; room for one more (HOME) */
	size_t envc;
	char *workdir;
	char *user;
	char *hostname;
	char **outputs;
	size_t noutputs;
	uint64_t max_file_bytes;
	uint64_t max_files;
	bool privileged;
	char *volume_device;  /* the ext4 disk holding the volumes, NULL without volumes */
	char **volumes;       /* "NAME:/guest/path", mounted in this order */
	size_t nvolumes;
	bool stream_stdin;    /* STDIN frames feed the command's stdin; else /dev/null */
	uint32_t exec_port;   /* SERVE: the vsock port for sessions */
};

/* Returns 0, or -1 with a message for the host in err. */
int spec_parse(const uint8_t *payload, uint32_t len, struct run_spec *spec, char *err, size_t errlen);

/* SERVE: the same fields, where argv may be empty (no main process), plus the exec port. */
int serve_parse(const uint8_t *payload, uint32_t len, struct run_spec *spec, char *err, size_t errlen);

/* Frees what a parse allocated (also after a failed parse). */
void spec_free(struct run_spec *spec);

/* The value of NAME in the spec's environment, or NULL. */
const char *spec_getenv(const struct run_spec *spec, const char *name);

/* Appends NAME=value to the environment (the array has room for one). */
int spec_addenv(struct run_spec *spec, const char *name, const char *value);

#endif
