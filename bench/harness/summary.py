#!/usr/bin/env python3
"""Writes bench/results/README.md: the latest bench/run results set beside
the article's findings. Every number is computed here from the results.csv
files that report.py made from the committed raw records.

usage: summary.py FULL_DIR [QUICK_DIR] > bench/results/README.md
"""
import csv
import os
import sys

import report  # noqa: E402 - beside this file: the anchor records and the warm-median cell


def rows_of(d):
    if not d or not os.path.exists(os.path.join(d, "results.csv")):
        return []
    with open(os.path.join(d, "results.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in list(r.items()):
            try:
                r[k] = float(v) if v not in ("", None) and k not in ("cell", "impl", "model", "device", "dtype",
                                                                   "preset", "input", "error", "versions",
                                                                   "warm_runs_s", "started", "boot", "tier",
                                                                   "second_process_started", "second_process_boot",
                                                                   "repeat_cut", "job_errors") else v
            except ValueError:
                pass
    return rows


def ok(rows):
    """Cells that ran: a warm median, or (a variant cut by its time budget) a cold run."""
    return [r for r in rows if not r["error"] and (r.get("warm_median_s") not in ("", None) or
                                                   r.get("cold_s") not in ("", None))]


def secs(r):
    """The cell's figure: its warm median, else its cold run."""
    return r["warm_median_s"] if r.get("warm_median_s") not in ("", None) else r["cold_s"]


def anchors_of(d):
    """[(started, warm median s)] of DIR/anchors' cwhisper runs (run.run_anchors), oldest first."""
    out = []
    for a in report.load_anchors(d or ""):
        warm = report.warm_stats(a)[1] if not a.get("error") else None
        if a.get("harness", {}).get("impl") == "cwhisper" and warm is not None:
            out.append((a["harness"].get("started", ""), warm))
    return out


def nearest(anchors, started):
    """The anchor last timed before `started` (else the first one)."""
    before = [x for x in anchors if x[0] <= started]
    return before[-1] if before else (anchors[0] if anchors else None)


def across(a, b, anchors):
    """A caveat when two cells were measured under different anchor runs
    (at different times, when this machine ran at a different speed)."""
    na, nb = nearest(anchors, a.get("started") or ""), nearest(anchors, b.get("started") or "")
    if na is None or nb is None or na == nb:
        return ""
    return (f" (measured at different times: the anchor runs before each differ by "
            f"{100 * (na[1] / nb[1] - 1):+.0f}%)")


def label(r):
    b = f" batch {int(r['batch_size'])}" if int(r["batch_size"]) != 1 else ""
    return f"{r['impl']} {r['dtype']}{b}"


def ratio_text(a, b):
    """'x.xx times faster/slower' of a relative to b (seconds)."""
    if a <= b:
        return f"{b / a:.2f}x faster"
    return f"{a / b:.2f}x slower"


def pct(x):
    return "n/a" if x in ("", None) else f"{100 * x:.2f}%"


def noisy(r):
    """Other processes' share of the CPUs while the cell's first process ran."""
    o = r.get("other_cpu_pct")
    if o in ("", None):
        return ""
    return f"**{o:.0f}% (noisy)**" if o > 5 else f"{o:.0f}%"


def cpu_section(rows, name, out, anchors):
    good = [r for r in ok(rows) if r["device"] == "cpu" and r["preset"] == "greedy"]
    if not good:
        out.append(f"No CPU cells of `{name}` have results yet.\n")
        return
    dur = good[0]["audio_seconds"]
    out.append(f"From `{name}` ({dur / 60:.1f} min of audio, greedy preset, warm medians; a variant cell cut to "
               "its cold run by its time budget is placed by that run, marked *(cold only)*):\n")
    for model in sorted({r["model"] for r in good}):
        ms = sorted([r for r in good if r["model"] == model], key=secs)
        ref = [r for r in ms if r["impl"] == "openai-whisper"]
        jax = [r for r in ms if r["impl"] == "jax-flax"]
        cw = [r for r in ms if r["impl"] == "cwhisper"]
        out.append(f"**{model}**\n")
        if ref and jax:
            best = jax[0]
            out.append(f"- JAX against PyTorch: the fastest JAX configuration ({label(best)}, "
                       f"{secs(best):.1f} s) is {ratio_text(secs(best), secs(ref[0]))}"
                       f" than openai-whisper fp32 ({secs(ref[0]):.1f} s){across(best, ref[0], anchors)}. The article "
                       f"found JAX about 2x faster on its CPU; " +
                       ("this CPU agrees." if secs(ref[0]) / secs(best) >= 1.5 else "this CPU does not reproduce that."))
        elif ref:
            out.append("- JAX against PyTorch: no JAX result for this model yet.")
        if cw and ref:
            c = cw[0]
            rank = ms.index(c) + 1
            fastest_peer = next((r for r in ms if r["impl"] != "cwhisper"), None)
            line = (f"- cwhisper fp32: {secs(c):.1f} s ({c['speed_x_realtime']:.1f}x real time), "
                    f"{ratio_text(secs(c), secs(ref[0]))} than openai-whisper{across(c, ref[0], anchors)}; rank "
                    f"{rank} of {len(ms)} measured configurations")
            if fastest_peer and fastest_peer is not c:
                line += (f"; the fastest other is {label(fastest_peer)} at {secs(fastest_peer):.1f} s "
                         f"(cwhisper is {ratio_text(secs(c), secs(fastest_peer))}{across(c, fastest_peer, anchors)})")
            line += (f". Peak memory {c['peak_rss_mib']:.0f} MiB against {ref[0]['peak_rss_mib']:.0f} MiB. WER on the "
                     f"scored part {pct(c.get('wer_long') or c.get('wer_quick'))} against the reference's "
                     f"{pct(ref[0].get('wer_long') or ref[0].get('wer_quick'))}; word agreement with it "
                     f"{pct(c.get('agreement_long') or c.get('agreement_quick'))}.")
            out.append(line)
        out.append("")
        out.append("| configuration | warm s | x real time | cold s | load s | peak RSS MiB | WER | agreement | "
                   "other CPU use | started (UTC) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in ms:
            out.append(f"| {label(r)} | {report.warm_cell(r)} | {r['speed_x_realtime']:.1f} | {r['cold_s']:.1f} | "
                       f"{r['load_s']:.1f} | {r['peak_rss_mib']:.0f} | {pct(r.get('wer_long') or r.get('wer_quick'))} "
                       f"| {pct(r.get('agreement_long') or r.get('agreement_quick'))} | {noisy(r)} | "
                       f"{report.hhmm(r.get('started'))} |")
        out.append("")


def first_second(rows, name, out):
    good = [r for r in ok(rows) if r.get("warm_median_s") not in ("", None)]
    if not good:
        return
    out.append(f"First run against second (`{name}`): per configuration, the first transcription of a process "
               "against the median of the later ones in the same process, and the second fresh process "
               "(load + first run) against the first (load + first run). The two processes of a configuration "
               "were often timed hours apart, when this machine ran at another speed (see the anchor runs in "
               "the folder's README), so their ratio is only a rough one; the last column says when each "
               "was started, and marks a second process run after a reboot, on another VM of this kind:\n")
    out.append("| configuration | model | preset | first run s | warm median s | first / warm | "
               "1st process load + run s | 2nd process load + run s | started (UTC): 1st, 2nd process |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in good:
        p1 = r["load_s"] + r["cold_s"]
        p2 = (r["second_process_load_s"] + r["second_process_run_s"]
              if r.get("second_process_run_s") not in ("", None) else None)
        when = report.hhmm(r.get("started"))
        if p2 is not None:
            when += ", " + report.hhmm(r.get("second_process_started"))
            if r.get("second_process_boot") and r.get("boot") and r["second_process_boot"] != r["boot"]:
                when += " (after a reboot)"
        out.append(f"| {label(r)} | {r['model']} | {r['preset']} | {r['cold_s']:.1f} | {r['warm_median_s']:.1f} | "
                   f"{r['cold_s'] / r['warm_median_s']:.2f} | {p1:.1f} | {'' if p2 is None else f'{p2:.1f}'} | "
                   f"{when} |")
    out.append("")



def main():
    full, quick = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    rf, rq = rows_of(full), rows_of(quick)
    out = ["# Benchmark results", "",
           "Generated by `bench/harness/summary.py` from the `results.csv` of the folders below (each made by "
           "`bench/harness/report.py` from that folder's raw records). Method: `bench/README.md`.", ""]
    for name, rows in ((full, rf), (quick, rq)):
        if name and rows:
            n_ok = len(ok(rows))
            out.append(f"- [`{os.path.basename(name)}`]({os.path.basename(name)}/README.md): {n_ok} configurations "
                       f"measured, {sum(1 for r in rows if r['error'])} refused or failed (listed there with "
                       f"their errors).")
    out += ["", "## The article's findings beside ours", "",
            "### On the CPU, is JAX about 2x faster than PyTorch? Where does cwhisper stand?", ""]
    cpu_section(rf, os.path.basename(full), out, anchors_of(full))
    if rq:
        cpu_section(rq, os.path.basename(quick), out, anchors_of(quick))
    out += ["### On the GPU, is PyTorch faster than JAX?", ""]
    gpu = [r for r in ok(rf + rq) if r["device"] == "cuda"]
    if gpu:
        for r in sorted(gpu, key=lambda r: r["warm_median_s"]):
            out.append(f"- {label(r)} {r['model']}: {secs(r):.1f} s")
    else:
        out.append("Not measured: no GPU machine was lent to the sessions that produced these results. "
                   "`bench/gpu/run.sh` is ready for one (see `bench/gpu/README.md`).")
    out += ["", "### Does the second run differ from the first?", ""]
    first_second(rf, os.path.basename(full), out)
    if rq:
        first_second(rq, os.path.basename(quick), out)
    here = os.path.dirname(os.path.abspath(full))
    others = sorted(e for e in os.listdir(here) if e != "README.md" and os.path.join(here, e) not in
                    (os.path.abspath(full), os.path.abspath(quick or "")) and not e.startswith("."))
    if others:
        out += ["", "## Other results in this folder", "",
                "Earlier, narrower benches (each file or folder says its command, machine and date):", ""]
        out += [f"- [`{e}`]({e})" for e in others]
    print("\n".join(out))


if __name__ == "__main__":
    main()
