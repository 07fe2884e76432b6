/*
 * Calls each system call the workload's seccomp filter blocks, with arguments
 * that make it fail harmlessly (bad flags, missing files), and prints the
 * errno name. `seccomp-probe filtered` installs guest init's filter first.
 * As root with all capabilities, the unfiltered calls fail with EINVAL,
 * ENOENT, EBADF... and the filtered ones with EPERM: that difference is the
 * filter, not a missing capability. Built and run by
 * test/unit/guest-confine.test.ts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../src/confine.h"

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case ENOEXEC: return "ENOEXEC";
	case ENOSYS: return "ENOSYS";
	case EFAULT: return "EFAULT";
	default: return strerror(e);
	}
}

#define PROBE(name, ...)                                                   \
	do {                                                               \
		errno = 0;                                                 \
		long r = syscall(__VA_ARGS__);                             \
		printf("%s %s\n", name, r == 0 ? "OK" : errname(errno)); \
	} while (0)

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "filtered") == 0) {
		char err[256];
		if (confine_seccomp(err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
	}
	PROBE("reboot", SYS_reboot, 0, 0, 0, NULL);                              /* bad magic: EINVAL */
	PROBE("kexec_load", SYS_kexec_load, 0, 0, NULL, 0xdead0000ul);          /* bad flags: EINVAL */
	PROBE("kexec_file_load", SYS_kexec_file_load, -1, -1, 0, NULL, 0xdead0000ul);
	PROBE("init_module", SYS_init_module, NULL, 0, "");                     /* too short: ENOEXEC or ENOSYS */
	PROBE("finit_module", SYS_finit_module, -1, "", 0);                     /* EBADF or ENOSYS */
	PROBE("delete_module", SYS_delete_module, "vmstep-no-such-module", 04000);
	PROBE("swapon", SYS_swapon, "/nonexistent/vmstep-swap", 0);
	PROBE("swapoff", SYS_swapoff, "/nonexistent/vmstep-swap");
	PROBE("getppid", SYS_getppid);                                           /* not blocked */
	return 0;
}
