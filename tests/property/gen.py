# SPDX-License-Identifier: GPL-2.0-only
"""Cases for the property test of plan's promise (tests/integration/test_property.sh).

A case is a JSON document, a pure function of its seed:

  {"seed": N,
   "ifaces": ["p0", "p1", ...],        veth pairs pN/qN made before anything runs
   "layout": "dir" | "files",          PATH: the case's manifest directory, or its files
   "pre": [MANIFEST...] | null,        applied first (its outcome is not judged)
   "steps": [STEP...],                 what happens to the host next
   "final": [MANIFEST...],             planned, applied and planned again: judged
   "targets": ["M" | "M/A", ...]}      optional: --target for that plan and apply

A MANIFEST is {"name", "objects": [{"name", "file"}], "attachments": [{...}]}
with the attachment's keys as the manifest format spells them ("cgroup" is a
path relative to the test's cgroup). A STEP is one of

  {"op": "foreign_xdp", "dev", "mode"}            ip link set dev X xdpgeneric|xdpdrv obj ...
  {"op": "foreign_tc", "dev", "dir", "prio", "handle"}   tc filter add ... bpf
  {"op": "foreign_tcx", "dev", "dir"}             bpftool net attach tcx_DIR
  {"op": "foreign_cgroup", "type", "multi"}       bpftool cgroup attach (multi or exclusive)
  {"op": "rename", "dev", "to"}  {"op": "delete", "dev"}  {"op": "add", "dev"}
  {"op": "detach", "k"}                           the k-th managed link (mod their count) detached
                                                  by hand (bpftool link detach; tc filter del)
  {"op": "kill", "set": "pre" | "final", "point"} an apply of that set killed (SIGKILL)
                                                  at CNF_APPLY_TEST_PAUSE POINT

Usage:
  gen.py case SEED               the case of SEED, as JSON
  gen.py render CASE SET DIR CG  write SET's manifests (pre|final) into DIR/d (objs/ beside
                                 them); print the arguments (final: --target ones, then the
                                 PATHs), one a line
  gen.py shrink CASE             smaller variants of CASE, one JSON document a line,
                                 the largest cuts first
  gen.py show CASE               the case as a reader wants it: manifests and steps
  gen.py script CASE             for the driver: the interfaces (a line), "pre" or "nopre"
                                 (a line), then a line per step: STEP_FIELDS, tab-separated,
                                 "-" where a step has no such field
"""

import copy
import json
import os
import random
import re
import sys

XDP_MODES = [None, None, None, "auto", "auto", "generic", "generic", "native", "native"]
TC_PROGS = ["tc_main", "tc_second", "tc_third"]
CG_PROGS = [("skb_ingress", "ingress"), ("skb_egress", "egress"),
            ("sock_create", "sock_create"), ("connect4", "connect4")]
CGROUPS = [".", ".", "a"]


def pick_target(r, ifaces):
    """interface / interfaces: a name, a glob or a list, mostly of the case's
    veths, now and then lo or a name that does not exist."""
    roll = r.random()
    peers = ["q" + i[1:] for i in ifaces]
    if roll < 0.5:
        return {"interface": r.choice(ifaces * 4 + [r.choice(peers), "lo"])}
    if roll < 0.75:
        return {"interface": r.choice(["p*", "p*", "q*", "p[01]", "*p1", "x*"])}
    if roll < 0.99:
        n = r.randint(1, min(3, len(ifaces)))
        return {"interfaces": r.sample(ifaces + [r.choice(peers)], n)}
    return {"interface": "nosuch0"}


def gen_attachment(r, ifaces, name, siblings):
    family = r.choice(["xdp", "xdp", "tcx", "tcx", "tcx", "tc", "tc", "cgroup"])
    a = {"name": name, "hook": family}
    if family == "xdp":
        a["program"] = "x/xdp_main"
        a.update(pick_target(r, ifaces))
        mode = r.choice(XDP_MODES) if r.random() < 0.97 else "offload"
        if mode:
            a["mode"] = mode
    elif family in ("tcx", "tc"):
        a["program"] = "t/" + r.choice(TC_PROGS)
        a.update(pick_target(r, ifaces))
        a["direction"] = r.choice(["ingress", "egress"])
        if family == "tcx":
            roll = r.random()
            tcx = [s["name"] for s in siblings if s["hook"] == "tcx"]
            if roll < 0.2:
                a["order"] = "first"
            elif roll < 0.35:
                a["order"] = "last"
            elif roll < 0.55 and tcx:
                a[r.choice(["before", "after"])] = r.choice(tcx)
        else:
            a["priority"] = r.randint(1, 3)
            a["handle"] = r.randint(1, 2)
    else:
        prog, typ = r.choice(CG_PROGS)
        a["program"] = "c/" + prog
        a["cgroup"] = r.choice(CGROUPS)
        a["attach_type"] = typ if r.random() < 0.9 else r.choice(CG_PROGS)[1]
    return a


