#include "outputs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "protocol.h"

#define CHUNK (256 * 1024)

struct sent_id {
	dev_t dev;
	ino_t ino;
};

struct collector {
	int sock;
	const struct run_spec *spec;
	const char *request; /* the output path or glob being served */
	struct sent_id *sent;
	size_t nsent;
	uint64_t over_limit; /* files not returned because of max_files */
	bool broken;         /* the connection to the host failed */
};

static void issue(struct collector *c, const char *path, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void issue(struct collector *c, const char *path, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct record r = {0};
	record_str(&r, ISSUE_REQUEST, c->request);
	if (path)
		record_str(&r, ISSUE_PATH, path);
	record_str(&r, ISSUE_REASON, reason);
	record_str(&r, ISSUE_MESSAGE, msg);
	if (!c->broken && record_send(c->sock, MSG_OUTPUT_ISSUE, &r) < 0)
		c->broken = true;
}

void path_normalize(char *path)
{
	/* Components are copied forward; ".." pops the last one kept. */
	char *out = path;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		size_t len = p - start;
		if (len == 0 || (len == 1 && start[0] == '.'))
			continue;
		if (len == 2 && start[0] == '.' && start[1] == '.') {
			while (out > path && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, start, len);
		out += len;
	}
	if (out == path)
		*out++ = '/';
	*out = 0;
}

static void send_file(struct collector *c, const char *path, const struct stat *st)
{
	for (size_t i = 0; i < c->nsent; i++)
		if (c->sent[i].dev == st->st_dev && c->sent[i].ino == st->st_ino)
			return; /* matched twice (a directory and a glob): return it once */
	if (c->nsent >= c->spec->max_files) {
		c->over_limit++;
		return;
	}
	if ((uint64_t)st->st_size > c->spec->max_file_bytes) {
		issue(c, path, "too-large", "%s is %lld bytes, over the limit of %llu bytes per output file", path,
		      (long long)st->st_size, (unsigned long long)c->spec->max_file_bytes);
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		issue(c, path, "unreadable", "cannot open %s: %s", path, strerror(errno));
		return;
	}
	struct sent_id *s = realloc(c->sent, (c->nsent + 1) * sizeof *s);
	if (!s) {
		close(fd);
		issue(c, path, "unreadable", "out of memory in guest init");
		return;
	}
	c->sent = s;
	c->sent[c->nsent++] = (struct sent_id){st->st_dev, st->st_ino};

	uint64_t size = (uint64_t)st->st_size;
	struct record r = {0};
	record_str(&r, FILE_PATH, path);
	record_u64(&r, FILE_MODE, st->st_mode & 07777);
	record_u64(&r, FILE_SIZE, size);
	if (record_send(c->sock, MSG_FILE, &r) < 0) {
		c->broken = true;
		close(fd);
		return;
	}
	static uint8_t buf[CHUNK];
	uint64_t done = 0;
	const char *failure = NULL;
	while (done < size) {
		size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			failure = n == 0 ? "the file shrank while it was being read" : strerror(errno);
			break;
		}
		if (frame_write(c->sock, MSG_FILE_DATA, buf, (size_t)n) < 0) {
			c->broken = true;
			close(fd);
			return;
		}
		done += (uint64_t)n;
	}
	close(fd);
	if (failure) {
		record_str(&r, FILE_END_ERROR, failure);
	}
	if (record_send(c->sock, MSG_FILE_END, &r) < 0)
		c->broken = true;
}

static void add_tree(struct collector *c, char *path, size_t len, size_t cap);

/* A path found inside a directory: never follow links out of the tree. */
static void add_entry(struct collector *c, char *path, size_t len, size_t cap)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		issue(c, path, "unreadable", "cannot read %s: %s", path, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		send_file(c, path, &st);
	} else if (S_ISDIR(st.st_mode)) {
		add_tree(c, path, len, cap);
	} else {
		issue(c, path, "not-regular", "%s is %s, not a regular file: not returned", path,
		      S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file");
	}
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t dir_names_sorted(DIR *d, char ***out)
{
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char **more = realloc(names, (n + 1) * sizeof *names);
		char *name = strdup(e->d_name);
		if (!more || !name) {
			free(name);
			names = more ? more : names;
			break;
		}
		names = more;
		names[n++] = name;
	}
	qsort(names, n, sizeof *names, compare_names);
	*out = names;
	return n;
}

void dir_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Walks a directory in name order; path has room for cap bytes. */
static void add_tree(struct collector *c, char *path, size_t len, size_t cap)
{
	DIR *d = opendir(path);
	if (!d) {
		issue(c, path, "unreadable", "cannot list %s: %s", path, strerror(errno));
		return;
	}
	char **names;
	size_t n = dir_names_sorted(d, &names);
	closedir(d);
	for (size_t i = 0; i < n && !c->broken; i++) {
		size_t nl = strlen(names[i]);
		if (len + 1 + nl + 1 > cap) {
			issue(c, path, "unreadable", "a path under %s is too long", path);
			continue;
		}
		bool root = len == 1; /* "/" */
		size_t at = root ? 1 : len + 1;
		if (!root)
			path[len] = '/';
		memcpy(path + at, names[i], nl + 1);
		add_entry(c, path, at + nl, cap);
		path[len] = 0;
		if (root)
			path[1] = 0;
	}
	dir_names_free(names, n);
}

/* A path the user named (or a glob matched): links here are followed, as the user asked for it. */
static void add_requested(struct collector *c, const char *match)
{
	char path[4096];
	snprintf(path, sizeof path, "%s", match);
	path_normalize(path);
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			issue(c, path, "missing", "%s does not exist", path);
		else
			issue(c, path, "unreadable", "cannot read %s: %s", path, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		send_file(c, path, &st);
	} else if (S_ISDIR(st.st_mode)) {
		add_tree(c, path, strlen(path), sizeof path);
	} else {
		issue(c, path, "not-regular", "%s is a special file, not returned", path);
	}
}

int outputs_send(int sock, const struct run_spec *spec)
{
	struct collector c = {.sock = sock, .spec = spec};
	for (size_t i = 0; i < spec->noutputs && !c.broken; i++) {
		c.request = spec->outputs[i];
		char abs[4096];
		if (spec->outputs[i][0] == '/')
			snprintf(abs, sizeof abs, "%s", spec->outputs[i]);
		else
			snprintf(abs, sizeof abs, "%s/%s", spec->workdir, spec->outputs[i]);
		if (!strpbrk(abs, "*?[")) {
			add_requested(&c, abs);
			continue;
		}
		glob_t g;
		memset(&g, 0, sizeof g);
		int rc = glob(abs, 0, NULL, &g); /* sorted, so files arrive in a stable order */
		if (rc == GLOB_NOMATCH) {
			issue(&c, NULL, "missing", "nothing matches %s", abs);
		} else if (rc != 0) {
			issue(&c, NULL, "unreadable", "cannot expand %s", abs);
		} else {
			for (size_t m = 0; m < g.gl_pathc && !c.broken; m++)
				add_requested(&c, g.gl_pathv[m]);
		}
		if (g.gl_pathv)
			globfree(&g);
	}
	if (c.over_limit && !c.broken) {
		c.request = "";
		issue(&c, NULL, "limit", "%llu more output files were not returned: the limit is %llu files",
		      (unsigned long long)c.over_limit, (unsigned long long)spec->max_files);
	}
	free(c.sent);
	return c.broken ? -1 : 0;
}
