#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks schema/manifest.schema.json against the manifests and the loader.

- every cnf.d/*.yaml and examples/**/*.yaml validates against the schema;
- embedded valid manifests validate, embedded invalid ones do not, and
  `cnf-apply validate` rejects each invalid one too (exit 1, with the
  loader's message), using the test objects under build/tests/bpf/;
- the schema, include/cnf/manifest.h, the loader's tables in src/manifest.c
  and src/hook_cgroup.c, and the man pages name the same keys, hooks,
  enums and limits.

Prints one line per case and "N passed, N failed"; exits 1 on a failure.
Needs python3-jsonschema and python3-yaml.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "schema", "manifest.schema.json")
MAN5 = os.path.join(ROOT, "man", "cnf.d.5.scd")
MAN8 = os.path.join(ROOT, "man", "cnf-apply.8.scd")

# Test objects the embedded manifests use (built by `make`), by object name:
# xdp_main (SEC xdp), tc_main (SEC tc), connect4 (SEC cgroup/connect4).
OBJECTS = {
    "xdp": "xdp_v1.bpf.o",
    "tc": "tc_v1.bpf.o",
    "cg": "cgroup_progs.bpf.o",
}

DEL = object()  # drop the key


def edit(d, **kw):
    out = dict(d)
    for k, v in kw.items():
        if v is DEL:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def xdp(**kw):
    return edit({"name": "fw", "program": "xdp/xdp_main", "hook": "xdp",
                 "interface": "eth0"}, **kw)


def tcx(**kw):
    return edit({"name": "count", "program": "tc/tc_main", "hook": "tcx",
                 "interface": "eth0", "direction": "ingress"}, **kw)


def tc(**kw):
    return edit({"name": "legacy", "program": "tc/tc_main", "hook": "tc",
                 "interface": "eth0", "direction": "egress"}, **kw)


def cgroup(**kw):
    return edit({"name": "policy", "program": "cg/connect4", "hook": "cgroup",
                 "cgroup": "system.slice", "attach_type": "connect4"}, **kw)


def other(hook, **kw):
    return edit({"name": hook.replace("_", "-"), "program": "xdp/xdp_main", "hook": hook}, **kw)


def manifest(*attachments, **top):
    m = {
        "apiVersion": "cnf-apply/v1",
        "name": "schema-test",
        "objects": [{"name": n, "file": f} for n, f in OBJECTS.items()],
        "attachments": list(attachments),
    }
    return edit(m, **top)


def obj(**kw):
    return edit({"name": "xdp", "file": "xdp_v1.bpf.o"}, **kw)


# Valid for the schema. `tool`: cnf-apply validate must accept it too (hooks
# that plan/apply support; the others are refused until implemented).
VALID = [
    ("xdp with every key", manifest(xdp(mode="generic", netns="/run/netns/blue")), True),
    ("xdp with an interface list and glob", manifest(xdp(interface=DEL,
                                                         interfaces=["eth0", "veth*"])), True),
    ("tcx ordered first and after", manifest(tcx(order="first"),
                                             tcx(name="second", after="count")), True),
    ("tc with priority and handle", manifest(tc(priority=10, handle=0x10)), True),
    ("cgroup with attach_type", manifest(cgroup()), True),
    ("cgroup with libbpf's attach type name",
     manifest(cgroup(attach_type="cgroup_inet4_connect")), True),
    ("cgroup without attach_type (from the section)", manifest(cgroup(attach_type=DEL)), True),
    ("empty attachments", manifest(), True),
    ("object with config, maps and programs",
     manifest(objects=[obj(config={"rate": 100, "name": "x", "on": True, "ports": [22, 23],
                                   "empty": []},
                           maps=[{"name": "counters", "pin": "shared/counters"}],
                           programs=[{"name": "xdp_main", "type": "xdp"}])]), False),
    ("object with an empty config", manifest(objects=[obj(config=None)]), True),
    ("netkit", manifest(other("netkit", interface="nk0", side="peer", before="x")), False),
    ("tracepoint", manifest(other("tracepoint", tracepoint="syscalls/sys_enter_openat")), False),
    ("tracepoint from the section", manifest(other("tracepoint")), False),
    ("raw_tracepoint", manifest(other("raw_tracepoint", tracepoint="sched_switch")), False),
    ("kprobe", manifest(other("kprobe", function="do_unlinkat", offset=8)), False),
    ("kretprobe", manifest(other("kretprobe", function="do_unlinkat", offset=0)), False),
    ("kprobe_multi", manifest(other("kprobe_multi", functions=["tcp_*", "udp_sendmsg"])), False),
    ("fentry", manifest(other("fentry", function="tcp_connect")), False),
    ("fexit", manifest(other("fexit", function="tcp_connect")), False),
    ("uprobe", manifest(other("uprobe", binary="/usr/bin/bash", symbol="readline",
                              pid=1)), False),
    ("uretprobe by offset", manifest(other("uretprobe", binary="/lib/libc.so.6",
                                           offset=4096)), False),
    ("lsm", manifest(other("lsm", function="file_open")), False),
    ("netfilter", manifest(other("netfilter", family="ipv6", netfilter_hook="local_in",
                                 priority=-100)), False),
    ("sk_lookup", manifest(other("sk_lookup", netns="/run/netns/blue")), False),
    ("flow_dissector", manifest(other("flow_dissector")), False),
    ("struct_ops", manifest({"name": "cc", "hook": "struct_ops", "map": "xdp/tcp_cc"}), False),
]

