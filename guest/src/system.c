#include "system.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport.h"

/* How long we wait for the host to close after our last message. */
#define FINISH_TIMEOUT_MS 5000

struct mount_point {
	const char *source, *target, *fstype;
	unsigned long flags;
	const char *data;
	mode_t mode; /* of the mount point, when we create it */
};

/* The same set Docker gives a container, minus what only a container needs. */
static const struct mount_point mounts[] = {
	{"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555},
	{"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555},
	{"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755},
	{"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", 0755},
	{"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555},
	{"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755},
};

/* Links programs find in a container's /dev (bash process substitution uses /dev/fd). */
static const char *const dev_links[][2] = {
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
	{"/proc/kcore", "/dev/core"},
};

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return w == (ssize_t)len ? 0 : -1;
}

/*
 * The kernel opens /dev/console for init only when the image has that node;
 * OCI images usually have an empty /dev. Without fds 0-2 our first pipes
 * would become them, so make them exist: the console when there is one (for
 * debugging), /dev/null otherwise.
 */
static void standard_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int c = open(fd == 0 ? "/dev/null" : "/dev/console", O_RDWR | O_NOCTTY);
		if (c < 0)
			c = open("/dev/null", O_RDWR);
		if (c >= 0 && c != fd) {
			dup2(c, fd);
			close(c);
		}
	}
}

static int loopback_up(char *err, size_t errlen)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(err, errlen, "cannot open a socket to configure loopback: %s", strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		/* The kernel gives lo 127.0.0.1/8 and ::1 itself when it comes up. */
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot bring the loopback interface up: %s", strerror(errno));
	close(s);
	return rc;
}

int system_early(char *err, size_t errlen)
{
	err[0] = 0;
	int failed = 0;
	for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
		const struct mount_point *m = &mounts[i];
		mkdir(m->target, m->mode); /* usually exists; mount says if it cannot */
		if (mount(m->source, m->target, m->fstype, m->flags, m->data) < 0 && errno != EBUSY && !failed) {
			snprintf(err, errlen, "cannot mount %s on %s: %s", m->fstype, m->target, strerror(errno));
			failed = 1;
		}
		if (i == 2)
			standard_fds(); /* as soon as /dev exists */
	}
	for (size_t i = 0; i < sizeof dev_links / sizeof dev_links[0]; i++)
		symlink(dev_links[i][0], dev_links[i][1]); /* EEXIST is fine */
	/* Programs expect /tmp to exist and be world-writable. */
	if (mkdir("/tmp", 01777) == 0)
		chmod("/tmp", 01777);

	/* Every group may open ICMP echo sockets, so an unprivileged `ping` to
	 * 127.0.0.1 works without CAP_NET_RAW, which the workload does not have. */
	if (write_file("/proc/sys/net/ipv4/ping_group_range", "0 2147483647\n") < 0 && !failed) {
		snprintf(err, errlen, "cannot allow unprivileged ping (net.ipv4.ping_group_range): %s", strerror(errno));
		failed = 1;
	}
	if (loopback_up(failed ? (char[256]){0} : err, failed ? 256 : errlen) < 0)
		failed = 1;
	return failed ? -1 : 0;
}

int system_late(const char *hostname, char *err, size_t errlen)
{
	if (sethostname(hostname, strlen(hostname)) < 0) {
		snprintf(err, errlen, "cannot set the hostname to '%s': %s", hostname, strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat("/etc/hosts", &st) < 0 && errno == ENOENT) {
		char hosts[512];
		snprintf(hosts, sizeof hosts,
			 "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", hostname);
		mkdir("/etc", 0755);
		if (write_file("/etc/hosts", hosts) < 0) {
			snprintf(err, errlen, "cannot write /etc/hosts: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

_Noreturn void machine_finish(int sock, bool vm_mode, int status)
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
