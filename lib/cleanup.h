/* Cleanup idiom: variables that own a resource carry a _cleanup_*_ attribute and are released when they
 * go out of scope; ownership moves out with steal_ptr()/steal_fd(). No goto ladders.
 *
 *   _cleanup_close_ int fd = open(...);        // closed on every return path
 *   _cleanup_free_ char *s = strdup(...);
 *   return steal_fd(&fd);                       // caller owns it now; the cleanup sees -1 */
#pragma once
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}
/* Also usable by hand to close early: it resets *fd to -1, so the scope-exit cleanup cannot close a
 * number the kernel has meanwhile reused for another fd. */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
/* Free a NULL-terminated vector of strings and the vector. */
static inline void strv_freep(char ***v)
{
	if (*v) {
		for (char **p = *v; *p; p++)
			free(*p);
		free(*v);
	}
}

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_free_     _cleanup_(freep)
#define _cleanup_close_    _cleanup_(closep)
#define _cleanup_fclose_   _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_     _cleanup_(strv_freep)

/* Typed cleanups for a library's own structs: DEFINE_CLEANUP(json_t *, json_decref) gives json_decrefp. */
#define DEFINE_CLEANUP(type, func)                                                                                     \
	static inline void func##p(type *p)                                                                            \
	{                                                                                                              \
		if (*p)                                                                                                \
			func(*p);                                                                                      \
	}

#define steal_ptr(pp)                                                                                                  \
	({                                                                                                             \
		__typeof__(*(pp)) _p = *(pp);                                                                          \
		*(pp) = NULL;                                                                                          \
		_p;                                                                                                    \
	})
static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