# Invalid: the schema must reject them, and so must cnf-apply validate, with
# a message containing the given text.
INVALID = [
    ("unknown key at top level", manifest(extra=1), "unknown key 'extra'"),
    ("unknown key in an attachment", manifest(xdp(iface="eth0")), "unknown key 'iface'"),
    ("unknown key in an object", manifest(objects=[obj(path="x.o")]), "unknown key 'path'"),
    ("unknown key in a map option", manifest(objects=[obj(maps=[{"name": "m", "pinned": True}])]),
     "unknown key 'pinned'"),
    ("unknown key in a program option",
     manifest(objects=[obj(programs=[{"name": "xdp_main", "kind": "xdp"}])]),
     "unknown key 'kind'"),
    ("wrong type: priority is not an integer", manifest(tc(priority="high")),
     "expected an integer"),
    ("wrong type: interfaces is not a list", manifest(xdp(interface=DEL, interfaces="eth0")),
     "expected a list"),
    ("wrong type: objects is a mapping", manifest(objects={"name": "x", "file": "x.o"}),
     "expected a list"),
    ("wrong type: attachments is null", manifest(attachments=None), "expected a list"),
    ("wrong type: config is a list", manifest(objects=[obj(config=["rate"])]),
     "expected a mapping of variable names"),
    ("wrong type: config value is a mapping", manifest(objects=[obj(config={"rate": {"a": 1}})]),
     "expected a value or a list of values"),
    ("config value is null", manifest(objects=[obj(config={"rate": None})]), "has no value"),
    ("missing apiVersion", manifest(apiVersion=DEL), "missing required key 'apiVersion'"),
    ("wrong apiVersion", manifest(apiVersion="cnf-apply/v2"), "unsupported apiVersion"),
    ("missing manifest name", manifest(name=DEL), "missing required key 'name'"),
    ("missing objects", manifest(objects=DEL), "missing required key 'objects'"),
    ("empty objects", manifest(objects=[]), "must list at least one object"),
    ("missing attachments", manifest(attachments=DEL), "missing required key 'attachments'"),
    ("missing object file", manifest(objects=[obj(file=DEL)]), "missing required key 'file'"),
    ("missing attachment name", manifest(xdp(name=DEL)), "missing required key 'name'"),
    ("missing hook", manifest(xdp(hook=DEL)), "missing required key 'hook'"),
    ("missing program", manifest(xdp(program=DEL)), "missing required key 'program'"),
    ("missing direction for tcx", manifest(tcx(direction=DEL)),
     "missing required key 'direction' for hook 'tcx'"),
    ("missing interface for xdp", manifest(xdp(interface=DEL)),
     "missing required key 'interface' (or 'interfaces')"),
    ("missing cgroup for cgroup", manifest(cgroup(cgroup=DEL)),
     "missing required key 'cgroup' for hook 'cgroup'"),
    ("missing priority for netfilter",
     manifest(other("netfilter", family="ipv4", netfilter_hook="forward")),
     "missing required key 'priority' for hook 'netfilter'"),
    ("missing map for struct_ops", manifest({"name": "cc", "hook": "struct_ops"}),
     "missing required key 'map' for hook 'struct_ops'"),
    ("uprobe without symbol or offset", manifest(other("uprobe", binary="/bin/true")),
     "needs 'symbol' or 'offset'"),
    ("bad manifest name: uppercase", manifest(name="Edge"), "invalid name 'Edge'"),
    ("bad manifest name: 64 characters", manifest(name="a" * 64), "invalid name"),
    ("bad manifest name: leading '-'", manifest(name="-edge"), "invalid name"),
    ("bad attachment name: leading '.'", manifest(xdp(name=".fw")), "invalid name"),
    ("bad attachment name: space", manifest(xdp(name="fw eth0")), "invalid name"),
    ("bad object name", manifest(objects=[obj(name="x/y")]), "invalid name"),
    ("program without OBJECT/", manifest(xdp(program="xdp_main")),
     "must be written OBJECT/PROGRAM"),
    ("interface name longer than 15", manifest(xdp(interface="a" * 16)),
     "is longer than 15 characters"),
    ("interface name with '/'", manifest(xdp(interface="eth0/1")), "contains '/'"),
    ("both interface and interfaces", manifest(xdp(interfaces=["eth1"])),
     "mutually exclusive"),
    ("empty interfaces", manifest(xdp(interface=DEL, interfaces=[])),
     "must list at least one interface"),
    ("relative netns", manifest(xdp(netns="run/netns/x")), "must be an absolute path"),
    ("pin path escapes the bpffs root",
     manifest(objects=[obj(maps=[{"name": "m", "pin": "../m"}])]), "escapes the bpffs root"),
    ("absolute pin path", manifest(objects=[obj(maps=[{"name": "m", "pin": "/m"}])]),
     "escapes the bpffs root"),
    ("pin path with a bad character",
     manifest(objects=[obj(maps=[{"name": "m", "pin": "a:b"}])]), "pin path 'a:b' is invalid"),
    ("pin path longer than 200", manifest(objects=[obj(maps=[{"name": "m", "pin": "p" * 201}])]),
     "is longer than 200 characters"),
    ("key not applicable: mode on tcx", manifest(tcx(mode="native")),
     "key 'mode' does not apply to hook 'tcx'"),
    ("key not applicable: direction on xdp", manifest(xdp(direction="ingress")),
     "key 'direction' does not apply to hook 'xdp'"),
    ("key not applicable: priority on tcx", manifest(tcx(priority=1)),
     "key 'priority' does not apply to hook 'tcx'"),
    ("key not applicable: order on tc", manifest(tc(order="first")),
     "key 'order' does not apply to hook 'tc'"),
    ("key not applicable: cgroup on xdp", manifest(xdp(cgroup="x")),
     "key 'cgroup' does not apply to hook 'xdp'"),
    ("key not applicable: interface on cgroup", manifest(cgroup(interface="eth0")),
     "key 'interface' does not apply to hook 'cgroup'"),
    ("key not applicable: program on struct_ops",
     manifest({"name": "cc", "hook": "struct_ops", "map": "xdp/cc", "program": "xdp/xdp_main"}),
     "key 'program' does not apply to hook 'struct_ops'"),
    ("bad enum: hook", manifest(xdp(hook="xdp2")), "unknown hook 'xdp2'"),
    ("bad enum: mode", manifest(xdp(mode="fast")), "mode 'fast' is not one of"),
    ("bad enum: direction", manifest(tcx(direction="both")), "direction 'both' is not one of"),
    ("bad enum: order", manifest(tcx(order="middle")), "order 'middle' is not one of"),
    ("bad enum: side", manifest(other("netkit", interface="nk0", side="left")),
     "side 'left' is not one of"),
    ("bad enum: family",
     manifest(other("netfilter", family="inet", netfilter_hook="forward", priority=1)),
     "family 'inet' is not one of"),
    ("bad enum: netfilter_hook",
     manifest(other("netfilter", family="ipv4", netfilter_hook="input", priority=1)),
     "netfilter_hook 'input' is not one of"),
    ("bad enum: cgroup attach_type", manifest(cgroup(attach_type="connect5")),
     "unknown cgroup attach_type 'connect5'"),
    ("both order and before", manifest(tcx(name="a"), tcx(name="b", order="first", before="a")),
     "only one of 'order', 'before' and 'after'"),
    ("both before and after",
     manifest(tcx(name="a"), tcx(name="b"), tcx(name="c", before="a", after="b")),
     "only one of 'order', 'before' and 'after'"),
    ("tc priority 0", manifest(tc(priority=0)), "out of range (1..65535)"),
    ("tc priority 65536", manifest(tc(priority=65536)), "out of range (1..65535)"),
    ("tc handle 0", manifest(tc(handle=0)), "out of range (1..0xffffffff)"),
    ("cgroup path with '..'", manifest(cgroup(cgroup="a/../b")), "must not contain '..'"),
    ("tracepoint without GROUP/", manifest(other("tracepoint", tracepoint="sys_enter_open")),
     "must be written GROUP/NAME"),
    ("raw tracepoint with GROUP/", manifest(other("raw_tracepoint", tracepoint="sched/x")),
     "must be a plain name"),
    ("kretprobe offset other than 0", manifest(other("kretprobe", function="f", offset=4)),
     "offset must be 0 for hook 'kretprobe'"),
    ("negative offset", manifest(other("kprobe", function="f", offset=-1)),
     "must not be negative"),
    ("empty functions", manifest(other("kprobe_multi", functions=[])),
     "must list at least one function"),
    ("pid 0", manifest(other("uprobe", binary="/bin/true", symbol="main", pid=0)),
     "is not a process id"),
    ("empty file", manifest(objects=[obj(file="")]), "key 'file' must not be empty"),
]


