/*
 * vmstep-init: PID 1 of a vmstep microVM.
 *
 * It prepares the machine (system.c), connects to the host (transport.c),
 * agrees on the protocol version and reads the host's first request. RUN:
 * one-shot mode, it runs that command (run.c: user, confinement, output
 * files, timings) and powers the VM off. SERVE: service mode (service.c),
 * it stays up serving sessions (exec, file copies) until told to power off.
 * docs/protocol.md specifies both conversations.
 *
 * Test mode: with VMSTEP_INIT_SOCKET=/path it connects to that Unix socket
 * instead (and serves sessions on VMSTEP_INIT_EXEC_SOCKET), leaves the
 * machine alone (no mounts, hostname or reboot: it is not PID 1) and exits
 * when done; everything else, confinement included, runs as in the VM, so
 * the host's unit tests exercise the real code.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "frame.h"
#include "protocol.h"
#include "run.h"
#include "service.h"
#include "spec.h"
#include "system.h"
#include "transport.h"

int main(void)
{
	uint64_t init_start = boottime_ns();
	const char *test_socket = getenv("VMSTEP_INIT_SOCKET");
	bool vm_mode = !test_socket || !*test_socket;
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
		machine_finish(-1, vm_mode, 1);
	}
	if (send_hello(sock) < 0 || expect_hello(sock) < 0)
		machine_finish(sock, vm_mode, 1);
	if (setup_err[0]) {
		send_error(sock, "setup", "%s", setup_err);
		machine_finish(sock, vm_mode, 1);
	}

	uint8_t type, *payload;
	uint32_t len;
	int rc = frame_read(sock, &type, &payload, &len);
	if (rc < 0) {
		send_error(sock, "spec", "no run spec from the host: %s", rc == -EPROTO ? "its frame is over 1 MiB" : strerror(-rc));
		machine_finish(sock, vm_mode, 1);
	}
	if (type != MSG_RUN && type != MSG_SERVE) {
		send_error(sock, "spec", "expected the run spec (type 0x%02x) or the service spec (type 0x%02x) from the host, got type 0x%02x",
			   MSG_RUN, MSG_SERVE, type);
		machine_finish(sock, vm_mode, 1);
	}
	struct run_spec spec;
	rc = (type == MSG_RUN ? spec_parse : serve_parse)(payload, len, &spec, err, sizeof err);
	free(payload); /* the spec holds copies */
	if (rc < 0) {
		send_error(sock, "spec", "%s", err);
		machine_finish(sock, vm_mode, 1);
	}
	uint64_t spec_received = boottime_ns();

	if (vm_mode && system_late(spec.hostname, err, sizeof err) < 0) {
		send_error(sock, "setup", "%s", err);
		machine_finish(sock, vm_mode, 1);
	}
	if (type == MSG_SERVE)
		service_main(sock, &spec, vm_mode);

	struct run_context ctx = {
		.vm_mode = vm_mode,
		.etc = etc_dir(vm_mode),
		.init_start = init_start,
		.spec_received = spec_received,
	};
	machine_finish(sock, vm_mode, run_request(sock, &spec, &ctx));
}
