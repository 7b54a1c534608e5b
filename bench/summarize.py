#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turns a bench/run.sh results directory into the Markdown tables that
bench/README.md quotes: medians with their spread, ratios, BPF syscalls by
command, program loads, the planner's curve, and the targets, met or not.

    bench/summarize.py RESULTS_DIR > results.md
"""
import collections
import csv
import os
import statistics
import sys

CONTENDERS = ("cnf", "floor", "byhand")
NAMES = {"cnf": "cnf-apply", "floor": "floor (C, libbpf)", "byhand": "by hand (bpftool)"}
SCENARIOS = ("fresh", "noop", "rollout", "destroy")
SCEN_NAMES = {
    "fresh": "1. fresh apply",
    "noop": "2. no-op apply",
    "rollout": "3. rollout v1 -> v2",
    "destroy": "4. destroy",
}
# Programs the scenario loads on purpose; every other BPF_PROG_LOAD is a
# feature probe (libbpf's or the tool's: tiny programs, most unnamed).
OWN_PROGRAMS = ("xdp_main", "tc_main", "cnf_link_iter")
MUTATING = ("BPF_PROG_LOAD", "BPF_LINK_CREATE", "BPF_LINK_UPDATE", "BPF_LINK_DETACH",
            "BPF_PROG_ATTACH", "BPF_PROG_DETACH")


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def fmt_ms(us):
    ms = us / 1000.0
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def cell(vals):
    if not vals:
        return "—"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt_ms(med)
    return f"{fmt_ms(med)} ({fmt_ms(min(vals))}–{fmt_ms(max(vals))})"


def ratio(a, b):
    if not a or not b:
        return None
    return statistics.median(a) / statistics.median(b)


def fmt_ratio(r, digits=2):
    return "—" if r is None else f"{r:.{digits}f}x"


def paired_range(a_by_rep, b_by_rep):
    """Per-repetition ratios of medians (a/b): their min and max."""
    rs = []
    for rep in a_by_rep:
        if rep in b_by_rep and a_by_rep[rep] and b_by_rep[rep]:
            rs.append(statistics.median(a_by_rep[rep]) / statistics.median(b_by_rep[rep]))
    return (min(rs), max(rs)) if len(rs) > 1 else None


def main():
    d = sys.argv[1]
    meta = {}
    with open(os.path.join(d, "meta.tsv")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    raw = read_tsv(os.path.join(d, "raw.tsv"))
    sysc = read_tsv(os.path.join(d, "syscalls.tsv"))
    loads = read_tsv(os.path.join(d, "progloads.tsv"))
    plan = read_tsv(os.path.join(d, "plan.tsv"))

    cpu = collections.defaultdict(list)                        # (n, who, scen) -> [user+sys us]
    t = collections.defaultdict(list)                          # (n, who, scen) -> [us]
    by_rep = collections.defaultdict(lambda: collections.defaultdict(list))
    rss = collections.defaultdict(list)
    for r in raw:
        key = (int(r["n"]), r["contender"], r["scenario"])
        t[key].append(int(r["wall_us"]))
        by_rep[key][r["rep"]].append(int(r["wall_us"]))
        rss[key].append(int(r["maxrss_kib"]))
        if r.get("user_us") not in (None, ""):
            cpu[key].append(int(r["user_us"]) + int(r["sys_us"]))
    sizes = sorted({k[0] for k in t if (k[0], "floor", "fresh") in t})
    calls = collections.defaultdict(dict)                      # (n, who, scen) -> {cmd: count}
    for r in sysc:
        calls[(int(r["n"]), r["contender"], r["scenario"])][r["command"]] = int(r["count"])
    progs = collections.defaultdict(collections.Counter)
    for r in loads:
        name = r["program"] if r["program"] in OWN_PROGRAMS else "(feature probes)"
        progs[(int(r["n"]), r["contender"], r["scenario"])][name] += int(r["loads"])

    out = []
    p = out.append
    p(f"Run: {meta.get('date')}, kernel {meta.get('kernel')}, commit {meta.get('commit')} "
      f"(src/include diff {meta.get('tree')}, binary sha256 {meta.get('binary_sha256', '?')}), "
      f"{meta.get('cpus')} CPUs ({meta.get('cpu')}), "
      f"load average at start {meta.get('loadavg')}; libbpf {meta.get('libbpf')}, "
      f"{meta.get('bpftool')}, {meta.get('iproute2')}.")
    p("")
    p("Wall time per run as a user sees it (process start to exit), median (min–max) over the "
      "repetitions; the no-op row pools "
      f"{meta.get('noop_runs')} runs per repetition. N interfaces = N/2 veth pairs, 2N attachments "
      "(XDP + tcx ingress on each).")
    p("")

    # ---- the main table ----
    for n in sizes:
        reps = len(by_rep[(n, "cnf", "fresh")])
        p(f"### N = {n} interfaces ({2 * n} attachments), {reps} repetitions")
        p("")
        p("| scenario | cnf-apply | floor | by hand | cnf-apply / floor | by hand / cnf-apply |")
        p("|---|---|---|---|---|---|")
        for s in SCENARIOS:
            c, f, h = t[(n, "cnf", s)], t[(n, "floor", s)], t[(n, "byhand", s)]
            rf = ratio(c, f)
            pr = paired_range(by_rep[(n, "cnf", s)], by_rep[(n, "floor", s)])
            rf_s = fmt_ratio(rf) + (f" ({pr[0]:.2f}–{pr[1]:.2f})" if pr else "")
            rh = ratio(h, c)
            rh_s = "—" if rh is None else (f"{rh:.0f}x" if rh >= 10 else f"{rh:.1f}x")
            name = SCEN_NAMES[s] + (" (by hand: check only)" if s == "noop" else "")
            p(f"| {name} | {cell(c)} | {cell(f)} | {cell(h)} | {rf_s} | {rh_s} |")
        ni = t[(n, "cnf", "noop-noiter")]
        if ni:
            p(f"| 2b. no-op apply `--no-iter` | {cell(ni)} | | | "
              f"{fmt_ratio(ratio(ni, t[(n, 'floor', 'noop')]))} | |")
        p("")

    # ---- CPU time ----
    if cpu:
        p("### CPU time (user + system) per run, median: what each contender computes, "
          "without the waits (RCU grace periods) and without the other work on the machine")
        p("")
        p("| N | scenario | cnf-apply | floor | by hand | cnf-apply / floor |")
        p("|---|---|---|---|---|---|")
        for n in sizes:
            for s in SCENARIOS + ("noop-noiter",):
                c, f, h = cpu[(n, "cnf", s)], cpu[(n, "floor", s)], cpu[(n, "byhand", s)]
                if not c and not f:
                    continue
                name = SCEN_NAMES.get(s, "2b. no-op apply `--no-iter`")
                p(f"| {n} | {name} | {cell(c)} | {cell(f)} | {cell(h)} | "
                  f"{fmt_ratio(ratio(c, f))} |")
        p("")

    # ---- no-op details ----
    p("### No-op apply: time, peak memory, BPF syscalls")
    p("")
    p("| N | attachments | wall, median (min–max) | `--no-iter` | max RSS (cnf-apply) |"
      " BPF syscalls by command (one run) | `--no-iter` |")
    p("|---|---|---|---|---|---|---|")
    noop_sizes = sorted({k[0] for k in t if k[1] == "cnf" and k[2] == "noop"})
    for n in noop_sizes:
        def cmds(who, scen):
            cs = calls.get((n, who, scen), {})
            return ", ".join(f"{k.replace('BPF_', '')} {v}" for k, v in sorted(cs.items())) or "—"
        r = rss[(n, "cnf", "noop")]
        p(f"| {n} | {2 * n} | {cell(t[(n, 'cnf', 'noop')])} | {cell(t[(n, 'cnf', 'noop-noiter')])} | "
          f"{max(r) / 1024:.1f} MiB | {cmds('cnf', 'noop')} | {cmds('cnf', 'noop-noiter')} |")
    p("")

    # ---- syscalls per scenario ----
    big = max(sizes) if sizes else None
    if big:
        p(f"### BPF syscalls by command, N = {big} ({2 * big} attachments), one run each")
        p("")
        p("| scenario | cnf-apply | floor |")
        p("|---|---|---|")
        for s in SCENARIOS:
            row = []
            for who in ("cnf", "floor"):
                cs = calls.get((big, who, s), {})
                row.append(", ".join(f"{k.replace('BPF_', '')} {v}" for k, v in sorted(cs.items())) or "none")
            p(f"| {SCEN_NAMES[s]} | {row[0]} | {row[1]} |")
        p("")
        p("Programs loaded (successful BPF_PROG_LOAD calls by program name):")
        p("")
        for s in ("fresh", "rollout"):
            for who in ("cnf", "floor"):
                ps = progs.get((big, who, s), {})
                p(f"- {SCEN_NAMES[s]}, {NAMES[who]}: "
                  + (", ".join(f"{k} x{v}" for k, v in sorted(ps.items())) or "none"))
        p("")

    # ---- targets ----
    p("### Targets")
    p("")
    p("| target | measured | verdict |")
    p("|---|---|---|")

    def noop_target(n):
        med = statistics.median(t[(n, "cnf", "noop")])
        cs = calls.get((n, "cnf", "noop"), {})
        bad = {k: v for k, v in cs.items() if k in MUTATING}
        ok = med <= 20000 and not bad
        what = (f"median {fmt_ms(med)} (max {fmt_ms(max(t[(n, 'cnf', 'noop')]))}); "
                + ("no load, create, update or detach" if not bad else
                   "mutating calls: " + ", ".join(f"{k} {v}" for k, v in bad.items())))
        p(f"| no-op apply, {2 * n} managed attachments: no BPF_PROG_LOAD, no link "
          f"create/update/detach, ≤ 20 ms | {what} | {'met' if ok else 'missed'} |")

    if (500, "cnf", "noop") in t:
        noop_target(500)
    if big and (big, "cnf", "noop") in t:
        noop_target(big)
    nofile = read_tsv(os.path.join(d, "nofile.tsv"))
    for r in nofile:
        ok = r["exit"] == "0"
        p(f"| (added) fresh apply of {2 * int(r['n'])} attachments with the usual soft limit of "
          f"{r['soft_limit']} open files | exit {r['exit']}"
          f"{': ' + r['message'].replace('|', '/') if r['message'] else ''} | "
          f"{'met' if ok else 'missed'} |")
    if big:
        for s, lim in (("fresh", 1.1), ("destroy", 1.1)):
            r = ratio(t[(big, "cnf", s)], t[(big, "floor", s)])
            extra = ""
            ok = r is not None and r <= lim
            if s == "fresh":
                ps = progs.get((big, "cnf", s), {})
                once = ps.get("xdp_main") == 1 and ps.get("tc_main") == 1
                extra = (f"; xdp_main loaded {ps.get('xdp_main', 0)}x, tc_main "
                         f"{ps.get('tc_main', 0)}x")
                ok = ok and once
            p(f"| {s} within {lim}x of the floor at N={big}"
              f"{', each object loaded once' if s == 'fresh' else ''} | {fmt_ratio(r, 3)}{extra} | "
              f"{'met' if ok else 'missed'} |")
        r = ratio(t[(big, "cnf", "rollout")], t[(big, "floor", "rollout")])
        h = ratio(t[(big, "byhand", "rollout")], t[(big, "cnf", "rollout")])
        ok = r is not None and r <= 1.2 and h is not None and h >= 100
        h_s = "—" if h is None else f"{h:.0f}x"
        p(f"| rollout within 1.2x of the floor and ≥ 100x faster than by hand at N={big} | "
          f"{fmt_ratio(r, 3)} of the floor; by hand takes {h_s} as long | "
          f"{'met' if ok else 'missed'} |")
    p("")

    # ---- planner ----
    if plan:
        p("### Planner: plan_build() alone, synthetic observed state (bench/plan_bench)")
        p("")
        p("| instances | case | first call (cold) | warm median (min–max) | warm ns/instance |"
          " input bytes/instance | plan bytes/instance | peak RSS growth |")
        p("|---|---|---|---|---|---|---|---|")
        for r in plan:
            n = int(r["n"])
            p(f"| {n} | {r['case']} | {float(r['cold_us']):.0f} µs | "
              f"{float(r['warm_median_us']):.1f} µs ({float(r['warm_min_us']):.1f}–"
              f"{float(r['warm_max_us']):.1f}) | {r['warm_ns_per_instance']} | "
              f"{int(r['input_bytes']) // n} | {int(r['plan_bytes']) // n} | "
              f"{r['peak_rss_delta_kib']} KiB |")
        p("")

    # ---- interface listing ----
    ifl = os.path.join(d, "iflist.tsv")
    if os.path.exists(ifl):
        p("### Listing interfaces (bench/floor iflist), median (min–max) of 21")
        p("")
        p("| method | interfaces | median | min | max |")
        p("|---|---|---|---|---|")
        with open(ifl) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 5:
                    p(f"| {parts[0]} | {parts[1]} | {parts[2]} µs | {parts[3]} µs | {parts[4]} µs |")
        p("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
