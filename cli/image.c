/* image verbs: isola-imaged over its socket (docs/imaged.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"
#include "manager/daemons.h"

static const char image_usage[] =
    "isola image import FILE|DIR|URL [ROOTFS] [--alias A]... | list [--format F] | show REF | delete REF | "
    "export REF [DIR] | alias create NAME REF | alias delete NAME | alias rename NAME NEW | alias list";

static int parse_format(int argc, char **argv, int from, enum out_format *fmt, isola_error *err)
{
	for (int i = from; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			if (fmt_parse(argv[++i], fmt, err) < 0)
				return -1;
		} else if (!strncmp(argv[i], "--format=", 9)) {
			if (fmt_parse(argv[i] + 9, fmt, err) < 0)
				return -1;
		} else
			return usage_err(err, image_usage);
	}
	return 0;
}

static int call(const char *op, json_t *fields, json_t **reply, isola_error *err)
{
	return daemon_op(DAEMON_IMAGED, op, fields, reply, progress_bar, NULL, err);
}

static int do_import(int argc, char **argv, isola_error *err)
{
	_cleanup_json_ json_t *aliases = json_array(), *req = json_object();
	char *pos[2];
	int n = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--alias") && i + 1 < argc)
			json_array_append_new(aliases, json_string(argv[++i]));
		else if (!strncmp(argv[i], "--alias=", 8))
			json_array_append_new(aliases, json_string(argv[i] + 8));
		else if (n < 2 && argv[i][0] != '-')
			pos[n++] = argv[i];
		else
			return usage_err(err, image_usage);
	}
	if (n == 0)
		return usage_err(err, image_usage);
	/* the daemon opens the files: give it absolute paths */
	char abs[2][4096];
	for (int i = 0; i < n; i++) {
		if (!strncmp(pos[i], "https://", 8) || !strncmp(pos[i], "http://", 7) || pos[i][0] == '/')
			snprintf(abs[i], sizeof abs[i], "%s", pos[i]);
		else {
			char cwd[2048];
			if (!getcwd(cwd, sizeof cwd))
				return isola_err(err, errno, "getcwd");
			snprintf(abs[i], sizeof abs[i], "%s/%s", cwd, pos[i]);
		}
	}
	struct stat st;
	if (n == 2)
		json_object_set_new(req, "paths", json_pack("[ss]", abs[0], abs[1]));
	else if (!strncmp(abs[0], "http", 4))
		json_object_set_new(req, "url", json_string(abs[0]));
	else if (stat(abs[0], &st) == 0 && S_ISDIR(st.st_mode))
		json_object_set_new(req, "dir", json_string(abs[0]));
	else
		json_object_set_new(req, "path", json_string(abs[0]));
	if (json_array_size(aliases))
		json_object_set(req, "aliases", aliases);
	_cleanup_json_ json_t *reply = NULL;
	if (call("image.import", json_incref(req), &reply, err) < 0)
		return -1;
	progress_done();
	printf("Image imported with fingerprint: %s%s\n", json_string_value(json_object_get(reply, "fingerprint")),
	       json_is_true(json_object_get(reply, "already")) ? " (already present)" : "");
	return 0;
}

static void human(char *out, size_t len, double b)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB"};
	int i = 0;
	while (b >= 1024 && i < 3)
		b /= 1024, i++;
	snprintf(out, len, "%.2f%s", b, u[i]);
}

