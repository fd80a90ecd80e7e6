#include "explain.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

bool explain_enabled;

static __thread char ring[8][768];
static __thread unsigned ring_next;

static char *ring_buf(void)
{
	return ring[ring_next++ % 8];
}

void explain_emit(const char *file, int line, const char *man, long result, int errnum, const char *fmt, ...)
{
	/* Callers read errno after EXPLAIN (it sits between the syscall and the error check): keep it. */
	int saved_errno = errno;
	char call[2048], res[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call, sizeof call, fmt, ap);
	va_end(ap);
	if (result < 0)
		snprintf(res, sizeof res, "-1 %s (%s)", strerrorname_np(errnum) ?: "?", strerror(errnum));
	else
		snprintf(res, sizeof res, "%ld", result);
	/* One write so lines from several threads or processes do not interleave. */
	fprintf(stderr, "explain: %s = %s  [%s]  %s:%d\n", call, res, man, file, line);
	errno = saved_errno;
}

const char *explain_flags(unsigned long v, const struct explain_flag *t)
{
	char *b = ring_buf();
	size_t n = 0;
	b[0] = 0;
	for (; t->name; t++) {
		if (t->value && (v & t->value) == t->value) {
			n += snprintf(b + n, 768 - n > 0 ? 768 - n : 0, "%s%s", n ? "|" : "", t->name);
			v &= ~t->value;
		}
		if (n >= 700)
			break;
	}
	if (v || !n)
		snprintf(b + n, 768 - n, "%s%#lx", n ? "|" : "", v);
	return b;
}

const char *explain_enum(unsigned long v, const struct explain_flag *t)
{
	for (; t->name; t++)
		if (t->value == v)
			return t->name;
	char *b = ring_buf();
	snprintf(b, 768, "%lu", v);
	return b;
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
const struct explain_flag explain_clone_table[] = {
    EXPLAIN_FLAG(CLONE_NEWNS),     EXPLAIN_FLAG(CLONE_NEWPID),
    EXPLAIN_FLAG(CLONE_NEWUTS),    EXPLAIN_FLAG(CLONE_NEWIPC),
    EXPLAIN_FLAG(CLONE_NEWNET),    EXPLAIN_FLAG(CLONE_NEWUSER),
    EXPLAIN_FLAG(CLONE_NEWCGROUP), EXPLAIN_FLAG(CLONE_NEWTIME),
    EXPLAIN_FLAG(CLONE_PIDFD),     EXPLAIN_FLAG(CLONE_INTO_CGROUP),
    EXPLAIN_FLAG(CLONE_VFORK),     EXPLAIN_FLAG(CLONE_VM),
    EXPLAIN_FLAG(CLONE_PARENT),    EXPLAIN_FLAG(CLONE_FILES),
    EXPLAIN_FLAG(CLONE_FS),        {0, NULL},
};

const struct explain_flag explain_mount_table[] = {
    EXPLAIN_FLAG(MS_RDONLY),
    EXPLAIN_FLAG(MS_NOSUID),
    EXPLAIN_FLAG(MS_NODEV),
    EXPLAIN_FLAG(MS_NOEXEC),
    EXPLAIN_FLAG(MS_SYNCHRONOUS),
    EXPLAIN_FLAG(MS_REMOUNT),
    EXPLAIN_FLAG(MS_MANDLOCK),
    EXPLAIN_FLAG(MS_DIRSYNC),
    EXPLAIN_FLAG(MS_NOSYMFOLLOW),
    EXPLAIN_FLAG(MS_NOATIME),
    EXPLAIN_FLAG(MS_NODIRATIME),
    EXPLAIN_FLAG(MS_BIND),
    EXPLAIN_FLAG(MS_MOVE),
    EXPLAIN_FLAG(MS_REC),
    EXPLAIN_FLAG(MS_SILENT),
    EXPLAIN_FLAG(MS_UNBINDABLE),
    EXPLAIN_FLAG(MS_PRIVATE),
    EXPLAIN_FLAG(MS_SLAVE),
    EXPLAIN_FLAG(MS_SHARED),
    EXPLAIN_FLAG(MS_RELATIME),
    EXPLAIN_FLAG(MS_STRICTATIME),
    EXPLAIN_FLAG(MS_LAZYTIME),
    {0, NULL},
};

const struct explain_flag explain_open_table[] = {
    EXPLAIN_FLAG(O_WRONLY),    EXPLAIN_FLAG(O_RDWR),
    EXPLAIN_FLAG(O_CREAT),     EXPLAIN_FLAG(O_EXCL),
    EXPLAIN_FLAG(O_NOCTTY),    EXPLAIN_FLAG(O_TRUNC),
    EXPLAIN_FLAG(O_APPEND),    EXPLAIN_FLAG(O_NONBLOCK),
    EXPLAIN_FLAG(O_DIRECTORY), EXPLAIN_FLAG(O_NOFOLLOW),
    EXPLAIN_FLAG(O_CLOEXEC),   EXPLAIN_FLAG(O_PATH),
    EXPLAIN_FLAG(O_TMPFILE),   {0, NULL},
};
