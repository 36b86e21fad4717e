#!/usr/bin/env python3
"""Scores and reports a bench/run results folder.

usage: report.py RESULTS_DIR

Reads RESULTS_DIR/raw/*.json (one per job, written by run.py; GPU records
from bench/gpu/run.sh may sit beside them) and writes
  results.csv   one row per cell: timings (cold run, median of the warm runs,
                second fresh process), real-time factor, peak memory, WER,
                word agreement with openai-whisper, configuration, versions
  scores.json   the WER / agreement counts behind the CSV
  README.md     the markdown table and the refused cells with their errors
  time.png      time per implementation and configuration (CPU and GPU panels)
  speed_wer.png speed against WER
Every figure comes from the raw records; the WER and agreement come from
cwhisper's normaliser and WER (`cwhisper eval`), the same code for every peer.

WER: the long recording is scored on its english-mix part (the words before
`scored_until`, bench/data/make_inputs.py; see scored_text), the quick excerpt on
all of it, the short sets pooled over their files. Word agreement with the
reference = 1 - WER of the peer's text measured against openai-whisper's text
for the same model, preset and input (can be below 0 when a peer inserts many
words).
"""
import csv
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, HERE)
import matrix  # noqa: E402
from run import SHORT_SETS, make_inputs, other_cpu_pct  # noqa: E402

CLI = os.environ.get("CWHISPER", os.path.join(ROOT, "build", "cwhisper"))
SHARED = os.environ.get("CW_SHARED_DIR", os.path.join(ROOT, "..", "shared"))


def load_records(d):
    recs = []
    for p in sorted(glob.glob(os.path.join(d, "raw", "*.json"))):
        with open(p, encoding="utf-8") as f:
            r = json.load(f)
        r["_path"] = os.path.relpath(p, d)
        recs.append(r)
    return recs


def input_kind(h):
    i = h.get("input", "")
    return "quick" if i.startswith("quick") else "long" if i.startswith("long") else i


def short_refs():
    refs = {}
    for s in SHORT_SETS:
        with open(os.path.join(SHARED, "speech", s, "transcripts.txt"), encoding="utf-8") as f:
            for line in f:
                fid, _, text = line.rstrip("\n").partition(" ")
                if fid:
                    refs[fid] = text
    return refs


def one_line(text):
    return " ".join((text or "").split())


def eval_stdout(refs, hyps, *flags):
    """refs, hyps: {id: text}. What `cwhisper eval [flags]` prints for them."""
    with tempfile.TemporaryDirectory() as t:
        rp, hp = os.path.join(t, "refs"), os.path.join(t, "hyps")
        with open(rp, "w", encoding="utf-8") as f:
            f.writelines(f"{k} {one_line(v)}\n" for k, v in refs.items())
        with open(hp, "w", encoding="utf-8") as f:
            f.writelines(f"{k} {one_line(v)}\n" for k, v in hyps.items())
        return subprocess.run([CLI, "eval", "--refs", rp, "--hyps", hp, *flags], capture_output=True,
                              text=True).stdout


def wer(refs, hyps):
    """refs, hyps: {id: text}. Returns counts from `cwhisper eval` (pooled)."""
    out = eval_stdout(refs, hyps)
    m = re.search(r"WER ([0-9.]+)% \((\d+) substitutions, (\d+) deletions, (\d+) insertions, (\d+) reference words",
                  out)
    if not m:
        return None
    s, d, i, n = (int(x) for x in m.groups()[1:])
    return {"wer": (s + d + i) / n, "sub": s, "del": d, "ins": i, "words": n}


def scored_text(segments, until):
    """The words a run put before `until` seconds. A segment that straddles it
    gives the share of its words that its time before `until` is of its length:
    some peers (the transformers pipeline) merge chunks into segments of minutes,
    and taking such a segment whole scored hundreds of unreferenced words."""
    words = []
    for s in segments:
        if s["start"] >= until:
            continue
        w = s["text"].split()
        if s["end"] > until:  # so end > start too
            w = w[:round(len(w) * (until - s["start"]) / (s["end"] - s["start"]))]
        words += w
    return " ".join(words)


