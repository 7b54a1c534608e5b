// SPDX-License-Identifier: GPL-2.0-only
/* Prints the hook table's manifest rules as JSON, for the schema check
 * (tests/schema/check_schema.py): every family's name, the keys it takes
 * and needs, and the words its keys take.
 *
 *   {"xdp": {"keys": [...], "required": [...], "values": {"mode": [...]}}, ...} */
#include <json-c/json.h>
#include <stdio.h>

#include "cnf/hooks.h"

static json_object *key_list(uint32_t bits)
{
	json_object *a = json_object_new_array();

	for (int k = 0; k < AK__COUNT; k++)
		if (bits & AK_BIT(k))
			json_object_array_add(a, json_object_new_string(akey_name((enum akey)k)));
	return a;
}

static json_object *values(const struct hook_keys *keys)
{
	json_object *o = json_object_new_object();

	for (const struct hook_key_rule *r = keys->rules; r && r->key != AK__COUNT; r++) {
		json_object *words;

		if (!r->words)
			continue;
		words = json_object_new_array();
		for (size_t i = 0; r->words[i]; i++)
			json_object_array_add(words, json_object_new_string(r->words[i]));
		json_object_object_add(o, akey_name(r->key), words);
	}
	return o;
}

int main(void)
{
	json_object *root = json_object_new_object();

	for (int k = 0; k < HOOK__COUNT; k++) {
		const struct hook_ops *ops = hook_ops_get((enum hook_kind)k);
		json_object *o = json_object_new_object();

		json_object_object_add(o, "keys", key_list(ops->keys.keys));
		json_object_object_add(o, "required", key_list(ops->keys.required));
		json_object_object_add(o, "values", values(&ops->keys));
		json_object_object_add(root, ops->name, o);
	}
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
	return 0;
}
