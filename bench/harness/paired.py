#!/usr/bin/env python3
"""How sure a WER difference on the short sets is: a paired bootstrap.

usage: paired.py A.json B.json [--reps N] [--seed S]

A and B are raw records of the `short` job (bench/results/*/raw/*__short.json)
over the same files. Each file's errors and reference words come from
`cwhisper eval --verbose` (the normaliser and alignment report.py uses); the
files are resampled with replacement N times (default 10000, fixed seed), the
same draw for A and B, and the pooled WER difference A - B recomputed each
time. Prints both WERs, the difference, its 95% interval and the share of
draws in which A was worse. An interval that straddles 0 means the 132 files
cannot tell the two apart: on these sets a change of one ulp in int8
dequantization moved tiny.en's WER by 0.9 points.
"""
import argparse
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from report import eval_stdout, hyp_texts, short_refs  # noqa: E402

LINE = re.compile(r"^(\S+) WER [0-9.]+% \(S (\d+), D (\d+), I (\d+), N (\d+)\)$")


def per_file(refs, hyps):
    """{id: (errors, words)} from cwhisper eval --verbose."""
    out = eval_stdout(refs, hyps, "--verbose")
    counts = {}
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if m:
            s, d, i, n = (int(x) for x in m.groups()[1:])
            counts[m.group(1)] = (s + d + i, n)
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--reps", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    refs = short_refs()
    recs = []
    for p in (args.a, args.b):
        with open(p, encoding="utf-8") as f:
            texts, _ = hyp_texts(json.load(f), {})
        recs.append(per_file({k: refs[k] for k in texts if k in refs}, texts))
    ids = sorted(set(recs[0]) & set(recs[1]))
    if not ids:
        sys.exit("paired.py: the two records share no scored file")
    ea = [recs[0][k][0] for k in ids]
    eb = [recs[1][k][0] for k in ids]
    nw = [recs[0][k][1] for k in ids]
    wa, wb = sum(ea) / sum(nw), sum(eb) / sum(nw)
    rng = random.Random(args.seed)
    diffs = []
    for _ in range(args.reps):
        pick = [rng.randrange(len(ids)) for _ in ids]
        n = sum(nw[i] for i in pick)
        diffs.append((sum(ea[i] for i in pick) - sum(eb[i] for i in pick)) / n)
    diffs.sort()
    lo, hi = diffs[int(0.025 * args.reps)], diffs[int(0.975 * args.reps) - 1]
    worse = sum(d > 0 for d in diffs) / args.reps
    print(f"files {len(ids)}, words {sum(nw)}: A {100 * wa:.2f}% ({sum(ea)} errors), B {100 * wb:.2f}% ({sum(eb)})")
    print(f"A - B = {100 * (wa - wb):+.2f} points, 95% interval [{100 * lo:+.2f}, {100 * hi:+.2f}] "
          f"({args.reps} paired resamples of the files); A worse in {100 * worse:.0f}% of them")


if __name__ == "__main__":
    main()
