/* spec_parse when memory runs out while it fills in defaults: it must answer
 * "out of memory", never use the NULL it got. Built with -Dstrdup=test_strdup,
 * so that the copy of one chosen string fails. Prints "RC ERROR". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/protocol.h"
#include "../src/spec.h"

static const char *fail_copy_of;

char *test_strdup(const char *s)
{
	if (fail_copy_of && strcmp(s, fail_copy_of) == 0)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	return p ? memcpy(p, s, n) : NULL;
}

int main(int argc, char **argv)
{
	fail_copy_of = argc > 1 ? argv[1] : NULL;
	/* One field: RUN_ARG "true". No working directory, user or host name, so all three are defaulted. */
	const uint8_t payload[] = {RUN_ARG, 0, 0, 0, 4, 't', 'r', 'u', 'e'};
	struct run_spec spec;
	char err[256] = "";
	int rc = spec_parse(payload, sizeof payload, &spec, err, sizeof err);
	printf("%d %s\n", rc, rc == 0 ? spec.workdir : err);
	return 0;
}
