/* manager/ state: schema creation and migration from an older version, instance/profile records,
 * profile-in-use refusal, the id-map allocator (disjoint, persistent, reused after release), the
 * per-instance lock. Each test gets its own ISOLA_DIR under /tmp. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "json.h"
#include "manager/db.h"
#include "manager/idmap.h"
#include "manager/lock.h"
#include "runtime/idmap_alloc.h"

static char dir[64], dbpath[128];

static int setup(void **state)
{
	strcpy(dir, "/tmp/isola-test-manager-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/isola.db", dir);
	setenv("ISOLA_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void new_instance(isola_db *db, const char *name, struct instance_rec *r)
{
	isola_error err = {0};
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	snprintf(r->pool, sizeof r->pool, "default");
	r->status = STATUS_STOPPED;
	r->config = json_pack("{ss}", "limits.cpu", "1");
	r->devices = json_object();
	r->profiles = json_pack("[s]", "default");
	r->created_at = time(NULL);
	if (db_instance_insert(db, r, &err) < 0)
		fail_msg("insert %s: %s", name, err.msg);
}

static void test_schema_fresh(void **state)
{
	isola_error err = {0};
	isola_db *db;
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	assert_int_equal(db_version(db), DB_SCHEMA_VERSION);
	struct profile_rec p;
	assert_int_equal(db_profile_get(db, "default", &p, &err), 0);
	profile_rec_clear(&p);
	db_close(db);
	/* reopening is a no-op */
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	assert_int_equal(db_version(db), DB_SCHEMA_VERSION);
	db_close(db);
}

static void test_schema_migration(void **state)
{
	isola_error err = {0};
	isola_db *db;
	/* a version-1 database with an instance and a snapshot in it */
	assert_int_equal(db_open_at(dbpath, 1, &db, &err), 0);
	assert_int_equal(db_version(db), 1);
	assert_int_equal(db_exec(db,
	                         "INSERT INTO instances (name, type, status, pool, created_at) VALUES "
	                         "('old1', 'container', 'Stopped', 'default', 1);"
	                         "INSERT INTO snapshots (instance_id, name, created_at) VALUES (1, 'snap0', 2);",
	                         &err),
	                 0);
	db_close(db);
	/* the current binary migrates it and keeps the rows */
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	assert_int_equal(db_version(db), DB_SCHEMA_VERSION);
	struct instance_rec r;
	assert_int_equal(db_instance_get(db, "old1", &r, &err), 0);
	struct snapshot_rec s;
	assert_int_equal(db_snapshot_get(db, r.id, "snap0", &s, &err), 0);
	assert_true(json_is_array(s.profiles)); /* the v2 column, defaulted */
	uint32_t base;
	assert_int_equal(idmap_acquire(db, r.id, &base, &err), 0);
	snapshot_rec_clear(&s);
	instance_rec_clear(&r);
	/* every step is recorded */
	assert_int_equal(db_exec(db, "CREATE TEMP TABLE t AS SELECT count(*) AS n FROM schema_migrations", &err), 0);
	db_close(db);

	/* a database from the future is refused, not guessed at */
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	assert_int_equal(db_exec(db, "PRAGMA user_version=99", &err), 0);
	db_close(db);
	assert_int_equal(db_open(dbpath, &db, &err), -1);
	assert_non_null(strstr(err.msg, "newer than this isola"));
}

