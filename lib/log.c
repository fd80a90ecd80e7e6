#include "log.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

static struct {
	const char *prog;
	int fd; /* log file, -1 when none */
	bool json;
	bool debug;
	bool daemon; /* no log file: info goes to stderr too */
} L = {"isola", -1, false, false, true};

static const char *level_name[] = {"debug", "info", "warning", "error"};

int log_init(const char *prog, const char *file, bool json, bool debug)
{
	L.prog = prog;
	L.json = json;
	L.debug = debug;
	if (file) {
		int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0)
			return -1;
		if (L.fd >= 0)
			close(L.fd);
		L.fd = fd;
		L.daemon = false;
	}
	return 0;
}

bool log_debug_enabled(void)
{
	return L.debug;
}

static void write_file(enum log_level level, const char *msg)
{
	if (L.fd < 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[64];
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	char *line = NULL;
	if (L.json) {
		/* runc/crun's --log-format json shape: {"level","msg","time"} */
		json_t *o = json_pack("{s:s,s:s,s:s}", "level", level_name[level], "msg", msg, "time", when);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (s && asprintf(&line, "%s\n", s) < 0)
			line = NULL;
		free(s);
	} else if (asprintf(&line, "%s %s %s: %s\n", when, L.prog, level_name[level], msg) < 0) {
		line = NULL;
	}
	if (line) {
		ssize_t r = write(L.fd, line, strlen(line));
		(void)r;
		free(line);
	}
}

static void vlog(enum log_level level, bool to_stderr, const char *fmt, va_list ap)
{
	char msg[4096];
	vsnprintf(msg, sizeof msg, fmt, ap);
	write_file(level, msg);
	if (to_stderr && (level >= LOG_LEVEL_WARN || L.daemon || L.debug))
		fprintf(stderr, "%s: %s%s\n", L.prog,
		        level >= LOG_LEVEL_WARN ? (level == LOG_LEVEL_ERROR ? "error: " : "warning: ") : "", msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, true, fmt, ap);
	va_end(ap);
}

void log_to_file_only(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, false, fmt, ap);
	va_end(ap);
}