class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, ok, title, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %s%s" % ("PASS" if ok else "FAIL", title, ": " + detail if detail else ""))


def first_error(validator, doc):
    err = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(top)"
    return "%s: %s" % (where, err.message)


def short(text, n=110):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 3] + "..."


class Tool:
    """Runs cnf-apply validate on manifests written next to copies of the
    test objects. Unavailable (None reason) without the binary or objects."""

    def __init__(self, build):
        self.binary = os.path.join(build, "cnf-apply")
        objdir = os.path.join(build, "tests", "bpf")
        self.why_not = None
        if not os.access(self.binary, os.X_OK):
            self.why_not = "%s not built" % self.binary
            return
        missing = [f for f in OBJECTS.values() if not os.path.isfile(os.path.join(objdir, f))]
        if missing:
            self.why_not = "test objects not built (%s)" % ", ".join(missing)
            return
        self.tmp = tempfile.mkdtemp(prefix="cnf-schema-")
        for f in OBJECTS.values():
            shutil.copy(os.path.join(objdir, f), self.tmp)
        self.n = 0

    def validate(self, text):
        self.n += 1
        path = os.path.join(self.tmp, "case%03d.yaml" % self.n)
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, LC_ALL="C")
        p = subprocess.run([self.binary, "validate", path], capture_output=True, text=True,
                           env=env, timeout=60)
        return p.returncode, p.stderr

    def close(self):
        if self.why_not is None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def dump(doc):
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def check_files(res, validator):
    files = sorted(glob.glob(os.path.join(ROOT, "cnf.d", "*.yaml")) +
                   glob.glob(os.path.join(ROOT, "cnf.d", "*.yml")))
    files += sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.yaml"), recursive=True) +
                    glob.glob(os.path.join(ROOT, "examples", "**", "*.yml"), recursive=True))
    # examples/ansible/ holds playbooks, not manifests.
    files = [f for f in files
             if not os.path.relpath(f, ROOT).startswith(os.path.join("examples", "ansible") + os.sep)]
    for path in files:
        rel = os.path.relpath(path, ROOT)
        try:
            with open(path) as f:
                doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            res.report(False, "valid file %s" % rel, "YAML: %s" % short(str(e)))
            continue
        err = first_error(validator, doc)
        res.report(err is None, "valid file %s" % rel, err or "")