OBJECT_FILES = {"x": ["xdp_v1", "xdp_v2"], "t": ["tc_v1", "tc_v2"],
                "c": ["cgroup_progs", "cgroup_progs_v2"]}


def objects_for(atts, versions):
    """The objects the attachments use, each in its version (1 or 2)."""
    objs = []
    for obj, files in OBJECT_FILES.items():
        progs = {a["program"] for a in atts if a["program"].startswith(obj + "/")}
        if progs:
            v = versions.get(obj, 1)
            if obj == "t" and progs != {"t/tc_main"}:
                v = 1   # tc_v2 has only tc_main
            f = files[v - 1]
            objs.append({"name": obj, "file": "objs/%s.bpf.o" % f})
    return objs


def gen_manifest(r, ifaces, name):
    atts = []
    for i in range(r.randint(1, 4)):
        atts.append(gen_attachment(r, ifaces, "a%d" % i, atts))
    versions = {o: r.choice([1, 1, 2]) for o in "xtc"}
    return {"name": name, "versions": versions, "attachments": atts}


def mutate(r, ifaces, manifests):
    """The next version of a manifest set: objects rebuilt, attachments
    changed, added, removed, manifests dropped or added."""
    out = []
    for m in manifests:
        roll = r.random()
        if roll < 0.1:
            continue
        m = copy.deepcopy(m)
        if roll < 0.45:
            out.append(m)
            continue
        if r.random() < 0.4:
            o = r.choice("xtc")
            m["versions"][o] = 3 - m["versions"].get(o, 1)
        if m["attachments"] and r.random() < 0.5:
            a = r.choice(m["attachments"])
            key = r.choice(["mode", "direction", "priority", "order", "target"])
            if key == "mode" and a["hook"] == "xdp":
                a["mode"] = r.choice(["auto", "generic", "native"])
            elif key == "direction" and "direction" in a:
                a["direction"] = "egress" if a["direction"] == "ingress" else "ingress"
            elif key == "priority" and a["hook"] == "tc":
                a["priority"] = r.randint(1, 3)
            elif key == "order" and a["hook"] == "tcx":
                for k in ("order", "before", "after"):
                    a.pop(k, None)
                if r.random() < 0.5:
                    a["order"] = r.choice(["first", "last"])
            elif key == "target" and a["hook"] != "cgroup":
                a.pop("interface", None)
                a.pop("interfaces", None)
                a.update(pick_target(r, ifaces))
        if m["attachments"] and r.random() < 0.25:
            victim = r.choice(m["attachments"])["name"]
            m["attachments"] = [a for a in m["attachments"] if a["name"] != victim]
            for a in m["attachments"]:
                for k in ("before", "after"):
                    if a.get(k) == victim:
                        del a[k]
        if r.random() < 0.3:
            used = {a["name"] for a in m["attachments"]}
            name = next("a%d" % i for i in range(10) if "a%d" % i not in used)
            m["attachments"].append(gen_attachment(r, ifaces, name, m["attachments"]))
        out.append(m)
    if r.random() < 0.2:
        used = {m["name"] for m in out}
        name = next("m%d" % i for i in range(10) if "m%d" % i not in used)
        out.append(gen_manifest(r, ifaces, name))
    return out