def hyp_texts(rec, meta):
    """{id: text} of a record, in the ids its references use."""
    kind = input_kind(rec["harness"])
    if kind in ("long", "quick"):
        f = rec["files"][0]
        return {kind: scored_text(f["segments"], meta[kind]["scored_until"])}, {kind: f["text"]}
    texts = {os.path.splitext(os.path.basename(f["file"]))[0]: f["text"] for f in rec["files"]}
    return texts, texts


def warm_stats(rec):
    runs = rec.get("repeat_transcribe_seconds") or ([rec["transcribe_seconds"]] if rec.get("transcribe_seconds")
                                                    is not None else [])
    cold = runs[0] if runs else None
    warm = statistics.median(runs[1:]) if len(runs) > 1 else None
    return cold, warm, runs


def fmt(x, nd=1):
    return "" if x is None else f"{x:.{nd}f}"


def pct(x):
    return "" if x is None else f"{100 * x:.2f}%"


def build_rows(recs):
    meta = {}
    for k in ("long", "quick"):
        if any(input_kind(r["harness"]) == k for r in recs):
            meta[k] = make_inputs.load_input(k)
    refs_short = short_refs() if any(input_kind(r["harness"]) == "short" for r in recs) else {}
    # openai-whisper's outputs, the agreement reference, per (model, preset, device-independent input)
    ref_out = {}
    for r in recs:
        h = r["harness"]
        if h["impl"] == "openai-whisper" and h["device"] == "cpu" and not r.get("error") and r.get("files"):
            ref_out[(h["model"], h["preset"], input_kind(h))] = hyp_texts(r, meta)[1]
    cells, scores = {}, {}
    for r in recs:
        h = r["harness"]
        cid = h["cell"]
        row = cells.setdefault(cid, {"cell": cid, **{k: h[k] for k in ("impl", "model", "device", "dtype",
                                                                        "batch_size", "preset")},
                                     "threads": h.get("threads"), "error": ""})
        kind, job = input_kind(h), h["job"]
        if r.get("error"):
            if job.endswith("p1"):  # the cell did not run
                row["error"] = row["error"] or r["error"]
            else:  # the cell ran; one of its later jobs failed
                row["job_errors"] = (row.get("job_errors", "") + f"{job}: {r['error']}; ")[:400]
            row.setdefault("versions", r.get("versions"))
            continue
        row["versions"] = r.get("versions")
        row["config"] = r.get("config")
        cold, warm, runs = warm_stats(r)
        dur = meta[kind]["duration"] if kind in meta else None
        rss = (r.get("peak_rss_bytes") or 0) / 2**20
        if job.endswith("p1"):
            row.update({"input": kind, "audio_seconds": dur, "load_s": r.get("load_seconds"), "cold_s": cold,
                        "warm_median_s": warm, "warm_runs_s": " ".join(f"{x:.2f}" for x in runs[1:]),
                        "warm_runs_n": len(runs[1:]), "tier": h.get("tier", "headline"),
                        "repeat_cut": r.get("repeat_cut", ""),
                        "first_process_wall_s": h.get("process_wall_seconds"), "peak_rss_mib": rss,
                        # a variant cut to its cold run is placed by that run
                        "rtf_warm": (warm or cold) / dur if (warm or cold) and dur else None,
                        "speed_x_realtime": dur / (warm or cold) if (warm or cold) and dur else None,
                        "cold_total_s": (r.get("load_seconds") or 0) + cold if cold is not None else None,
                        "text_changed_between_runs": bool(r.get("repeat_text_differs")),
                        "other_cpu_pct": other_cpu_pct(h), "started": h.get("started", ""),
                        "boot": boot_of(h)})
        elif job == "short":  # one process over all the short files: its whole transcription time
            row.update({"short_files": h.get("n_files"), "short_load_s": r.get("load_seconds"), "short_s": cold,
                        "short_peak_rss_mib": rss, "short_other_cpu_pct": other_cpu_pct(h),
                        "short_started": h.get("started", "")})
        elif job.endswith("p2"):
            row.update({"second_process_load_s": r.get("load_seconds"), "second_process_run_s": cold,
                        "second_process_wall_s": h.get("process_wall_seconds"),
                        "second_process_started": h.get("started", ""), "second_process_boot": boot_of(h)})
        scored, full = hyp_texts(r, meta)
        if kind in ("long", "quick"):
            w = wer({kind: meta[kind]["reference"]}, scored)
        else:
            w = wer({k: refs_short[k] for k in scored if k in refs_short}, scored)
        ref = ref_out.get((h["model"], h["preset"], kind))
        agree = wer(ref, full) if ref and h["impl"] != "openai-whisper" else None
        scores[f"{cid}__{job}"] = {"wer": w, "agreement_vs_openai_whisper": agree}
        prefix = "short" if kind == "short" else "long" if kind == "long" else "quick"
        if job != "long-p2":
            row[f"wer_{prefix}"] = w["wer"] if w else None
            if h["impl"] == "openai-whisper":
                row[f"agreement_{prefix}"] = 1.0
            else:
                row[f"agreement_{prefix}"] = (1 - agree["wer"]) if agree else None
    quick_only = all(r.get("input") == "quick" for r in cells.values() if r.get("input"))
    order = {}
    for i, c in enumerate((matrix.quick() if quick_only else []) + matrix.full()):
        order.setdefault(matrix.cell_id(c), i)
    rows = sorted(cells.values(), key=lambda r: (r["device"], order.get(r["cell"], 1e9), r["cell"]))
    return rows, scores, meta


