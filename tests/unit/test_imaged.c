/* Unit tests for imaged's pure logic: the YAML subset reader, metadata validation, split fingerprints,
 * and the archive entry-name rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cleanup.h"
#include "imaged/extract.h"
#include "imaged/fingerprint.h"
#include "json.h"
#include "imaged/metadata.h"
#include "yamljson.h"

static json_t *y(const char *s)
{
	isola_error err = {0};
	json_t *j = yaml_to_json(s, strlen(s), &err);
	if (!j)
		print_message("yaml error: %s\n", err.msg);
	return j;
}

static void test_yaml_incus_metadata(void **state)
{
	const char *doc = "architecture: x86_64\n"
	                  "creation_date: 1700000000\n"
	                  "properties:\n"
	                  "  description: \"Debian bookworm: amd64 (20231114)\"\n"
	                  "  os: Debian\n"
	                  "  release: 12\n"
	                  "  quoted: '007'\n"
	                  "templates:\n"
	                  "  /etc/hostname:\n"
	                  "    when:\n"
	                  "      - create\n"
	                  "      - copy\n"
	                  "    template: hostname.tpl\n"
	                  "    create_only: false\n"
	                  "# a comment\n"
	                  "empty:\n";
	_cleanup_json_ json_t *j = y(doc);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "architecture")), "x86_64");
	assert_int_equal(json_integer_value(json_object_get(j, "creation_date")), 1700000000);
	json_t *p = json_object_get(j, "properties");
	assert_string_equal(json_string_value(json_object_get(p, "description")), "Debian bookworm: amd64 (20231114)");
	assert_true(json_is_integer(json_object_get(p, "release")));
	assert_string_equal(json_string_value(json_object_get(p, "quoted")), "007"); /* quoted stays a string */
	json_t *t = json_object_get(json_object_get(j, "templates"), "/etc/hostname");
	assert_int_equal(json_array_size(json_object_get(t, "when")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "when"), 1)), "copy");
	assert_true(json_is_false(json_object_get(t, "create_only")));
	assert_true(json_is_null(json_object_get(j, "empty")));
}

static void test_yaml_flow_and_empty(void **state)
{
	_cleanup_json_ json_t *a = y("a: [1, two, \"3\"]\nb: {c: d}\n");
	assert_non_null(a);
	assert_int_equal(json_array_size(json_object_get(a, "a")), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "b"), "c")), "d");
	_cleanup_json_ json_t *e = y("");
	assert_non_null(e);
	assert_true(json_is_object(e));
}

