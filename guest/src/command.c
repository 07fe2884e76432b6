#include "command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "confine.h"
#include "frame.h"
#include "protocol.h"
#include "stdin_feed.h"

#define CHUNK (256 * 1024)
/* After the main process exits and leftovers are killed, the pipes reach
 * their end at once; this bound matters for a process stuck in the kernel
 * that still holds a pipe open, and for a background process an exec left
 * running with its output still on our pipes (COMMAND_KEEP_BACKGROUND): it
 * gets this long, then loses its output (SIGPIPE on its next write, as
 * when a terminal closes). */
#define DRAIN_TIMEOUT_MS 5000
/* Docker's default PATH when the image sets none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the child reports through the exec pipe when it cannot exec. */
struct child_failure {
	int code;
	char message[480];
};

_Noreturn static void child_fail(int fd, int code, const char *msg)
{
	struct child_failure f = {.code = code};
	snprintf(f.message, sizeof f.message, "%s", msg);
	ssize_t w = write(fd, &f, sizeof f);
	(void)w;
	_exit(code);
}

/* execve over the spec's PATH, as execvp would but with the workload's PATH. */
static int exec_path(const struct run_spec *spec)
{
	const char *file = spec->argv[0];
	if (strchr(file, '/')) {
		execve(file, spec->argv, spec->env);
		return errno;
	}
	const char *path = spec_getenv(spec, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	int seen_eacces = 0;
	char full[4096];
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int dirlen = (int)(end - p);
		if (snprintf(full, sizeof full, "%.*s%s%s", dirlen, p, dirlen ? "/" : "", file) < (int)sizeof full) {
			execve(full, spec->argv, spec->env);
			if (errno == EACCES)
				seen_eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				return errno;
		}
		if (!*end)
			break;
		p = end;
	}
	return seen_eacces ? EACCES : ENOENT;
}

_Noreturn static void child(const struct run_spec *spec, const struct run_user *user, int in, int out, int err, int report)
{
	char msg[400];
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Ignored signals stay ignored across exec: give the workload defaults. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setsid();

	if (in < 0)
		in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) == 0) {
			close(p[1]);
			in = p[0];
		}
	}
	if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		child_fail(report, 126, "cannot set up the command's standard streams");

	if (!spec->privileged && confine_drop_bounding(msg, sizeof msg))
		child_fail(report, 126, msg);
	if (confine_set_user(user, msg, sizeof msg))
		child_fail(report, 126, msg);
	if (!spec->privileged && confine_lock(msg, sizeof msg))
		child_fail(report, 126, msg);
	/* When the process that serves this command dies (a session's connection
	 * handler killed at power-off), the command goes with it. Set after the
	 * user switch, which would clear it. */
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	if (chdir(spec->workdir) < 0) {
		char m[480];
		snprintf(m, sizeof m, "cannot enter the working directory %s as uid %u: %s", spec->workdir,
			 (unsigned)user->uid, strerror(errno));
		child_fail(report, 126, m);
	}

	int e = exec_path(spec);
	char m[480];
	const char *file = spec->argv[0];
	if ((e == ENOENT || e == ENOTDIR) && !strchr(file, '/'))
		snprintf(m, sizeof m, "cannot run '%.200s': executable file not found in PATH (%.200s)", file,
			 spec_getenv(spec, "PATH") ? spec_getenv(spec, "PATH") : DEFAULT_PATH);
	else if (e == ENOENT || e == ENOTDIR)
		snprintf(m, sizeof m, "cannot run '%.200s': no such file or directory (or its #! interpreter is missing)", file);
	else if (e == EACCES)
		snprintf(m, sizeof m, "cannot run '%.200s': permission denied (is it executable, and its directory searchable, for uid %u?)",
			 file, (unsigned)user->uid);
	else if (e == ENOEXEC)
		snprintf(m, sizeof m, "cannot run '%.200s': exec format error (not an x86-64 program, or a script without #!)", file);
	else
		snprintf(m, sizeof m, "cannot run '%.200s': %s", file, strerror(e));
	child_fail(report, e == ENOENT || e == ENOTDIR ? 127 : 126, m);
}

static void set_result(struct command_result *res, int status)
{
	res->end_ns = boottime_ns();
	if (WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
		res->code = 128 + res->signal;
	} else {
		res->code = WEXITSTATUS(status);
	}
}

/* Reaps every exited child; records the main one. Returns 1 when it was seen. */
static int reap(pid_t main_pid, struct command_result *res)
{
	int seen = 0, status;
	pid_t w;
	while ((w = waitpid(-1, &status, WNOHANG)) > 0)
		if (w == main_pid) {
			set_result(res, status);
			seen = 1;
		}
	return seen;
}

static void kill_leftovers(pid_t main_pid, bool whole_system)
{
	/* As PID 1, kill(-1) reaches every process but ourselves. */
	kill(whole_system ? -1 : -main_pid, SIGKILL);
}

static long ms_since(uint64_t t0)
{
	return (long)((boottime_ns() - t0) / 1000000u);
}

/* Reads the host's messages during the run. Returns -1 when the host is gone (or broke the stdin window). */
static int host_message(int sock, pid_t pid, bool running, struct stdin_feed *feed)
{
	uint8_t type, *payload;
	uint32_t len;
	if (frame_read(sock, &type, &payload, &len) < 0)
		return -1;
	int rc = 0;
	if (type == MSG_STDIN && feed) {
		if (stdin_feed_push(feed, sock, payload, len) < 0) {
			send_error(sock, "protocol", "the host sent more stdin than the %u-byte window allows", PROTO_STDIN_WINDOW);
			rc = -1;
		}
	} else if (type == MSG_STDIN_END && feed) {
		stdin_feed_end(feed, sock);
	} else if (type == MSG_SIGNAL && running) {
		struct field_iter it;
		struct field f;
		uint64_t sig;
		fields_begin(&it, payload, len);
		while (fields_next(&it, &f) == 1)
			if (f.tag == SIGNAL_SIGNAL && field_u64(&f, &sig) == 0 && sig > 0 && sig < NSIG)
				kill(-pid, (int)sig);
	}
	free(payload);
	return rc;
}

