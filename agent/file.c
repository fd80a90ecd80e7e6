/* file.push / file.pull: one regular file's contents, mode and owner.
 *   {"op":"file.push","path":P,"mode":M,"uid":U,"gid":G}  → {"ok":true}, then 'd' frames from the client
 *        and {"done":true}; the agent writes a temporary file beside P and renames it over P (so a reader
 *        never sees half a file, and a FIFO or device at P is never opened) → {"ok":true,"size":N}
 *   {"op":"file.pull","path":P} → {"ok":true,"size":N,"mode":M,"uid":U,"gid":G}, then at most N bytes
 *        in 'd' frames, then {"ok":true,"sent":N}
 * Paths are the guest's own business (root in the guest may write anywhere in it); what is refused is a
 * target that is not a regular file, with an error that says what it is. */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "cleanup.h"
#include "json.h"

#define DATA_TIMEOUT_MS 60000

static const char *kind(mode_t m)
{
	return S_ISDIR(m)    ? "a directory"
	       : S_ISLNK(m)  ? "a symlink"
	       : S_ISFIFO(m) ? "a FIFO"
	       : S_ISSOCK(m) ? "a socket"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	                     : "not a regular file";
}

static int check_path(const char *path, isola_error *err)
{
	if (path[0] != '/')
		return isola_err(err, EINVAL, "\"%.200s\": must be an absolute path", path);
	if (strlen(path) >= PATH_MAX)
		return isola_err(err, ENAMETOOLONG, "path of %zu bytes", strlen(path));
	return 0;
}

struct tmpfile {
	char path[PATH_MAX + 32];
	bool live;
};
static void tmpfile_drop(struct tmpfile *t)
{
	if (t->live)
		unlink(t->path);
}

int agent_file_push(int conn, json_t *req, char *buf, isola_error *err)
{
	const char *path = NULL;
	int64_t mode = -1, uid = -1, gid = -1;
	if (json_get_str(req, "", "path", true, &path, err) < 0 ||
	    json_get_int(req, "", "mode", false, &mode, err) < 0 ||
	    json_get_int(req, "", "uid", false, &uid, err) < 0 || json_get_int(req, "", "gid", false, &gid, err) < 0)
		return -1;
	if (check_path(path, err) < 0)
		return -1;
	if (mode < -1 || mode > 07777 || uid < -1 || uid >= (int64_t)UINT32_MAX || gid < -1 ||
	    gid >= (int64_t)UINT32_MAX)
		return isola_err(err, EINVAL, "mode/uid/gid out of range");
	/* an existing target: follow its symlinks to the file itself, which must be a regular file; its mode
	 * and owner are kept unless given */
	char target[PATH_MAX];
	struct stat st;
	bool exists = stat(path, &st) == 0;
	if (exists) {
		if (!S_ISREG(st.st_mode))
			return isola_err(err, S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "%.200s is %s, not a regular file",
			                 path, kind(st.st_mode));
		if (!realpath(path, target))
			return isola_err(err, errno, "resolve %.200s", path);
	} else if (errno != ENOENT) {
		return isola_err(err, errno, "%.200s", path);
	} else if (lstat(path, &st) == 0) {
		return isola_err(err, ELOOP, "%.200s is a dangling symlink", path);
	} else {
		snprintf(target, sizeof target, "%s", path);
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", target);
	__attribute__((cleanup(tmpfile_drop))) struct tmpfile t = {.live = false};
	snprintf(t.path, sizeof t.path, "%s/.isola-agent.XXXXXX", dirname(dir));
	_cleanup_close_ int fd = mkostemp(t.path, O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "create a file in %.200s", dir);
	t.live = true;
	uid_t ou = uid >= 0 ? (uid_t)uid : exists ? st.st_uid : 0;
	gid_t og = gid >= 0 ? (gid_t)gid : exists ? st.st_gid : 0;
	mode_t om = mode >= 0 ? (mode_t)mode : exists ? st.st_mode & 07777 : 0644;
	if (fchown(fd, ou, og) < 0)
		return isola_err(err, errno, "chown %.200s to %u:%u", path, ou, og);
	if (fchmod(fd, om) < 0)
		return isola_err(err, errno, "chmod %.200s", path);
	if (agent_reply_ok(conn, NULL, err) < 0)
		return -1;
	uint64_t size = 0;
	for (;;) {
		struct agent_packet p;
		if (agent_recv(conn, buf, DATA_TIMEOUT_MS, &p, err) < 0)
			return isola_err_wrap(err, "push %.200s", path);
		if (p.msg) {
			bool done = json_is_true(json_object_get(p.msg, "done"));
			json_decref(p.msg);
			if (!done)
				return isola_err(err, EPROTO, "push %.200s: expected {\"done\":true} or data", path);
			break;
		}
		if (p.tag != AGENT_FILE)
			return isola_err(err, EPROTO, "push %.200s: unexpected frame '%c'", path, p.tag);
		for (size_t off = 0; off < p.len;) {
			ssize_t w = write(fd, p.data + off, p.len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return isola_err(err, errno, "write %.200s", path);
			off += (size_t)w;
		}
		size += p.len;
	}
	if (fsync(fd) < 0)
		return isola_err(err, errno, "fsync %.200s", path);
	if (rename(t.path, target) < 0)
		return isola_err(err, errno, "rename into %.200s", path);
	t.live = false;
	_cleanup_json_ json_t *r = json_pack("{sI}", "size", (json_int_t)size);
	return agent_reply_ok(conn, r, err);
}

int agent_file_pull(int conn, json_t *req, char *buf, isola_error *err)
{
	const char *path = NULL;
	if (json_get_str(req, "", "path", true, &path, err) < 0 || check_path(path, err) < 0)
		return -1;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below refuses it */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return isola_err(err, errno, "open %.200s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return isola_err(err, errno, "stat %.200s", path);
	if (!S_ISREG(st.st_mode))
		return isola_err(err, S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "%.200s is %s, not a regular file", path,
		                 kind(st.st_mode));
	fcntl(fd, F_SETFL, 0);
	_cleanup_json_ json_t *hdr =
	    json_pack("{sI sI sI sI}", "size", (json_int_t)st.st_size, "mode", (json_int_t)(st.st_mode & 07777), "uid",
	              (json_int_t)st.st_uid, "gid", (json_int_t)st.st_gid);
	if (agent_reply_ok(conn, hdr, err) < 0)
		return -1;
	/* at most the size announced: a file growing meanwhile is cut there, so the client can hold us to it */
	uint64_t left = (uint64_t)st.st_size, sent = 0;
	while (left) {
		size_t want = left < AGENT_DATA_MAX ? (size_t)left : AGENT_DATA_MAX;
		ssize_t n = read(fd, buf + 1, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isola_err(err, errno, "read %.200s", path);
		if (n == 0)
			break;
		buf[0] = AGENT_FILE;
		if (agent_send_data(conn, AGENT_FILE, buf + 1, (size_t)n, err) < 0)
			return -1;
		left -= (uint64_t)n;
		sent += (uint64_t)n;
	}
	_cleanup_json_ json_t *r = json_pack("{sI}", "sent", (json_int_t)sent);
	return agent_reply_ok(conn, r, err);
}