static void expect_yaml_error(const char *doc, const char *needle)
{
	isola_error err = {0};
	json_t *j = yaml_to_json(doc, strlen(doc), &err);
	if (j)
		fail_msg("accepted bad YAML: %s", doc);
	if (!strstr(err.msg, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
}

static void test_yaml_rejects(void **state)
{
	expect_yaml_error("a: &x [1]\nb: *x\n", "anchors");
	expect_yaml_error("a: 1\na: 2\n", "duplicate key");
	expect_yaml_error("a: [1\n", "line");
	expect_yaml_error("a: 1\n---\nb: 2\n", "more than one");
	expect_yaml_error("? [a]\n: b\n", "scalar");
	char deep[512] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	expect_yaml_error(deep, "");
}

static void test_metadata_validation(void **state)
{
	struct image_metadata md;
	isola_error err = {0};
	const char *ok = "architecture: amd64\ncreation_date: 1700000000\nproperties:\n  release: 12\n";
	assert_int_equal(metadata_parse(ok, strlen(ok), &md, &err), 0);
	assert_string_equal(md.architecture, "x86_64");
	assert_string_equal(json_string_value(json_object_get(md.properties, "release")), "12");
	metadata_free(&md);
	const char *bad_arch = "architecture: pdp11\ncreation_date: 1700000000\n";
	assert_int_equal(metadata_parse(bad_arch, strlen(bad_arch), &md, &err), -1);
	assert_non_null(strstr(err.msg, "unknown architecture \"pdp11\""));
	const char *no_date = "architecture: x86_64\n";
	assert_int_equal(metadata_parse(no_date, strlen(no_date), &md, &err), -1);
	assert_non_null(strstr(err.msg, "creation_date: missing"));
	const char *bad_date = "architecture: x86_64\ncreation_date: yesterday\n";
	assert_int_equal(metadata_parse(bad_date, strlen(bad_date), &md, &err), -1);
	assert_non_null(strstr(err.msg, "not a unix time"));
	const char *list = "- a\n- b\n";
	assert_int_equal(metadata_parse(list, strlen(list), &md, &err), -1);
	assert_non_null(strstr(err.msg, "mapping"));
	assert_string_equal(arch_canonical("arm64"), "aarch64");
	assert_null(arch_canonical("x86-64"));
}

static void write_tmp(char *path, const char *data)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void test_fingerprint_split(void **state)
{
	/* sha256("abc") and sha256("abcdef"): the split fingerprint is one hash over meta‖rootfs */
	char a[] = "/tmp/isola-fp-XXXXXX", b[] = "/tmp/isola-fp-XXXXXX";
	write_tmp(a, "abc");
	write_tmp(b, "def");
	char fp[65];
	isola_error err = {0};
	const char *one[] = {a};
	assert_int_equal(fp_of_files(one, 1, fp, &err), 0);
	assert_string_equal(fp, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two[] = {a, b};
	assert_int_equal(fp_of_files(two, 2, fp, &err), 0);
	assert_string_equal(fp, "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721");
	assert_true(fp_is_valid(fp));
	assert_false(fp_is_valid("BEF57EC7"));
	unlink(a);
	unlink(b);
}

static void expect_name(const char *in, const char *want)
{
	char out[256];
	isola_error err = {0};
	if (extract_check_name(in, out, sizeof out, &err) < 0)
		fail_msg("refused good name \"%s\": %s", in, err.msg);
	if (strcmp(out, want) != 0)
		fail_msg("\"%s\" normalised to \"%s\", expected \"%s\"", in, out, want);
}

static void expect_refused(const char *in, const char *needle)
{
	char out[256];
	isola_error err = {0};
	if (extract_check_name(in, out, sizeof out, &err) == 0)
		fail_msg("accepted hostile name \"%s\" as \"%s\"", in, out);
	if (!strstr(err.msg, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_entry_names(void **state)
{
	expect_name("./rootfs/bin/sh", "rootfs/bin/sh");
	expect_name("rootfs//etc/./passwd", "rootfs/etc/passwd");
	expect_name("./", "");
	expect_name("rootfs/dir/", "rootfs/dir");
	expect_name("a/..b/c..", "a/..b/c..");
	expect_refused("/etc/passwd", "absolute");
	expect_refused("../x", "\"..\"");
	expect_refused("rootfs/../../x", "\"..\"");
	expect_refused("rootfs/..", "\"..\"");
	char big[400];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	expect_refused(big, "too long");
}

static void test_parents_symlink(void **state)
{
	char dir[] = "/tmp/isola-par-XXXXXX";
	assert_non_null(mkdtemp(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(mkdirat(fd, "d", 0755), 0);
	assert_int_equal(symlinkat("/etc", fd, "d/link"), 0);
	isola_error err = {0};
	assert_int_equal(extract_check_parents(fd, "d/new/file", true, &err), 0);
	assert_int_equal(extract_check_parents(fd, "d/link/passwd", true, &err), -1);
	assert_non_null(strstr(err.msg, "symlink \"d/link\""));
	assert_int_equal(extract_check_parents(fd, "d/link", true, &err), -1);
	assert_int_equal(extract_check_parents(fd, "d/link", false, &err), 0);
	unlinkat(fd, "d/link", 0);
	unlinkat(fd, "d", AT_REMOVEDIR);
	close(fd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_yaml_incus_metadata), cmocka_unit_test(test_yaml_flow_and_empty),
	    cmocka_unit_test(test_yaml_rejects),        cmocka_unit_test(test_metadata_validation),
	    cmocka_unit_test(test_fingerprint_split),   cmocka_unit_test(test_entry_names),
	    cmocka_unit_test(test_parents_symlink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
