#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "command.h"
#include "frame.h"
#include "outputs.h"
#include "protocol.h"
#include "signames.h"
#include "user.h"
#include "volumes.h"

int make_dirs(const char *path)
{
	char p[4096];
	if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = 0;
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -1;
			*s = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

const char *etc_dir(bool vm_mode)
{
	const char *etc = vm_mode ? NULL : getenv("VMSTEP_INIT_ETC");
	return etc && *etc ? etc : "/etc";
}

int send_exit(int sock, const struct command_result *res)
{
	struct record r = {0};
	record_u64(&r, EXIT_CODE, (uint64_t)res->code);
	record_u64(&r, EXIT_SIGNAL, (uint64_t)res->signal);
	if (res->signal)
		record_str(&r, EXIT_SIGNAL_NAME, signal_name(res->signal));
	if (res->error[0])
		record_str(&r, EXIT_ERROR, res->error);
	return record_send(sock, MSG_EXIT, &r);
}

int run_request(int sock, struct run_spec *spec, const struct run_context *ctx)
{
	char err[512];
	struct run_user user;
	if (user_resolve(spec->user, ctx->etc, &user, err, sizeof err) < 0) {
		send_error(sock, "user", "%s", err);
		return 1;
	}
	if (!spec_getenv(spec, "HOME") && spec_addenv(spec, "HOME", user.home) < 0) {
		send_error(sock, "spec", "out of memory");
		return 1;
	}
	if (ctx->session) {
		/* SERVE mounted the volumes once; an exec is as privileged as its VM at most. */
		spec->nvolumes = 0;
		spec->privileged = spec->privileged && ctx->allow_privileged;
	}
	if (spec->nvolumes && !ctx->vm_mode) {
		send_error(sock, "volume", "volumes need the VM: guest init's test mode does not mount disks");
		return 1;
	}
	if (ctx->vm_mode && volumes_mount(spec, &user, err, sizeof err) < 0) {
		send_error(sock, "volume", "%s", err);
		return 1;
	}
	if (make_dirs(spec->workdir) < 0) {
		send_error(sock, "workdir", "cannot create the working directory %s: %s", spec->workdir, strerror(errno));
		return 1;
	}

	struct command_result res;
	/* A one-shot VM ends with its command; an exec in a long-lived VM leaves
	 * its background processes running. Test mode runs on a real host, where
	 * leftovers would outlive the test: there they are killed. */
	unsigned flags = !ctx->vm_mode ? 0 : ctx->session ? COMMAND_KEEP_BACKGROUND : COMMAND_KILL_ALL;
	command_run(sock, spec, &user, flags, &res);
	if (res.host_gone) {
		fprintf(stderr, "vmstep-init: the host closed the connection during the run; the command was killed\n");
		return 1;
	}
	if (send_exit(sock, &res) < 0 || outputs_send(sock, spec) < 0)
		return 1;
	/* A one-shot VM powers off next; a serving VM syncs when it powers off, not on every exec's clock. */
	if (!ctx->session)
		sync();

	struct record r = {0};
	record_u64(&r, TIMINGS_INIT_START_NS, ctx->init_start);
	record_u64(&r, TIMINGS_SPEC_RECEIVED_NS, ctx->spec_received);
	record_u64(&r, TIMINGS_COMMAND_START_NS, res.start_ns);
	record_u64(&r, TIMINGS_COMMAND_END_NS, res.end_ns);
	record_u64(&r, TIMINGS_OUTPUTS_END_NS, boottime_ns());
	record_send(sock, MSG_TIMINGS, &r);
	return 0;
}