void command_run(int sock, const struct run_spec *spec, const struct run_user *user, unsigned flags,
		 struct command_result *res)
{
	bool whole_system = flags & COMMAND_KILL_ALL;
	int host_in = flags & COMMAND_NO_HOST_INPUT ? -1 : sock;
	*res = (struct command_result){0};
	int out[2], err[2], report[2], in[2] = {-1, -1};
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		res->code = 126;
		snprintf(res->error, sizeof res->error, "cannot create pipes for the command: %s", strerror(errno));
		return;
	}
	fcntl(out[0], F_SETPIPE_SZ, CHUNK);
	fcntl(err[0], F_SETPIPE_SZ, CHUNK);
	struct stdin_feed feed_storage, *feed = NULL;
	if (spec->stream_stdin) {
		if (pipe2(in, O_CLOEXEC) || stdin_feed_init(&feed_storage, in[1])) {
			res->code = 126;
			snprintf(res->error, sizeof res->error, "cannot create the command's stdin pipe: %s", strerror(errno));
			return;
		}
		feed = &feed_storage;
		fcntl(in[1], F_SETPIPE_SZ, CHUNK);
	}

	res->start_ns = boottime_ns();
	pid_t pid = fork();
	if (pid < 0) {
		res->code = 126;
		snprintf(res->error, sizeof res->error, "cannot fork the command: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		child(spec, user, in[0], out[1], err[1], report[1]);
	res->pid = pid;
	if (in[0] >= 0)
		close(in[0]);
	close(out[1]);
	close(err[1]);
	close(report[1]);

	/* The report pipe closes on a successful exec (O_CLOEXEC) or when the child exits. */
	struct child_failure failure;
	size_t got = 0;
	while (got < sizeof failure) {
		ssize_t r = read(report[0], (char *)&failure + got, sizeof failure - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	close(report[0]);
	if (got > 0) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		res->end_ns = boottime_ns();
		res->code = got == sizeof failure ? failure.code : 126;
		failure.message[sizeof failure.message - 1] = 0;
		snprintf(res->error, sizeof res->error, "%s", got == sizeof failure ? failure.message : "the command failed before exec");
		kill_leftovers(pid, false);
		close(out[0]);
		close(err[0]);
		close(sfd);
		if (feed)
			stdin_feed_finish(feed);
		return;
	}
	res->started = true;
	struct record r = {0};
	record_u64(&r, STARTED_PID, (uint64_t)pid);
	record_u64(&r, STARTED_COMMAND_START_NS, res->start_ns);
	if (record_send(sock, MSG_STARTED, &r) < 0) {
		res->host_gone = true;
		kill_leftovers(pid, whole_system);
	}

	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	static uint8_t buf[CHUNK];
	int fds[2] = {out[0], err[0]};
	const uint8_t types[2] = {MSG_STDOUT, MSG_STDERR};
	bool main_done = false;
	uint64_t done_at = 0;
	while (!res->host_gone && (fds[0] >= 0 || fds[1] >= 0 || !main_done)) {
		struct pollfd p[5] = {
			{.fd = fds[0], .events = POLLIN},
			{.fd = fds[1], .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
			{.fd = host_in, .events = POLLIN},
			{.fd = feed && stdin_feed_wants_write(feed) ? feed->fd : -1, .events = POLLOUT},
		};
		int timeout = -1;
		if (main_done) {
			long left = DRAIN_TIMEOUT_MS - ms_since(done_at);
			if (left <= 0)
				break; /* give up on pipes held open by a process that cannot die */
			timeout = (int)left;
		}
		if (poll(p, 5, timeout) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(fds[i], buf, sizeof buf);
			if (n > 0) {
				if (frame_write(sock, types[i], buf, (size_t)n) < 0)
					res->host_gone = true;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si)
				;
			if (reap(pid, res) && !main_done) {
				main_done = true;
				done_at = boottime_ns();
				/* Data already in the pipes survives its writers: killing now loses nothing the command wrote.
				 * Kept background processes that still hold the pipes get DRAIN_TIMEOUT_MS to let go. */
				if (!(flags & COMMAND_KEEP_BACKGROUND))
					kill_leftovers(pid, whole_system);
				/* Nobody reads stdin any more; stop acknowledging before EXIT goes out. */
				if (feed)
					stdin_feed_finish(feed);
			}
		}
		if ((p[4].revents & (POLLOUT | POLLERR | POLLHUP)) && stdin_feed_write(feed, sock) < 0)
			res->host_gone = true;
		if ((p[3].revents & (POLLIN | POLLHUP | POLLERR)) && host_message(sock, pid, !main_done, feed) < 0)
			res->host_gone = true;
	}
	if (feed)
		stdin_feed_finish(feed);
	if (res->host_gone || !main_done) {
		kill_leftovers(pid, whole_system);
		if (!main_done) {
			int status;
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			set_result(res, status);
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Reap what the kill left as zombies, so nothing outlives the run. */
	for (int i = 0; i < 200; i++) {
		int status;
		pid_t w = waitpid(-1, &status, WNOHANG);
		if (w < 0)
			break; /* ECHILD: none left */
		if (w == 0) {
			struct timespec ts = {0, 10 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	close(sfd);
}
