#include "seed_disk.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "util.h"

/* The files of a NoCloud seed, in the order they go on the image, and the config key of each (NULL:
 * generated). user-data must exist for NoCloud; an empty cloud-config is a no-op. */
static const struct {
	const char *file, *key, *fallback;
} seed_files[] = {
    {"meta-data", NULL, NULL},
    {"user-data", "cloud-init.user-data", "#cloud-config\n{}\n"},
    {"vendor-data", "cloud-init.vendor-data", NULL},
    {"network-config", "cloud-init.network-config", NULL},
};
#define NFILES (sizeof seed_files / sizeof seed_files[0])

/* Is dirfd/file exactly want (want NULL: the file must not exist)? */
static bool same(int dirfd, const char *file, const char *want)
{
	_cleanup_free_ char *have = NULL;
	size_t len = 0;
	isola_error e;
	if (read_file_at(dirfd, file, &have, &len, &e) < 0)
		return !want && e.errnum == ENOENT;
	return want && len == strlen(want) && !memcmp(have, want, len);
}

static int genisoimage(const char *out, const char *seed, char *const files[], size_t n, isola_error *err)
{
	/* -V cidata: the label NoCloud looks for; -J -r: Joliet and Rock Ridge, so the names keep their case
	 * and dashes as every cloud-init reader expects; -input-charset: no locale guessing. */
	const char *argv[16 + NFILES] = {"genisoimage", "-quiet", "-output",        out,    "-volid", "cidata",
	                                 "-joliet",     "-rock",  "-input-charset", "utf-8"};
	size_t a = 10;
	for (size_t i = 0; i < n; i++)
		argv[a++] = files[i];
	argv[a] = NULL;
	int errp[2];
	if (pipe2(errp, O_CLOEXEC) < 0)
		return isola_err(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(errp[0]);
		close(errp[1]);
		return isola_err(err, errno, "fork genisoimage");
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(errp[1], 2);
		if (chdir(seed) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(errp[1]);
	char msg[512] = "";
	size_t got = 0;
	ssize_t r;
	while ((r = read(errp[0], msg + got, sizeof msg - 1 - got)) > 0)
		got += (size_t)r;
	close(errp[0]);
	msg[got] = 0;
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return isola_err(err, ENOENT, "genisoimage not found (install the package genisoimage)");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return isola_err(err, EIO, "genisoimage for the cloud-init seed failed: %s",
		                 msg[0] ? msg : "(no message)");
	return 0;
}

int seed_disk_build(const char *dir, const char *name, json_t *config, char *out, size_t outlen, bool *rebuilt,
                    isola_error *err)
{
	char seed[4096], tmp[4200], meta[512];
	snprintf(seed, sizeof seed, "%s/seed", dir);
	snprintf(out, outlen, "%s/seed.iso", dir);
	snprintf(meta, sizeof meta, "instance-id: %s\nlocal-hostname: %s\n", name, name);
	const char *want[NFILES];
	for (size_t i = 0; i < NFILES; i++) {
		const char *v =
		    seed_files[i].key ? json_string_value(json_object_get(config, seed_files[i].key)) : meta;
		want[i] = v ? v : seed_files[i].fallback;
	}
	if (mkdir(seed, 0700) < 0 && errno != EEXIST)
		return isola_err(err, errno, "mkdir %s", seed);
	_cleanup_close_ int sfd = open(seed, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return isola_err(err, errno, "open %s", seed);
	bool unchanged = access(out, F_OK) == 0;
	for (size_t i = 0; i < NFILES && unchanged; i++)
		unchanged = same(sfd, seed_files[i].file, want[i]);
	if (rebuilt)
		*rebuilt = !unchanged;
	if (unchanged)
		return 0;
	char *files[NFILES];
	size_t n = 0;
	for (size_t i = 0; i < NFILES; i++) {
		if (!want[i]) {
			if (unlinkat(sfd, seed_files[i].file, 0) < 0 && errno != ENOENT)
				return isola_err(err, errno, "remove %s/%s", seed, seed_files[i].file);
			continue;
		}
		if (write_file_at(sfd, seed_files[i].file, want[i], strlen(want[i]), false, err) < 0)
			return isola_err_wrap(err, "cloud-init seed of %s", name);
		files[n++] = (char *)seed_files[i].file;
	}
	snprintf(tmp, sizeof tmp, "%s/.seed.iso.tmp", dir);
	unlink(tmp);
	if (genisoimage(tmp, seed, files, n, err) < 0) {
		unlink(tmp);
		return isola_err_wrap(err, "cloud-init seed of %s", name);
	}
	chmod(tmp, 0600);
	if (rename(tmp, out) < 0) {
		int e = errno;
		unlink(tmp);
		return isola_err(err, e, "rename %s to %s", tmp, out);
	}
	return 0;
}
