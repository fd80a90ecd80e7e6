/* Helpers shared by the verbs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "runtime/cli/cli.h"

int cli_usage(struct cli *c, const char *usage)
{
	return isola_err(&c->err, 0, "usage: isola-runtime %s", usage);
}

const char *cli_id(struct cli *c, int argc, char **argv, const char *usage)
{
	extern int optind;
	if (optind != argc - 1) {
		cli_usage(c, usage);
		return NULL;
	}
	return argv[optind];
}

int cli_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (!strncasecmp(s, "RTMIN+", 6)) {
		n = strtol(s + 6, &end, 10);
		return !*end && SIGRTMIN + n <= SIGRTMAX ? SIGRTMIN + (int)n : -1;
	}
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);
		if (name && !strcasecmp(name, s))
			return i;
	}
	return -1;
}

int cli_uint(struct cli *c, const char *flag, const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > 1 << 20 || s[0] == '-')
		return isola_err(&c->err, 0, "%s: \"%s\" is not a number", flag, s);
	*out = (unsigned)v;
	return 0;
}
