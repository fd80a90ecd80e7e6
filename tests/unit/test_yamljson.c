/* lib/yamljson: YAML (and JSON) documents → jansson, against hostile input: alias bombs, deep nesting,
 * non-string keys, duplicate keys, NUL bytes, foreign tags, several documents, oversize input. Each case
 * must fail with an error naming what was wrong (and the line), never crash, hang or expand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cleanup.h"
#include "json.h"
#include "yamljson.h"

static json_t *ys(const char *s)
{
	isola_error err = {0};
	json_t *j = yaml_to_json_mode(s, strlen(s), YAML_STRINGS, &err);
	if (!j)
		fail_msg("rejected good YAML (%s): %s", err.msg, s);
	return j;
}

static void expect_error_n(const char *doc, size_t len, const char *needle)
{
	isola_error err = {0};
	for (int mode = 0; mode < 2; mode++) {
		json_t *j = yaml_to_json_mode(doc, len, (enum yaml_scalars)mode, &err);
		if (j) {
			json_decref(j);
			fail_msg("accepted bad YAML (mode %d): %.200s", mode, doc);
		}
		if (!strstr(err.msg, needle))
			fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
	}
}

static void expect_error(const char *doc, const char *needle)
{
	expect_error_n(doc, strlen(doc), needle);
}

/* Incus's preseed format (doc/howto/initialize.md "Non-interactive configuration"), as YAML */
static void test_incus_preseed(void **state)
{
	_cleanup_json_ json_t *j = ys("config: {}\n"
	                              "networks:\n"
	                              "- name: isolabr0\n"
	                              "  type: bridge\n"
	                              "  config:\n"
	                              "    ipv4.address: 10.20.30.1/24\n"
	                              "    ipv6.address: none\n"
	                              "storage_pools:\n"
	                              "- name: default\n"
	                              "  driver: dir\n"
	                              "profiles:\n"
	                              "- name: default\n"
	                              "  config:\n"
	                              "    limits.cpu: 2\n"
	                              "    security.nesting: true\n"
	                              "    user.note: '010'\n"
	                              "  devices:\n"
	                              "    root: {path: /, pool: default, type: disk}\n");
	json_t *prof = json_array_get(json_object_get(j, "profiles"), 0);
	json_t *cfg = json_object_get(prof, "config");
	/* string → string, as Incus's map[string]string: the text as written */
	assert_string_equal(json_string_value(json_object_get(cfg, "limits.cpu")), "2");
	assert_string_equal(json_string_value(json_object_get(cfg, "security.nesting")), "true");
	assert_string_equal(json_string_value(json_object_get(cfg, "user.note")), "010");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(json_object_get(prof, "devices"), "root"), "pool")),
	    "default");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_array_get(json_object_get(j, "networks"), 0), "config"), "ipv4.address")),
	    "10.20.30.1/24");
	/* typed mode (image metadata) keeps integers and booleans */
	isola_error err = {0};
	const char *typed = "a: 2\nb: true\nc: ~\nd: '2'\n";
	_cleanup_json_ json_t *t = yaml_to_json(typed, strlen(typed), &err);
	assert_non_null(t);
	assert_true(json_is_integer(json_object_get(t, "a")));
	assert_true(json_is_true(json_object_get(t, "b")));
	assert_true(json_is_null(json_object_get(t, "c")));
	assert_true(json_is_string(json_object_get(t, "d")));
	/* strings mode: a plain null is still null, a quoted one a string; integer keys are strings */
	_cleanup_json_ json_t *n = ys("c: ~\nd: 'null'\n1: one\n");
	assert_true(json_is_null(json_object_get(n, "c")));
	assert_string_equal(json_string_value(json_object_get(n, "d")), "null");
	assert_string_equal(json_string_value(json_object_get(n, "1")), "one");
}

