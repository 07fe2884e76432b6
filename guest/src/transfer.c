#include "transfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "entry.h"
#include "frame.h"
#include "outputs.h"
#include "protocol.h"
#include "run.h"
#include "user.h"

#define CHUNK (256 * 1024)
/* Deeper trees than this are refused rather than walked with one fd per level. */
#define MAX_DEPTH 256

static int send_done(int sock, const char *error, uint64_t entries)
{
	struct record r = {0};
	if (error && error[0])
		record_str(&r, DONE_ERROR, error);
	record_u64(&r, DONE_ENTRIES, entries);
	return record_send(sock, MSG_DONE, &r);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

// PUT ------------------------------------------------------------------------

struct put {
	int root;          /* the destination directory */
	uid_t uid;
	gid_t gid;
	bool chown;        /* the owner differs from ours */
	char error[600];   /* the first failure; later entries are read and dropped */
	int fd;            /* the file being written */
	struct entry cur;
	uint64_t left;     /* its bytes still to come */
};

static void put_fail(struct put *p, const char *path, const char *what)
{
	if (!p->error[0])
		snprintf(p->error, sizeof p->error, "cannot create %.300s: %s: %s", path, what, strerror(errno));
}

/*
 * Opens the directory that holds path's last component, walking from the
 * root one component at a time with O_NOFOLLOW: a symbolic link at a parent
 * (made by a command in the guest, or by an earlier entry) is refused, never
 * followed. Returns a directory fd and points *leaf at the last component.
 */
static int open_parent(int root, char *path, char **leaf)
{
	int dir = dup(root);
	char *p = path;
	for (char *slash; dir >= 0 && (slash = strchr(p, '/')); p = slash + 1) {
		*slash = 0;
		int next = openat(dir, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(dir);
		dir = next;
	}
	*leaf = p;
	return dir;
}

/* Makes room for a file or link at leaf: an existing file or link goes, a directory stays (and is an error). */
static int clear_leaf(int dir, const char *leaf)
{
	struct stat st;
	if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	return unlinkat(dir, leaf, 0);
}

static void put_entry(struct put *p)
{
	struct entry *e = &p->cur;
	char *leaf;
	int dir = open_parent(p->root, e->path, &leaf);
	if (dir < 0)
		return put_fail(p, e->path, errno == ELOOP || errno == ENOTDIR ? "a parent is a symbolic link or not a directory" : "its parent directory");
	if (e->type == ENTRY_DIR) {
		if (mkdirat(dir, leaf, 0700) < 0 && errno != EEXIST) {
			put_fail(p, e->path, "mkdir");
		} else {
			int d = openat(dir, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (d < 0 || (p->chown && fchown(d, p->uid, p->gid) < 0) || fchmod(d, e->mode) < 0)
				put_fail(p, e->path, d < 0 ? "it exists and is not a directory" : "chown/chmod");
			if (d >= 0)
				close(d);
		}
	} else if (e->type == ENTRY_SYMLINK) {
		if (clear_leaf(dir, leaf) < 0 || symlinkat(e->link_target, dir, leaf) < 0)
			put_fail(p, e->path, "symlink");
		else if (p->chown && fchownat(dir, leaf, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) < 0)
			put_fail(p, e->path, "chown");
		else if (e->has_mtime) {
			struct timespec t[2] = {{0, UTIME_OMIT}, {(time_t)(e->mtime_ns / 1000000000u), (long)(e->mtime_ns % 1000000000u)}};
			utimensat(dir, leaf, t, AT_SYMLINK_NOFOLLOW);
		}
	} else {
		int fd = clear_leaf(dir, leaf) < 0 ? -1 : openat(dir, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		/* chown before chmod: chown clears setuid and setgid bits. */
		if (fd < 0 || (p->chown && fchown(fd, p->uid, p->gid) < 0)) {
			put_fail(p, e->path, fd < 0 ? "open" : "chown");
			if (fd >= 0)
				close(fd);
		} else {
			p->fd = fd;
		}
	}
	close(dir);
}

/* The current file is complete (or failed): set its mode and time, close it. */
static void put_file_end(struct put *p)
{
	if (p->fd < 0)
		return;
	if (fchmod(p->fd, p->cur.mode) < 0)
		put_fail(p, p->cur.path, "chmod");
	if (p->cur.has_mtime) {
		struct timespec t[2] = {{0, UTIME_OMIT}, {(time_t)(p->cur.mtime_ns / 1000000000u), (long)(p->cur.mtime_ns % 1000000000u)}};
		futimens(p->fd, t);
	}
	close(p->fd);
	p->fd = -1;
}

static int put(int sock, const struct transfer_request *req, const char *etc)
{
	struct put p = {.root = -1, .fd = -1};
	struct run_user user;
	char err[512];
	if (user_resolve(req->user ? req->user : "", etc, &user, err, sizeof err) < 0) {
		snprintf(p.error, sizeof p.error, "%s", err);
	} else {
		p.uid = user.uid;
		p.gid = user.gid;
		p.chown = user.uid != geteuid() || user.gid != getegid();
		if (make_dirs(req->path) < 0 || (p.root = open(req->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			snprintf(p.error, sizeof p.error, "cannot create the directory %.300s: %s", req->path, strerror(errno));
	}
	uint64_t count = 0;
	const char *violation = NULL;
	char why[600];
	for (;;) {
		uint8_t type, *payload;
		uint32_t len;
		if (frame_read(sock, &type, &payload, &len) < 0) {
			put_file_end(&p);
			entry_free(&p.cur);
			if (p.root >= 0)
				close(p.root);
			return -1;
		}
		if (type == MSG_FILE_DATA && len <= p.left) {
			if (p.fd >= 0 && write_all(p.fd, payload, len) < 0) {
				put_fail(&p, p.cur.path, "write");
				close(p.fd);
				p.fd = -1;
			}
			p.left -= len;
			if (p.left == 0)
				put_file_end(&p);
		} else if (p.left > 0) {
			violation = "an entry's data is cut short or too long";
		} else if (type == MSG_ENTRY) {
			entry_free(&p.cur);
			if (entry_parse(payload, len, &p.cur, why, sizeof why) < 0) {
				violation = why;
			} else {
				count++;
				if (!p.error[0])
					put_entry(&p);
				p.left = p.cur.size;
				if (p.left == 0)
					put_file_end(&p);
			}
		} else if (type != MSG_PUT_END) {
			violation = "expected ENTRY, FILE_DATA or PUT_END";
		}
		free(payload);
		if (violation || type == MSG_PUT_END)
			break;
	}
	put_file_end(&p);
	entry_free(&p.cur);
	if (p.root >= 0)
		close(p.root);
	if (violation)
		snprintf(p.error, sizeof p.error, "the host broke the protocol during PUT: %.500s", violation);
	return send_done(sock, p.error, count) < 0 ? -1 : 0;
}

// GET and LIST -----------------------------------------------------------------

struct walk {
	int sock;
	bool data;         /* GET: file bytes follow their ENTRY */
	uint64_t count;
	char error[600];   /* the first entry that could not be read */
	bool broken;
};

static void walk_fail(struct walk *w, const char *rel, const char *what)
{
	if (!w->error[0])
		snprintf(w->error, sizeof w->error, "cannot read %.300s: %s: %s", rel, what, strerror(errno));
}

static int send_entry(struct walk *w, const char *rel, const char *type, const struct stat *st, uint64_t size, const char *target)
{
	struct record r = {0};
	record_str(&r, ENTRY_PATH, rel);
	record_str(&r, ENTRY_TYPE, type);
	record_u64(&r, ENTRY_MODE, st->st_mode & 07777);
	record_u64(&r, ENTRY_SIZE, size);
	if (target)
		record_str(&r, ENTRY_LINK_TARGET, target);
	record_u64(&r, ENTRY_MTIME_NS, (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
	w->count++;
	if (record_send(w->sock, MSG_ENTRY, &r) < 0)
		w->broken = true;
	return w->broken ? -1 : 0;
}

/* Exactly size bytes of fd: a file that shrinks while read is padded with zeros (and reported), one that grows is cut. */
static void send_data(struct walk *w, int fd, const char *rel, uint64_t size)
{
	static uint8_t buf[CHUNK];
	uint64_t done = 0;
	bool short_read = false;
	while (done < size && !w->broken) {
		size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
		ssize_t n = short_read ? 0 : read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!short_read) {
				if (n == 0)
					errno = EIO;
				walk_fail(w, rel, "it shrank or failed while being read");
			}
			short_read = true;
			memset(buf, 0, want);
			n = (ssize_t)want;
		}
		if (frame_write(w->sock, MSG_FILE_DATA, buf, (size_t)n) < 0)
			w->broken = true;
		done += (uint64_t)n;
	}
}

static void walk(struct walk *w, int dir, const char *name, char *rel, size_t len, size_t cap, int depth)
{
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return walk_fail(w, rel, "stat");
	if (S_ISLNK(st.st_mode)) {
		char target[PROTO_MAX_ENTRY_PATH + 1];
		ssize_t n = readlinkat(dir, name, target, sizeof target);
		if (n <= 0 || n >= (ssize_t)sizeof target)
			return walk_fail(w, rel, "readlink");
		target[n] = 0;
		send_entry(w, rel, "symlink", &st, 0, target);
	} else if (S_ISREG(st.st_mode)) {
		int fd = w->data ? openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC) : -1;
		if (w->data && fd < 0)
			return walk_fail(w, rel, "open");
		if (send_entry(w, rel, "file", &st, (uint64_t)st.st_size, NULL) == 0 && w->data)
			send_data(w, fd, rel, (uint64_t)st.st_size);
		if (fd >= 0)
			close(fd);
	} else if (S_ISDIR(st.st_mode)) {
		if (depth >= MAX_DEPTH) {
			errno = ELOOP;
			return walk_fail(w, rel, "the tree is too deep");
		}
		int sub = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = sub < 0 ? NULL : fdopendir(sub);
		if (!d) {
			if (sub >= 0)
				close(sub);
			return walk_fail(w, rel, "open");
		}
		if (send_entry(w, rel, "dir", &st, 0, NULL) == 0) {
			char **names;
			size_t n = dir_names_sorted(d, &names);
			for (size_t i = 0; i < n && !w->broken; i++) {
				size_t nl = strlen(names[i]);
				if (len + 1 + nl > PROTO_MAX_ENTRY_PATH || len + 1 + nl >= cap) {
					errno = ENAMETOOLONG;
					walk_fail(w, rel, "a path beneath it is too long");
					continue;
				}
				rel[len] = '/';
				memcpy(rel + len + 1, names[i], nl + 1);
				walk(w, dirfd(d), names[i], rel, len + 1 + nl, cap, depth + 1);
				rel[len] = 0;
			}
			dir_names_free(names, n);
		}
		closedir(d);
	}
	/* Devices, sockets and fifos are not copied. */
}

static int get(int sock, const struct transfer_request *req, bool data)
{
	struct walk w = {.sock = sock, .data = data};
	char path[PROTO_MAX_ENTRY_PATH + 2];
	snprintf(path, sizeof path, "%s", req->path);
	path_normalize(path);
	if (!strcmp(path, "/"))
		return send_done(sock, "cannot copy the whole root directory: name a directory beneath it", 0) < 0 ? -1 : 0;
	char *slash = strrchr(path, '/');
	*slash = 0;
	const char *name = slash + 1;
	int parent = open(path[0] ? path : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (parent < 0 || fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		char msg[600];
		snprintf(msg, sizeof msg, "%.300s/%.200s: %s", path, name, errno == ENOENT || errno == ENOTDIR ? "no such file or directory" : strerror(errno));
		if (parent >= 0)
			close(parent);
		return send_done(sock, msg, 0) < 0 ? -1 : 0;
	}
	char rel[PROTO_MAX_ENTRY_PATH + 2];
	snprintf(rel, sizeof rel, "%s", name);
	walk(&w, parent, name, rel, strlen(rel), sizeof rel, 0);
	close(parent);
	if (w.broken)
		return -1;
	return send_done(sock, w.error, w.count) < 0 ? -1 : 0;
}

int transfer_serve(int sock, uint8_t type, const uint8_t *payload, uint32_t len, const char *etc)
{
	struct transfer_request req;
	char err[512];
	if (transfer_request_parse(type, payload, len, &req, err, sizeof err) < 0)
		return send_done(sock, err, 0) < 0 ? -1 : 0;
	int rc = type == MSG_PUT ? put(sock, &req, etc) : get(sock, &req, type == MSG_GET);
	transfer_request_free(&req);
	return rc;
}
