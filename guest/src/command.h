/*
 * Running the workload: fork, confine, exec with PATH lookup, stream its
 * stdout and stderr to the host as it writes them, reap zombies (we may be
 * PID 1), and when the command's main process exits, kill what it left
 * behind and read the pipes to their end.
 */
#ifndef VMSTEP_COMMAND_H
#define VMSTEP_COMMAND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec.h"
#include "user.h"

struct command_result {
	bool started;     /* execve succeeded */
	pid_t pid;
	int code;         /* exit status, 128+N for signal N, 126/127 when it could not start */
	int signal;       /* 0 or the signal that killed it */
	char error[512];  /* why it could not start */
	uint64_t start_ns, end_ns;
	bool host_gone;   /* the connection broke: stop everything, send nothing more */
};

/* The leftovers to kill when the main process exits are every other process
 * (we are PID 1 of a one-shot VM); without it, only the command's process group. */
#define COMMAND_KILL_ALL 1u
/* Read nothing from sock (another process owns its reading side): no STDIN, no SIGNAL. */
#define COMMAND_NO_HOST_INPUT 2u
/* Processes the command leaves running when it exits normally live on, as
 * with `docker exec`: an exec in a long-lived VM (or a runner step) may
 * start a server for later ones. They are killed only when the run is
 * cut short (timeout, signal, a host that went away). */
#define COMMAND_KEEP_BACKGROUND 4u

/* Runs the spec's command as user; flags: COMMAND_*. */
void command_run(int sock, const struct run_spec *spec, const struct run_user *user, unsigned flags,
		 struct command_result *res);

#endif
