#include "fingerprint.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

EVP_MD_CTX *fp_new(isola_error *err)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		isola_err(err, ENOMEM, "EVP sha256 init");
		return NULL;
	}
	return c;
}

int fp_final(EVP_MD_CTX *ctx, char out[FP_HEX_LEN + 1], isola_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 32)
		return isola_err(err, EIO, "EVP sha256 final");
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int fp_copy_fd(EVP_MD_CTX *ctx, int srcfd, int dstfd, const char *name, uint64_t *total, copy_progress_fn cb, void *ud,
               isola_error *err)
{
	enum { BUFSZ = 1 << 20 };
	_cleanup_free_ unsigned char *buf = malloc(BUFSZ);
	if (!buf)
		return isola_err(err, ENOMEM, "copy %s", name);
	uint64_t done = total ? *total : 0, last = done;
	for (;;) {
		ssize_t n = read(srcfd, buf, BUFSZ);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return isola_err(err, errno, "read %s", name);
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			return isola_err(err, EIO, "sha256 of %s", name);
		/* Blocks of zeros are skipped with lseek, not written: a VM disk is a sparse 2 GiB file with a
		 * few hundred MiB of data, and its copy must stay sparse. The hash still covers every byte. */
		for (ssize_t off = 0; dstfd >= 0 && off < n;) {
			ssize_t chunk = n - off < 65536 ? n - off : 65536;
			if (chunk == 65536 && buf[off] == 0 &&
			    memcmp(buf + off, buf + off + 1, (size_t)chunk - 1) == 0) {
				if (lseek(dstfd, chunk, SEEK_CUR) < 0)
					return isola_err(err, errno, "seek in copy of %s", name);
				off += chunk;
				continue;
			}
			ssize_t w = write(dstfd, buf + off, (size_t)chunk);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return isola_err(err, errno, "write copy of %s", name);
			}
			off += w;
		}
		done += (uint64_t)n;
		if (cb && done - last >= (64u << 20)) {
			cb(done, ud);
			last = done;
		}
	}
	/* a trailing hole: give the copy its full length */
	if (dstfd >= 0) {
		off_t end = lseek(dstfd, 0, SEEK_CUR);
		if (end < 0 || ftruncate(dstfd, end) < 0)
			return isola_err(err, errno, "size copy of %s", name);
	}
	if (total)
		*total = done;
	return 0;
}

int fp_of_files(const char *const *paths, size_t n, char out[FP_HEX_LEN + 1], isola_error *err)
{
	_cleanup_evp_ EVP_MD_CTX *ctx = fp_new(err);
	if (!ctx)
		return -1;
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return isola_err(err, errno, "open %s", paths[i]);
		if (fp_copy_fd(ctx, fd, -1, paths[i], NULL, NULL, NULL, err) < 0)
			return -1;
	}
	return fp_final(ctx, out, err);
}

bool fp_is_valid(const char *s)
{
	return s && strlen(s) == FP_HEX_LEN && strspn(s, "0123456789abcdef") == FP_HEX_LEN;
}
