#include "user.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits a colon-separated line in place; returns the field count. */
static int split(char *line, char **fields, int max)
{
	line[strcspn(line, "\n")] = 0;
	int n = 0;
	fields[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = 0;
			fields[n++] = p + 1;
		}
	return n;
}

/* A decimal id, or -1 when s is not one. */
static long parse_id(const char *s)
{
	if (!*s)
		return -1;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || s[0] == '-' || s[0] == '+' || v > 0x7fffffffUL)
		return -1;
	return (long)v;
}

struct passwd_entry {
	bool found;
	char name[256];
	uid_t uid;
	gid_t gid;
	char home[256];
};

/* Matches by name, or by uid when want_uid >= 0. */
static void find_passwd(const char *etc, const char *name, long want_uid, struct passwd_entry *out)
{
	char path[512], line[4096];
	snprintf(path, sizeof path, "%s/passwd", etc);
	FILE *f = fopen(path, "re");
	out->found = false;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *fl[7];
		if (line[0] == '#' || split(line, fl, 7) < 4)
			continue;
		long uid = parse_id(fl[2]), gid = parse_id(fl[3]);
		if (uid < 0 || gid < 0)
			continue;
		if (want_uid >= 0 ? uid == want_uid : strcmp(fl[0], name) == 0) {
			out->found = true;
			snprintf(out->name, sizeof out->name, "%s", fl[0]);
			out->uid = uid;
			out->gid = gid;
			snprintf(out->home, sizeof out->home, "%s", fl[5] && fl[5][0] ? fl[5] : "/");
			break;
		}
	}
	fclose(f);
}

static bool listed(char *members, const char *name)
{
	for (char *m = strtok(members, ","); m; m = strtok(NULL, ","))
		if (strcmp(m, name) == 0)
			return true;
	return false;
}

/*
 * With group_arg: finds that group by name (first match wins) into *gid.
 * Without: collects every group that lists user_name as a member.
 */
static int scan_groups(const char *etc, const char *group_arg, const char *user_name, gid_t *gid, struct run_user *out)
{
	char path[512], line[65536];
	snprintf(path, sizeof path, "%s/group", etc);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		char *fl[4];
		if (line[0] == '#' || split(line, fl, 4) < 3)
			continue;
		long g = parse_id(fl[2]);
		if (g < 0)
			continue;
		if (group_arg) {
			if (strcmp(fl[0], group_arg) == 0) {
				*gid = g;
				found = 1;
				break;
			}
		} else if (user_name[0] && fl[3] && listed(fl[3], user_name) && out->ngroups < USER_MAX_GROUPS) {
			bool seen = false;
			for (size_t i = 0; i < out->ngroups; i++)
				seen |= out->groups[i] == (gid_t)g;
			if (!seen)
				out->groups[out->ngroups++] = g;
		}
	}
	fclose(f);
	return found;
}

int user_resolve(const char *spec, const char *etc, struct run_user *out, char *err, size_t errlen)
{
	*out = (struct run_user){.uid = 0, .gid = 0};
	snprintf(out->home, sizeof out->home, "/");

	char user_arg[256], *group_arg = NULL;
	if (snprintf(user_arg, sizeof user_arg, "%s", spec) >= (int)sizeof user_arg) {
		snprintf(err, errlen, "the user '%.64s...' is too long", spec);
		return -1;
	}
	char *colon = strchr(user_arg, ':');
	if (colon) {
		*colon = 0;
		group_arg = colon + 1;
	}

	/* The user: by name, or by uid when numeric; the default is uid 0. */
	struct passwd_entry pw;
	long uid_arg = user_arg[0] ? parse_id(user_arg) : 0;
	find_passwd(etc, user_arg, uid_arg, &pw);
	if (pw.found) {
		out->uid = pw.uid;
		out->gid = pw.gid;
		snprintf(out->home, sizeof out->home, "%s", pw.home);
	} else if (uid_arg >= 0) {
		out->uid = uid_arg; /* a numeric user without an entry runs with gid 0 */
	} else {
		snprintf(err, errlen, "unable to find user %s: no matching entries in %s/passwd", user_arg, etc);
		return -1;
	}

	/*
	 * Docker passes the primary group as the first supplementary group too
	 * (moby's getUser), then the groups that list the user: `id` in a
	 * container shows groups=0(root),1(bin),... for root on Alpine.
	 */
	if (group_arg) {
		/* An explicit group replaces the primary group; no other supplementary groups. */
		gid_t gid;
		if (!group_arg[0]) {
			snprintf(err, errlen, "the user '%s' has an empty group after ':'", spec);
			return -1;
		}
		if (scan_groups(etc, group_arg, NULL, &gid, out)) {
			out->gid = gid;
		} else {
			long g = parse_id(group_arg);
			if (g < 0) {
				snprintf(err, errlen, "unable to find group %s: no matching entries in %s/group", group_arg, etc);
				return -1;
			}
			out->gid = g;
		}
	}
	out->groups[out->ngroups++] = out->gid;
	if (!group_arg && pw.found)
		scan_groups(etc, NULL, pw.name, NULL, out);
	return 0;
}
