#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks schema/manifest.schema.json against the manifests and the loader.

- every cnf.d/*.yaml and examples/**/*.yaml validates against the schema
  and carries the yaml-language-server modeline that points editors at it;
- the manifests of cnf.d(5) and README.md (whole ones, and the lists of
  attachments of cnf.d(5)'s hook sections) validate;
- embedded valid manifests validate, embedded invalid ones do not, and
  `cnf-apply validate` rejects each invalid one too (exit 1, with the
  loader's message), using the test objects under build/tests/bpf/;
- the bad-input catalogue (tests/badinput/): each case's `schema:` line
  says whether the schema can see its problem, and the schema agrees
  (see check_badinput());
- the schema, include/cnf/manifest.h, the loader's tables in src/manifest.c
  and src/hook_cgroup.c, and the man pages name the same keys, hooks,
  enums and limits.

Documents are read as cnf-apply reads them: a key given twice in a
mapping is an error (yamldoc.py), not silently the last value.

Prints one line per check ("ok   schema: ..." or "FAIL schema: ...") and
"N passed, N failed"; exits 1 on a failure. Needs python3-jsonschema and
python3-yaml.
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

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import yamldoc  # noqa: E402

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
                                             tcx(name="second", program="tc/tc_second",
                                                 after="count")), True),
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
        print("%s schema: %s%s" % ("ok  " if ok else "FAIL", title,
                                   ": " + detail if detail else ""), flush=True)


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
        with open(path, "rb") as f:
            data = f.read()
        check_modeline(res, rel, data)
        try:
            doc, _ = yamldoc.load(data)
        except yaml.YAMLError as e:
            res.report(False, "valid file %s" % rel, "YAML: %s" % short(str(e)))
            continue
        err = first_error(validator, doc)
        res.report(err is None, "valid file %s" % rel, err or "")


MODELINE = re.compile(rb"^#\s*yaml-language-server:\s*\$schema=(\S+)\s*$", re.M)


def check_modeline(res, rel, data):
    """The modeline is there and names this tree's schema, relative to the
    file (so that it also holds where the examples are installed)."""
    title = "modeline in %s" % rel
    m = MODELINE.search(data)
    if not m:
        res.report(False, title, "no '# yaml-language-server: $schema=...' line")
        return
    target = m.group(1).decode()
    if "://" in target or os.path.isabs(target):
        res.report(False, title, "'%s' is not a path relative to the file" % target)
        return
    path = os.path.join(ROOT, os.path.dirname(rel), target)
    ok = os.path.exists(path) and os.path.samefile(path, SCHEMA)
    res.report(ok, title, "$schema=%s" % target if ok else
               "$schema=%s is not schema/manifest.schema.json" % target)


def doc_blocks(rel, fence_re):
    """(line, text) of the fenced blocks of a document."""
    out, block, start = [], None, 0
    with open(os.path.join(ROOT, rel)) as f:
        for n, line in enumerate(f, 1):
            if block is None:
                if re.match(fence_re, line):
                    block, start = [], n + 1
            elif line.startswith("```"):
                out.append((start, "".join(block)))
                block = None
            else:
                block.append(line)
    return out


def check_doc_examples(res, validator):
    """The manifests the documentation shows: whole manifests, and the
    lists of attachments of cnf.d(5)'s hook sections, inside a manifest
    that defines the objects they name."""
    docs = [("man/cnf.d.5.scd", r"^```\s*$"), ("README.md", r"^```ya?ml\s*$")]
    for rel, fence in docs:
        seen = 0
        for line, text in doc_blocks(rel, fence):
            first = next((ln for ln in text.splitlines() if ln.strip() and
                          not ln.lstrip().startswith("#")), "")
            if not (first.startswith("apiVersion:") or first.startswith("- name:")):
                continue
            seen += 1
            title = "example in %s:%d" % (rel, line)
            try:
                doc, _ = yamldoc.load(text)
            except yaml.YAMLError as e:
                res.report(False, title, "YAML: %s" % short(str(e)))
                continue
            if isinstance(doc, list):
                objs = sorted({a["program"].split("/")[0] for a in doc
                               if isinstance(a, dict) and "/" in str(a.get("program", ""))})
                doc = manifest(*doc, objects=[{"name": o, "file": o + ".bpf.o"} for o in objs])
            err = first_error(validator, doc)
            res.report(err is None, title, err or "")
        res.report(seen > 0, "%s shows manifests" % rel,
                   "%d checked" % seen if seen else "no manifest found in its examples")


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


