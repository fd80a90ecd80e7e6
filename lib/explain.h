/* The --explain tracer: the teaching interface. One stderr line per kernel-primitive step, emitted at the
 * call site so it can never drift from the code:
 *
 *   explain: clone3(CLONE_NEWNS|CLONE_NEWPID) = 4242  [clone(2), namespaces(7)]  runtime/process.c:88
 *
 * Use right after the call, before errno can change:
 *   int r = mount(src, dst, "proc", MS_NOSUID, NULL);
 *   EXPLAIN(r, "mount(2)", "mount(%s, %s, \"proc\", %s)", src, dst, explain_mount_flags(MS_NOSUID));
 * A negative result prints "= -1 ENOENT (No such file or directory)". */
#pragma once
#include <errno.h>
#include <stdbool.h>

extern bool explain_enabled;

struct explain_flag {
	unsigned long value;
	const char *name;
};
#define EXPLAIN_FLAG(x)                                                                                                \
	{                                                                                                              \
		(unsigned long)(x), #x                                                                                 \
	}

void explain_emit(const char *file, int line, const char *man, long result, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#define EXPLAIN(result, man, ...)                                                                                      \
	do {                                                                                                           \
		if (explain_enabled)                                                                                   \
			explain_emit(__FILE__, __LINE__, man, (long)(result), errno, __VA_ARGS__);                     \
	} while (0)

/* Decode a bit set as "A|B|0x40". Returns a pointer into a small thread-local ring of buffers, valid for
 * the next 7 calls: enough for every argument of one EXPLAIN line. table ends with {0, NULL}. */
const char *explain_flags(unsigned long v, const struct explain_flag *table);
/* Decode a value that is one of a set of names (a signal, an ioctl); falls back to the number. */
const char *explain_enum(unsigned long v, const struct explain_flag *table);

extern const struct explain_flag explain_clone_table[];
extern const struct explain_flag explain_mount_table[];
extern const struct explain_flag explain_open_table[];
#define explain_clone_flags(v) explain_flags((v), explain_clone_table)
#define explain_mount_flags(v) explain_flags((v), explain_mount_table)
#define explain_open_flags(v)  explain_flags((v), explain_open_table)
