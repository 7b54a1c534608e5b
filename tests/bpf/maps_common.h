/* SPDX-License-Identifier: GPL-2.0-only */
/* The program and maps of the maps_*.bpf.c test objects (pinned maps
 * across versions, initial entries, maps pinned by name). Each object
 * sets a few macros first:
 *
 *   VERSION         changes the code only: a compatible new version
 *   COUNTS_MAX      max_entries of `counts` (default 4)
 *   STATS_SWAPPED   `struct stats` with its fields swapped: the same
 *                   sizes, another BTF layout
 *   NO_TBYNAME      without `tbyname`, the map pinned by name
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef VERSION
#define VERSION 1
#endif
#ifndef COUNTS_MAX
#define COUNTS_MAX 4
#endif

struct rule_key {
	__u32 addr;
	__u16 port;
	__u16 proto;
};

struct stats {
#ifdef STATS_SWAPPED
	__u64 bytes;
	__u64 pkts;
#else
	__u64 pkts;
	__u64 bytes;
#endif
};

enum verdict { VERDICT_PASS, VERDICT_DROP, VERDICT_COUNT };

/* Counters the manifest pins: what a new version must keep. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COUNTS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* Integer keys and values. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} conf SEC(".maps");

/* Struct keys and values: hex strings and byte lists. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct rule_key);
	__type(value, struct stats);
} rules SEC(".maps");

/* Array values, as lists of integers. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u16[4]);
} ports SEC(".maps");

/* Enum values, by name. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, enum verdict);
} verdicts SEC(".maps");

/* The same value on every CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

#ifndef NO_TBYNAME
/* Pinned by libbpf's convention, by name, not by the manifest. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tbyname SEC(".maps");
#endif

/* Events: a map that takes no entries. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int xdp_maps(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct rule_key rk = {};
	__u64 *n = bpf_map_lookup_elem(&counts, &k);
	__u32 *c = bpf_map_lookup_elem(&conf, &k);
	struct stats *st = bpf_map_lookup_elem(&rules, &rk);
	__u16 *p = bpf_map_lookup_elem(&ports, &k);
	enum verdict *v = bpf_map_lookup_elem(&verdicts, &k);
	__u64 *pc = bpf_map_lookup_elem(&pcpu, &k);
#ifndef NO_TBYNAME
	__u64 *b = bpf_map_lookup_elem(&tbyname, &k);
#else
	__u64 *b = 0;
#endif

	if (n)
		__sync_fetch_and_add(n, VERSION);
	if (st)
		__sync_fetch_and_add(&st->pkts, 1);
	if (pc)
		*pc += 1;
	if (b)
		__sync_fetch_and_add(b, 1);
	if (c && *c == 7 && p && p[0] == 1 && v && *v == VERDICT_DROP)
		bpf_ringbuf_output(&events, &k, sizeof(k), 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
