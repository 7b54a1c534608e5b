// SPDX-License-Identifier: GPL-2.0-only
/* "Did you mean ...?" (cnf/suggest.h): the distance, and which words are
 * close enough to be suggested. */
#include <stddef.h>

#include "cnf/suggest.h"
#include "testlib.h"

static const char *const verbs[] = { "plan", "apply", "status", "destroy", "validate",
				     "probe", "watch", NULL };
static const char *const keys[] = { "name", "program", "hook", "interface", "interfaces",
				    "direction", "order", NULL };

TEST(test_distance)
{
	CHECK_INT(suggest_distance("status", "status"), 0);
	CHECK_INT(suggest_distance("stauts", "status"), 1);    /* a swap is one edit */
	CHECK_INT(suggest_distance("interfcae", "interface"), 1);
	CHECK_INT(suggest_distance("plna", "plan"), 1);
	CHECK_INT(suggest_distance("aply", "apply"), 1);
	CHECK_INT(suggest_distance("Hook", "hook"), 0);       /* without case */
	CHECK_INT(suggest_distance("", "abc"), 3);
	CHECK_INT(suggest_distance("kitten", "sitting"), 3);
}

TEST(test_suggest_close)
{
	CHECK_STR(suggest_word("stauts", verbs), "status");
	CHECK_STR(suggest_word("aplly", verbs), "apply");
	CHECK_STR(suggest_word("destory", verbs), "destroy");
	CHECK_STR(suggest_word("interfcae", keys), "interface");
	CHECK_STR(suggest_word("interfaec", keys), "interface");
	CHECK_STR(suggest_word("directon", keys), "direction");
	CHECK_STR(suggest_word("prgram", keys), "program");
}

TEST(test_suggest_far)
{
	CHECK(suggest_word("frobnicate", verbs) == NULL);
	CHECK(suggest_word("xyz", verbs) == NULL);
	CHECK(suggest_word("ab", keys) == NULL);       /* too short to guess */
	CHECK(suggest_word("", keys) == NULL);
	CHECK(suggest_word("status", NULL) == NULL);
	/* A long word is never "close" to a short one. */
	CHECK(suggest_word("statusstatusstatus", verbs) == NULL);
}

UNIT_MAIN(test_distance, test_suggest_close, test_suggest_far)