# ---- the bad-input catalogue -----------------------------------------------
#
# Each case of tests/badinput/ says in its `expect` file, on a `schema:`
# line, whether the schema can see what is wrong with it:
#
#   schema: KEYWORD /PATH   the schema refuses the manifest, with KEYWORD
#                           (required, additionalProperties, type, enum,
#                           pattern, ...) at /PATH, the JSON pointer of the
#                           key the problem is about (a missing or unknown
#                           key's own path); cnf-apply's `at:` line lies
#                           within that key (for a missing key: within the
#                           entry that lacks it), its `entry:` is the one
#                           /PATH is in, and nothing outside that entry is
#                           refused
#   schema: yaml REASON     the YAML itself is broken (syntax, encoding,
#                           several documents, an undefined alias, a key
#                           given twice): a YAML loader refuses it before
#                           any schema, at one of the `at:` lines
#   schema: limit REASON    a limit of cnf-apply's loader that a YAML
#                           loader does not have and JSON Schema cannot
#                           state (size, nesting, alias expansion, anchors,
#                           NUL in strings): not validated
#   schema: n/a REASON      the problem is outside the document (files,
#                           permissions, objects and their BTF, the kernel,
#                           references between entries, sets of
#                           manifests): the schema must accept the case's
#                           manifests, or it would be stricter than the tool

BADINPUT = os.path.join(ROOT, "tests", "badinput")
# What tests/integration/test_badinput.sh puts for its placeholders.
PLACEHOLDERS = [(b"@W@", b"/run/cnf-badinput"), (b"@CGREL@", b"cnf-badinput"),
                (b"@CG@", b"/sys/fs/cgroup/cnf-badinput")]


def template(data):
    for k, v in PLACEHOLDERS:
        data = data.replace(k, v)
    return data


