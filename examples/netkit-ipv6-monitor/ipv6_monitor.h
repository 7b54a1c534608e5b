/* SPDX-License-Identifier: GPL-2.0-only */
/* One IPv6 packet, as ipv6_monitor.bpf.c sends it and reader.c reads it. */
#pragma once

struct ipv6_event {
	__u8 src[16];
	__u8 dst[16];
	__u8 next_header;          /* first header after the fixed one (58: ICMPv6) */
	__u8 pad[3];
	__u32 len;                 /* packet length */
};
