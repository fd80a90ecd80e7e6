#include "util.h"
#include "cleanup.h"
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int read_file_at(int dirfd, const char *path, char **out, size_t *len, isola_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return isola_err(err, errno, "open %s", path);
	size_t cap = 4096, n = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return isola_err(err, ENOMEM, "read %s", path);
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				return isola_err(err, ENOMEM, "read %s", path);
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return isola_err(err, errno, "read %s", path);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	*out = steal_ptr(&buf);
	return 0;
}

int write_file_at(int dirfd, const char *path, const void *data, size_t len, bool append, isola_error *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
	if (fd < 0)
		return isola_err(err, errno, "open %s", path);
	const char *p = data;
	while (len) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return isola_err(err, errno, "write %s", path);
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int write_filef_at(int dirfd, const char *path, isola_error *err, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf)
		return isola_err(err, E2BIG, "write %s", path);
	return write_file_at(dirfd, path, buf, (size_t)n, false, err);
}

int copy_fd(int in, int out, isola_error *err)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isola_err(err, errno, "read");
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return isola_err(err, errno, "write");
			off += w;
		}
	}
}

static ssize_t copy_range_rw(int in, int out, off_t off, size_t len, char *buf, size_t bufsz)
{
	ssize_t n = pread(in, buf, len < bufsz ? len : bufsz, off);
	for (ssize_t w = 0, done = 0; n > 0 && done < n; done += w) {
		w = pwrite(out, buf + done, (size_t)(n - done), off + done);
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			return -1;
	}
	return n;
}

int copy_file_sparse(int in, int out, void (*progress)(uint64_t done, uint64_t total, void *ud), void *ud,
                     isola_error *err)
{
	struct stat st;
	if (fstat(in, &st) < 0)
		return isola_err(err, errno, "fstat");
	if (ftruncate(out, 0) < 0)
		return isola_err(err, errno, "truncate the copy");
	enum { CHUNK = 64 << 20, BUFSZ = 1 << 20 };
	_cleanup_free_ char *buf = NULL; /* the read/write fallback's, allocated on first use */
	uint64_t last = 0;
	for (off_t pos = 0; pos < st.st_size;) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* nothing but a hole up to the end */
		if (data < 0)
			return isola_err(err, errno, "lseek SEEK_DATA");
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return isola_err(err, errno, "lseek SEEK_HOLE");
		while (data < hole) {
			size_t want = (size_t)(hole - data < CHUNK ? hole - data : CHUNK);
			ssize_t n = -1;
			if (!buf) {
				loff_t io = data, oo = data;
				n = copy_file_range(in, &io, out, &oo, want, 0);
				/* across filesystems on older kernels, or a filesystem without it */
				if (n < 0 &&
				    (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
					if (!(buf = malloc(BUFSZ)))
						return isola_err(err, ENOMEM, "copy buffer");
					continue;
				}
			} else {
				n = copy_range_rw(in, out, data, want, buf, BUFSZ);
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return isola_err(err, errno, "copy bytes at %lld", (long long)data);
			if (n == 0) {
				/* the source shrank while copied (a running container's log, truncated): the copy
				 * ends where it did rather than with zeros up to the old length */
				st.st_size = data;
				break;
			}
			data += n;
			/* by position, so a bar reaches the end though the holes were never copied */
			if (progress && (uint64_t)data - last >= CHUNK) {
				progress((uint64_t)data, (uint64_t)st.st_size, ud);
				last = (uint64_t)data;
			}
		}
		pos = hole;
	}
	if (ftruncate(out, st.st_size) < 0)
		return isola_err(err, errno, "set the copy's length");
	return 0;
}

int parse_size(const char *s, uint64_t *out, isola_error *err)
{
	if (!s || !isdigit((unsigned char)*s))
		return isola_err(err, EINVAL, "size \"%s\": expected a number with an optional k/M/G/T suffix",
		                 s ? s : "");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return isola_err(err, errno, "size \"%s\"", s);
	unsigned shift = 0;
	switch (tolower((unsigned char)*end)) {
	case 0: break;
	case 'k':
		shift = 10;
		end++;
		break;
	case 'm':
		shift = 20;
		end++;
		break;
	case 'g':
		shift = 30;
		end++;
		break;
	case 't':
		shift = 40;
		end++;
		break;
	default: return isola_err(err, EINVAL, "size \"%s\": unknown unit", s);
	}
	if (shift && tolower((unsigned char)*end) == 'i')
		end++;
	if (tolower((unsigned char)*end) == 'b')
		end++;
	if (*end)
		return isola_err(err, EINVAL, "size \"%s\": trailing characters", s);
	if (shift && v > (UINT64_MAX >> shift))
		return isola_err(err, ERANGE, "size \"%s\"", s);
	*out = (uint64_t)v << shift;
	return 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
