#!/usr/bin/env python3
"""cwhisper: runs build/cwhisper (or $CWHISPER) `transcribe` once over all
files (the model loaded once) with --output-format json, on the CT2
directory itself.

Modes today: CPU, fp32 compute (the fp16 CT2 weights widened on load),
sequential OpenAI long-form algorithm, batch size 1; other --device / --dtype
/ --batch-size values exit with the reason until cwhisper has them (the
chunked/batched algorithm and the CUDA back end are planned). greedy preset:
--no-fallback --no-condition-on-previous-text (beam --beam-size); reference
preset: cwhisper's defaults, which are openai-whisper transcribe()'s.

Timing: the CLI reports no phases, so load_seconds is the wall time of a
separate `cwhisper info MODEL` (a model load, with the page cache as warm as
for the run after it) and transcribe_seconds is the transcribe process's wall
time minus it; config.process_wall_seconds keeps the undivided figure. Peak
RSS is the child's (wait4's rusage). Per-file seconds are not measured
(each file gets total / number of files).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

NAME = "cwhisper"
BINARY = os.environ.get("CWHISPER", os.path.join(common.ROOT, "build", "cwhisper"))


class Run:
    pass


def versions():
    v = subprocess.run([BINARY, "version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", common.ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    return {"cwhisper": v.replace("cwhisper ", "", 1), "git": git}


def load(args, cfg):
    if not os.access(BINARY, os.X_OK):
        raise common.Unavailable(f"{BINARY} not built (make build)")
    if args.device != "cpu":
        raise common.Unavailable("cwhisper has no CUDA back end yet")
    if args.dtype != "fp32":
        raise common.Unavailable("cwhisper computes in fp32 only for now")
    if args.batch_size != 1:
        raise common.Unavailable("cwhisper's chunked, batched long-form algorithm is not there yet: batch size 1")
    t = time.perf_counter()
    p = subprocess.run([BINARY, "info", args.model], capture_output=True, text=True)
    load_s = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"cwhisper info failed: {p.stderr.strip()[:200]}")
    r = Run()
    r.load_s = load_s
    cmd = ["transcribe", "--model", args.model, "--threads", str(args.threads), "--output-format", "json"]
    if cfg["language"]:
        cmd += ["--language", cfg["language"]]
    if args.beam_size > 1:
        cmd += ["--beam-size", str(args.beam_size)]
    if args.preset == "greedy":
        cmd += ["--no-fallback", "--no-condition-on-previous-text"]
    r.cmd = cmd
    r.results = None
    cfg.update({"command": ["cwhisper"] + cmd, "long_form": "openai sequential (src/longform)",
                "fallback": args.preset == "reference", "timestamps": True, "compute": "fp32",
                "timing": "load = separate `cwhisper info` wall time; transcribe = process wall - load"})
    return r


def run_all(r, args, cfg):
    tmp = tempfile.mkdtemp(prefix="cwpeer.")
    try:
        t = time.perf_counter()
        p = subprocess.Popen([BINARY] + r.cmd + ["--output-dir", tmp] + args.files, stdout=subprocess.DEVNULL)
        _, status, _ = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        if status != 0:
            raise RuntimeError(f"cwhisper transcribe exited with status {status >> 8}")
        cfg["process_wall_seconds"] = wall
        r.results = {}
        for f in args.files:
            stem = os.path.splitext(os.path.basename(f))[0]
            with open(os.path.join(tmp, stem + ".json"), encoding="utf-8") as fh:
                j = json.load(fh)
            r.results[f] = (j["text"], j["segments"], None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def transcribe(r, path, args, cfg):
    if r.results is None:  # the first call runs the one process for all files
        run_all(r, args, cfg)
    text, segs, _ = r.results[path]
    return text, segs


def finish(result):
    """The process wall time minus the separate load: the common loop's timer saw only
    the first call doing everything."""
    cfg = result["config"]
    result["transcribe_seconds"] = max(cfg["process_wall_seconds"] - result["load_seconds"], 0.0)
    for f in result["files"]:
        f["seconds"] = result["transcribe_seconds"] / len(result["files"])


if __name__ == "__main__":
    common.main(NAME, load, transcribe, versions, finish, repeatable=False)