def gen_steps(r, ifaces, has_pre, sets):
    steps = []
    spare = ["p%d" % i for i in range(len(ifaces), 6)]
    for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
        kind = r.choice(["foreign_xdp", "foreign_tc", "foreign_tcx", "foreign_cgroup",
                         "rename", "delete", "add", "detach", "detach", "kill", "kill"])
        dev = r.choice(ifaces + ["q0"])
        if kind == "foreign_xdp":
            steps.append({"op": kind, "dev": dev, "mode": r.choice(["generic", "drv"])})
        elif kind == "foreign_tc":
            steps.append({"op": kind, "dev": dev, "dir": r.choice(["ingress", "egress"]),
                          "prio": r.randint(1, 3), "handle": r.randint(1, 2)})
        elif kind == "foreign_tcx":
            steps.append({"op": kind, "dev": dev, "dir": r.choice(["ingress", "egress"])})
        elif kind == "foreign_cgroup":
            steps.append({"op": kind, "type": r.choice(CG_PROGS)[1], "multi": r.random() < 0.6})
        elif kind == "rename":
            steps.append({"op": kind, "dev": dev, "to": r.choice(["r0", "p9", "q9"])})
        elif kind == "delete":
            steps.append({"op": kind, "dev": dev})
        elif kind == "add" and spare:
            steps.append({"op": kind, "dev": r.choice(spare)})
        elif kind == "detach" and has_pre:
            steps.append({"op": kind, "k": r.randint(0, 99)})
        elif kind == "kill":
            which = r.choice(["pre", "final"] if has_pre else ["final"])
            tcx = sorted({a["name"] for m in sets[which] for a in m["attachments"]
                          if a["hook"] == "tcx"})
            points = ["plan", "checked"] + ["attach=" + n for n in tcx] * 2
            steps.append({"op": kind, "set": which, "point": r.choice(points)})
    return steps


def gen_case(seed):
    r = random.Random(seed)
    ifaces = ["p%d" % i for i in range(r.randint(1, 3))]
    nman = r.choice([1, 1, 2, 2, 3])
    base = [gen_manifest(r, ifaces, "m%d" % i) for i in range(nman)]
    has_pre = r.random() < 0.7
    if has_pre:
        pre, final = base, mutate(r, ifaces, base)
    else:
        pre, final = None, base
    case = {"seed": seed, "ifaces": ifaces, "layout": r.choice(["dir", "dir", "files"]),
            "pre": pre, "steps": gen_steps(r, ifaces, has_pre, {"pre": pre, "final": final}),
            "final": final}
    if final and r.random() < 0.15:
        m = r.choice(final)
        names = [a["name"] for a in m["attachments"]]
        case["targets"] = [m["name"] if not names or r.random() < 0.4
                           else "%s/%s" % (m["name"], r.choice(names))]
    return case


# ---- rendering ----

def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_/.-]*", v) and \
            v.lower() not in ("true", "false", "yes", "no", "on", "off", "null"):
        return v
    return json.dumps(v)   # a JSON string is a YAML double-quoted scalar


KEY_ORDER = ["name", "program", "hook", "interface", "interfaces", "cgroup", "attach_type",
             "direction", "mode", "order", "before", "after", "priority", "handle"]


def render_manifest(m, cg):
    lines = ["apiVersion: cnf-apply/v1", "name: %s" % m["name"], "objects:"]
    objs = objects_for(m["attachments"], m.get("versions", {}))
    if not objs:   # a manifest needs one object; an empty one keeps xdp
        objs = [{"name": "x", "file": "objs/xdp_v1.bpf.o"}]
    for o in objs:
        lines += ["  - name: %s" % o["name"], "    file: %s" % o["file"]]
    lines.append("attachments:" if m["attachments"] else "attachments: []")
    for a in m["attachments"]:
        lines.append("  - name: %s" % a["name"])
        for k in sorted(a, key=lambda k: (KEY_ORDER.index(k) if k in KEY_ORDER else 99, k)):
            v = a[k]
            if k == "name":
                continue
            if k == "cgroup":
                v = cg if v == "." else os.path.join(cg, v)
            if isinstance(v, list):
                v = "[" + ", ".join(yaml_scalar(x) for x in v) + "]"
            else:
                v = yaml_scalar(v)
            lines.append("    %s: %s" % (k, v))
    return "\n".join(lines) + "\n"


