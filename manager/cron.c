#include "cron.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* A number or (for months/weekdays) a three-letter name; advances *p. */
static int field_value(const char **p, const char *const *names, int nnames, int name_base, long *out)
{
	if (isdigit((unsigned char)**p)) {
		char *end;
		*out = strtol(*p, &end, 10);
		if (end - *p > 4)
			return -1;
		*p = end;
		return 0;
	}
	for (int i = 0; names && i < nnames; i++)
		if (!strncasecmp(*p, names[i], 3)) {
			*out = i + name_base;
			*p += 3;
			return 0;
		}
	return -1;
}

/* One field: comma list of  '*' | N | N-M, each optionally "/step". Sets bits lo..hi in *bits. */
static int field_parse(const char *what, const char *text, int lo, int hi, const char *const *names, int nnames,
                       int name_base, uint64_t *bits, bool *star, isola_error *err)
{
	*bits = 0;
	*star = false;
	const char *p = text;
	for (;;) {
		long a, b, step = 1;
		bool this_star = false;
		if (*p == '*') {
			a = lo, b = hi;
			this_star = true;
			p++;
		} else {
			if (field_value(&p, names, nnames, name_base, &a) < 0)
				return isola_err(err, EINVAL, "cron %s field \"%s\": expected a number, '*' or a name",
				                 what, text);
			b = a;
			if (*p == '-') {
				p++;
				if (field_value(&p, names, nnames, name_base, &b) < 0)
					return isola_err(err, EINVAL, "cron %s field \"%s\": bad range end", what,
					                 text);
			}
		}
		if (*p == '/') {
			p++;
			char *end;
			step = strtol(p, &end, 10);
			if (end == p || step <= 0 || step > hi)
				return isola_err(err, EINVAL, "cron %s field \"%s\": bad step", what, text);
			p = end;
			if (!this_star && b == a)
				b = hi; /* "5/15" means 5-max/15, as in Vixie cron */
			this_star = false;
		}
		/* weekday 7 is sunday too (crontab(5)) */
		if (lo == 0 && hi == 6 && names && a == 7 && b == 7)
			a = b = 0;
		if (lo == 0 && hi == 6 && names && b == 7 && a < 7)
			*bits |= 1; /* a range ending at 7 includes sunday */
		long top = (lo == 0 && hi == 6 && names && b == 7) ? 6 : b;
		if (a < lo || a > hi || top < lo || top > hi || a > top)
			return isola_err(err, EINVAL, "cron %s field \"%s\": values must be within %d-%d", what, text,
			                 lo, hi);
		for (long v = a; v <= top; v += step)
			*bits |= (uint64_t)1 << v;
		if (this_star)
			*star = true;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p)
			return isola_err(err, EINVAL, "cron %s field \"%s\": unexpected '%c'", what, text, *p);
		return 0;
	}
}

static const struct {
	const char *name, *expr;
} aliases[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
               {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
               {"@annually", "0 0 1 1 *"}};

static int entry_parse(const char *spec, struct cron_entry *e, isola_error *err)
{
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (!strcmp(spec, aliases[i].name))
			return entry_parse(aliases[i].expr, e, err);
	if (spec[0] == '@')
		return isola_err(err, EINVAL,
		                 "cron \"%s\": unknown alias (valid: @hourly @daily @midnight @weekly @monthly "
		                 "@yearly @annually)",
		                 spec);
	char buf[256];
	if (strlen(spec) >= sizeof buf)
		return isola_err(err, EINVAL, "cron \"%.40s...\": too long", spec);
	strcpy(buf, spec);
	char *fields[6], *save = NULL;
	int n = 0;
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 5)
			return isola_err(err, EINVAL, "cron \"%s\": expected 5 fields (minute hour day month weekday)",
			                 spec);
		fields[n++] = t;
	}
	if (n != 5)
		return isola_err(err, EINVAL, "cron \"%s\": expected 5 fields (minute hour day month weekday), got %d",
		                 spec, n);
	uint64_t bits;
	bool star;
	memset(e, 0, sizeof *e);
	if (field_parse("minute", fields[0], 0, 59, NULL, 0, 0, &bits, &star, err) < 0)
		return -1;
	e->minute = bits;
	if (field_parse("hour", fields[1], 0, 23, NULL, 0, 0, &bits, &star, err) < 0)
		return -1;
	e->hour = (uint32_t)bits;
	if (field_parse("day-of-month", fields[2], 1, 31, NULL, 0, 0, &bits, &e->dom_star, err) < 0)
		return -1;
	e->dom = (uint32_t)bits;
	if (field_parse("month", fields[3], 1, 12, month_names, 12, 1, &bits, &star, err) < 0)
		return -1;
	e->month = (uint16_t)bits;
	if (field_parse("day-of-week", fields[4], 0, 6, dow_names, 7, 0, &bits, &e->dow_star, err) < 0)
		return -1;
	e->dow = (uint8_t)bits;
	return 0;
}

