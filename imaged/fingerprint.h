/* Image fingerprints, exactly as Incus computes them (doc/reference/image_format.md): the SHA-256 of the
 * unified tarball; for a split image, the SHA-256 of the metadata file's bytes followed by the rootfs
 * file's bytes (one hash over metadata‖rootfs). Computed with OpenSSL EVP. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "error.h"
#include "cleanup.h"

#define FP_HEX_LEN 64

DEFINE_CLEANUP(EVP_MD_CTX *, EVP_MD_CTX_free)
#define _cleanup_evp_ _cleanup_(EVP_MD_CTX_freep)

/* Called now and then while bytes move; done counts all bytes so far. */
typedef void (*copy_progress_fn)(uint64_t done, void *ud);

/* A fresh SHA-256 context, or NULL with *err. */
EVP_MD_CTX *fp_new(isola_error *err);
/* Finish ctx into 64 lowercase hex digits + NUL. */
int fp_final(EVP_MD_CTX *ctx, char out[FP_HEX_LEN + 1], isola_error *err);
/* Feed a file's bytes into ctx; when dstfd >= 0 also write them there (the import copy: one read, one
 * write, one hash). *total (may be NULL) grows by the bytes moved. name is for messages. */
int fp_copy_fd(EVP_MD_CTX *ctx, int srcfd, int dstfd, const char *name, uint64_t *total, copy_progress_fn cb, void *ud,
               isola_error *err);
/* SHA-256 over the concatenation of the files (one file: a unified image; two: metadata‖rootfs). */
int fp_of_files(const char *const *paths, size_t n, char out[FP_HEX_LEN + 1], isola_error *err);
/* 64 lowercase hex digits? */
bool fp_is_valid(const char *s);