def read_expect(case):
    """{key: [values]} of a case's descriptor, read as test_badinput.sh does."""
    out = {}
    with open(os.path.join(case, "expect"), "rb") as f:
        for raw in f.read().split(b"\n"):
            line = template(raw).decode()
            if re.match(r"^\s*(#|$)", line):
                continue
            m = re.match(r"^([a-z]+):\s*(.*)$", line)
            if not m:
                raise ValueError("cannot read line %r" % line)
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def case_manifests(case, tmp):
    """{relative path: bytes} of the case's manifests, placeholders replaced.
    Where none is committed, the case's setup script makes them (in tmp)."""
    def collect(top):
        files = {}
        for dirpath, _, names in os.walk(top):
            for n in names:
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, top)
                if not n.endswith((".yaml", ".yml")) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    files[rel] = template(f.read())
        return files

    files = collect(case)
    setup = os.path.join(case, "setup")
    if files or not os.path.isfile(setup):
        return files
    subprocess.run(["bash", "-e", setup], cwd=tmp, check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return collect(tmp)


def at_lines(specs, files):
    """(file, line) for each `at:` spec, FILE:N or FILE:/TEXT/ (the first
    line holding TEXT); line None for a bare FILE, 0 for a TEXT not found."""
    out = []
    for spec in specs:
        name, _, rest = spec.partition(":")
        if not rest:
            out.append((name, None))
        elif len(rest) > 1 and rest[0] == "/" and rest[-1] == "/":
            lines = files.get(name, b"").split(b"\n")
            text = rest[1:-1].encode()
            out.append((name, next((n for n, ln in enumerate(lines, 1) if text in ln), 0)))
        else:
            out.append((name, int(rest)))
    return out


def pointer(path):
    return "/" + "/".join(str(p) for p in path)


def pointer_path(ptr):
    return [int(p) if p.isdigit() else p for p in ptr.strip("/").split("/") if p]


def error_locations(err):
    """The keys an error is about: its instance's path, and for a missing
    or an unknown key, that key's path below it."""
    base, inst = list(err.absolute_path), err.instance
    if err.validator == "required" and isinstance(inst, dict):
        return [pointer(base + [k]) for k in err.validator_value if k not in inst]
    if err.validator == "additionalProperties" and isinstance(inst, dict):
        props = err.schema.get("properties", {})
        pats = err.schema.get("patternProperties", {})
        return [pointer(base + [k]) for k in inst
                if k not in props and not any(re.search(p, k) for p in pats)]
    return [pointer(base)]


def describe(err):
    return "%s at %s" % (err.validator, " ".join(error_locations(err)))


def entry_named(entry, doc, path):
    """Whether the path lies in the entry an `entry:` line names
    ("manifest", "attachment 'fw'", "object #2", "object 'o': map 'm'")."""
    if entry == "manifest" or entry.startswith("manifest "):
        return len(path) <= 1
    m = re.match(r"^(attachment|object) (?:'([^']*)'|#(\d+))", entry)
    if not m:
        return True  # a form this check does not know: not compared
    if len(path) < 2 or path[0] != m.group(1) + "s" or not isinstance(path[1], int):
        return False
    if m.group(3):
        return path[1] == int(m.group(3)) - 1
    item = doc[path[0]][path[1]]
    return isinstance(item, dict) and str(item.get("name")) == m.group(2)


def check_case_refused(res, title, validator, keyword, want, exp, files):
    where = at_lines(exp.get("at", []), files)
    name = where[0][0] if where else "bad.yaml"
    if name not in files:
        res.report(False, title, "no manifest %s in the case" % name)
        return
    try:
        doc, root = yamldoc.load(files[name])
    except yaml.YAMLError as e:
        res.report(False, title, "a YAML loader refuses it: %s (schema: yaml?)"
                   % short(str(e), 80))
        return
    errors = list(validator.iter_errors(doc))
    if not errors:
        res.report(False, title, "the schema accepts it; cnf-apply does not")
        return
    if not any(e.validator == keyword and want in error_locations(e) for e in errors):
        res.report(False, title, "the schema says %s, not %s at %s"
                   % ("; ".join(describe(e) for e in errors), keyword, want))
        return
    # Nothing the schema refuses lies outside the entry of the problem
    # (the rest of the case is valid).
    parent = want.rsplit("/", 1)[0]
    stray = [describe(e) for e in errors
             if not any(parent == "" or loc == parent or loc.startswith(parent + "/")
                        for loc in error_locations(e))]
    if stray:
        res.report(False, title, "the schema also refuses: %s" % "; ".join(stray))
        return
    first, last = yamldoc.span(root, pointer_path(want))
    lines = [n for f, n in where if f == name and n]
    if not any(first <= n <= last for n in lines):
        res.report(False, title, "the schema points at %s (%s:%d-%d), cnf-apply at %s"
                   % (want, name, first, last, ", ".join(exp.get("at", []))))
        return
    entry = (exp.get("entry") or [""])[0]
    if entry and not entry_named(entry, doc, pointer_path(want)):
        res.report(False, title, "the schema points at %s, cnf-apply at %s" % (want, entry))
        return
    res.report(True, title, "schema: %s at %s (%s), cnf-apply: %sline %s"
               % (keyword, want, "line %d" % first if first == last else
                  "lines %d-%d" % (first, last), entry + ", " if entry else "",
                  "/".join(str(n) for n in lines)))


def check_case_yaml(res, title, exp, files):
    where = at_lines(exp.get("at", []), files)
    name = where[0][0] if where else "bad.yaml"
    if name not in files:
        res.report(False, title, "no manifest %s in the case" % name)
        return
    data = files[name]
    try:
        yamldoc.load(data)
    except yaml.YAMLError as e:
        line = yamldoc.error_line(e, data)
        lines = [n for f, n in where if f == name and n is not None]
        what = getattr(e, "problem", None) or str(e).split("\n")[0]
        res.report(not lines or line in lines, title,
                   "YAML loader: %s, at line %s; cnf-apply: %s"
                   % (what, line, ", ".join(exp.get("at", []))))
        return
    res.report(False, title, "a YAML loader reads it without error (schema: limit or n/a?)")


def check_case_accepted(res, title, validator, reason, files):
    if not files:
        res.report(True, title, "n/a (%s); no manifest to validate" % reason)
        return
    bad = []
    for name in sorted(files):
        try:
            doc, _ = yamldoc.load(files[name])
        except yaml.YAMLError as e:
            bad.append("%s: YAML: %s" % (name, short(str(e), 60)))
            continue
        err = first_error(validator, doc)
        if err:
            bad.append("%s: %s" % (name, err))
    if bad:
        res.report(False, title, "n/a, but the schema refuses it (stricter than cnf-apply): "
                   + "; ".join(bad))
    else:
        res.report(True, title, "n/a (%s); the schema accepts %s" % (reason, ", ".join(sorted(files))))


def check_badinput(res, validator):
    cases = sorted(d for d in glob.glob(os.path.join(BADINPUT, "[0-9]*"))
                   if os.path.isdir(d))
    res.report(bool(cases), "the bad-input catalogue has cases", BADINPUT)
    for case in cases:
        title = "badinput %s" % os.path.basename(case)
        try:
            exp = read_expect(case)
        except (OSError, ValueError) as e:
            res.report(False, title, "expect: %s" % e)
            continue
        spec = exp.get("schema", [])
        if len(spec) != 1:
            res.report(False, title, "expect needs one 'schema:' line, has %d" % len(spec))
            continue
        kind, _, arg = spec[0].partition(" ")
        arg = arg.strip()
        if not arg:
            res.report(False, title, "schema: '%s' says neither the path nor the reason" % kind)
            continue
        tmp = tempfile.mkdtemp(prefix="cnf-schema-case-")
        try:
            files = case_manifests(case, tmp)
            if kind == "limit":
                res.report(True, title, "n/a: a limit of cnf-apply's loader (%s)" % arg)
            elif kind == "yaml":
                check_case_yaml(res, title, exp, files)
            elif kind == "n/a":
                check_case_accepted(res, title, validator, arg, files)
            elif re.fullmatch(r"[a-zA-Z]+", kind) and arg.startswith("/"):
                check_case_refused(res, title, validator, kind, arg, exp, files)
            else:
                res.report(False, title, "cannot read 'schema: %s'" % spec[0])
        except subprocess.SubprocessError as e:
            res.report(False, title, "its setup script failed: %s" % e)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


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


def hook_table(build):
    """The hook table's rows as tests/tools/hook_rules prints them."""
    out = subprocess.run([os.path.join(build, "tests", "hook_rules")], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def loader_hook_rules(table):
    """hook -> (keys, required) from the hook table's rows."""
    return {hook: (set(r["keys"]), set(r["required"])) for hook, r in table.items()}


def loader_enums(table):
    """key -> the words it takes, as the rows say (the same for every
    family that takes the key)."""
    enums = {}
    for r in table.values():
        for key, words in r["values"].items():
            enums.setdefault(key, words)
    return enums


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


def check_consistency(res, schema, build):
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

    table = hook_table(build)
    lrules, srules = loader_hook_rules(table), schema_rules(schema)
    compare(res, "loader hooks = schema hook enum", lrules, att["hook"]["enum"],
            "the hook table", "the schema")
    compare(res, "loader hooks = schema per-hook rules", lrules, srules,
            "the hook table", "the schema")
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

    for key, values in loader_enums(table).items():
        compare(res, "enum %s matches the loader" % key, values, att[key]["enum"],
                "the hook table", "the schema")

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
        ("pin length", define("src/manifest_check.c", "PIN_PATH_MAX"),
         defs["mapOption"]["properties"]["pin"].get("maxLength")),
        ("interface name length", define("src/manifest_check.c", "IFNAME_MAX"),
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

    readme = read("README.md")
    missing = [v for v in verbs if not re.search(r"^\| `%s`" % re.escape(v), readme, re.M)]
    res.report(bool(verbs) and not missing,
               "README.md's verb table lists every verb of src/main.c",
               "missing: " + ", ".join(missing) if missing else "")
    json_line = re.search(r"^Every verb takes `--json`(.*?)\n\n", readme, re.M | re.S)
    res.report(bool(json_line and "JSON lines" in json_line.group(1) and "watch" in json_line.group(1)),
               "README.md's --json line says that watch prints JSON lines")


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
        check_doc_examples(res, validator)
        check_cases(res, validator, tool)
        check_badinput(res, validator)
    finally:
        tool.close()
    check_consistency(res, schema, os.path.abspath(args.build))
    check_man(res, schema)

    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