def render(case, which, outdir, cg):
    """Write the manifests of set `which` into outdir/d; other manifest files
    there go (a manifest dropped from the set). Print the PATH arguments."""
    d = os.path.join(outdir, "d")
    os.makedirs(d, exist_ok=True)
    ms = case[which] or []
    keep = {m["name"] + ".yaml" for m in ms}
    for f in os.listdir(d):
        if f.endswith(".yaml") and f not in keep:
            os.unlink(os.path.join(d, f))
    for m in ms:
        with open(os.path.join(d, m["name"] + ".yaml"), "w") as fh:
            fh.write(render_manifest(m, cg))
    if which == "final":
        for t in case.get("targets", []):
            print("--target")
            print(t)
    if case["layout"] == "dir" or not ms:
        print(d)
    else:
        for m in ms:
            print(os.path.join(d, m["name"] + ".yaml"))


# ---- shrinking ----

def shrink(case):
    """Variants with one thing fewer: the pre-apply, a step, a manifest, an
    attachment, an interface; the biggest cuts first."""
    out = []

    def variant(f):
        c = copy.deepcopy(case)
        if f(c) is not False:
            out.append(c)

    if case["pre"] is not None:
        def no_pre(c):
            c["pre"] = None
            c["steps"] = [s for s in c["steps"] if s["op"] not in ("detach",) and
                          not (s["op"] == "kill" and s["set"] == "pre")]
        variant(no_pre)
    for i in range(len(case["steps"])):
        variant(lambda c, i=i: c["steps"].pop(i))
    for which in ("final", "pre"):
        for i in range(len(case[which] or [])):
            variant(lambda c, i=i, w=which: c[w].pop(i))
        for i, m in enumerate(case[which] or []):
            for j in range(len(m["attachments"])):
                def drop(c, i=i, j=j, w=which):
                    atts = c[w][i]["attachments"]
                    gone = atts.pop(j)["name"]
                    for a in atts:
                        for k in ("before", "after"):
                            if a.get(k) == gone:
                                del a[k]
                variant(drop)
    if len(case["ifaces"]) > 1:
        variant(lambda c: c["ifaces"].pop())
    if case["layout"] != "dir":
        variant(lambda c: c.__setitem__("layout", "dir"))
    if case.get("targets"):
        variant(lambda c: c.pop("targets"))
    return out


def show(case):
    print("seed %s: interfaces %s (veth pairs with q*), PATH as %s" %
          (case["seed"], " ".join(case["ifaces"]), "the directory" if case["layout"] == "dir"
           else "the files"))
    for which, title in (("pre", "applied first"), ("final", "planned and applied")):
        if case[which] is None:
            continue
        print("--- %s:" % title)
        for m in case[which]:
            print("# %s.yaml" % m["name"])
            sys.stdout.write(render_manifest(m, "$CG"))
        if which == "pre":
            print("--- then, on the host:")
            for s in case["steps"]:
                print("  " + json.dumps(s))
            if not case["steps"]:
                print("  (nothing)")
    if case.get("targets"):
        print("--- plan and apply with: %s" % " ".join("--target " + t for t in case["targets"]))
    if case["pre"] is None and case["steps"]:
        print("--- before that, on the host:")
        for s in case["steps"]:
            print("  " + json.dumps(s))


STEP_FIELDS = ["op", "dev", "dir", "mode", "prio", "handle", "type", "multi", "to", "k",
               "set", "point"]


def script(case):
    print(" ".join(case["ifaces"]))
    print("pre" if case["pre"] is not None else "nopre")
    for s in case["steps"]:
        vals = []
        for f in STEP_FIELDS:
            v = s.get(f, "-")
            vals.append(("true" if v else "false") if isinstance(v, bool) else str(v))
        print("\t".join(vals))


def load(path):
    with open(path) as fh:
        return json.load(fh)


def main(argv):
    if len(argv) >= 3 and argv[1] == "case":
        json.dump(gen_case(int(argv[2])), sys.stdout, sort_keys=True)
        print()
    elif len(argv) == 6 and argv[1] == "render":
        render(load(argv[2]), argv[3], argv[4], argv[5])
    elif len(argv) == 3 and argv[1] == "shrink":
        for c in shrink(load(argv[2])):
            print(json.dumps(c, sort_keys=True))
    elif len(argv) == 3 and argv[1] == "script":
        script(load(argv[2]))
    elif len(argv) == 3 and argv[1] == "show":
        show(load(argv[2]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
