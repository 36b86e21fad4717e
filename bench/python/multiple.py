#!/usr/bin/env python3
"""Transcription.transcribe_multiple against a loop of run_pipeline calls on
the 132 short utterances (librispeech-test-other-100 + ljspeech-LJ001), one
model loaded once for both; checks that the chunks are equal and prints one
JSON line: wall and CPU seconds of each, and the speed-up.

    python bench/python/multiple.py [--model tiny.en] [--dtype int8] [--threads 1] [--lockstep 8]

Needs the package installed (pip install ./python). CPU time (process_time)
is the figure to trust on a shared machine; wall time only on an idle one.
"""
import argparse
import json
import os
import time

import cwhisper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def files(shared):
    out = []
    for s in ("librispeech-test-other-100", "ljspeech-LJ001"):
        d = os.path.join(shared, "speech", s, "audio")
        out += sorted(os.path.join(d, f) for f in os.listdir(d))
    return out


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    r = fn()
    return r, time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--dtype", default="fp32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=1, help="Transcription batch_size")
    ap.add_argument("--lockstep", type=int, default=8, help="files decoded together by transcribe_multiple")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    a = ap.parse_args()
    paths = files(a.shared)
    t = cwhisper.Transcription(model_name=a.model, dtype=a.dtype, threads=a.threads, batch_size=a.batch_size)
    t.run_pipeline(paths[0])  # warm: first-call allocations out of both timings
    loop, loop_wall, loop_cpu = timed(lambda: [t.run_pipeline(p) for p in paths])
    multi, multi_wall, multi_cpu = timed(lambda: t.transcribe_multiple(paths, lockstep=a.lockstep))
    print(json.dumps({"files": len(paths), "model": a.model, "dtype": a.dtype, "threads": a.threads,
                      "batch_size": a.batch_size, "lockstep": a.lockstep if t.model.lockstep else "unavailable (library without cw_transcribe_files)", "equal": loop == multi,
                      "loop": {"wall_s": round(loop_wall, 2), "cpu_s": round(loop_cpu, 2)},
                      "transcribe_multiple": {"wall_s": round(multi_wall, 2), "cpu_s": round(multi_cpu, 2)},
                      "speedup_cpu": round(loop_cpu / multi_cpu, 3), "speedup_wall": round(loop_wall / multi_wall, 3)}))


if __name__ == "__main__":
    main()