static void test_instances_and_profiles(void **state)
{
	isola_error err = {0};
	_cleanup_db_ isola_db *db = NULL;
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	struct instance_rec a, dup;
	new_instance(db, "c1", &a);
	memset(&dup, 0, sizeof dup);
	strcpy(dup.name, "c1");
	strcpy(dup.pool, "default");
	assert_int_equal(db_instance_insert(db, &dup, &err), -1);
	assert_int_equal(err.errnum, EEXIST);

	struct profile_rec p = {0};
	strcpy(p.name, "web");
	p.config = json_pack("{ss}", "limits.memory", "1GiB");
	assert_int_equal(db_profile_insert(db, &p, &err), 0);
	assert_int_equal(db_profile_insert(db, &p, &err), -1);
	assert_int_equal(err.errnum, EEXIST);

	json_array_append_new(a.profiles, json_string("web"));
	assert_int_equal(db_instance_update(db, &a, &err), 0);
	/* an unknown profile is refused by name */
	json_array_append_new(a.profiles, json_string("nope"));
	assert_int_equal(db_instance_update(db, &a, &err), -1);
	assert_non_null(strstr(err.msg, "\"nope\""));
	json_array_remove(a.profiles, 2);
	assert_int_equal(db_instance_update(db, &a, &err), 0);

	struct instance_rec b;
	assert_int_equal(db_instance_get(db, "c1", &b, &err), 0);
	assert_int_equal(json_array_size(b.profiles), 2);
	assert_string_equal(json_string_value(json_array_get(b.profiles, 1)), "web"); /* order kept */
	assert_string_equal(json_string_value(json_object_get(b.config, "limits.cpu")), "1");
	instance_rec_clear(&b);

	/* profile in use: refused, naming the user */
	assert_int_equal(db_profile_delete(db, "web", &err), -1);
	assert_int_equal(err.errnum, EBUSY);
	assert_non_null(strstr(err.msg, "c1"));
	assert_int_equal(db_profile_delete(db, "default", &err), -1);
	assert_int_equal(err.errnum, EPERM);

	assert_int_equal(db_instance_delete(db, a.id, &err), 0);
	assert_int_equal(db_profile_delete(db, "web", &err), 0);
	assert_int_equal(db_profile_delete(db, "web", &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	instance_rec_clear(&a);
	profile_rec_clear(&p);
}

static void test_idmap_disjoint_persistent(void **state)
{
	isola_error err = {0};
	isola_db *db;
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	enum { N = 40 };
	struct instance_rec r[N];
	uint32_t base[N];
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof name, "i%d", i);
		new_instance(db, name, &r[i]);
		assert_int_equal(idmap_acquire(db, r[i].id, &base[i], &err), 0);
		assert_true(base[i] >= IDMAP_FIRST_BASE);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			if (!(base[i] + IDMAP_SIZE <= base[j] || base[j] + IDMAP_SIZE <= base[i]))
				fail_msg("ranges of i%d (%u) and i%d (%u) overlap", i, base[i], j, base[j]);
	/* asking again gives the same range */
	uint32_t again;
	assert_int_equal(idmap_acquire(db, r[7].id, &again, &err), 0);
	assert_int_equal(again, base[7]);
	db_close(db);

	/* persistence: a new process-level open sees the same allocations */
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	assert_int_equal(idmap_lookup(db, r[13].id, &again, &err), 0);
	assert_int_equal(again, base[13]);
	/* deleting an instance frees its range (instance_delete releases it), and the hole is reused */
	assert_int_equal(idmap_release(db, r[13].id, &err), 0);
	assert_int_equal(db_instance_delete(db, r[13].id, &err), 0);
	assert_int_equal(idmap_lookup(db, r[13].id, &again, &err), -1);
	struct instance_rec x;
	new_instance(db, "late", &x);
	assert_int_equal(idmap_acquire(db, x.id, &again, &err), 0);
	assert_int_equal(again, base[13]);
	instance_rec_clear(&x);
	for (int i = 0; i < N; i++)
		instance_rec_clear(&r[i]);
	db_close(db);
}

/* Schema v2 kept id ranges in its own table, beside the runtime's allocator: the two could hand out one
 * block twice. v3 moves the rows into the one allocator: each instance keeps its base, no later allocation
 * (by the manager or by `isola-runtime boot` on the same directory) overlaps them, and a range that clashes
 * with one the runtime handed out meanwhile stops the migration with a message naming both. */
static void test_idmap_migrated_from_v2(void **state)
{
	isola_error err = {0};
	isola_db *db;
	assert_int_equal(db_open_at(dbpath, 2, &db, &err), 0);
	/* v2's allocator started at 1,000,000 (unaligned): two instances, the second one's block right after */
	assert_int_equal(db_exec(db,
	                         "INSERT INTO instances (name, type, status, pool, created_at) VALUES "
	                         "('a', 'container', 'Stopped', 'default', 1), ('b', 'container', 'Stopped', "
	                         "'default', 1), ('c', 'container', 'Stopped', 'default', 1);"
	                         "INSERT INTO idmap_ranges (instance_id, base, size) VALUES (1, 1000000, 65536),"
	                         " (2, 1065536, 65536);",
	                         &err),
	                 0);
	db_close(db);
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	assert_int_equal(db_version(db), 3);
	uint32_t a, b, c;
	assert_int_equal(idmap_lookup(db, 1, &a, &err), 0);
	assert_int_equal(idmap_lookup(db, 2, &b, &err), 0);
	assert_int_equal(a, 1000000);
	assert_int_equal(b, 1065536);
	/* the old table is gone: nothing can allocate from it any more */
	assert_int_equal(db_exec(db, "SELECT * FROM idmap_ranges", &err), -1);
	/* a new instance and a runtime-booted container get blocks clear of both */
	assert_int_equal(idmap_acquire(db, 3, &c, &err), 0);
	uint64_t rt;
	assert_int_equal(idmap_range_alloc(dir, "c1-booted-by-hand", &rt, &err), 0);
	uint64_t used[4][2] = {{a, 65536}, {b, 65536}, {c, 65536}, {rt, 65536}};
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (used[i][0] < used[j][0] + used[j][1] && used[j][0] < used[i][0] + used[i][1])
				fail_msg("blocks %d (%llu) and %d (%llu) overlap", i, (unsigned long long)used[i][0], j,
				         (unsigned long long)used[j][0]);
	db_close(db);
	/* reopening does not migrate again, and keeps them */
	assert_int_equal(db_open(dbpath, &db, &err), 0);
	assert_int_equal(idmap_lookup(db, 2, &b, &err), 0);
	assert_int_equal(b, 1065536);
	db_close(db);
}

static void test_idmap_migration_refuses_a_clash(void **state)
{
	isola_error err = {0};
	isola_db *db;
	/* the bug v3 fixes: the runtime handed out a block the v2 table also holds */
	uint64_t rt;
	assert_int_equal(idmap_range_alloc(dir, "c1", &rt, &err), 0);
	assert_int_equal(db_open_at(dbpath, 2, &db, &err), 0);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "INSERT INTO instances (name, type, status, pool, created_at) VALUES ('a', 'container', 'Stopped',"
	         " 'default', 1); INSERT INTO idmap_ranges (instance_id, base, size) VALUES (1, %llu, 65536);",
	         (unsigned long long)rt);
	assert_int_equal(db_exec(db, sql, &err), 0);
	db_close(db);
	assert_int_equal(db_open(dbpath, &db, &err), -1);
	assert_int_equal(err.errnum, EEXIST);
	if (!strstr(err.msg, "instance:1") || !strstr(err.msg, "c1"))
		fail_msg("the error should name both owners: %s", err.msg);
	/* nothing changed: still v2, the row is still there */
	assert_int_equal(db_open_at(dbpath, 2, &db, &err), 0);
	assert_int_equal(db_version(db), 2);
	assert_int_equal(db_exec(db, "SELECT * FROM idmap_ranges", &err), 0);
	db_close(db);
}

static void test_lock_serialises(void **state)
{
	isola_error err = {0};
	int fd = instance_lock("c1", &err);
	assert_true(fd >= 0);
	assert_true(instance_lock_held("c1"));
	assert_false(instance_lock_held("c2"));
	pid_t pid = fork();
	if (pid == 0) {
		isola_error e2;
		int r = instance_trylock("c1", &e2);
		_exit(r < 0 && e2.errnum == EWOULDBLOCK ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	assert_false(instance_lock_held("c1"));
	/* a holder killed with SIGKILL leaves no stale lock */
	pid = fork();
	if (pid == 0) {
		isola_error e2;
		instance_lock("c3", &e2);
		pause();
		_exit(0);
	}
	while (!instance_lock_held("c3"))
		usleep(1000);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	assert_false(instance_lock_held("c3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema_fresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_migration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_instances_and_profiles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idmap_disjoint_persistent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idmap_migrated_from_v2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idmap_migration_refuses_a_clash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_serialises, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