int cron_parse(const char *spec, struct cron_schedule *out, isola_error *err)
{
	memset(out, 0, sizeof *out);
	if (!spec || !*spec)
		return isola_err(err, EINVAL, "cron: empty schedule");
	char buf[512];
	if (strlen(spec) >= sizeof buf)
		return isola_err(err, EINVAL, "cron \"%.40s...\": too long", spec);
	strcpy(buf, spec);
	/* Only "@a, @b" lists are split: a ',' inside a five-field expression is a field list. */
	bool list = strchr(buf, '@') != NULL;
	char *save = NULL;
	for (char *t = list ? strtok_r(buf, ",", &save) : buf; t; t = list ? strtok_r(NULL, ",", &save) : NULL) {
		while (isspace((unsigned char)*t))
			t++;
		char *end = t + strlen(t);
		while (end > t && isspace((unsigned char)end[-1]))
			*--end = 0;
		if (out->n == CRON_MAX_ENTRIES)
			return isola_err(err, EINVAL, "cron \"%s\": more than %d schedules", spec, CRON_MAX_ENTRIES);
		if (list && t[0] != '@')
			return isola_err(err, EINVAL, "cron \"%s\": a list of schedules may only hold @aliases", spec);
		if (entry_parse(t, &out->e[out->n], err) < 0)
			return -1;
		out->n++;
		if (!list)
			break;
	}
	return 0;
}

static bool entry_matches(const struct cron_entry *e, const struct tm *tm)
{
	if (!(e->minute >> tm->tm_min & 1) || !(e->hour >> tm->tm_hour & 1) || !(e->month >> (tm->tm_mon + 1) & 1))
		return false;
	bool dom = e->dom >> tm->tm_mday & 1, dow = e->dow >> tm->tm_wday & 1;
	/* crontab(5): if both day fields are restricted, either may match */
	if (!e->dom_star && !e->dow_star)
		return dom || dow;
	return dom && dow;
}

bool cron_matches(const struct cron_schedule *s, time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	for (int i = 0; i < s->n; i++)
		if (entry_matches(&s->e[i], &tm))
			return true;
	return false;
}

time_t cron_next(const struct cron_schedule *s, time_t after)
{
	time_t t = after - after % 60 + 60;
	/* Minute steps, skipping whole hours and days that cannot match: at most ~5 years of days. */
	for (long guard = 0; guard < 5L * 366 * 24 * 60; guard++) {
		struct tm tm;
		localtime_r(&t, &tm);
		bool day_ok = false, hour_ok = false;
		for (int i = 0; i < s->n; i++) {
			const struct cron_entry *e = &s->e[i];
			bool dom = e->dom >> tm.tm_mday & 1, dow = e->dow >> tm.tm_wday & 1;
			bool d = (e->month >> (tm.tm_mon + 1) & 1) &&
			         ((!e->dom_star && !e->dow_star) ? (dom || dow) : (dom && dow));
			day_ok |= d;
			hour_ok |= d && (e->hour >> tm.tm_hour & 1);
		}
		if (!day_ok) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			tm.tm_isdst = -1;
			t = mktime(&tm);
			continue;
		}
		if (!hour_ok) {
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
			tm.tm_isdst = -1;
			t = mktime(&tm);
			continue;
		}
		if (cron_matches(s, t))
			return t;
		t += 60;
	}
	return -1;
}

int expiry_parse(const char *spec, struct expiry *out, isola_error *err)
{
	memset(out, 0, sizeof *out);
	const char *p = spec ? spec : "";
	while (*p) {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			return isola_err(err, EINVAL, "expiry \"%s\": expected terms like \"2w\" or \"1d 12H\"", spec);
		char *end;
		long n = strtol(p, &end, 10);
		if (n < 0 || n > 100000)
			return isola_err(err, EINVAL, "expiry \"%s\": number out of range", spec);
		int *slot;
		switch (*end) {
		case 'M': slot = &out->minutes; break;
		case 'H': slot = &out->hours; break;
		case 'd': slot = &out->days; break;
		case 'w': slot = &out->weeks; break;
		case 'm': slot = &out->months; break;
		case 'y': slot = &out->years; break;
		default:
			return isola_err(err, EINVAL,
			                 "expiry \"%s\": unit '%c' unknown (M minutes, H hours, d days, w weeks, m "
			                 "months, y years)",
			                 spec, *end ? *end : ' ');
		}
		*slot += (int)n;
		p = end + 1;
	}
	return 0;
}

time_t expiry_apply(const struct expiry *e, time_t from)
{
	if (!e->minutes && !e->hours && !e->days && !e->weeks && !e->months && !e->years)
		return 0;
	struct tm tm;
	localtime_r(&from, &tm);
	tm.tm_min += e->minutes;
	tm.tm_hour += e->hours;
	tm.tm_mday += e->days + 7 * e->weeks;
	tm.tm_mon += e->months;
	tm.tm_year += e->years;
	tm.tm_isdst = -1;
	return mktime(&tm);
}
