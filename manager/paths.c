#include "paths.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *isola_dir(void)
{
	const char *d = getenv("ISOLA_DIR");
	return d && *d ? d : "/var/lib/isola";
}

const char *isola_run_dir(void)
{
	const char *d = getenv("ISOLA_RUN_DIR");
	return d && *d ? d : "/run/isola";
}

static char *vpath(char *buf, size_t len, const char *root, const char *fmt, va_list ap)
{
	int n = snprintf(buf, len, "%s/", root);
	if (n < 0 || (size_t)n >= len)
		abort();
	int m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		abort();
	return buf;
}

char *isola_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpath(buf, len, isola_dir(), fmt, ap);
	va_end(ap);
	return buf;
}

char *isola_run_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpath(buf, len, isola_run_dir(), fmt, ap);
	va_end(ap);
	return buf;
}