def check_cases(res, validator, tool):
    for title, doc, with_tool in VALID:
        text = dump(doc)
        err = first_error(validator, yaml.safe_load(text))
        if err:
            res.report(False, "valid: " + title, "schema rejects it: " + err)
            continue
        if with_tool and tool.why_not is None:
            rc, out = tool.validate(text)
            if rc != 0:
                res.report(False, "valid: " + title,
                           "cnf-apply validate exit %d: %s" % (rc, short(out)))
                continue
            res.report(True, "valid: " + title, "schema, cnf-apply")
        else:
            res.report(True, "valid: " + title, "schema")

    for title, doc, expect in INVALID:
        text = dump(doc)
        err = first_error(validator, yaml.safe_load(text))
        if err is None:
            res.report(False, "invalid: " + title, "the schema accepts it")
            continue
        if tool.why_not is not None:
            res.report(True, "invalid: " + title, "schema: " + short(err, 80))
            continue
        rc, out = tool.validate(text)
        if rc != 1:
            res.report(False, "invalid: " + title, "cnf-apply validate exit %d, not 1" % rc)
        elif expect not in out:
            res.report(False, "invalid: " + title,
                       "cnf-apply said %r, expected %r" % (short(out), expect))
        else:
            res.report(True, "invalid: " + title, "schema, cnf-apply")


