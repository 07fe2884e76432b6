#include "service.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "command.h"
#include "forward.h"
#include "frame.h"
#include "protocol.h"
#include "run.h"
#include "system.h"
#include "transfer.h"
#include "transport.h"
#include "user.h"
#include "volumes.h"

/* Test mode has no kill(-1): the children it must stop are tracked. */
#define MAX_CHILDREN 1024

struct service {
	int boot, listener, sfd;
	bool vm_mode;
	bool privileged;
	const char *etc;
	const char *exec_socket; /* test mode: the Unix socket we listen on, removed at power-off */
	pid_t main_runner;       /* the process that runs the main process; 0 when none */
	pid_t children[MAX_CHILDREN];
	size_t nchildren;
};

static void forget_child(struct service *s, pid_t pid)
{
	for (size_t i = 0; i < s->nchildren; i++)
		if (s->children[i] == pid) {
			s->children[i] = s->children[--s->nchildren];
			return;
		}
}

/*
 * In the VM, the processes that serve a session or the main process outlive
 * power-off's SIGTERM, so that their commands (which get it too) have the
 * grace to end and their output still reaches the host; SIGKILL ends them.
 * In test mode SIGTERM reaches only them, and their commands die with them.
 */
static void survive_sigterm(const struct service *s)
{
	if (s->vm_mode)
		signal(SIGTERM, SIG_IGN);
}

/* Reaps every exited process (as PID 1, orphans too); returns true when the main runner was among them. */
static bool reap_all(struct service *s)
{
	struct signalfd_siginfo si;
	while (read(s->sfd, &si, sizeof si) == sizeof si)
		;
	bool main_done = false;
	pid_t pid;
	int status;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		forget_child(s, pid);
		if (pid == s->main_runner)
			main_done = true;
	}
	return main_done;
}

static void signal_everyone(struct service *s, int sig)
{
	if (s->vm_mode) {
		kill(-1, sig); /* as PID 1: every process but ourselves */
		return;
	}
	/* A session's command dies with its session process (PR_SET_PDEATHSIG). */
	for (size_t i = 0; i < s->nchildren; i++)
		kill(s->children[i], sig);
}

/* Whether any process is left to wait for. */
static bool anyone_left(struct service *s)
{
	if (!s->vm_mode)
		return s->nchildren > 0;
	int status;
	return waitpid(-1, &status, WNOHANG) >= 0 || errno != ECHILD;
}

/* SIGTERM to every process, SIGKILL after the grace, sync, power off. */
_Noreturn static void power_off(struct service *s, uint64_t grace_ms)
{
	if (s->listener >= 0)
		close(s->listener);
	s->listener = -1;
	if (s->exec_socket)
		unlink(s->exec_socket);
	signal_everyone(s, SIGTERM);
	uint64_t deadline = boottime_ns() + grace_ms * 1000000u;
	while (anyone_left(s)) {
		uint64_t now = boottime_ns();
		if (now >= deadline)
			break;
		struct pollfd p = {.fd = s->sfd, .events = POLLIN};
		uint64_t left_ms = (deadline - now) / 1000000u + 1;
		poll(&p, 1, left_ms > 60000 ? 60000 : (int)left_ms);
		reap_all(s);
	}
	signal_everyone(s, SIGKILL);
	for (int i = 0; i < 500 && anyone_left(s); i++) {
		struct pollfd p = {.fd = s->sfd, .events = POLLIN};
		poll(&p, 1, 10);
		reap_all(s);
	}
	machine_finish(s->boot, s->vm_mode, 0);
}

/* One session connection, in its own process: hello, one request, its answer. */
_Noreturn static void session(struct service *s, int conn)
{
	uint64_t start = boottime_ns();
	close(s->listener);
	close(s->boot);
	close(s->sfd);
	survive_sigterm(s);
	int rc = 1;
	if (send_hello(conn) < 0 || expect_hello(conn) < 0)
		_exit(1);
	uint8_t type, *payload;
	uint32_t len;
	int r = frame_read(conn, &type, &payload, &len);
	if (r < 0) {
		if (r == -EPROTO)
			send_error(conn, "session", "the host's request is over 1 MiB");
		_exit(1);
	}
	if (type == MSG_RUN) {
		struct run_spec spec;
		char err[512];
		if (spec_parse(payload, len, &spec, err, sizeof err) < 0) {
			send_error(conn, "spec", "%s", err);
		} else {
			struct run_context ctx = {
				.vm_mode = s->vm_mode,
				.session = true,
				.allow_privileged = s->privileged,
				.etc = s->etc,
				.init_start = start,
				.spec_received = boottime_ns(),
			};
			rc = run_request(conn, &spec, &ctx);
		}
	} else if (type == MSG_PUT || type == MSG_GET || type == MSG_LIST) {
		rc = transfer_serve(conn, type, payload, len, s->etc) < 0 ? 1 : 0;
	} else if (type == MSG_FORWARD) {
		rc = forward_serve(conn, payload, len);
	} else if (type == MSG_LINK) {
		rc = link_serve(conn, payload, len, s->etc, s->vm_mode);
	} else {
		send_error(conn, "session", "expected RUN, PUT, GET, LIST, FORWARD or LINK on a session connection, got type 0x%02x", type);
	}
	free(payload);
	transport_finish(conn, 5000);
	_exit(rc);
}

