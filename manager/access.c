/* Getting inside an instance: exec, console, files. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "cleanup.h"
#include "util.h"
#include "agent.h"
#include "config.h"
#include "container.h"
#include "daemons.h"
#include "fsutil.h"
#include "idmap.h"
#include "json.h"
#include "lock.h"
#include "manager.h"
#include "name.h"
#include "path.h"
#include "paths.h"
#include "storage.h"
#include "vm.h"

DEFINE_CLEANUP(struct instance_rec *, instance_rec_clear)

static int get_running(struct manager *m, const char *name, struct instance_rec *r, isola_error *err)
{
	if (instance_name_check(name, err) < 0 || db_instance_get(m->db, name, r, err) < 0)
		return -1;
	enum instance_status st = instance_status_now(m, r);
	if (st != STATUS_RUNNING) {
		instance_rec_clear(r);
		return isola_err(err, EINVAL, "instance \"%s\" is %s, not running", name, instance_status_name(st));
	}
	return 0;
}

int instance_exec(struct manager *m, const char *name, const struct exec_opts *o, int *status, isola_error *err)
{
	/* no lock: exec runs alongside anything (as `incus exec` does); the runtime checks it still runs */
	struct instance_rec r;
	if (get_running(m, name, &r, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (r.type == INSTANCE_VM) {
		char addr[64];
		if (vm_agent_address(&r, addr, sizeof addr, err) < 0 ||
		    agent_client_exec(addr, agent_wait_ms(), o, status, err) < 0)
			return isola_err_wrap(err, "exec in VM %s", name);
		return 0;
	}
	return container_exec(m, &r, o, status, err);
}

int instance_console(struct manager *m, const char *name, int *fd, isola_error *err)
{
	struct instance_rec r;
	if (get_running(m, name, &r, err) < 0)
		return -1;
	instance_rec_clear(&r);
	char path[4096];
	isola_path(path, sizeof path, "instances/%s/console.sock", name);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return isola_err(err, ENAMETOOLONG, "console socket %s", path);
	strcpy(sa.sun_path, path);
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		return isola_err(err, errno, "console of %s (%s)", name, path);
	*fd = steal_fd(&s);
	return 0;
}

/* A VM's files go through its agent: the VM must be running (its disk is the guest's, never mounted here). */
static int vm_file_push(struct manager *m, const struct instance_rec *r, int src_fd, const char *path, int uid, int gid,
                        int mode, isola_error *err)
{
	char addr[64];
	if (instance_status_now(m, r) != STATUS_RUNNING)
		return isola_err(err, EINVAL, "push to VM %s: it is not running (files go through its agent)", r->name);
	if (vm_agent_address(r, addr, sizeof addr, err) < 0 ||
	    agent_client_push(addr, agent_wait_ms(), src_fd, path, uid, gid, mode, err) < 0)
		return isola_err_wrap(err, "push to %s:%s", r->name, path);
	return 0;
}

static int vm_file_pull(struct manager *m, const struct instance_rec *r, const char *path, int dst_fd, isola_error *err)
{
	char addr[64];
	if (instance_status_now(m, r) != STATUS_RUNNING)
		return isola_err(err, EINVAL, "pull from VM %s: it is not running (files go through its agent)",
		                 r->name);
	if (vm_agent_address(r, addr, sizeof addr, err) < 0 ||
	    agent_client_pull(addr, agent_wait_ms(), path, dst_fd, err) < 0)
		return isola_err_wrap(err, "pull %s:%s", r->name, path);
	return 0;
}

/* The container's rootfs, mounted (mounting it if stopped: *mounted_here tells the caller to unmount). */
static int rootfs_for(struct manager *m, const struct instance_rec *r, char *rootfs, size_t len, uint32_t *base,
                      bool *mounted_here, isola_error *err)
{
	*mounted_here = false;
	_cleanup_json_ json_t *cfg = NULL;
	if (instance_effective(m, r, &cfg, NULL, err) < 0)
		return -1;
	*base = 0;
	if (!config_bool(cfg, "security.privileged", false) && idmap_acquire(m->db, r->id, base, err) < 0)
		return -1;
	enum instance_status st = instance_status_now(m, r);
	if (st == STATUS_RUNNING || st == STATUS_FROZEN) {
		isola_path(rootfs, len, "instances/%s/rootfs", r->name);
		return 0;
	}
	struct pool_rec pool;
	if (db_pool_get(m->db, r->pool, &pool, err) < 0)
		return -1;
	char lower[4096] = "";
	if (!strcmp(pool.driver, "dir")) {
		char holder[128];
		instance_layer_holder(r->name, holder, sizeof holder);
		_cleanup_json_ json_t *layer = NULL;
		if (daemon_op(DAEMON_IMAGED, "layer.acquire", json_pack("{ss ss}", "ref", r->image, "holder", holder),
		              &layer, NULL, NULL, err) < 0) {
			pool_rec_clear(&pool);
			return -1;
		}
		snprintf(lower, sizeof lower, "%s", json_string_value(json_object_get(layer, "path")) ?: "");
	}
	int rc = storage_rootfs_mount(&pool, r->name, lower[0] ? lower : NULL, *base, rootfs, len, err);
	pool_rec_clear(&pool);
	if (rc == 0)
		*mounted_here = true;
	return rc;
}

static void unmount_if(struct manager *m, const struct instance_rec *r, bool mounted)
{
	if (!mounted)
		return;
	struct pool_rec pool;
	isola_error e;
	if (db_pool_get(m->db, r->pool, &pool, &e) == 0) {
		storage_rootfs_unmount(&pool, r->name, &e);
		pool_rec_clear(&pool);
	}
}

/* Act as the container's root (fsuid/fsgid = its host id) while touching its tree: files it owns are
 * writable, files of the host are not, and new files belong to it (setfsuid(2)). */
struct as_root {
	bool on;
};
static void as_root_end(struct as_root *a)
{
	if (a->on) {
		setfsuid(0);
		setfsgid(0);
	}
}

int instance_file_push(struct manager *m, const char *name, int src_fd, const char *path, int uid, int gid, int mode,
                       isola_error *err)
{
	if (!path || path[0] != '/')
		return isola_err(err, EINVAL, "file push: \"%s\" must be an absolute path inside the instance",
		                 path ? path : "");
	if (instance_name_check(name, err) < 0)
		return -1;
	_cleanup_close_ int lock = instance_lock(name, err);
	if (lock < 0)
		return -1;
	struct instance_rec r;
	if (db_instance_get(m->db, name, &r, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (r.type == INSTANCE_VM)
		return vm_file_push(m, &r, src_fd, path, uid, gid, mode, err);
	if (r.status == STATUS_CREATING || r.status == STATUS_BROKEN)
		return isola_err(err, EIO, "instance \"%s\" is broken; delete it", name);
	char rootfs[4096];
	uint32_t base;
	bool mounted;
	if (rootfs_for(m, &r, rootfs, sizeof rootfs, &base, &mounted, err) < 0)
		return -1;
	int rc = -1;
	{
		_cleanup_close_ int rfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		__attribute__((cleanup(as_root_end))) struct as_root ar = {base != 0};
		if (base) {
			setfsuid(base);
			setfsgid(base);
		}
		_cleanup_close_ int fd = rfd < 0 ? -1
		                                 : safe_openat(rfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
		                                               (mode_t)(mode >= 0 ? mode : 0644), err);
		if (rfd < 0)
			isola_err(err, errno, "open %s", rootfs);
		else if (fd >= 0 && copy_fd(src_fd, fd, err) == 0) {
			rc = 0;
			/* back to root's fsuid: chown/chmod need CAP_CHOWN/CAP_FOWNER, which a non-zero fsuid drops
			 * (capabilities(7), "Effect of user ID changes on capabilities") */
			as_root_end(&ar);
			ar.on = false;
			/* owner inside the container → host id through its map */
			if ((uid >= 0 || gid >= 0) && fchown(fd, uid >= 0 ? base + (uint32_t)uid : (uid_t)-1,
			                                     gid >= 0 ? base + (uint32_t)gid : (gid_t)-1) < 0)
				rc = isola_err(err, errno, "chown %s in %s", path, name);
			if (rc == 0 && mode >= 0 && fchmod(fd, (mode_t)mode) < 0)
				rc = isola_err(err, errno, "chmod %s in %s", path, name);
		}
	}
	unmount_if(m, &r, mounted);
	return rc < 0 ? isola_err_wrap(err, "push to %s:%s", name, path) : 0;
}

int instance_file_pull(struct manager *m, const char *name, const char *path, int dst_fd, isola_error *err)
{
	if (!path || path[0] != '/')
		return isola_err(err, EINVAL, "file pull: \"%s\" must be an absolute path inside the instance",
		                 path ? path : "");
	if (instance_name_check(name, err) < 0)
		return -1;
	_cleanup_close_ int lock = instance_lock(name, err);
	if (lock < 0)
		return -1;
	struct instance_rec r;
	if (db_instance_get(m->db, name, &r, err) < 0)
		return -1;
	_cleanup_(instance_rec_clearp) struct instance_rec *rp = &r;
	if (r.type == INSTANCE_VM)
		return vm_file_pull(m, &r, path, dst_fd, err);
	if (r.status == STATUS_CREATING || r.status == STATUS_BROKEN)
		return isola_err(err, EIO, "instance \"%s\" is broken; delete it", name);
	char rootfs[4096];
	uint32_t base;
	bool mounted;
	if (rootfs_for(m, &r, rootfs, sizeof rootfs, &base, &mounted, err) < 0)
		return -1;
	int rc = -1;
	{
		_cleanup_close_ int rfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		__attribute__((cleanup(as_root_end))) struct as_root ar = {base != 0};
		if (base) {
			setfsuid(base);
			setfsgid(base);
		}
		_cleanup_close_ int fd = rfd < 0 ? -1 : safe_openat(rfd, path, O_RDONLY, 0, err);
		struct stat st;
		if (rfd < 0)
			isola_err(err, errno, "open %s", rootfs);
		else if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
			isola_err(err, EISDIR, "%s is not a regular file", path);
		else if (fd >= 0)
			rc = copy_fd(fd, dst_fd, err);
	}
	unmount_if(m, &r, mounted);
	return rc < 0 ? isola_err_wrap(err, "pull %s:%s", name, path) : 0;
}