# ---- the loader's tables ---------------------------------------------------

def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


def header_attachment_keys():
    """Members of struct cnf_attachment that hold YAML keys."""
    src = read("include/cnf/manifest.h")
    body = re.search(r"struct cnf_attachment \{(.*?)\};", src, re.S).group(1)
    body = body.split("/* Filled by the loader. */")[0]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    keys = set()
    for m in re.finditer(r"^\s*(?:const\s+)?(char|int64_t|size_t)\s*\**\s*(\w+)\s*;", body, re.M):
        if m.group(1) == "size_t" and m.group(2).endswith("_count"):
            continue
        keys.add(m.group(2))
    return keys


def loader_fields():
    """libcyaml field tables of src/manifest.c: table -> {key: kind}."""
    src = read("src/manifest.c")
    tables = {}
    for m in re.finditer(r"cyaml_schema_field_t (\w+)_fields\[\] = \{(.*?)\};", src, re.S):
        fields = {}
        for f in re.finditer(r"(F_STR|F_INT|F_SEQ|CYAML_FIELD_IGNORE)\(\"(\w+)\"", m.group(2)):
            fields[f.group(2)] = {"F_STR": "string", "F_INT": "integer", "F_SEQ": "array",
                                  "CYAML_FIELD_IGNORE": "free"}[f.group(1)]
        tables[m.group(1)] = fields
    return tables


def loader_hook_rules():
    """hook -> (keys, required) from src/manifest.c's hook_rules."""
    src = read("src/manifest.c")
    names = dict(re.findall(r"\[(AK_\w+)\] = \"(\w+)\"", src))
    macros = {}
    for m in re.finditer(r"#define (\w+) \((.*?)\)\n", src):
        macros[m.group(1)] = m.group(2)

    def expand(expr):
        out = set()
        for tok in expr.split("|"):
            tok = tok.strip().strip("()").strip()
            b = re.fullmatch(r"B\((AK_\w+)\)?", tok)
            if b:
                out.add(names[b.group(1)])
            elif tok in macros:
                out |= expand(macros[tok])
            elif tok == "PROG":
                out.add("program")
            else:
                raise ValueError("cannot read hook rule token %r" % tok)
        return out

    block = re.search(r"hook_rules\[\] = \{(.*?)\n\};", src, re.S).group(1)
    rules = {}
    for m in re.finditer(r"\{\s*\"(\w+)\",\s*([^,]+?),\s*([^}]+?)\s*\}", block, re.S):
        rules[m.group(1)] = (expand(m.group(2)), expand(m.group(3)))
    return rules


