#!/usr/bin/env python3
"""Runs cwhisper over audio files in one process (the model loaded once) and
writes the same JSON lines as reference.py: per file, text, language and
segments, from `cwhisper transcribe --output-format json`; a summary line with
the wall seconds and peak RSS of the process (from wait4's rusage).

usage: cwhisper.py CWHISPER_BINARY MODEL OUT.jsonl [--threads N] [--language L] FILE..."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--language", default=None)
    ap.add_argument("--beam-size", type=int, default=None)
    ap.add_argument("--best-of", type=int, default=None)
    ap.add_argument("--initial-prompt", default=None)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cwparity.")
    try:
        cmd = [a.binary, "transcribe", "--model", a.model, "--threads", str(a.threads),
               "--output-format", "json", "--output-dir", tmp]
        if a.language:
            cmd += ["--language", a.language]
        for opt, val in (("--beam-size", a.beam_size), ("--best-of", a.best_of),
                         ("--initial-prompt", a.initial_prompt)):
            if val is not None:
                cmd += [opt, str(val)]
        t = time.perf_counter()
        p = subprocess.Popen(cmd + a.files)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        if status != 0:
            print(f"cwhisper exited with status {status}", file=sys.stderr)
        with open(a.out + ".tmp", "w") as out:
            for f in a.files:
                stem = os.path.splitext(os.path.basename(f))[0]
                path = os.path.join(tmp, stem + ".json")
                if not os.path.exists(path):
                    out.write(json.dumps({"file": f, "error": "no output"}) + "\n")
                    continue
                j = json.load(open(path))
                rec = {"file": f, "text": j["text"], "language": j["language"],
                       "segments": j["segments"]}
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            version = subprocess.run([a.binary, "version"], capture_output=True, text=True).stdout.strip()
            out.write(json.dumps({"summary": True, "implementation": "cwhisper", "version": version,
                                  "threads": a.threads, "wall_seconds": wall,
                                  "peak_rss_bytes": ru.ru_maxrss * 1024}) + "\n")
        os.replace(a.out + ".tmp", a.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
