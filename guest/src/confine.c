#include "confine.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int confine_drop_bounding(char *err, size_t errlen)
{
	/* Probe upwards rather than trusting CAP_LAST_CAP from our headers:
	 * the running kernel may know more capabilities than we were built with. */
	for (int cap = 0;; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* EINVAL: past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int confine_set_user(const struct run_user *u, char *err, size_t errlen)
{
	if (setgroups(u->ngroups, u->groups) < 0) {
		snprintf(err, errlen, "cannot set the supplementary groups: %s", strerror(errno));
		return -1;
	}
	if (setgid(u->gid) < 0) {
		snprintf(err, errlen, "cannot switch to group %u: %s", (unsigned)u->gid, strerror(errno));
		return -1;
	}
	if (setuid(u->uid) < 0) {
		snprintf(err, errlen, "cannot switch to user %u: %s", (unsigned)u->uid, strerror(errno));
		return -1;
	}
	return 0;
}

/* x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
static const unsigned blocked_x86_64[] = {
	169, /* reboot */
	246, /* kexec_load */
	320, /* kexec_file_load */
	175, /* init_module */
	313, /* finit_module */
	176, /* delete_module */
	167, /* swapon */
	168, /* swapoff */
};
/* i386 numbers (syscall_32.tbl), for 32-bit programs on a kernel with IA32 emulation. */
static const unsigned blocked_i386[] = {
	88,  /* reboot */
	283, /* kexec_load */
	128, /* init_module */
	350, /* finit_module */
	129, /* delete_module */
	87,  /* swapon */
	115, /* swapoff */
};
#define NX (sizeof blocked_x86_64 / sizeof blocked_x86_64[0])
#define NI (sizeof blocked_i386 / sizeof blocked_i386[0])
/* x32 system calls are x86-64 numbers with this bit set. */
#define X32_SYSCALL_BIT 0x40000000u

int confine_seccomp(char *err, size_t errlen)
{
	struct sock_filter prog[9 + NX + NI];
	size_t n = 0;
	/* Jump offsets below are relative to the next instruction. */
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3 + NX);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~X32_SYSCALL_BIT);
	for (size_t i = 0; i < NX; i++) /* match: jump to the ERRNO return at the end */
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, blocked_x86_64[i], (uint8_t)(NX - i + 3 + NI), 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	/* not x86-64: i386? */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 1 + NI);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < NI; i++)
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, blocked_i386[i], (uint8_t)(NI - i), 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	if (n != sizeof prog / sizeof prog[0]) {
		snprintf(err, errlen, "internal error: seccomp program has %zu instructions, expected %zu", n, sizeof prog / sizeof prog[0]);
		return -1;
	}
	struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s (the guest kernel needs CONFIG_SECCOMP_FILTER)", strerror(errno));
		return -1;
	}
	return 0;
}

int confine_lock(char *err, size_t errlen)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		return -1;
	}
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) < 0) {
		snprintf(err, errlen, "cannot drop the capabilities: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	return confine_seccomp(err, errlen);
}
