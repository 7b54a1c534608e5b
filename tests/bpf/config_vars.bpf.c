// SPDX-License-Identifier: GPL-2.0-only
/* Global variables of every kind `config:` can set, for the tests of what
 * a config change shows (test_config_diff.sh) and of pinned maps whose pin
 * went away (test_drift_maps.sh). config_vars_v2.bpf.c is the same source
 * built with CONFIG_VARS_V2: a new object file with another default for
 * `version`. `xdp_cfg` counts packets in `counters` (slot 0) and keeps a
 * run-time count in `hits` (.bss); `tc_cfg` is the only user of `spare`. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

enum cv_mode { CV_OFF, CV_FAST, CV_SLOW };

const volatile __u32 sample_rate = 100;
const volatile __s16 offset = -5;
const volatile bool verbose = false;
const volatile enum cv_mode mode = CV_FAST;
const volatile char label[16] = "edge";
const volatile __u16 ports[4] = { 80, 443 };
const volatile __u64 untouched = 7;
#ifdef CONFIG_VARS_V2
const volatile __u32 version = 2;
#else
const volatile __u32 version = 1;
#endif
__u32 limit = 10;             /* .data: config may set it, the program could too */
__u64 hits;                   /* .bss: the program's own count */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} spare SEC(".maps");

static __always_inline __u64 mix(void)
{
	__u64 v = sample_rate + offset + verbose + mode + label[0] + ports[1] + untouched + version;

	return v + limit;
}

SEC("xdp")
int xdp_cfg(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&counters, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	key = 1;
	n = bpf_map_lookup_elem(&counters, &key);
	if (n)
		*n = mix();
	hits++;
	return XDP_PASS;
}

SEC("tc")
int tc_cfg(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&spare, &key);

	if (n)
		*n = mix();
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
