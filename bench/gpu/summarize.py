#!/usr/bin/env python3
"""WORK/plan.tsv + WORK/raw/*.json -> OUT/gpu-raw.jsonl (one JSON per adapter
invocation: the adapter's JSON + "harness") and OUT/summary.md.

    summarize.py WORK OUT GPU_NAME DEVICE
"""
import json
import os
import re
import sys
import time


def normaliser():
    try:
        from whisper.normalizers import EnglishTextNormalizer
        return EnglishTextNormalizer(), "openai-whisper EnglishTextNormalizer"
    except Exception:  # noqa: BLE001
        def basic(s):
            s = re.sub(r"[^\w\s']", " ", s.lower())
            return " ".join(s.split())
        return basic, "lower case, punctuation removed (openai-whisper's normaliser not importable)"


def wer(ref, hyp):
    r, h = ref.split(), hyp.split()
    prev = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hw in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1] / max(1, len(r))


def fmt(x, nd=2):
    return "" if x is None else f"{x:.{nd}f}"


def main():
    work, out, gpu, device = sys.argv[1:5]
    with open(os.path.join(work, "inputs.json")) as f:
        inputs = json.load(f)
    norm, norm_name = normaliser()
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows, lines = [], []
    with open(os.path.join(work, "plan.tsv")) as f:
        plan = [ln.rstrip("\n").split("\t") for ln in f if ln.strip()]
    for impl, adapter, model, dtype, batch, inp, status, wall, path in plan:
        res = None
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                res = json.load(f)
        if res is None:
            reason = {"not-built": "cwhisper CUDA back end: not built yet",
                      "skipped-budget": "skipped: the run's time budget was spent"}.get(status, f"no JSON ({status})")
            res = {"implementation": impl, "error": reason}
        elif status != "ok" and "error" not in res:
            res["error"] = status
        secs = inputs.get(inp, {}).get("seconds")
        h = {"impl": impl, "adapter": adapter, "model": model, "device": device, "dtype": dtype,
             "batch_size": int(batch) if batch.isdigit() else None, "preset": "greedy", "input": inp,
             "input_seconds": secs, "gpu": gpu, "date": date, "status": status,
             "step_wall_seconds": int(wall) if wall.isdigit() else None}
        ref = inputs.get(inp, {}).get("reference")
        if ref and res.get("files"):
            h["wer"] = wer(norm(ref), norm(res["files"][0]["text"]))
            h["wer_normaliser"] = norm_name
        res["harness"] = h
        lines.append(json.dumps(res, ensure_ascii=False))
        rep = res.get("repeat_transcribe_seconds") or []
        first = rep[0] if rep else res.get("transcribe_seconds")
        second = rep[1] if len(rep) > 1 else None
        rows.append((impl, model, dtype, batch, inp, res.get("load_seconds"), first, second,
                     secs / second if (secs and second) else None, h.get("wer"),
                     (res.get("error") or "")[:160], res.get("config", {}).get("compile_seconds")))
    raw = "\n".join(lines) + "\n"
    name = "gpu-raw.jsonl"
    if len(raw.encode()) > 15 << 20:  # at most 16 MiB per file comes back
        import gzip
        name += ".gz"
        with gzip.open(os.path.join(out, name), "wt", encoding="utf-8") as f:
            f.write(raw)
    else:
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(raw)
    md = [f"# bench/gpu/run.sh results, {date}", "",
          f"- GPU: {gpu}; device {device}; greedy preset; every row one process: load, run 1, run 2 (--repeat 2)",
          "- inputs: " + "; ".join(f"{k} {v['seconds']:.1f} s" for k, v in inputs.items()),
          "- x real time = input seconds / second-run seconds; WER on quick-5min against the joined "
          f"LibriSpeech references ({norm_name})",
          "- load s includes the HF model load (and for JAX the ahead-of-time compile, also given apart)", "",
          "| impl | model | dtype | batch | input | load s | first run s | second run s | x real time | WER | "
          "note |", "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for impl, model, dtype, batch, inp, load, first, second, xrt, w, err, comp in rows:
        note = err or (f"compile {comp:.1f} s" if comp else "")
        md.append(f"| {impl} | {model} | {dtype} | {batch} | {inp} | {fmt(load)} | {fmt(first)} | {fmt(second)} | "
                  f"{fmt(xrt, 1)} | {'' if w is None else f'{100 * w:.2f}%'} | {note.replace('|', '/')} |")
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
