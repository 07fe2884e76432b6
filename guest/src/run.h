/*
 * One RUN request carried out to its end: the user, HOME, the working
 * directory, the command, EXIT, the output files and TIMINGS. The same code
 * serves the one-shot boot connection and every session of a serving VM;
 * only what a session must not do (mount volumes again, kill every process)
 * differs, through run_context.
 */
#ifndef VMSTEP_RUN_H
#define VMSTEP_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "spec.h"

struct run_context {
	bool vm_mode;          /* PID 1 of a VM, not test mode */
	bool session;          /* a session of a serving VM: only the command's process group is killed; no volumes */
	bool allow_privileged; /* a session: whether the VM was served privileged (a RUN may then ask for it) */
	const char *etc;       /* where passwd and group are */
	uint64_t init_start;   /* when guest init (or the session) started, for TIMINGS */
	uint64_t spec_received;
};

/* Returns 0 when everything was sent, 1 when the run failed before its exit or the host went away. */
int run_request(int sock, struct run_spec *spec, const struct run_context *ctx);

struct command_result;
/* EXIT for a command's result. Returns 0 or -errno. */
int send_exit(int sock, const struct command_result *res);

/* mkdir -p, as Docker does for a missing working directory. Returns 0 or -1 with errno. */
int make_dirs(const char *path);

/* Where the user database is: /etc in the VM; VMSTEP_INIT_ETC (else /etc) in test mode. */
const char *etc_dir(bool vm_mode);

#endif