def loader_enums():
    src = read("src/manifest.c")
    arrays = {m.group(1): re.findall(r"\"(\w+)\"", m.group(2)) for m in
              re.finditer(r"static const char \*const (\w+)\[\] = \{(.*?)\};", src, re.S)}
    return {"mode": arrays["xdp_modes"], "direction": arrays["directions"],
            "order": arrays["orders"], "side": arrays["sides"], "family": arrays["families"],
            "netfilter_hook": arrays["nf_hooks"]}


def define(rel, name):
    m = re.search(r"#define %s\s+(\"[^\"]*\"|\d+)" % name, read(rel))
    return json.loads(m.group(1)) if m else None


def schema_rules(schema):
    """hook -> (allowed keys, required keys) from the attachment's if/then."""
    rules = {}
    for r in schema["definitions"]["attachment"]["allOf"]:
        hook = r["if"]["properties"]["hook"]["const"]
        then = r["then"]
        keys = set(then["properties"]) - {"name", "hook"}
        rules[hook] = (keys, set(then.get("required", [])))
    return rules


def compare(res, title, want, have, want_name, have_name):
    want, have = set(want), set(have)
    if want == have:
        res.report(True, title)
        return
    parts = []
    if want - have:
        parts.append("in %s only: %s" % (want_name, ", ".join(sorted(want - have))))
    if have - want:
        parts.append("in %s only: %s" % (have_name, ", ".join(sorted(have - want))))
    res.report(False, title, "; ".join(parts))


def undescribed(node, path=""):
    """Properties without a description (editors show them on hover)."""
    out = []
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                out.append(path + "/" + key)
        for key, sub in node.items():
            if key == "if":
                continue
            if isinstance(sub, dict):
                out += undescribed(sub, path + "/" + key if key != "properties" else path)
            elif isinstance(sub, list):
                for item in sub:
                    out += undescribed(item, path)
    return out


def check_consistency(res, schema):
    defs = schema["definitions"]
    missing = sorted(set(undescribed(schema)))
    res.report(not missing, "every schema property has a description",
               "none for: " + ", ".join(missing) if missing else "")
    att = defs["attachment"]["properties"]

    compare(res, "struct cnf_attachment members = schema attachment keys",
            header_attachment_keys(), att, "manifest.h", "the schema")

    tables = loader_fields()
    where = {"manifest": schema["properties"], "object": defs["object"]["properties"],
             "map_opt": defs["mapOption"]["properties"],
             "prog_opt": defs["programOption"]["properties"], "attachment": att}
    for table, props in where.items():
        fields = tables.get(table, {})
        compare(res, "loader %s_fields = schema keys" % table, fields, props,
                "src/manifest.c", "the schema")
        bad = []
        for key, kind in fields.items():
            if key not in props or kind == "free":
                continue
            t = props[key].get("type")
            if t != kind:
                bad.append("%s: loader %s, schema %s" % (key, kind, t))
        res.report(not bad, "loader %s_fields types = schema types" % table, "; ".join(bad))

    lrules, srules = loader_hook_rules(), schema_rules(schema)
    compare(res, "loader hooks = schema hook enum", lrules, att["hook"]["enum"],
            "src/manifest.c", "the schema")
    compare(res, "loader hooks = schema per-hook rules", lrules, srules,
            "src/manifest.c", "the schema")
    for hook in sorted(set(lrules) & set(srules)):
        lk, lr = lrules[hook]
        sk, sr = srules[hook]
        bad = []
        if lk != sk:
            bad.append("keys: loader %s, schema %s" % (sorted(lk), sorted(sk)))
        if lr != sr:
            bad.append("required: loader %s, schema %s" % (sorted(lr), sorted(sr)))
        res.report(not bad, "hook %s: keys and required keys match the loader" % hook,
                   "; ".join(bad))

    for key, values in loader_enums().items():
        compare(res, "enum %s matches the loader" % key, values, att[key]["enum"],
                "src/manifest.c", "the schema")

    cg = re.findall(r"\{ \"(\w+)\",\s+BPF_CGROUP_\w+,", read("src/hook_cgroup.c"))
    compare(res, "cgroup attach types match src/hook_cgroup.c", cg,
            [v for v in att["attach_type"]["enum"] if not v.startswith("cgroup_")],
            "src/hook_cgroup.c", "the schema")

    limits = [
        ("apiVersion", define("include/cnf/manifest.h", "CNF_API_VERSION"),
         schema["properties"]["apiVersion"].get("const")),
        ("manifest name length", define("include/cnf/manifest.h", "CNF_NAME_MAX"),
         schema["properties"]["name"].get("maxLength")),
        ("object name length", define("include/cnf/manifest.h", "CNF_NAME_MAX"),
         defs["object"]["properties"]["name"].get("maxLength")),
        ("attachment name length", define("include/cnf/manifest.h", "CNF_NAME_MAX"),
         att["name"].get("maxLength")),
        ("pin length", define("src/manifest.c", "PIN_PATH_MAX"),
         defs["mapOption"]["properties"]["pin"].get("maxLength")),
        ("interface name length", define("src/manifest.c", "IFNAME_MAX"),
         att["interface"].get("maxLength")),
    ]
    for what, loader, sch in limits:
        res.report(loader == sch, "%s matches the loader" % what,
                   "" if loader == sch else "loader %r, schema %r" % (loader, sch))


