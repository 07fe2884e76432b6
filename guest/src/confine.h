/*
 * Confinement of the workload (unless the run is privileged): every
 * capability dropped, the bounding set included, no_new_privs, and a seccomp
 * filter that answers EPERM to reboot, kexec, module loading and swap control.
 * Runs in the forked child just before exec, so it restricts only the
 * workload, never guest init; that is also why test mode can run it on a host.
 */
#ifndef VMSTEP_CONFINE_H
#define VMSTEP_CONFINE_H

#include <stddef.h>

#include "user.h"

/* Before dropping the user: empties the bounding set (needs CAP_SETPCAP). */
int confine_drop_bounding(char *err, size_t errlen);

/* Switches to the user: supplementary groups, gid, uid. */
int confine_set_user(const struct run_user *u, char *err, size_t errlen);

/* The seccomp filter alone (confine_lock installs it; exposed for its test). */
int confine_seccomp(char *err, size_t errlen);

/* After the user switch: no capabilities, no_new_privs, the seccomp filter. */
int confine_lock(char *err, size_t errlen);

#endif
