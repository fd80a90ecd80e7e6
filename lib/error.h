/* isola_error: the one error type of the tree (crun's libcrun_error_t is the model).
 *
 * A fallible function returns int (< 0 on failure) and fills *err with the errno and a message that names
 * the object it failed on ("mount proc on /proc"). Callers add context on the way up with isola_err_wrap()
 * ("create c1: mount proc on /proc"). Only main() prints (isola_err_print) and exits. The struct is a fixed
 * buffer, so making an error never allocates and can never fail. */
#pragma once
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#define ISOLA_ERR_MSG_MAX 1024

typedef struct isola_error {
	int errnum;                  /* errno of the failure, 0 when the failure is not a syscall's */
	char msg[ISOLA_ERR_MSG_MAX]; /* names the object; "" when no error is set */
} isola_error;

/* Set *err and return -1. errnum may be 0 (a semantic error: bad input, wrong state). */
int isola_err(isola_error *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix context to an error already set: "ctx: old message". Returns -1. */
int isola_err_wrap(isola_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "msg: strerror(errnum)" into buf (or just msg when errnum == 0). Returns buf. */
const char *isola_err_str(const isola_error *err, char *buf, size_t len);
/* Print "prog: message" to stderr (and to the log when one is open). */
void isola_err_print(const char *prog, const isola_error *err);
static inline void isola_err_clear(isola_error *err)
{
	err->errnum = 0;
	err->msg[0] = 0;
}

/* The usual shape: if (x < 0) return isola_err(err, errno, "open %s", p); */
#define ISOLA_SYS_ERR(err, ...) isola_err((err), errno, __VA_ARGS__)
