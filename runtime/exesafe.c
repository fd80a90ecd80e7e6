/* CVE-2019-5736 guard; see exesafe.h. */
#include "runtime/exesafe.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "cleanup.h"
#include "explain.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static int protected_fd(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS)
		return 1;
	struct statvfs sv;
	if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY))
		return 1;
	return 0;
}

int exesafe_is_protected(void)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -1 : protected_fd(fd);
}

int exesafe_ensure(int argc, char **argv, isola_error *err)
{
	(void)argc;
	_cleanup_close_ int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0)
		return isola_err(err, errno, "open /proc/self/exe");
	if (protected_fd(exe))
		return 0;
	struct stat st;
	if (fstat(exe, &st) < 0)
		return isola_err(err, errno, "stat /proc/self/exe");
	_cleanup_close_ int mfd = memfd_create("isola-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	EXPLAIN(mfd, "memfd_create(2)",
	        "memfd_create(\"isola-runtime\", MFD_CLOEXEC|MFD_ALLOW_SEALING)  /* CVE-2019-5736 */");
	if (mfd < 0)
		return isola_err(err, errno, "memfd_create");
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, exe, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			return isola_err(err, n < 0 ? errno : EIO, "copy the runtime binary into a memfd");
	}
	int r = fcntl(mfd, F_ADD_SEALS, SEALS);
	EXPLAIN(r, "memfd_create(2)", "fcntl(%d, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE)",
	        (int)mfd);
	if (r < 0)
		return isola_err(err, errno, "seal the memfd");
	EXPLAIN(0, "fexecve(3)", "fexecve(%d <sealed copy of isola-runtime>, argv, envp)", (int)mfd);
	fexecve(mfd, argv, environ);
	return isola_err(err, errno, "re-execute from the sealed memfd");
}