static void test_alias_bombs(void **state)
{
	/* the "billion laughs": 9 levels of 9 aliases would be 387,420,489 strings */
	char bomb[4096] = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n";
	for (char c = 'b'; c <= 'i'; c++) {
		char line[128];
		snprintf(line, sizeof line, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1, c - 1,
		         c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
		strcat(bomb, line);
	}
	expect_error(bomb, "anchors");
	/* an alias alone (its anchor never defined) and an anchor on a scalar or a key */
	expect_error("a: *nowhere\n", "alias");
	expect_error("a: &x 1\n", "anchors");
	expect_error("&k a: 1\n", "anchors");
	/* merge keys need aliases: refused with them */
	expect_error("base: &b {x: 1}\nc:\n  <<: *b\n", "anchors");
}

static void test_deep_nesting(void **state)
{
	/* flow and block nesting, far past the cap, and huge: an error, no stack overflow */
	size_t n = 200000;
	char *deep = malloc(n + 1);
	assert_non_null(deep);
	memset(deep, '[', n);
	deep[n] = 0;
	expect_error_n(deep, n, "deeper than 32");
	memset(deep, 0, n);
	size_t len = 0;
	for (int i = 0; i < 40 && len + 200 < n; i++) {
		len += (size_t)snprintf(deep + len, n - len, "%*sk%d:\n", 2 * i, "", i);
	}
	expect_error_n(deep, len, "deeper than 32");
	free(deep);
	/* 32 levels are fine */
	char ok[128] = "";
	for (int i = 0; i < 31; i++)
		strcat(ok, "[");
	for (int i = 0; i < 31; i++)
		strcat(ok, "]");
	isola_error err = {0};
	_cleanup_json_ json_t *j = yaml_to_json(ok, strlen(ok), &err);
	if (!j)
		fail_msg("31 levels refused: %s", err.msg);
}

static void test_keys(void **state)
{
	/* complex (non-scalar) keys */
	expect_error("? [a, b]\n: c\n", "mapping key must be a scalar");
	expect_error("? {a: 1}\n: c\n", "mapping key must be a scalar");
	expect_error("{[1]: x}\n", "mapping key must be a scalar");
	/* duplicates, also when spelled differently */
	expect_error("a: 1\na: 2\n", "duplicate key \"a\"");
	expect_error("\"a\": 1\na: 2\n", "duplicate key");
	expect_error("x:\n  y: 1\n  'y': 2\n", "duplicate key \"y\"");
	/* a NUL byte would cut the key or value short in C: refused */
	expect_error("\"a\\0b\": 1\n", "NUL");
	expect_error("a: \"x\\0y\"\n", "NUL");
}

static void test_tags_documents_size(void **state)
{
	expect_error("a: !!python/object/apply:os.system [\"true\"]\n", "tag");
	expect_error("a: !custom x\n", "tag");
	expect_error("a: !!binary aGVsbG8=\n", "tag");
	_cleanup_json_ json_t *ok = ys("a: !!str 123\n");
	assert_string_equal(json_string_value(json_object_get(ok, "a")), "123");
	expect_error("a: 1\n---\nb: 2\n", "more than one");
	expect_error("a: [1\n", "line 2");
	expect_error("a: b: c\n", "line 1");
	/* oversize input: refused before parsing */
	size_t big = YAML_MAX_INPUT + 1;
	char *b = malloc(big);
	assert_non_null(b);
	memset(b, '#', big);
	expect_error_n(b, big, "at most");
	free(b);
}

static void test_doc_to_json(void **state)
{
	isola_error err = {0};
	/* JSON: read by jansson, duplicate keys refused too */
	const char *js = "  {\"config\": {\"limits.cpu\": \"2\"}}";
	_cleanup_json_ json_t *a = doc_to_json(js, strlen(js), YAML_STRINGS, "stdin", &err);
	assert_non_null(a);
	const char *dup = "{\"a\": 1, \"a\": 2}";
	assert_null(doc_to_json(dup, strlen(dup), YAML_STRINGS, "stdin", &err));
	assert_non_null(strstr(err.msg, "stdin"));
	assert_non_null(strstr(err.msg, "duplicate"));
	/* YAML */
	const char *y = "config:\n  limits.cpu: 2\n";
	_cleanup_json_ json_t *b = doc_to_json(y, strlen(y), YAML_STRINGS, "stdin", &err);
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "config"), "limits.cpu")), "2");
	/* the top must be a mapping */
	const char *l = "- a\n- b\n";
	assert_null(doc_to_json(l, strlen(l), YAML_STRINGS, "preseed x.yaml", &err));
	assert_non_null(strstr(err.msg, "preseed x.yaml"));
	assert_non_null(strstr(err.msg, "mapping"));
	const char *bad = "a: *x\n";
	assert_null(doc_to_json(bad, strlen(bad), YAML_STRINGS, "preseed x.yaml", &err));
	assert_non_null(strstr(err.msg, "preseed x.yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_incus_preseed),       cmocka_unit_test(test_alias_bombs),
	    cmocka_unit_test(test_deep_nesting),        cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_tags_documents_size), cmocka_unit_test(test_doc_to_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
