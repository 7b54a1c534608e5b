// SPDX-License-Identifier: GPL-2.0-only
/* An XDP program the verifier must reject: it reads the first byte of the
 * packet without checking it against data_end. It compiles; loading it
 * fails, and tests check that the verifier's log reaches the user and that
 * nothing was attached. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_bad(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;

	/* No bounds check: "invalid access to packet". */
	return data[0] == 0xff ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
