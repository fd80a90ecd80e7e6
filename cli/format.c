/* Output: tables for people, csv for scripts, json/yaml of Incus's objects for tools. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"

int fmt_parse(const char *s, enum out_format *out, isola_error *err)
{
	static const char *const names[] = {"table", "csv", "json", "yaml"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return *out = (enum out_format)i, 0;
	return isola_err(err, EINVAL, "--format \"%s\": expected table, csv, json or yaml", s);
}

static size_t utf8_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

void print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (s)
		puts(s);
	free(s);
}

static bool yaml_plain(const char *s)
{
	if (!*s || isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]))
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`~", s[0]))
		return false;
	static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", NULL};
	for (const char *const *p = special; *p; p++)
		if (!strcasecmp(s, *p))
			return false;
	char *end;
	strtod(s, &end);
	if (!*end)
		return false; /* would read back as a number */
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (p[0] == ':' && (p[1] == ' ' || !p[1])) || (p[0] == ' ' && p[1] == '#'))
			return false;
	return true;
}

static void yaml_scalar(FILE *f, json_t *v, int indent)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strchr(s, '\n') && !strchr(s, '\r')) {
			/* a block literal keeps multi-line values (cloud-init user-data) readable */
			fprintf(f, "|%s\n", s[strlen(s) - 1] == '\n' ? "" : "-");
			const char *line = s;
			while (*line) {
				const char *nl = strchr(line, '\n');
				size_t n = nl ? (size_t)(nl - line) : strlen(line);
				fprintf(f, "%*s%.*s\n", indent + 2, "", (int)n, line);
				line += n + (nl ? 1 : 0);
			}
			return;
		}
		if (yaml_plain(s)) {
			fprintf(f, "%s\n", s);
			return;
		}
		char *q = json_dumps(v, JSON_ENCODE_ANY); /* a JSON string is a valid YAML double-quoted one */
		fprintf(f, "%s\n", q ? q : "\"\"");
		free(q);
		return;
	}
	char *q = json_dumps(v, JSON_ENCODE_ANY);
	fprintf(f, "%s\n", q ? q : "null");
	free(q);
}

static void yaml_node(FILE *f, json_t *v, int indent, bool after_dash);

static void yaml_node(FILE *f, json_t *v, int indent, bool after_dash)
{
	if (json_is_object(v)) {
		if (!json_object_size(v)) {
			fprintf(f, "{}\n");
			return;
		}
		const char *k;
		json_t *c;
		bool first = true;
		json_object_foreach(v, k, c)
		{
			if (!(first && after_dash))
				fprintf(f, "%*s", indent, "");
			first = false;
			json_t *ks = json_string(k);
			if (yaml_plain(k))
				fprintf(f, "%s:", k);
			else {
				char *q = json_dumps(ks, JSON_ENCODE_ANY);
				fprintf(f, "%s:", q);
				free(q);
			}
			json_decref(ks);
			if ((json_is_object(c) && json_object_size(c)) || (json_is_array(c) && json_array_size(c))) {
				fprintf(f, "\n");
				yaml_node(f, c, indent + 2, false);
			} else {
				fprintf(f, " ");
				if (json_is_object(c) || json_is_array(c))
					fprintf(f, json_is_object(c) ? "{}\n" : "[]\n");
				else
					yaml_scalar(f, c, indent);
			}
		}
		return;
	}
	if (json_is_array(v)) {
		if (!json_array_size(v)) {
			fprintf(f, "[]\n");
			return;
		}
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c)
		{
			fprintf(f, "%*s- ", after_dash && i == 0 ? 0 : indent, "");
			if ((json_is_object(c) && json_object_size(c)) || (json_is_array(c) && json_array_size(c)))
				yaml_node(f, c, indent + 2, true);
			else if (json_is_object(c) || json_is_array(c))
				fprintf(f, json_is_object(c) ? "{}\n" : "[]\n");
			else
				yaml_scalar(f, c, indent);
		}
		return;
	}
	yaml_scalar(f, v, indent);
}

void print_yaml(json_t *v)
{
	yaml_node(stdout, v, 0, false);
}

void print_yaml_to(FILE *f, json_t *v)
{
	yaml_node(f, v, 0, false);
}

