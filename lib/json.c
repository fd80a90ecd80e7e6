#include "json.h"
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static __thread char pathring[4][512];
static __thread unsigned pathnext;

const char *json_path_key(const char *jpath, const char *key)
{
	char *b = pathring[pathnext++ % 4];
	if (!jpath || !*jpath)
		snprintf(b, 512, "%s", key);
	else
		snprintf(b, 512, "%s.%s", jpath, key);
	return b;
}

const char *json_path_idx(const char *jpath, size_t idx)
{
	char *b = pathring[pathnext++ % 4];
	snprintf(b, 512, "%s[%zu]", jpath ? jpath : "", idx);
	return b;
}

json_t *json_load_path(const char *path, isola_error *err)
{
	json_error_t je;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		if (access(path, R_OK) < 0)
			isola_err(err, errno, "%s", path);
		else
			isola_err(err, 0, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
	}
	return v;
}

int json_store_path(const char *path, json_t *v, bool pretty, isola_error *err)
{
	return json_store_path_ex(path, v, pretty, true, err);
}

int json_store_path_ex(const char *path, json_t *v, bool pretty, bool durable, isola_error *err)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0)
		return isola_err(err, ENOMEM, "store %s", path);
	/* one buffer, one write: json_dumpfd() issues a write(2) per token (hundreds per file) */
	_cleanup_free_ char *text = json_dumps(v, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	if (!text)
		return isola_err(err, ENOMEM, "encode %s", path);
	size_t len = strlen(text);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return isola_err(err, errno, "create %s", tmp);
	bool ok = true;
	for (size_t off = 0; ok && off < len;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		off += ok ? (size_t)w : 0;
	}
	if (!ok || write(fd, "\n", 1) != 1 || (durable && fsync(fd) < 0)) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return isola_err(err, e, "write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return isola_err(err, e, "rename %s to %s", tmp, path);
	}
	return 0;
}

static int get_any(json_t *obj, const char *jpath, const char *key, bool required, json_t **out, isola_error *err)
{
	*out = NULL;
	if (obj && !json_is_object(obj))
		return isola_err(err, 0, "%s: expected an object", jpath && *jpath ? jpath : "(root)");
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return isola_err(err, 0, "%s: missing", json_path_key(jpath, key));
		return 0;
	}
	*out = v;
	return 1;
}

#define TYPE_ERR(what) isola_err(err, 0, "%s: expected %s", json_path_key(jpath, key), what)

int json_get_str(json_t *obj, const char *jpath, const char *key, bool required, const char **out, isola_error *err)
{
	json_t *v;
	int r = get_any(obj, jpath, key, required, &v, err);
	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return TYPE_ERR("a string");
	*out = json_string_value(v);
	return 0;
}

int json_get_int(json_t *obj, const char *jpath, const char *key, bool required, int64_t *out, isola_error *err)
{
	json_t *v;
	int r = get_any(obj, jpath, key, required, &v, err);
	if (r <= 0)
		return r;
	if (!json_is_integer(v))
		return TYPE_ERR("an integer");
	*out = json_integer_value(v);
	return 0;
}

int json_get_uint(json_t *obj, const char *jpath, const char *key, bool required, uint64_t *out, isola_error *err)
{
	json_t *v;
	int r = get_any(obj, jpath, key, required, &v, err);
	if (r <= 0)
		return r;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return TYPE_ERR("a non-negative integer");
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int json_get_bool(json_t *obj, const char *jpath, const char *key, bool required, bool *out, isola_error *err)
{
	json_t *v;
	int r = get_any(obj, jpath, key, required, &v, err);
	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return TYPE_ERR("true or false");
	*out = json_is_true(v);
	return 0;
}

int json_get_obj(json_t *obj, const char *jpath, const char *key, bool required, json_t **out, isola_error *err)
{
	json_t *v;
	int r = get_any(obj, jpath, key, required, &v, err);
	if (r <= 0)
		return r;
	if (!json_is_object(v))
		return TYPE_ERR("an object");
	*out = v;
	return 0;
}

int json_get_arr(json_t *obj, const char *jpath, const char *key, bool required, json_t **out, isola_error *err)
{
	json_t *v;
	int r = get_any(obj, jpath, key, required, &v, err);
	if (r <= 0)
		return r;
	if (!json_is_array(v))
		return TYPE_ERR("an array");
	*out = v;
	return 0;
}

int json_get_strv(json_t *obj, const char *jpath, const char *key, bool required, char ***out, isola_error *err)
{
	json_t *arr = NULL;
	if (json_get_arr(obj, jpath, key, required, &arr, err) < 0)
		return -1;
	if (!arr)
		return 0;
	size_t n = json_array_size(arr);
	_cleanup_strv_ char **v = calloc(n + 1, sizeof *v);
	if (!v)
		return isola_err(err, ENOMEM, "%s", json_path_key(jpath, key));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		if (!json_is_string(e))
			return isola_err(err, 0, "%s: expected a string", json_path_idx(json_path_key(jpath, key), i));
		if (!(v[i] = strdup(json_string_value(e))))
			return isola_err(err, ENOMEM, "%s", json_path_key(jpath, key));
	}
	*out = steal_ptr(&v);
	return 0;
}