COLUMNS = ["cell", "impl", "model", "device", "dtype", "batch_size", "preset", "threads", "input", "audio_seconds",
           "tier", "load_s", "cold_s", "warm_median_s", "warm_runs_n", "warm_runs_s", "rtf_warm", "speed_x_realtime",
           "cold_total_s",
           "first_process_wall_s", "second_process_load_s", "second_process_run_s", "second_process_wall_s",
           "second_process_started", "second_process_boot",
           "peak_rss_mib", "other_cpu_pct", "started", "boot", "wer_long", "wer_quick", "wer_short", "agreement_long",
           "agreement_quick", "agreement_short", "short_files", "short_load_s", "short_s", "short_peak_rss_mib",
           "short_other_cpu_pct", "short_started", "text_changed_between_runs", "repeat_cut", "error", "job_errors",
           "versions"]


def write_csv(d, rows):
    with open(os.path.join(d, "results.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            out = dict(r)
            out["versions"] = json.dumps(r.get("versions") or {}, sort_keys=True)
            for k, v in out.items():
                if isinstance(v, float):
                    out[k] = f"{v:.4f}"
            w.writerow(out)


def label(r):
    b = f" b{r['batch_size']}" if r["batch_size"] != 1 else ""
    p = " ref" if r["preset"] == "reference" else ""
    return f"{r['impl']} {r['model']} {r['dtype']}{b}{p}"


def charts(d, rows, machine):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # cells with a warm median, and those run cold only (--runs 0, or a variant cut by its budget)
    ok = [r for r in rows if r.get("input") and (r.get("warm_median_s") or r.get("cold_s"))]
    fig, axes = plt.subplots(1, 2, figsize=(15, max(4, 0.32 * max(len(ok), 6) + 1.5)),
                             gridspec_kw={"width_ratios": [3, 2]})
    for ax, dev in zip(axes, ("cpu", "cuda")):
        rs = [r for r in ok if r["device"] == dev]
        if not rs:
            ax.text(0.5, 0.5, f"no {dev.upper()} results in this folder", ha="center", va="center")
            ax.set_axis_off()
            continue
        y = list(range(len(rs)))[::-1]
        ax.barh(y, [r["cold_s"] or 0 for r in rs], color="#f4b183", label="first run (cold, model loaded)")
        if any(r.get("warm_median_s") for r in rs):
            ax.barh(y, [r.get("warm_median_s") or 0 for r in rs], color="#2e75b6", height=0.5,
                    label="median of the warm runs")
        for yi, r in zip(y, rs):
            ax.annotate(f" {r.get('warm_median_s') or r['cold_s']:.1f} s", (r.get("warm_median_s") or r["cold_s"], yi),
                        va="center", fontsize=7)
        ax.set_yticks(y, [label(r) for r in rs], fontsize=8)
        ax.set_xlabel(f"seconds for {rs[0]['audio_seconds'] / 60:.1f} min of audio (lower is better)")
        ax.set_title(f"{dev.upper()}: {machine.get('cpu', '') if dev == 'cpu' else 'GPU'}, "
                     f"{rs[0].get('threads')} threads" if dev == "cpu" else "GPU")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "time.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 6.5))
    key = "wer_short" if any(r.get("wer_short") is not None for r in ok) else \
        "wer_quick" if any(r.get("wer_quick") is not None for r in ok) else "wer_long"
    pts = [r for r in ok if r.get(key) is not None and r.get("speed_x_realtime")]
    markers = {"cpu": "o", "cuda": "^"}
    impls = sorted({r["impl"] for r in pts})
    cmap = plt.get_cmap("tab10")
    for r in pts:
        c = cmap(impls.index(r["impl"]) % 10)
        ax.scatter(r["speed_x_realtime"], 100 * r[key], color=c, marker=markers.get(r["device"], "o"), s=40)
        ax.annotate(f"{r['model']} {r['dtype']} b{r['batch_size']}" + (" ref" if r["preset"] == "reference" else ""),
                    (r["speed_x_realtime"], 100 * r[key]), fontsize=7, xytext=(4, 2), textcoords="offset points")
    for i, name in enumerate(impls):
        ax.scatter([], [], color=cmap(i % 10), label=name)
    ax.set_xscale("log")
    ax.set_xlabel("speed, x real time (warm median on the long recording; higher is better)")
    ax.set_ylabel(f"WER % ({key.replace('wer_', '')} input, cwhisper's normaliser; lower is better)")
    ax.set_title("speed against WER")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "speed_wer.png"), dpi=110)
    plt.close(fig)


