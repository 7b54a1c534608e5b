#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The manifest schema, schema/manifest.schema.json, held to the tool:
# tests/schema/check_schema.py validates the examples, cnf.d/ and the
# manifests of the documentation (and checks their yaml-language-server
# modelines), cross-checks the bad-input catalogue (tests/badinput/, each
# case's `schema:` line) and its own valid and invalid manifests against
# `cnf-apply validate` of this build, and compares the schema with the
# loader's tables and the man pages. No root, no kernel: validate loads
# nothing. `make schema-test` runs the same check on its own.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}

if ! "$python" -c 'import jsonschema, yaml' 2>/dev/null; then
	echo "FAIL schema: $python cannot import jsonschema and yaml (scripts/setup.sh installs python3-jsonschema and python3-yaml)"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ -z "${BUILD:-}" ] || [ ! -x "$BUILD/cnf-apply" ]; then
	echo "FAIL schema: no cnf-apply in BUILD='${BUILD:-}' to cross-check the schema with"
	echo "0 passed, 1 failed"
	exit 1
fi
exec "$python" "$root/tests/schema/check_schema.py" --build "$BUILD"
