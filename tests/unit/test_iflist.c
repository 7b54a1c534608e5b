// SPDX-License-Identifier: GPL-2.0-only
/* The interface list (one RTM_GETLINK dump) against glibc's view of the
 * same namespace. Needs no privileges: any process may dump links. */
#include <stdbool.h>
#include <net/if.h>

#include "cnf/iflist.h"
#include "testlib.h"

TEST(test_same_interfaces_as_glibc)
{
	struct iface_list l;
	struct if_nameindex *ni = if_nameindex();
	size_t n = 0;

	CHECK(ni != NULL);
	CHECK_INT(iface_list_read(&l), 0);
	for (struct if_nameindex *p = ni; p && p->if_index; p++) {
		bool found = false;

		n++;
		for (size_t i = 0; i < l.count; i++)
			if (l.v[i].ifindex == (int)p->if_index) {
				CHECK_STR(l.v[i].name, p->if_name);
				found = true;
			}
		CHECK(found);
	}
	CHECK_INT(l.count, n);
	iface_list_free(&l);
	CHECK(l.v == NULL && l.count == 0);
	if (ni)
		if_freenameindex(ni);
}

TEST(test_loopback_has_no_xdp)
{
	struct iface_list l;
	bool seen = false;

	CHECK_INT(iface_list_read(&l), 0);
	for (size_t i = 0; i < l.count; i++) {
		if (strcmp(l.v[i].name, "lo") != 0)
			continue;
		seen = true;
		CHECK_INT(l.v[i].ifindex, 1);
		/* Nothing may attach XDP to lo natively; this test runs where
		 * no one attached a generic program to it either. */
		CHECK_INT(l.v[i].xdp_prog_id[IFACE_XDP_DRV], 0);
		CHECK_INT(l.v[i].xdp_prog_id[IFACE_XDP_HW], 0);
	}
	CHECK(seen);
	iface_list_free(&l);
}

UNIT_MAIN(test_same_interfaces_as_glibc, test_loopback_has_no_xdp)
