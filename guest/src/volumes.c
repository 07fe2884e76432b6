#include "volumes.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the volume disk is mounted while its volumes are bound into place; gone before the command starts. */
#define STAGING "/.vmstep/volumes"

static uid_t owner_uid;
static gid_t owner_gid;
static int chown_errno;
static char chown_path[256];

/* One entry of a volume: the run's user owns it. chown clears setuid/setgid bits, so they are put back. */
static int give_to_user(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)type;
	(void)ftw;
	if (lchown(path, owner_uid, owner_gid) < 0 ||
	    (!S_ISLNK(st->st_mode) && (st->st_mode & 06000) && chmod(path, st->st_mode & 07777) < 0)) {
		chown_errno = errno;
		snprintf(chown_path, sizeof chown_path, "%s", path);
		return 1;
	}
	return 0;
}

/* mkdir -p of path's parents, as root with mode 0755. */
static int make_parents(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		int rc = mkdir(path, 0755);
		*s = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* The mount point for a volume of source's kind: a directory, or an (empty) file. */
static int make_mount_point(const char *guest, bool dir)
{
	char p[4096];
	if (snprintf(p, sizeof p, "%s", guest) >= (int)sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (make_parents(p) < 0)
		return -1;
	if (dir)
		return mkdir(guest, 0755) < 0 && errno != EEXIST ? -1 : 0;
	int fd = open(guest, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0 && errno == EISDIR)
		return -1;
	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

int volumes_mount(const struct run_spec *spec, const struct run_user *user, char *err, size_t errlen)
{
	if (spec->nvolumes == 0)
		return 0;
	if (mkdir(STAGING, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s for the volumes: %s", STAGING, strerror(errno));
		return -1;
	}
	if (mount(spec->volume_device, STAGING, "ext4", MS_NODEV, NULL) < 0) {
		snprintf(err, errlen, "cannot mount the volume disk %s: %s", spec->volume_device, strerror(errno));
		return -1;
	}
	int rc = 0;
	owner_uid = user->uid;
	owner_gid = user->gid;
	for (size_t i = 0; i < spec->nvolumes && rc == 0; i++) {
		const char *v = spec->volumes[i];
		const char *colon = strchr(v, ':');
		const char *guest = colon + 1;
		char source[512];
		snprintf(source, sizeof source, STAGING "/%.*s", (int)(colon - v), v);
		struct stat st;
		if (lstat(source, &st) < 0) {
			snprintf(err, errlen, "volume %s: its copy %s is missing from the volume disk: %s", guest, source, strerror(errno));
			rc = -1;
			break;
		}
		if ((owner_uid != 0 || owner_gid != 0) && nftw(source, give_to_user, 32, FTW_PHYS | FTW_MOUNT) != 0) {
			snprintf(err, errlen, "volume %s: cannot give %s to uid %u: %s", guest, chown_path, (unsigned)owner_uid,
				 strerror(chown_errno ? chown_errno : errno));
			rc = -1;
			break;
		}
		if (make_mount_point(guest, S_ISDIR(st.st_mode)) < 0) {
			snprintf(err, errlen, "volume %s: cannot create it in the image (%s): is a parent a file, or is it a %s there?", guest,
				 strerror(errno), S_ISDIR(st.st_mode) ? "file" : "directory");
			rc = -1;
			break;
		}
		if (mount(source, guest, NULL, MS_BIND, NULL) < 0) {
			snprintf(err, errlen, "volume %s: cannot mount it: %s", guest, strerror(errno));
			rc = -1;
		}
	}
	/* The bind mounts keep the disk's filesystem alive; its staging mount is no business of the command's. */
	umount2(STAGING, MNT_DETACH);
	rmdir(STAGING);
	return rc;
}
