/* Logging: --log FILE, --log-format text|json, --debug. Daemons log to stderr (journald takes it);
 * one-shot tools log warnings to stderr and everything at or above the level to the log file if given. */
#pragma once
#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* file may be NULL (stderr only). Returns -1 with errno when the file cannot be opened. */
int log_init(const char *prog, const char *file, bool json, bool debug);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write to the log file only (never stderr): used where stderr already got the message. */
void log_to_file_only(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool log_debug_enabled(void);

#define log_debug(...)                                                                                                 \
	do {                                                                                                           \
		if (log_debug_enabled())                                                                               \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                                         \
	} while (0)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
