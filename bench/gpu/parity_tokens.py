#!/usr/bin/env python3
"""Token parity of two cwhisper runs over the same files (bench/gpu/run.sh:
--device cuda --dtype fp32 against the CPU's fp32 run): reads the
`--output-format json` files of both output directories and compares, per
file, the whole token sequence (every segment's tokens, in order) and the
segments one by one. Prints one line per file and a summary line

  parity: K/N files token-identical (S/T segments identical)

and exits 0 when every file was read in both (the caller judges the ratio
against the issue's 97 %); 1 when a file is missing from either side.

usage: parity_tokens.py REF_DIR GOT_DIR [--json OUT.json]"""
import argparse
import json
import os
import sys


def tokens(path):
    with open(path) as f:
        d = json.load(f)
    return [list(s.get("tokens", [])) for s in d.get("segments", [])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("got")
    ap.add_argument("--json")
    a = ap.parse_args()
    names = sorted(f for f in os.listdir(a.ref) if f.endswith(".json"))
    same = segs_same = segs = 0
    missing = []
    rows = []
    for n in names:
        g = os.path.join(a.got, n)
        if not os.path.exists(g):
            missing.append(n)
            print(f"{n}: missing from {a.got}")
            continue
        r, t = tokens(os.path.join(a.ref, n)), tokens(g)
        fr, ft = [x for s in r for x in s], [x for s in t for x in s]
        k = sum(1 for x, y in zip(r, t) if x == y)
        segs_same += k
        segs += max(len(r), len(t))
        if fr == ft:
            same += 1
            print(f"{n}: same {len(fr)} tokens")
            rows.append({"file": n, "same": True, "tokens": len(fr)})
        else:
            i = next((i for i, (x, y) in enumerate(zip(fr, ft)) if x != y), min(len(fr), len(ft)))
            print(f"{n}: differs from token {i} of {len(fr)} (ref) / {len(ft)} (got); {k}/{max(len(r), len(t))} "
                  f"segments the same")
            rows.append({"file": n, "same": False, "first_diff": i, "ref_tokens": len(fr), "got_tokens": len(ft)})
    n_files = len(names)
    print(f"parity: {same}/{n_files} files token-identical ({segs_same}/{segs} segments identical)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"files": rows, "same": same, "n": n_files, "segments_same": segs_same, "segments": segs,
                       "missing": missing}, f, indent=1)
    return 1 if missing or not names else 0


if __name__ == "__main__":
    sys.exit(main())
