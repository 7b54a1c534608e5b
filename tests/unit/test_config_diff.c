// SPDX-License-Identifier: GPL-2.0-only
/* How config values are shown by their BTF type (src/config_diff.c). The
 * types are built with libbpf's BTF writer: no object, no kernel. */
#include <stdint.h>
#include <bpf/btf.h>
#include <json-c/json.h>

#include "cnf/config_diff.h"
#include "testlib.h"

static char text[512];
static json_object *js;

static const char *fmt(const struct btf *btf, int type, const void *data, size_t size)
{
	json_object_put(js);
	config_value_format(btf, (uint32_t)type, data, size, text, sizeof(text), &js);
	return text;
}

static const char *js_text(void)
{
	return json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN);
}

TEST(test_integers)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int s16 = btf__add_int(btf, "short", 2, BTF_INT_SIGNED);
	int u64 = btf__add_int(btf, "unsigned long long", 8, 0);
	int b = btf__add_int(btf, "_Bool", 1, BTF_INT_BOOL);
	/* const volatile __u32: modifiers and typedefs are looked through */
	int td = btf__add_typedef(btf, "__u32", u32);
	int cv = btf__add_const(btf, btf__add_volatile(btf, td));
	uint32_t v32 = 200;
	int16_t v16 = -5;
	uint64_t v64 = UINT64_MAX;
	uint8_t t = 1;

	CHECK_STR(fmt(btf, cv, &v32, 4), "200");
	CHECK_STR(js_text(), "200");
	CHECK_STR(fmt(btf, s16, &v16, 2), "-5");
	CHECK_STR(js_text(), "-5");
	CHECK_STR(fmt(btf, u64, &v64, 8), "18446744073709551615");
	CHECK_STR(js_text(), "18446744073709551615");
	CHECK_STR(fmt(btf, b, &t, 1), "true");
	CHECK(json_object_is_type(js, json_type_boolean) && json_object_get_boolean(js));
	btf__free(btf);
}

TEST(test_enums)
{
	struct btf *btf = btf__new_empty();
	int e = btf__add_enum(btf, "cv_mode", 4);
	int e64;
	uint32_t v = 2;
	int32_t neg = -1;
	uint64_t big = 1ull << 40;

	btf__add_enum_value(btf, "CV_OFF", 0);
	btf__add_enum_value(btf, "CV_FAST", 1);
	btf__add_enum_value(btf, "CV_SLOW", 2);
	CHECK_STR(fmt(btf, e, &v, 4), "CV_SLOW");
	CHECK_STR(js_text(), "\"CV_SLOW\"");
	v = 7; /* no enumerator: the number */
	CHECK_STR(fmt(btf, e, &v, 4), "7");
	e = btf__add_enum(btf, "sgn", 4);
	btf__add_enum_value(btf, "MINUS_ONE", -1);
	CHECK_STR(fmt(btf, e, &neg, 4), "MINUS_ONE");
	e64 = btf__add_enum64(btf, "wide", 8, false);
	btf__add_enum64_value(btf, "BIG", 1ull << 40);
	CHECK_STR(fmt(btf, e64, &big, 8), "BIG");
	btf__free(btf);
}

TEST(test_arrays_and_strings)
{
	struct btf *btf = btf__new_empty();
	int ch = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	int u8 = btf__add_int(btf, "unsigned char", 1, 0);
	int u16 = btf__add_int(btf, "unsigned short", 2, 0);
	int idx = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	int str = btf__add_array(btf, idx, ch, 16);
	int bytes = btf__add_array(btf, idx, u8, 3);
	int ports = btf__add_array(btf, idx, u16, 4);
	int grid = btf__add_array(btf, idx, ports, 2);
	int big = btf__add_array(btf, idx, u16, 200);
	char s[16] = "a\"b\\c\n";
	uint8_t mac[3] = { 1, 2, 255 };
	uint16_t p[4] = { 80, 8080 }, g[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, many[200] = {};

	CHECK_STR(fmt(btf, str, s, 16), "\"a\\\"b\\\\c\\x0a\"");
	CHECK_STR(json_object_get_string(js), "a\"b\\c\n");
	CHECK_STR(fmt(btf, bytes, mac, 3), "[1, 2, 255]");
	CHECK_STR(fmt(btf, ports, p, 8), "[80, 8080, 0, 0]");
	CHECK_STR(js_text(), "[80,8080,0,0]");
	CHECK_STR(fmt(btf, grid, g, 16), "[[1, 2, 3, 4], [5, 6, 7, 8]]");
	/* Long values are cut for people, whole in JSON. */
	fmt(btf, big, many, sizeof(many));
	CHECK_INT(strlen(text), 203);
	CHECK_STR(text + 200, "...");
	CHECK_INT(json_object_array_length(js), 200);
	btf__free(btf);
}

TEST(test_other_types_as_hex)
{
	struct btf *btf = btf__new_empty();
	int u32 = btf__add_int(btf, "unsigned int", 4, 0);
	int st = btf__add_struct(btf, "pair", 8);
	uint32_t v[2] = { 1, 0x0a0b0c0d };

	btf__add_field(btf, "a", u32, 0, 0);
	btf__add_field(btf, "b", u32, 32, 0);
	CHECK_STR(fmt(btf, st, v, 8), "0x010000000d0c0b0a");
	CHECK_STR(json_object_get_string(js), "0x010000000d0c0b0a");
	json_object_put(js);
	js = NULL;
	btf__free(btf);
}

UNIT_MAIN(test_integers, test_enums, test_arrays_and_strings, test_other_types_as_hex)