def warm_cell(r):
    """The warm median, with the number of warm runs where it is not the
    protocol's 3 (a variant cell's first process cut by its time budget)."""
    # r: a row of build_rows, or of results.csv read by summary.py ("" = none)
    n = r.get("warm_runs_n")
    if r.get("warm_median_s") in (None, ""):
        return "(cold only)" if r.get("repeat_cut") else ""
    return fmt(r["warm_median_s"]) + (f" (n={int(n)})" if n not in (None, "") and n < 3 else "")


def hhmm(started):
    """'11-28T05:54' of an ISO start time, the tables' 'started' form ('' when unknown)."""
    return (started or "")[5:16]


def boot_spans(recs):
    """[(boot, records, first start, last start)] of the records, oldest first
    (records made before the harness noted the boot are under 'not noted')."""
    spans = {}
    for r in recs:
        h = r["harness"]
        started = h.get("started", "")
        b = boot_of(h) or "not noted"
        n, lo, hi = spans.get(b, (0, started, started))
        spans[b] = (n + 1, min(lo, started) if started else lo, max(hi, started))
    return sorted(((b, n, lo, hi) for b, (n, lo, hi) in spans.items()), key=lambda x: x[2])


def boot_of(h):
    m = h.get("machine") or {}
    return m.get("boot") or m.get("session") or ""


def load_anchors(d):
    """The anchor records (run.run_anchors), oldest first."""
    out = []
    for p in glob.glob(os.path.join(d, "anchors", "*.json")):
        with open(p, encoding="utf-8") as f:
            out.append(json.load(f))
    return sorted(out, key=lambda a: a.get("harness", {}).get("started", ""))


