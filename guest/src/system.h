/*
 * What a program in an image expects of the machine, set up by PID 1 in the
 * VM (never in test mode): the pseudo filesystems, standard file descriptors,
 * loopback networking, unprivileged ping, the hostname and /etc/hosts.
 */
#ifndef VMSTEP_SYSTEM_H
#define VMSTEP_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>

/* Before connecting to the host. Returns 0, or -1 with the first failure in err. */
int system_early(char *err, size_t errlen);

/* Once the spec is known. Returns 0, or -1 with a message in err. */
int system_late(const char *hostname, char *err, size_t errlen);

/*
 * Ends guest init: once the host has read everything on sock (bounded
 * wait), syncs and powers off in the VM (reboot=k makes it a clean exit for
 * the VMM), or exits with status in test mode.
 */
_Noreturn void machine_finish(int sock, bool vm_mode, int status);

#endif