void print_list(enum out_format f, const char *const *headers, size_t ncols, json_t *rows, json_t *raw)
{
	if (f == FMT_JSON) {
		print_json(raw);
		return;
	}
	if (f == FMT_YAML) {
		print_yaml(raw);
		return;
	}
	size_t i;
	json_t *row;
	if (f == FMT_CSV) {
		json_array_foreach(rows, i, row)
		{
			for (size_t c = 0; c < ncols; c++) {
				if (c)
					putchar(',');
				csv_field(json_string_value(json_array_get(row, c)) ?: "");
			}
			putchar('\n');
		}
		return;
	}
	/* table: cells may hold several lines (addresses) */
	size_t *w = calloc(ncols, sizeof *w);
	for (size_t c = 0; c < ncols; c++)
		w[c] = strlen(headers[c]);
	json_array_foreach(rows, i, row) for (size_t c = 0; c < ncols; c++)
	{
		const char *s = json_string_value(json_array_get(row, c)) ?: "";
		_cleanup_free_ char *dup = strdup(s);
		for (char *save = NULL, *t = strtok_r(dup, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
			if (utf8_width(t) > w[c])
				w[c] = utf8_width(t);
	}
	char *sep = NULL;
	size_t seplen = 0;
	FILE *sf = open_memstream(&sep, &seplen);
	for (size_t c = 0; c < ncols; c++) {
		fputc('+', sf);
		for (size_t k = 0; k < w[c] + 2; k++)
			fputc('-', sf);
	}
	fputs("+\n", sf);
	fclose(sf);
	fputs(sep, stdout);
	for (size_t c = 0; c < ncols; c++)
		printf("| %-*s ", (int)w[c], headers[c]);
	printf("|\n%s", sep);
	json_array_foreach(rows, i, row)
	{
		/* the row is as tall as its tallest cell */
		size_t lines = 1;
		for (size_t c = 0; c < ncols; c++) {
			size_t n = 1;
			for (const char *s = json_string_value(json_array_get(row, c)) ?: ""; *s; s++)
				n += *s == '\n';
			if (n > lines)
				lines = n;
		}
		for (size_t l = 0; l < lines; l++) {
			for (size_t c = 0; c < ncols; c++) {
				const char *s = json_string_value(json_array_get(row, c)) ?: "";
				for (size_t k = 0; k < l && s; k++) {
					s = strchr(s, '\n');
					if (s)
						s++;
				}
				size_t n = s ? strcspn(s, "\n") : 0;
				printf("| %.*s%*s ", (int)n, s ? s : "",
				       (int)(w[c] - (s ? utf8_width(strndupa(s, n)) : 0)), "");
			}
			printf("|\n");
		}
		fputs(sep, stdout);
	}
	free(sep);
	free(w);
}

static bool bar_shown;

void progress_bar(json_t *p, void *ud)
{
	(void)ud;
	if (!isatty(2))
		return;
	const char *stage = json_string_value(json_object_get(p, "stage"));
	json_int_t done = json_integer_value(json_object_get(p, "bytes"));
	json_int_t total = json_integer_value(json_object_get(p, "total"));
	if (!stage)
		stage = "working";
	if (total > 0) {
		int pct = (int)(done * 100 / total);
		if (pct > 100)
			pct = 100;
		int fill = pct * 30 / 100;
		fprintf(stderr, "\r%-8s [%.*s%*s] %3d%% %6.1f/%.1f MiB", stage, fill, "##############################",
		        30 - fill, "", pct, (double)done / 1048576.0, (double)total / 1048576.0);
	} else {
		fprintf(stderr, "\r%-8s %6.1f MiB", stage, (double)done / 1048576.0);
	}
	fflush(stderr);
	bar_shown = true;
}

void progress_done(void)
{
	if (bar_shown)
		fprintf(stderr, "\r\033[K");
	bar_shown = false;
}

int split_kv(char *s, char **key, char **value, isola_error *err)
{
	char *eq = strchr(s, '=');
	if (!eq || eq == s)
		return isola_err(err, EINVAL, "\"%s\": expected KEY=VALUE", s);
	*eq = 0;
	*key = s;
	*value = eq + 1;
	return 0;
}

int read_all_fd(int fd, char **out, isola_error *err)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return isola_err(err, ENOMEM, "read");
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				return free(buf), isola_err(err, ENOMEM, "read");
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return free(buf), isola_err(err, errno, "read");
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > (64u << 20))
			return free(buf), isola_err(err, EFBIG, "read: more than 64 MiB");
	}
	buf[n] = 0;
	*out = buf;
	return (int)n;
}

int usage_err(isola_error *err, const char *usage)
{
	return isola_err(err, EINVAL, "usage: %s", usage);
}