def anchors_table(d, recs):
    """Markdown lines: the anchor runs over time and how many jobs started
    after each, so cells measured at different times (sessions) can be
    judged comparable or not."""
    anchors = load_anchors(d)
    if not anchors:
        return []
    starts = sorted(r["harness"].get("started", "") for r in recs)
    out = ["", "## Anchor runs (drift over time)", "",
           "The matrix runs over hours and sessions. At the start of every `bench/run` and then hourly, the same "
           "two runs are timed: tiny.en greedy on the 5-minute excerpt, cold and median of the warm runs "
           "(s). Cells measured at different times compare only up to the anchors' difference.", "",
           "| started (UTC) | anchor | cold s | warm s | other CPU % | boot | jobs started until the next anchor |",
           "|---|---|---|---|---|---|---|"]
    times = [a["harness"].get("started", "") for a in anchors] + ["~"]
    for i, a in enumerate(anchors):
        h = a["harness"]
        nxt = next((t for t in times[i + 1:] if t > h.get("started", "")), "~")
        n = sum(1 for t in starts if h.get("started", "") <= t < nxt)
        if a.get("error"):
            cold = warm = a["error"][:80]
        else:
            c, w, runs = warm_stats(a)
            cold, warm = fmt(c), fmt(w) + (f" (n={len(runs) - 1})" if len(runs) != 3 else "")
        oc = other_cpu_pct(h)
        note = f" ({a['anchor_note']})" if a.get("anchor_note") else ""
        out.append(f"| {h.get('started', '')[:16]} | {h['impl']}{note} | {cold} | {warm} | "
                   f"{'' if oc is None else f'{oc:.0f}'} | {boot_of(h) or '-'} | {n} |")
    return out


