#!/usr/bin/env python3
"""Smoke test of every adapter: tiny.en, CPU, 1 thread, preset greedy, on
jfk.flac (11 s); prints a markdown table (adapter, configuration, versions,
status, text) for bench/README.md and leaves the JSONs in OUTDIR.

    bench/.venv/bin/python bench/peers/smoke.py [OUTDIR]
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
JFK = os.path.join(ROOT, "../shared/speech/english-fixtures/audio/jfk.flac")
RUNS = [  # (adapter, extra arguments)
    ("openai_whisper", ["--dtype", "fp32"]),
    ("faster_whisper", ["--dtype", "fp32"]),
    ("faster_whisper", ["--dtype", "int8"]),
    ("faster_whisper", ["--dtype", "bf16"]),
    ("faster_whisper", ["--dtype", "fp32", "--batch-size", "4"]),
    ("whisper_cpp", ["--dtype", "fp16"]),
    ("hf_pipeline", ["--dtype", "fp32"]),
    ("hf_pipeline", ["--dtype", "bf16", "--batch-size", "2"]),
    ("flax_whisper", ["--dtype", "fp32"]),
    ("flax_whisper", ["--dtype", "bf16"]),
    ("cwhisper", ["--dtype", "fp32"]),
]
KEYS = {"openai_whisper": ["openai-whisper", "torch"], "faster_whisper": ["faster-whisper", "ctranslate2"],
        "whisper_cpp": ["pywhispercpp", "libwhisper"], "hf_pipeline": ["transformers", "torch"],
        "flax_whisper": ["transformers", "jax", "flax"], "cwhisper": ["cwhisper", "git"]}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/peers-smoke"
    os.makedirs(out, exist_ok=True)
    rows = ["| adapter | configuration | versions | status | load s | transcribe s | peak RSS MB | jfk text |",
            "|---|---|---|---|---|---|---|---|"]
    for adapter, extra in RUNS:
        tag = adapter + "-" + "-".join(x.lstrip("-") for x in extra)
        path = os.path.join(out, tag + ".json")
        cmd = [sys.executable, os.path.join(HERE, adapter + ".py"), "--model", os.path.join(ROOT, "models/tiny.en"),
               "--device", "cpu", "--threads", "1", "--preset", "greedy", "--out", path] + extra + [JFK]
        p = subprocess.run(cmd, capture_output=True, text=True)
        try:
            with open(path) as f:
                j = json.load(f)
        except (OSError, ValueError):
            j = {"error": f"no JSON (exit {p.returncode}): {p.stderr.strip().splitlines()[-1:]}"}
        v = j.get("versions", {})
        vers = ", ".join(f"{k} {v[k]}" for k in KEYS[adapter] if k in v)
        cfgtxt = " ".join(extra)
        if "error" in j:
            status, text = f"fails (exit {p.returncode}): {j['error']}", ""
        else:
            status, text = "works", j["files"][0]["text"].strip()
        fmt = lambda x: "" if x is None else f"{x:.2f}"  # noqa: E731
        rss = j.get("peak_rss_bytes")
        rows.append(f"| {adapter} | {cfgtxt} | {vers} | {status} | {fmt(j.get('load_seconds'))} | "
                    f"{fmt(j.get('transcribe_seconds'))} | {'' if rss is None else rss // 2**20} | {text} |")
        print(rows[-1], file=sys.stderr)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
