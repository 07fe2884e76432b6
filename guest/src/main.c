/*
 * vmstep-init: PID 1 of a vmstep microVM.
 *
 * It prepares the machine (system.c), connects to the host (transport.c),
 * agrees on the protocol version, receives the run spec (spec.c), resolves
 * the user (user.c), runs the command confined (command.c, confine.c),
 * returns the output files (outputs.c) and timings, and powers the VM off.
 * docs/protocol.md specifies the conversation.
 *
 * Test mode: with VMSTEP_INIT_SOCKET=/path it connects to that Unix socket
 * instead, leaves the machine alone (no mounts, hostname or reboot: it is not
 * PID 1) and exits when done; everything else, confinement included, runs as
 * in the VM, so the host's unit tests exercise the real code.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "command.h"
#include "frame.h"
#include "outputs.h"
#include "protocol.h"
#include "signames.h"
#include "spec.h"
#include "system.h"
#include "transport.h"
#include "user.h"
#include "volumes.h"

/* How long we wait for the host to close after our last message. */
#define FINISH_TIMEOUT_MS 5000

static bool vm_mode;

/* Ends the run: power off in the VM (reboot=k makes it a clean exit for the VMM), exit in test mode. */
_Noreturn static void finish(int sock, int status)
{
	if (sock >= 0)
		transport_finish(sock, FINISH_TIMEOUT_MS);
	if (!vm_mode)
		exit(status);
	sync();
	reboot(RB_AUTOBOOT);
	/* PID 1 must never exit (the kernel would panic); if reboot failed, try power-off, then wait. */
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* mkdir -p, as Docker does for a missing working directory. */
static int make_dirs(const char *path)
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

/* Waits for the host's HELLO and checks its version. */
static int expect_hello(int sock)
{
	uint8_t type, *payload;
	uint32_t len;
	int rc = frame_read(sock, &type, &payload, &len);
	if (rc < 0) {
		send_error(sock, "hello", "the host did not answer the hello: %s",
			   rc == -EPROTO ? "it sent a frame over 1 MiB (not the vmstep protocol?)" : strerror(-rc));
		return -1;
	}
	int ok = 0;
	if (type == MSG_ERROR) {
		/* The host refused us (for example our version); say so on the console. */
		struct field_iter it;
		struct field f;
		fields_begin(&it, payload, len);
		while (fields_next(&it, &f) == 1)
			if (f.tag == ERROR_MESSAGE)
				fprintf(stderr, "vmstep-init: the host refused the session: %.*s\n", (int)f.len, f.val);
	} else if (type != MSG_HELLO || len < PROTO_MAGIC_LEN + 2 || memcmp(payload, PROTO_MAGIC, PROTO_MAGIC_LEN)) {
		send_error(sock, "hello", "the host's first message is not a vmstep hello (type 0x%02x): it does not speak the vmstep protocol", type);
	} else {
		unsigned version = (unsigned)payload[PROTO_MAGIC_LEN] << 8 | payload[PROTO_MAGIC_LEN + 1];
		if (version != PROTO_VERSION)
			send_error(sock, "hello",
				   "protocol version mismatch: the host speaks version %u, this guest init speaks version %u; "
				   "use the vmstep-init built with this vmstep (dist/vmstep-init, or rebuild the rootfs cache)",
				   version, PROTO_VERSION);
		else
			ok = 1;
	}
	free(payload);
	return ok ? 0 : -1;
}

static int receive_spec(int sock, struct run_spec *spec)
{
	uint8_t type, *payload;
	uint32_t len;
	int rc = frame_read(sock, &type, &payload, &len);
	if (rc < 0) {
		send_error(sock, "spec", "no run spec from the host: %s",
			   rc == -EPROTO ? "its frame is over 1 MiB" : strerror(-rc));
		return -1;
	}
	if (type != MSG_RUN) {
		send_error(sock, "spec", "expected the run spec (type 0x%02x) from the host, got type 0x%02x", MSG_RUN, type);
		free(payload);
		return -1;
	}
	char err[512];
	rc = spec_parse(payload, len, spec, err, sizeof err);
	free(payload); /* the spec holds copies */
	if (rc < 0) {
		send_error(sock, "spec", "%s", err);
		return -1;
	}
	return 0;
}

static int send_exit(int sock, const struct command_result *res)
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

int main(void)
{
	uint64_t init_start = boottime_ns();
	const char *test_socket = getenv("VMSTEP_INIT_SOCKET");
	vm_mode = !test_socket || !*test_socket;
	if (vm_mode && getpid() != 1) {
		fprintf(stderr, "vmstep-init: this is the init of a vmstep VM and runs as PID 1; "
				"to try it on a host, set VMSTEP_INIT_SOCKET to a listening Unix socket\n");
		return 2;
	}

	/* A write to a closed connection is an error we handle, not a signal; SIGCHLD is read from a signalfd. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	char setup_err[512] = "";
	if (vm_mode)
		system_early(setup_err, sizeof setup_err);

	char err[512];
	int sock = transport_connect(vm_mode ? NULL : test_socket, err, sizeof err);
	if (sock < 0) {
		fprintf(stderr, "vmstep-init: %s\n", err);
		if (setup_err[0])
			fprintf(stderr, "vmstep-init: also: %s\n", setup_err);
		finish(-1, 1);
	}
	if (send_hello(sock) < 0 || expect_hello(sock) < 0)
		finish(sock, 1);
	if (setup_err[0]) {
		send_error(sock, "setup", "%s", setup_err);
		finish(sock, 1);
	}

	struct run_spec spec;
	if (receive_spec(sock, &spec) < 0)
		finish(sock, 1);
	uint64_t spec_received = boottime_ns();

	if (vm_mode && system_late(spec.hostname, err, sizeof err) < 0) {
		send_error(sock, "setup", "%s", err);
		finish(sock, 1);
	}
	struct run_user user;
	const char *etc = vm_mode ? NULL : getenv("VMSTEP_INIT_ETC");
	if (user_resolve(spec.user, etc && *etc ? etc : "/etc", &user, err, sizeof err) < 0) {
		send_error(sock, "user", "%s", err);
		finish(sock, 1);
	}
	if (!spec_getenv(&spec, "HOME") && spec_addenv(&spec, "HOME", user.home) < 0) {
		send_error(sock, "spec", "out of memory");
		finish(sock, 1);
	}
	if (spec.nvolumes && !vm_mode) {
		send_error(sock, "volume", "volumes need the VM: guest init's test mode does not mount disks");
		finish(sock, 1);
	}
	if (vm_mode && volumes_mount(&spec, &user, err, sizeof err) < 0) {
		send_error(sock, "volume", "%s", err);
		finish(sock, 1);
	}
	if (make_dirs(spec.workdir) < 0) {
		send_error(sock, "workdir", "cannot create the working directory %s: %s", spec.workdir, strerror(errno));
		finish(sock, 1);
	}

	struct command_result res;
	command_run(sock, &spec, &user, vm_mode, &res);
	if (res.host_gone) {
		fprintf(stderr, "vmstep-init: the host closed the connection during the run; the command was killed\n");
		finish(sock, 1);
	}
	if (send_exit(sock, &res) < 0 || outputs_send(sock, &spec) < 0)
		finish(sock, 1);
	sync();

	struct record r = {0};
	record_u64(&r, TIMINGS_INIT_START_NS, init_start);
	record_u64(&r, TIMINGS_SPEC_RECEIVED_NS, spec_received);
	record_u64(&r, TIMINGS_COMMAND_START_NS, res.start_ns);
	record_u64(&r, TIMINGS_COMMAND_END_NS, res.end_ns);
	record_u64(&r, TIMINGS_OUTPUTS_END_NS, boottime_ns());
	record_send(sock, MSG_TIMINGS, &r);
	finish(sock, 0);
}