def short_table(shorts):
    """The short sets' job: one process per cell over all the files (batch > 1 for cwhisper: that many files
    in lockstep), its whole transcription time, and the ratio to openai-whisper's of the same model."""
    if not shorts:
        return []
    ref = {(r["model"], r["preset"]): r["short_s"] for r in shorts if r["impl"] == "openai-whisper"}
    out = ["", f"**Short utterances** ({shorts[0].get('short_files')} files of the short sets, one process per "
           "cell, the model loaded once; *s* = the whole transcription, load excluded; *vs openai-whisper* = its "
           "time for the same model and preset over this one):", "",
           "| implementation | model | dtype | batch | preset | load s | s | vs openai-whisper | peak RSS MiB | "
           "WER short | agree short | other CPU | started (UTC) |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(shorts, key=lambda r: (r["model"], r["short_s"])):
        k = (r["model"], r["preset"])
        vs = f"{ref[k] / r['short_s']:.2f}x" if k in ref and r["short_s"] else ""
        oc = r.get("short_other_cpu_pct")
        out.append(f"| {r['impl']} | {r['model']} | {r['dtype']} | {r['batch_size']} | {r['preset']} | "
                   f"{fmt(r.get('short_load_s'))} | {fmt(r['short_s'])} | {vs} | "
                   f"{fmt(r.get('short_peak_rss_mib'), 0)} | {pct(r.get('wer_short'))} | "
                   f"{pct(r.get('agreement_short'))} | {'' if oc is None else f'{oc:.0f}%'} | "
                   f"{hhmm(r.get('short_started'))} |")
    return out


def markdown(d, rows, machine, meta, recs=()):
    out = [f"# bench/run results: {os.path.basename(os.path.normpath(d))}", ""]
    out.append(f"Machine (of the latest bench/run; see *Anchor runs*): {machine.get('cpu')} ({machine.get('cpus')} CPUs, {', '.join(machine.get('isa', []))}), "
               f"{(machine.get('memory_bytes') or 0) / 2**30:.0f} GiB, kernel {machine.get('kernel')}; "
               f"{machine.get('threads')} threads for every implementation; cwhisper git {machine.get('git')}; "
               f"date {machine.get('date')}.")
    boots = boot_spans(recs)
    if sum(1 for b in boots if b[0] != "not noted") > 1:
        out.append("The records span more than one boot, each a fresh VM of this kind (same CPU model, CPU count "
                   "and memory): " + "; ".join(f"boot `{b}`: {n} records, started {hhmm(lo)} to {hhmm(hi)}"
                                               for b, n, lo, hi in boots) +
                   ". Compare the anchor runs of each boot before comparing cells timed on different boots.")
    for k, m in meta.items():
        out.append(f"Input `{k}`: {m['duration'] / 60:.2f} min ({len(m['pieces'])} pieces, "
                   f"bench/data/make_inputs.py, pcm sha256 {m['pcm_sha256'][:12]}).")
    out += ["", "Made by `bench/run` (raw records in `raw/`); this page, `results.csv`, `time.png` and "
            "`speed_wer.png` by `bench/harness/report.py`. Times in seconds: *load* = model load in the first "
            "process (imports, conversion-free load, JAX compile); *cold* = that process's first transcription; "
            "*warm* = median of the later runs in the same process (3 for headline cells; a variant cell's process "
            "repeats only within its time budget, n = its warm runs); *x real time* = audio length / warm (or the "
            "cold run where a variant has no warm run); *2nd proc* = load + first run of a second "
            "fresh process. WER with cwhisper's English normaliser; *agree* = word agreement with openai-whisper's "
            "output (same model, preset, input).", ""]
    shorts = [r for r in rows if not r["error"] and r.get("short_s") is not None]
    ok = [r for r in rows if not r["error"] and r.get("input")]  # short-only cells: their own table below
    bad = [r for r in rows if r["error"]]
    noisy = [r for r in ok if (r.get("other_cpu_pct") or 0) > 5]
    if ok:
        out.append("| implementation | model | device | dtype | batch | preset | load | cold | warm (median) | "
                   "x real time | 2nd proc load + run | peak RSS MiB | WER long | WER short/quick | agree long/quick | "
                   "agree short | started (UTC) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in ok:
            second = (f"{fmt(r.get('second_process_load_s'))} + {fmt(r.get('second_process_run_s'))}"
                      if r.get("second_process_run_s") is not None else "")
            wer_s = r.get("wer_short") if r.get("wer_short") is not None else r.get("wer_quick")
            ag = r.get("agreement_long") if r.get("agreement_long") is not None else r.get("agreement_quick")
            out.append(f"| {r['impl']} | {r['model']} | {r['device']} | {r['dtype']} | {r['batch_size']} | "
                       f"{r['preset']} | {fmt(r.get('load_s'))} | {fmt(r.get('cold_s'))} | "
                       f"{warm_cell(r)} | {fmt(r.get('speed_x_realtime'))} | {second} | "
                       f"{fmt(r.get('peak_rss_mib'), 0)} | {pct(r.get('wer_long'))} | {pct(wer_s)} | {pct(ag)} | "
                       f"{pct(r.get('agreement_short'))} | {hhmm(r.get('started'))} |")
    out += short_table(shorts)
    if noisy:
        out += ["", "Other processes used more than 5% of the CPUs during the first process of: " +
                ", ".join(f"{r['cell']} ({r['other_cpu_pct']:.0f}%)" for r in noisy) + " (their times are less "
                "trustworthy; `results.csv` column other_cpu_pct)."]
    failed_jobs = [r for r in ok if r.get("job_errors")]
    if failed_jobs:
        out += ["", "Jobs that failed in cells that otherwise ran: " +
                "; ".join(f"{r['cell']}: {r['job_errors'].replace('|', '/')}" for r in failed_jobs)]
    if bad:
        out += ["", "## Cells that did not run here", "", "| cell | error |", "|---|---|"]
        for r in bad:
            out.append(f"| {r['cell']} | {r['error'].replace('|', '/')[:300]} |")
    out += anchors_table(d, recs)
    out += ["", "## Versions", ""]
    seen = {}
    for r in ok:
        seen.setdefault(r["impl"], r.get("versions"))
    for k, v in seen.items():
        out.append(f"- {k}: " + ", ".join(f"{a} {b}" for a, b in sorted((v or {}).items())))
    out += ["", "![time per implementation and configuration](time.png)", "",
            "![speed against WER](speed_wer.png)", ""]
    with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def main():
    d = sys.argv[1]
    recs = load_records(d)
    if not recs:
        sys.exit(f"report.py: {d}/raw has no records")
    machine = {}
    if os.path.exists(os.path.join(d, "machine.json")):
        with open(os.path.join(d, "machine.json")) as f:
            machine = json.load(f)
    rows, scores, meta = build_rows(recs)
    write_csv(d, rows)
    with open(os.path.join(d, "scores.json"), "w", encoding="utf-8") as f:
        json.dump(scores, f, indent=1, sort_keys=True)
    markdown(d, rows, machine, meta, recs)
    try:
        charts(d, rows, machine)
    except ImportError as e:
        print(f"report.py: no charts: {e} (bench/setup installs matplotlib)", file=sys.stderr)
    print(f"report.py: {d}: {len(rows)} cells, {sum(1 for r in rows if r['error'])} refused/failed", file=sys.stderr)


if __name__ == "__main__":
    main()
