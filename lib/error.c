#include "error.h"
#include "log.h"
#include <string.h>

int isola_err(isola_error *err, int errnum, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->errnum = errnum;
	return -1;
}

int isola_err_wrap(isola_error *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	char ctx[ISOLA_ERR_MSG_MAX], old[ISOLA_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	snprintf(err->msg, sizeof err->msg, "%s: %s", ctx, old);
	return -1;
}

const char *isola_err_str(const isola_error *err, char *buf, size_t len)
{
	if (err->errnum)
		snprintf(buf, len, "%s: %s", err->msg, strerror(err->errnum));
	else
		snprintf(buf, len, "%s", err->msg);
	return buf;
}

void isola_err_print(const char *prog, const isola_error *err)
{
	char buf[ISOLA_ERR_MSG_MAX + 128];
	isola_err_str(err, buf, sizeof buf);
	fprintf(stderr, "%s: %s\n", prog, buf);
	log_to_file_only(LOG_LEVEL_ERROR, "%s", buf);
}