def check_man(res, schema):
    if not os.path.isfile(MAN5):
        res.report(False, "man page man/cnf.d.5.scd exists")
        return
    with open(MAN5) as f:
        man5 = f.read()
    tables = loader_fields()
    missing = []
    for table, fields in tables.items():
        for key in fields:
            if not re.search(r"^\t*\*%s\*" % re.escape(key), man5, re.M):
                missing.append("%s (%s)" % (key, table))
    res.report(not missing, "cnf.d(5) documents every manifest key",
               "undocumented: " + ", ".join(missing) if missing else "")
    missing = [h for h in schema["definitions"]["attachment"]["properties"]["hook"]["enum"]
               if not re.search(r"\*%s\*" % re.escape(h), man5)]
    res.report(not missing, "cnf.d(5) names every hook",
               "missing: " + ", ".join(missing) if missing else "")
    missing = [k for k in header_attachment_keys()
               if not re.search(r"^\t*\*%s\*" % re.escape(k), man5, re.M)]
    res.report(not missing, "cnf.d(5) documents every struct cnf_attachment key",
               "undocumented: " + ", ".join(missing) if missing else "")

    if not os.path.isfile(MAN8):
        res.report(False, "man page man/cnf-apply.8.scd exists")
        return
    with open(MAN8) as f:
        man8 = f.read()
    main = read("src/main.c")
    opts = re.findall(r"\{ \"([\w-]+)\",\s+\w+_argument", main)
    verbs = re.findall(r"\{ \"(\w+)\",\s+cmd_\w+,", main)
    missing = ["--" + o for o in opts if not re.search(r"\*--%s\*" % re.escape(o), man8)]
    missing += [v for v in verbs if not re.search(r"^\*%s\*" % re.escape(v), man8, re.M)]
    res.report(bool(opts and verbs) and not missing,
               "cnf-apply(8) documents every option and verb of src/main.c",
               "undocumented: " + ", ".join(missing) if missing else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build directory with cnf-apply and tests/bpf/ (default: build)")
    ap.add_argument("--no-tool", action="store_true", help="do not run cnf-apply")
    args = ap.parse_args()

    res = Result()
    with open(SCHEMA) as f:
        schema = json.load(f)
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        res.report(True, "schema is a valid draft-07 schema")
    except jsonschema.exceptions.SchemaError as e:
        res.report(False, "schema is a valid draft-07 schema", short(e.message))
        print("%d passed, %d failed" % (res.passed, res.failed))
        return 1
    validator = jsonschema.Draft7Validator(schema)

    tool = Tool(os.path.abspath(args.build))
    if args.no_tool and tool.why_not is None:
        tool.close()
        tool.why_not = "--no-tool"
    if tool.why_not:
        print("note: not running cnf-apply validate: %s" % tool.why_not)
    try:
        check_files(res, validator)
        check_cases(res, validator, tool)
    finally:
        tool.close()
    check_consistency(res, schema)
    check_man(res, schema)

    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
