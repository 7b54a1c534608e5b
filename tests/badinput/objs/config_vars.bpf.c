// SPDX-License-Identifier: GPL-2.0-only
/* An XDP program with global variables of several types, for the
 * bad-input catalogue's `config:` cases (unknown variable, wrong type,
 * out of range, too long a string, a struct). */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum verdict { VERDICT_PASS, VERDICT_DROP };

struct limits {
	__u32 lo, hi;
};

const volatile __u8 sample_rate = 1;
const volatile __u16 port = 0;
const volatile __s32 offset = 0;
const volatile bool verbose = false;
const volatile enum verdict verdict = VERDICT_PASS;
const volatile char label[8] = "";
const volatile __u32 ports[4] = {};
const volatile struct limits limits = {};

SEC("xdp")
int xdp_cfg(struct xdp_md *ctx)
{
	if (sample_rate == 0 || port == 1 || offset < 0 || verbose || label[0] == 'x' ||
	    ports[0] == 2 || limits.hi == 3)
		return verdict == VERDICT_DROP ? XDP_DROP : XDP_PASS;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
