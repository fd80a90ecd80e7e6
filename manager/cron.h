/* snapshots.schedule and snapshots.expiry, with Incus's syntax.
 *
 * Schedule: a cron expression "MIN HOUR DOM MON DOW" (crontab(5): '*', lists "1,5", ranges "1-5", steps
 * "*\/15" and "10-40/10", month and weekday names jan..dec / sun..sat, 7 = sunday too), or one of
 * @hourly @daily @midnight @weekly @monthly @yearly @annually; several schedules may be joined by ','
 * at the top level only when each is an @alias ("@hourly, @daily"), as Incus allows. As in cron, when both
 * DOM and DOW are restricted a day matches if either matches.
 *
 * Expiry: space-separated "<n><unit>" terms, units M (minutes) H (hours) d (days) w (weeks) m (months)
 * y (years) — Incus doc/reference/instance_options.md "snapshots.expiry". */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "error.h"

#define CRON_MAX_ENTRIES 8

struct cron_entry {
	uint64_t minute; /* bit i: minute i (0..59) */
	uint32_t hour;   /* 0..23 */
	uint32_t dom;    /* bits 1..31 */
	uint16_t month;  /* bits 1..12 */
	uint8_t dow;     /* bits 0..6, 0 = sunday */
	bool dom_star, dow_star;
};

struct cron_schedule {
	int n;
	struct cron_entry e[CRON_MAX_ENTRIES];
};

int cron_parse(const char *spec, struct cron_schedule *out, isola_error *err);
/* Does the schedule fire in the minute that contains t (local time)? */
bool cron_matches(const struct cron_schedule *s, time_t t);
/* The first minute strictly after `after` at which it fires (local time); -1 if none within 5 years
 * (e.g. "0 0 31 2 *"). */
time_t cron_next(const struct cron_schedule *s, time_t after);

/* Parse an expiry ("2w", "1d 12H"); *out is the number of each unit. Empty string = never expires. */
struct expiry {
	int minutes, hours, days, weeks, months, years;
};
int expiry_parse(const char *spec, struct expiry *out, isola_error *err);
/* from + expiry, months and years by the calendar (mktime normalises); 0 when the expiry is empty. */
time_t expiry_apply(const struct expiry *e, time_t from);