static void accept_session(struct service *s)
{
	int conn = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return;
	if (!s->vm_mode && s->nchildren >= MAX_CHILDREN) {
		send_error(conn, "session", "too many sessions at once (%d)", MAX_CHILDREN);
		close(conn);
		return;
	}
	pid_t pid = fork();
	if (pid == 0)
		session(s, conn);
	if (pid > 0 && !s->vm_mode)
		s->children[s->nchildren++] = pid;
	close(conn);
}

/* The main process runs in a child of its own, so PID 1 keeps serving; its output goes on the boot connection. */
static pid_t start_main(struct service *s, struct run_spec *serve, const struct run_user *user)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	close(s->listener);
	close(s->sfd);
	survive_sigterm(s);
	struct command_result res;
	/* PID 1 alone reads the boot connection (POWEROFF); this process only writes to it. */
	command_run(s->boot, serve, user, COMMAND_NO_HOST_INPUT, &res);
	_exit(send_exit(s->boot, &res) < 0 ? 1 : 0);
}

/* A message from the host on the boot connection; its end means the host is gone. */
static void boot_message(struct service *s)
{
	uint8_t type, *payload;
	uint32_t len;
	if (frame_read(s->boot, &type, &payload, &len) < 0) {
		fprintf(stderr, "vmstep-init: the host closed the boot connection; powering off\n");
		power_off(s, 0);
	}
	if (type == MSG_POWEROFF) {
		uint64_t grace = DEFAULT_POWEROFF_GRACE_MS;
		struct field_iter it;
		struct field f;
		fields_begin(&it, payload, len);
		while (fields_next(&it, &f) == 1)
			if (f.tag == POWEROFF_GRACE_MS)
				field_u64(&f, &grace);
		free(payload);
		power_off(s, grace);
	}
	free(payload); /* anything else is not for a serving VM: ignored, as unknown messages are */
}

_Noreturn void service_main(int boot, struct run_spec *serve, bool vm_mode)
{
	struct service s = {.boot = boot, .listener = -1, .vm_mode = vm_mode, .privileged = serve->privileged, .etc = etc_dir(vm_mode)};
	char err[512];
	struct run_user user;
	if (user_resolve(serve->user, s.etc, &user, err, sizeof err) < 0) {
		send_error(boot, "user", "%s", err);
		machine_finish(boot, vm_mode, 1);
	}
	if (serve->nvolumes && !vm_mode) {
		send_error(boot, "volume", "volumes need the VM: guest init's test mode does not mount disks");
		machine_finish(boot, vm_mode, 1);
	}
	if (vm_mode && volumes_mount(serve, &user, err, sizeof err) < 0) {
		send_error(boot, "volume", "%s", err);
		machine_finish(boot, vm_mode, 1);
	}
	const char *exec_socket = vm_mode ? NULL : getenv("VMSTEP_INIT_EXEC_SOCKET");
	if (!vm_mode && (!exec_socket || !*exec_socket)) {
		send_error(boot, "serve", "service mode in test mode needs VMSTEP_INIT_EXEC_SOCKET, the Unix socket to serve sessions on");
		machine_finish(boot, vm_mode, 1);
	}
	s.listener = transport_listen(exec_socket, serve->exec_port, err, sizeof err);
	s.exec_socket = s.listener >= 0 ? exec_socket : NULL;
	if (s.listener < 0) {
		send_error(boot, "serve", "%s", err);
		machine_finish(boot, vm_mode, 1);
	}
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	s.sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (serve->argc > 0) {
		if (!spec_getenv(serve, "HOME") && spec_addenv(serve, "HOME", user.home) < 0) {
			send_error(boot, "spec", "out of memory");
			machine_finish(boot, vm_mode, 1);
		}
		if (make_dirs(serve->workdir) < 0) {
			send_error(boot, "workdir", "cannot create the working directory %s: %s", serve->workdir, strerror(errno));
			machine_finish(boot, vm_mode, 1);
		}
	}
	struct record r = {0};
	record_u64(&r, READY_READY_NS, boottime_ns());
	if (s.sfd < 0 || record_send(boot, MSG_READY, &r) < 0)
		power_off(&s, 0);
	if (serve->argc > 0) {
		s.main_runner = start_main(&s, serve, &user);
		if (s.main_runner < 0)
			power_off(&s, 0);
		if (!vm_mode)
			s.children[s.nchildren++] = s.main_runner;
	}

	for (;;) {
		struct pollfd p[3] = {
			{.fd = s.listener, .events = POLLIN},
			{.fd = boot, .events = POLLIN},
			{.fd = s.sfd, .events = POLLIN},
		};
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			power_off(&s, 0);
		if ((p[2].revents & POLLIN) && reap_all(&s)) {
			/* The main process ended and its EXIT is out: the VM ends with it. */
			power_off(&s, 0);
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			boot_message(&s);
		if (p[0].revents & POLLIN)
			accept_session(&s);
	}
}
