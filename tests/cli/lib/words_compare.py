#!/usr/bin/env python3
"""Agreement of cwhisper's word timestamps with openai-whisper's.

usage: compare.py REFS.json OUT_DIR [--tol 0.02] [--ptol 1e-3] [--quiet]
REFS.json: tests/fixtures/make_word_refs.py's output; OUT_DIR: cwhisper's
--output-format json files (one per audio file, named after it).
Prints per-file disagreements and the totals: files whose words are equal,
start/end times within tol where the words are equal, worst differences.
Exit status 1 when any file's words differ or a time / probability is off."""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    tol, ptol, quiet = 0.02, 1e-3, False
    if "--tol" in args:
        i = args.index("--tol"); tol = float(args[i + 1]); del args[i:i + 2]
    if "--ptol" in args:
        i = args.index("--ptol"); ptol = float(args[i + 1]); del args[i:i + 2]
    if "--quiet" in args:
        args.remove("--quiet"); quiet = True
    refs = json.load(open(args[0]))
    out_dir = args[1]
    n_files = n_equal = n_times = n_ok = 0
    worst_t = worst_p = 0.0
    worst_where = ""
    seg_diff = 0
    for f in refs["files"]:
        n_files += 1
        stem = os.path.splitext(os.path.basename(f["file"]))[0]
        ours = json.load(open(os.path.join(out_dir, stem + ".json")))
        rw = [w for s in f["segments"] for w in s["words"]]
        ow = [[w["word"], w["start"], w["end"], w["probability"]] for s in ours["segments"] for w in s.get("words", [])]
        rs = [(round(s["start"], 2), round(s["end"], 2)) for s in f["segments"]]
        os_ = [(round(s["start"], 2), round(s["end"], 2)) for s in ours["segments"]]
        if [w[0] for w in rw] != [w[0] for w in ow]:
            if not quiet:
                print(f"{stem}: words differ: ref {len(rw)}, ours {len(ow)}")
            continue
        n_equal += 1
        if len(rs) != len(os_) or any(abs(a[0] - b[0]) > tol or abs(a[1] - b[1]) > tol for a, b in zip(rs, os_)):
            seg_diff += 1
            if not quiet:
                print(f"{stem}: segment times differ: {rs} vs {os_}")
        for r, o in zip(rw, ow):
            for k in (1, 2):
                n_times += 1
                d = abs(r[k] - o[k])
                if d <= tol + 1e-9:
                    n_ok += 1
                elif not quiet:
                    print(f"{stem}: {r[0]!r} {'start' if k == 1 else 'end'} {r[k]} vs {o[k]}")
                if d > worst_t:
                    worst_t, worst_where = d, f"{stem} {r[0]!r}"
            worst_p = max(worst_p, abs(r[3] - o[3]))
    print(f"files with equal words: {n_equal}/{n_files} ({100.0 * n_equal / max(n_files, 1):.1f}%)")
    print(f"times within {tol} s: {n_ok}/{n_times} ({100.0 * n_ok / max(n_times, 1):.2f}%), "
          f"worst {worst_t:.2f} s ({worst_where}); files with segment times off: {seg_diff}")
    print(f"worst probability difference: {worst_p:.2e}")
    bad = n_equal != n_files or n_ok != n_times or worst_p > ptol or seg_diff
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
