/* SPDX-License-Identifier: GPL-2.0-only */
/* SHA-256, the digest of every identity the tool records (object files,
 * configuration, programs, hooks), through GNU Nettle: a process that
 * links it starts about 1 ms faster than one linking OpenSSL's libcrypto,
 * and it needs no provider set up before the first digest. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <nettle/sha2.h>

#define CNF_DIGEST_LEN SHA256_DIGEST_SIZE

struct digest {
	struct sha256_ctx ctx;
};

static inline void digest_init(struct digest *d)
{
	sha256_init(&d->ctx);
}

static inline void digest_update(struct digest *d, const void *data, size_t len)
{
	sha256_update(&d->ctx, len, data);
}

/* Writes CNF_DIGEST_LEN bytes. */
static inline void digest_final(struct digest *d, uint8_t *out)
{
	sha256_digest(&d->ctx, CNF_DIGEST_LEN, out);
}
