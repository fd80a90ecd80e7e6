/* Small helpers every component uses: whole-file read/write, sizes, strings. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

/* Read a whole file (NUL-terminated; *len may be NULL). dirfd may be AT_FDCWD. */
int read_file_at(int dirfd, const char *path, char **out, size_t *len, isola_error *err);
/* Write data to path (O_TRUNC, or O_APPEND when append); no fsync. For /proc and /sys files. */
int write_file_at(int dirfd, const char *path, const void *data, size_t len, bool append, isola_error *err);
/* Same, for a formatted string: write_filef(AT_FDCWD, "/proc/1/oom_score_adj", "%d", v, err) */
int write_filef_at(int dirfd, const char *path, isola_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Copy everything from in to out until EOF with read/write (pipes, sockets, any file): EINTR retried,
 * short writes completed. For files prefer copy_file_range/FICLONE first; this is the fallback. */
int copy_fd(int in, int out, isola_error *err);
/* Copy regular file in to regular file out, keeping holes: only the extents lseek(SEEK_DATA/SEEK_HOLE)
 * reports as data are copied (copy_file_range, else pread/pwrite), then out gets in's length. A VM disk
 * of 2 GiB with 600 MiB of data costs 600 MiB of writes, and its copy stays sparse. out is truncated
 * first; a source that shrinks while copied gives a copy that ends where the source did. progress (may be NULL) is called about every 64 MiB with the offset reached and in's size. */
int copy_file_sparse(int in, int out, void (*progress)(uint64_t done, uint64_t total, void *ud), void *ud,
                     isola_error *err);

/* "512", "64k", "128M", "2G", "1T" (binary units; case-insensitive; optional trailing "B"/"iB"). */
int parse_size(const char *s, uint64_t *out, isola_error *err);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);
