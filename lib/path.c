#include "path.h"
#include "cleanup.h"
#include "explain.h"
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

bool path_force_fallback;

static bool use_openat2(void)
{
	static int env = -1;
	if (env < 0) {
		const char *e = getenv("ISOLA_NO_OPENAT2");
		env = e && *e && strcmp(e, "0") != 0;
	}
	return !path_force_fallback && !env;
}

const char *fd_path(int fd)
{
	static __thread char ring[4][32];
	static __thread unsigned next;
	char *b = ring[next++ % 4];
	snprintf(b, 32, "/proc/self/fd/%d", fd);
	return b;
}

bool name_is_safe_component(const char *name, size_t max)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > max || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* The fallback walk. A queue of remaining components (symlink targets are spliced in front) and a stack
 * of resolved ones; ".." pops the stack (never above rootfd) and reopens from rootfd, so the walk can only
 * reach what is under rootfd. */
#define MAX_LINKS 40
static int walk(int rootfd, const char *path, int flags, mode_t mode, isola_error *err)
{
	char *stack[PATH_MAX / 2];
	size_t depth = 0;
	_cleanup_free_ char *queue = strdup(path);
	if (!queue)
		return isola_err(err, ENOMEM, "resolve %s", path);
	_cleanup_close_ int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		// cppcheck-suppress memleak ; queue is freed by its _cleanup_ attribute, which cppcheck ignores
		return isola_err(err, errno, "open root for %s", path);
	int links = 0, ret = -1;
	char *rest = queue;
	for (;;) {
		while (*rest == '/')
			rest++;
		if (!*rest) {
			/* path resolved to a directory (e.g. "/" or "a/.."): reopen it with the caller's flags */
			int fd = openat(cur, ".", (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
			if (fd < 0)
				isola_err(err, errno, "open %s", path);
			ret = fd;
			break;
		}
		char *slash = strchr(rest, '/');
		size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
		char comp[NAME_MAX + 1];
		if (len > NAME_MAX) {
			isola_err(err, ENAMETOOLONG, "resolve %s", path);
			break;
		}
		memcpy(comp, rest, len);
		comp[len] = 0;
		rest += len;
		bool last = !*rest || !rest[strspn(rest, "/")];
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			if (depth)
				free(stack[--depth]);
			closep(&cur);
			cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
			for (size_t i = 0; cur >= 0 && i < depth; i++) {
				int n = openat(cur, stack[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				closep(&cur);
				cur = n;
			}
			if (cur < 0) {
				isola_err(err, errno, "resolve %s", path);
				break;
			}
			continue;
		}
		struct stat st;
		if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) &&
		    !(last && (flags & O_NOFOLLOW))) {
			if (++links > MAX_LINKS) {
				isola_err(err, ELOOP, "resolve %s", path);
				break;
			}
			char target[PATH_MAX];
			ssize_t n = readlinkat(cur, comp, target, sizeof target - 1);
			if (n < 0) {
				isola_err(err, errno, "readlink %s in %s", comp, path);
				break;
			}
			target[n] = 0;
			_cleanup_free_ char *nq = NULL;
			if (asprintf(&nq, "%s/%s", target, rest) < 0) {
				isola_err(err, ENOMEM, "resolve %s", path);
				break;
			}
			if (target[0] == '/') {
				/* absolute symlinks are re-rooted at rootfd */
				while (depth)
					free(stack[--depth]);
				closep(&cur);
				cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (cur < 0) {
					isola_err(err, errno, "resolve %s", path);
					break;
				}
			}
			free(queue);
			queue = steal_ptr(&nq);
			rest = queue;
			continue;
		}
		if (last) {
			int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (fd < 0)
				isola_err(err, errno, "open %s", path);
			ret = fd;
			break;
		}
		int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			isola_err(err, errno, "resolve %s", path);
			break;
		}
		if (depth >= ARRAY_SIZE(stack) || !(stack[depth] = strdup(comp))) {
			close(next);
			isola_err(err, ENAMETOOLONG, "resolve %s", path);
			break;
		}
		depth++;
		closep(&cur);
		cur = next;
	}
	while (depth)
		free(stack[--depth]);
	return ret;
}

int safe_openat(int rootfd, const char *path, int flags, mode_t mode, isola_error *err)
{
	if (use_openat2()) {
		struct open_how how = {
		    .flags = (unsigned)(flags | O_CLOEXEC),
		    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};
		const char *p = path;
		while (*p == '/')
			p++;
		int fd = (int)syscall(SYS_openat2, rootfd, *p ? p : ".", &how, sizeof how);
		EXPLAIN(fd, "openat2(2)", "openat2(%d, \"%s\", %s, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)", rootfd,
		        path, explain_open_flags((unsigned)flags));
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS)
			return isola_err(err, errno, "open %s", path);
	}
	return walk(rootfd, path, flags, mode, err);
}

int safe_mkdir_p(int rootfd, const char *path, mode_t mode, isola_error *err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return isola_err(err, ENOMEM, "mkdir %s", path);
	_cleanup_close_ int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		// cppcheck-suppress memleak ; copy is freed by its _cleanup_ attribute, which cppcheck ignores
		return isola_err(err, errno, "mkdir %s", path);
	/* Each component is created in the previous one's resolved fd, and the next fd is resolved again from
	 * rootfd through the lexical prefix: a component that is (or becomes) a symlink resolves inside
	 * rootfd, the way the kernel would resolve it with rootfd as "/". */
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (mkdirat(cur, c, mode) < 0 && errno != EEXIST)
			return isola_err(err, errno, "mkdir %s (at %s)", path, c);
		size_t prefix = (size_t)(c - copy) + strlen(c);
		_cleanup_free_ char *sofar = strndup(path, prefix);
		if (!sofar)
			return isola_err(err, ENOMEM, "mkdir %s", path);
		int next = safe_openat(rootfd, sofar, O_PATH | O_DIRECTORY, 0, err);
		if (next < 0)
			return isola_err_wrap(err, "mkdir %s", path);
		closep(&cur);
		cur = next;
	}
	return steal_fd(&cur);
}

int safe_create_target(int rootfd, const char *path, bool is_dir, mode_t mode, isola_error *err)
{
	if (is_dir)
		return safe_mkdir_p(rootfd, path, mode, err);
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return isola_err(err, ENOMEM, "create %s", path);
	char *slash = strrchr(dir, '/');
	const char *base = path;
	_cleanup_close_ int dfd = -1;
	if (slash) {
		*slash = 0;
		base = path + (slash - dir) + 1;
		dfd = safe_mkdir_p(rootfd, dir, 0755, err);
	} else {
		dfd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0)
		// cppcheck-suppress memleak ; dir is freed by its _cleanup_ attribute, which cppcheck ignores
		return isola_err_wrap(err, "create %s", path);
	int fd = safe_openat(dfd, base, O_PATH, 0, NULL);
	if (fd >= 0)
		// cppcheck-suppress memleak ; dir is freed by its _cleanup_ attribute, which cppcheck ignores
		return fd;
	_cleanup_close_ int wfd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (wfd < 0 && errno != EEXIST)
		// cppcheck-suppress memleak ; dir is freed by its _cleanup_ attribute, which cppcheck ignores
		return isola_err(err, errno, "create %s", path);
	// cppcheck-suppress memleak ; dir is freed by its _cleanup_ attribute, which cppcheck ignores
	return safe_openat(dfd, base, O_PATH, 0, err);
}
