#include "metadata.h"
#include "cleanup.h"
#include "json.h"
#include "yamljson.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

static const struct {
	const char *name;
	const char *canonical;
} arches[] = {
    {"i686", "i686"},
    {"i386", "i686"},
    {"x86", "i686"},
    {"x86_64", "x86_64"},
    {"amd64", "x86_64"},
    {"armv6l", "armv6l"},
    {"armel", "armv6l"},
    {"armv7l", "armv7l"},
    {"armhf", "armv7l"},
    {"armv8l", "armv8l"},
    {"aarch64", "aarch64"},
    {"arm64", "aarch64"},
    {"ppc", "ppc"},
    {"powerpc", "ppc"},
    {"ppc64", "ppc64"},
    {"powerpc64", "ppc64"},
    {"ppc64le", "ppc64le"},
    {"ppc64el", "ppc64le"},
    {"s390x", "s390x"},
    {"mips", "mips"},
    {"mips64", "mips64"},
    {"riscv32", "riscv32"},
    {"riscv64", "riscv64"},
    {"loongarch64", "loongarch64"},
    {"loong64", "loongarch64"},
};

const char *arch_canonical(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
		if (strcmp(arches[i].name, name) == 0)
			return arches[i].canonical;
	return NULL;
}

const char *arch_host(void)
{
	static struct utsname u;
	if (uname(&u) < 0)
		return "x86_64";
	const char *c = arch_canonical(u.machine);
	return c ? c : u.machine;
}

void metadata_free(struct image_metadata *md)
{
	json_decref(md->properties);
	json_decref(md->templates);
	md->properties = md->templates = NULL;
}

/* An integer, or a string of digits (some generators quote the date). */
static int get_time(json_t *root, const char *key, bool required, int64_t *out, isola_error *err)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v)) {
		if (required)
			return isola_err(err, EINVAL, "metadata.yaml: %s: missing", key);
		*out = 0;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long long n = strtoll(s, &end, 10);
		if (errno || end == s || *end)
			return isola_err(err, EINVAL, "metadata.yaml: %s: \"%s\" is not a unix time", key, s);
		*out = n;
	} else {
		return isola_err(err, EINVAL, "metadata.yaml: %s: expected a unix time (integer)", key);
	}
	/* 0 and negative dates are what a broken generator writes; 2^40 s is ~36,000 years. */
	if (*out < 0 || (required && *out == 0) || *out > ((int64_t)1 << 40))
		return isola_err(err, EINVAL, "metadata.yaml: %s: %" PRId64 " is not a plausible unix time", key, *out);
	return 0;
}

int metadata_parse(const char *buf, size_t len, struct image_metadata *md, isola_error *err)
{
	memset(md, 0, sizeof *md);
	if (len > METADATA_MAX_SIZE)
		return isola_err(err, EFBIG, "metadata.yaml: %zu bytes (at most %d)", len, METADATA_MAX_SIZE);
	_cleanup_json_ json_t *root = yaml_to_json(buf, len, err);
	if (!root)
		return isola_err_wrap(err, "metadata.yaml");
	if (!json_is_object(root))
		return isola_err(err, EINVAL, "metadata.yaml: the document must be a mapping");
	const char *arch = NULL;
	json_t *av = json_object_get(root, "architecture");
	if (!av)
		return isola_err(err, EINVAL, "metadata.yaml: architecture: missing");
	if (!json_is_string(av))
		return isola_err(err, EINVAL, "metadata.yaml: architecture: expected a string");
	arch = json_string_value(av);
	const char *canon = arch_canonical(arch);
	if (!canon)
		return isola_err(err, ENOTSUP, "metadata.yaml: architecture: unknown architecture \"%s\"", arch);
	snprintf(md->architecture, sizeof md->architecture, "%s", canon);
	if (get_time(root, "creation_date", true, &md->creation_date, err) < 0 ||
	    get_time(root, "expiry_date", false, &md->expiry_date, err) < 0)
		return -1;

	_cleanup_json_ json_t *props = json_object();
	json_t *pv = json_object_get(root, "properties");
	if (pv && !json_is_null(pv)) {
		if (!json_is_object(pv))
			return isola_err(err, EINVAL, "metadata.yaml: properties: expected a mapping");
		const char *k;
		json_t *v;
		json_object_foreach(pv, k, v)
		{
			if (json_is_string(v)) {
				json_object_set(props, k, v);
			} else if (json_is_integer(v) || json_is_boolean(v)) {
				/* Incus properties are strings; "release: 12" unquoted must still mean "12". */
				_cleanup_free_ char *s = json_dumps(v, JSON_ENCODE_ANY);
				json_object_set_new(props, k, json_string(s));
			} else if (json_is_null(v)) {
				json_object_set_new(props, k, json_string(""));
			} else {
				return isola_err(err, EINVAL, "metadata.yaml: properties.%s: expected a scalar", k);
			}
		}
	}
	json_t *tv = json_object_get(root, "templates");
	if (tv && !json_is_null(tv) && !json_is_object(tv))
		return isola_err(err, EINVAL, "metadata.yaml: templates: expected a mapping");
	md->templates = tv && json_is_object(tv) ? json_incref(tv) : json_object();
	md->properties = steal_ptr(&props);
	return 0;
}
