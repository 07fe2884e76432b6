/*
 * The user to run as, resolved the way Docker (runc) resolves `--user`
 * against the image's own /etc/passwd and /etc/group.
 */
#ifndef VMSTEP_USER_H
#define VMSTEP_USER_H

#include <stddef.h>
#include <sys/types.h>

#define USER_MAX_GROUPS 64

struct run_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[USER_MAX_GROUPS]; /* supplementary: gid first, as Docker sets them */
	size_t ngroups;
	char home[256];
};

/*
 * spec: "" (root), "name", "uid", "name:group", "uid:gid" or mixes.
 * etc: the directory holding passwd and group ("/etc" in the VM).
 * Returns 0, or -1 with a message for the host in err.
 */
int user_resolve(const char *spec, const char *etc, struct run_user *out, char *err, size_t errlen);

#endif