int cmd_image(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc < 2)
		return usage_err(err, image_usage);
	const char *sub = argv[1];
	if (!strcmp(sub, "import"))
		return do_import(argc, argv, err);
	if (!strcmp(sub, "list")) {
		enum out_format fmt = FMT_TABLE;
		if (parse_format(argc, argv, 2, &fmt, err) < 0)
			return -1;
		_cleanup_json_ json_t *reply = NULL;
		if (call("image.list", NULL, &reply, err) < 0)
			return -1;
		json_t *imgs = json_object_get(reply, "images");
		_cleanup_json_ json_t *rows = json_array();
		size_t i;
		json_t *im;
		json_array_foreach(imgs, i, im)
		{
			_cleanup_free_ char *aliases = NULL;
			size_t alen = 0;
			FILE *f = open_memstream(&aliases, &alen);
			size_t k;
			json_t *a;
			json_array_foreach(json_object_get(im, "aliases"), k, a)
			{
				fprintf(f, "%s%s", k ? "\n" : "", json_string_value(a));
			}
			fclose(f);
			char fp[13], size[32], date[40];
			snprintf(fp, sizeof fp, "%.12s", json_string_value(json_object_get(im, "fingerprint")) ?: "");
			human(size, sizeof size, (double)json_integer_value(json_object_get(im, "size")));
			time_t t = (time_t)json_integer_value(json_object_get(im, "uploaded_at"));
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(date, sizeof date, "%Y/%m/%d %H:%M UTC", &tm);
			json_t *props = json_object_get(im, "properties");
			json_array_append_new(
			    rows, json_pack("[ssssss]", aliases ? aliases : "", fp,
			                    json_string_value(json_object_get(props, "description")) ?: "",
			                    json_string_value(json_object_get(im, "type")) ?: "", size, date));
		}
		static const char *const h[] = {"ALIAS", "FINGERPRINT", "DESCRIPTION", "TYPE", "SIZE", "UPLOAD DATE"};
		print_list(fmt, h, 6, rows, imgs);
		return 0;
	}
	if (!strcmp(sub, "show") && argc == 3) {
		_cleanup_json_ json_t *reply = NULL;
		if (call("image.show", json_pack("{ss}", "ref", argv[2]), &reply, err) < 0)
			return -1;
		print_yaml(json_object_get(reply, "image"));
		return 0;
	}
	if (!strcmp(sub, "delete") && argc >= 3) {
		for (int i = 2; i < argc; i++)
			if (call("image.delete", json_pack("{ss}", "ref", argv[i]), NULL, err) < 0)
				return -1;
		return 0;
	}
	if (!strcmp(sub, "export") && (argc == 3 || argc == 4)) {
		char dir[4096];
		if (argc == 4 && argv[3][0] == '/')
			snprintf(dir, sizeof dir, "%s", argv[3]);
		else {
			char cwd[2048];
			if (!getcwd(cwd, sizeof cwd))
				return isola_err(err, errno, "getcwd");
			snprintf(dir, sizeof dir, "%s/%s", cwd, argc == 4 ? argv[3] : ".");
		}
		_cleanup_json_ json_t *reply = NULL;
		if (call("image.export", json_pack("{ss ss}", "ref", argv[2], "dir", dir), &reply, err) < 0)
			return -1;
		size_t i;
		json_t *f;
		json_array_foreach(json_object_get(reply, "files"), i, f)
		{
			printf("%s\n", json_string_value(f));
		}
		return 0;
	}
	if (!strcmp(sub, "alias") && argc >= 3) {
		const char *as = argv[2];
		if (!strcmp(as, "create") && argc == 5)
			return call("alias.create", json_pack("{ss ss}", "name", argv[3], "target", argv[4]), NULL,
			            err);
		if (!strcmp(as, "delete") && argc == 4)
			return call("alias.delete", json_pack("{ss}", "name", argv[3]), NULL, err);
		if (!strcmp(as, "rename") && argc == 5)
			return call("alias.rename", json_pack("{ss ss}", "name", argv[3], "new_name", argv[4]), NULL,
			            err);
		if (!strcmp(as, "list")) {
			enum out_format fmt = FMT_TABLE;
			if (parse_format(argc, argv, 3, &fmt, err) < 0)
				return -1;
			_cleanup_json_ json_t *reply = NULL;
			if (call("alias.list", NULL, &reply, err) < 0)
				return -1;
			json_t *al = json_object_get(reply, "aliases");
			_cleanup_json_ json_t *rows = json_array();
			size_t i;
			json_t *a;
			json_array_foreach(al, i, a)
			{
				char fp[13];
				snprintf(fp, sizeof fp, "%.12s", json_string_value(json_object_get(a, "target")) ?: "");
				json_array_append_new(
				    rows, json_pack("[sss]", json_string_value(json_object_get(a, "name")) ?: "", fp,
				                    json_string_value(json_object_get(a, "description")) ?: ""));
			}
			static const char *const h[] = {"ALIAS", "FINGERPRINT", "DESCRIPTION"};
			print_list(fmt, h, 3, rows, al);
			return 0;
		}
	}
	return usage_err(err, image_usage);
}
