// SPDX-License-Identifier: GPL-2.0-only
/* Prints the IPv6 packets ipv6_monitor.bpf.c reports, one JSON object per
 * line, from the ring buffer the manifest pins:
 *
 *   ipv6-monitor-reader [MAP_PIN] [SECONDS] [COUNT]
 *
 * MAP_PIN defaults to /sys/fs/bpf/cnf/_maps/netkit-ipv6-monitor-events.
 * Stops after SECONDS (default: never) or COUNT events (default: never). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ipv6_monitor.h"

static long seen, want;

static int on_event(void *ctx, void *data, size_t len)
{
	const struct ipv6_event *e = data;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	if (len < sizeof(*e))
		return 0;
	inet_ntop(AF_INET6, e->src, src, sizeof(src));
	inet_ntop(AF_INET6, e->dst, dst, sizeof(dst));
	printf("{\"src\": \"%s\", \"dst\": \"%s\", \"next_header\": %u, \"len\": %u}\n", src, dst,
	       e->next_header, e->len);
	fflush(stdout);
	seen++;
	return want && seen >= want ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *pin = argc > 1 ? argv[1] : "/sys/fs/bpf/cnf/_maps/netkit-ipv6-monitor-events";
	long secs = argc > 2 ? atol(argv[2]) : 0;
	struct ring_buffer *rb;
	time_t end = secs ? time(NULL) + secs : 0;
	int fd, r = 0;

	want = argc > 3 ? atol(argv[3]) : 0;
	fd = bpf_obj_get(pin);
	if (fd < 0) {
		fprintf(stderr, "ipv6-monitor-reader: %s: %s (is the manifest applied?)\n", pin,
			strerror(errno));
		return 1;
	}
	rb = ring_buffer__new(fd, on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "ipv6-monitor-reader: %s is not a ring buffer\n", pin);
		return 1;
	}
	while (r >= 0 && !(want && seen >= want) && (!end || time(NULL) < end))
		r = ring_buffer__poll(rb, 200);
	ring_buffer__free(rb);
	return r < 0 && r != -EINTR ? 1 : 0;
}
