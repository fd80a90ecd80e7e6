#include "fetch.h"
#include "cleanup.h"
#include "fingerprint.h"
#include <curl/curl.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

DEFINE_CLEANUP(CURL *, curl_easy_cleanup)

struct sink {
	int fd;    /* file sink, or -1 */
	char *mem; /* memory sink */
	size_t len, cap;
	uint64_t max, done;
	EVP_MD_CTX *ctx;
	int werrno;
	fetch_progress_fn pf;
	void *ud;
	uint64_t last;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;
	if (s->max && s->done + len > s->max) {
		s->werrno = EFBIG;
		return 0;
	}
	if (s->fd >= 0) {
		for (size_t off = 0; off < len;) {
			ssize_t w = write(s->fd, p + off, len - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				s->werrno = errno;
				return 0;
			}
			off += (size_t)w;
		}
	} else {
		if (s->len + len + 1 > s->cap) {
			size_t cap = (s->len + len + 1) * 2;
			char *m = realloc(s->mem, cap);
			if (!m) {
				s->werrno = ENOMEM;
				return 0;
			}
			s->mem = m;
			s->cap = cap;
		}
		memcpy(s->mem + s->len, p, len);
		s->len += len;
		s->mem[s->len] = 0;
	}
	if (s->ctx)
		EVP_DigestUpdate(s->ctx, p, len);
	s->done += len;
	return len;
}

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ult, curl_off_t ulnow)
{
	struct sink *s = ud;
	if (s->pf && (uint64_t)dlnow - s->last >= (32u << 20)) {
		s->last = (uint64_t)dlnow;
		s->pf((uint64_t)dlnow, (uint64_t)dltotal, s->ud);
	}
	return 0;
}

static int perform(const char *url, const char *ca_file, struct sink *s, isola_error *err)
{
	if (strncmp(url, "https://", 8) != 0)
		return isola_err(err, EPROTONOSUPPORT, "%s: only https:// URLs are accepted", url);
	_cleanup_(curl_easy_cleanupp) CURL *c = curl_easy_init();
	if (!c)
		return isola_err(err, ENOMEM, "curl init");
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "isola-imaged");
	CURLcode r = curl_easy_perform(c);
	if (r != CURLE_OK) {
		if (s->werrno)
			return isola_err(err, s->werrno, "download %s", url);
		int e = r == CURLE_PEER_FAILED_VERIFICATION || r == CURLE_SSL_CACERT_BADFILE ? EACCES
		        : r == CURLE_HTTP_RETURNED_ERROR                                     ? ENOENT
		                                                                             : EIO;
		return isola_err(err, e, "download %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(r));
	}
	return 0;
}

int fetch_to_file(const char *url, const char *ca_file, int dirfd, const char *name, uint64_t max_size,
                  char sha256_hex[65], uint64_t *size, fetch_progress_fn pf, void *ud, isola_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return isola_err(err, errno, "create %s", name);
	_cleanup_evp_ EVP_MD_CTX *ctx = fp_new(err);
	if (!ctx)
		return -1;
	struct sink s = {.fd = fd, .max = max_size, .ctx = ctx, .pf = pf, .ud = ud};
	if (perform(url, ca_file, &s, err) < 0)
		return -1;
	if (fsync(fd) < 0)
		return isola_err(err, errno, "fsync %s", name);
	if (size)
		*size = s.done;
	return fp_final(ctx, sha256_hex, err);
}

int fetch_to_mem(const char *url, const char *ca_file, char **out, size_t *len, isola_error *err)
{
	struct sink s = {.fd = -1, .max = 16u << 20};
	if (perform(url, ca_file, &s, err) < 0) {
		free(s.mem);
		return -1;
	}
	if (!s.mem)
		s.mem = strdup("");
	*out = s.mem;
	if (len)
		*len = s.len;
	return 0;
}
