#!/usr/bin/env python3
"""Compares two JSON-lines transcript sets (reference.py vs cwhisper.py):
per file, whether the token sequences are equal and, where not, the first
differing position; writes each side's texts as `<file-id> <text>` lines
(hyps-REF.txt, hyps-CW.txt beside OUT_PREFIX) for `cwhisper eval`.

usage: compare.py REF.jsonl CW.jsonl OUT_PREFIX"""
import json
import os
import sys


def load(path):
    files, summary = {}, None
    for line in open(path):
        r = json.loads(line)
        if r.get("summary"):
            summary = r
        else:
            files[os.path.splitext(os.path.basename(r["file"]))[0]] = r
    return files, summary


def tokens(r):
    return [t for s in r.get("segments", []) for t in s["tokens"]]


def main():
    ref, ref_sum = load(sys.argv[1])
    cw, cw_sum = load(sys.argv[2])
    prefix = sys.argv[3]
    same, diffs = 0, []
    for fid in sorted(ref):
        a, b = tokens(ref[fid]), tokens(cw.get(fid, {}))
        if a == b:
            same += 1
            continue
        k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        diffs.append({"file": fid, "position": k, "ref_len": len(a), "cw_len": len(b),
                      "ref_token": a[k] if k < len(a) else None, "cw_token": b[k] if k < len(b) else None})
    for side, data in (("REF", ref), ("CW", cw)):
        with open(f"{prefix}hyps-{side}.txt", "w") as f:
            for fid in sorted(data):
                f.write(f"{fid} {data[fid].get('text', '').strip()}\n")
    lang_same = sum(1 for fid in ref if ref[fid].get("language") == cw.get(fid, {}).get("language"))
    lang_diff = {fid: [ref[fid].get("language"), cw.get(fid, {}).get("language")] for fid in ref
                 if ref[fid].get("language") != cw.get(fid, {}).get("language")}
    out = {"files": len(ref), "identical": same, "identical_pct": 100.0 * same / max(1, len(ref)),
           "language_agreement": lang_same, "language_differences": lang_diff,
           "differing": diffs, "reference": ref_sum, "cwhisper": cw_sum}
    json.dump(out, open(prefix + "parity.json", "w"), indent=1)
    print(f"token parity: {same}/{len(ref)} files identical ({out['identical_pct']:.1f}%); "
          f"language: {lang_same}/{len(ref)} agree {lang_diff if lang_diff else ''}")
    for d in diffs:
        print(f"  {d['file']}: first difference at token {d['position']} "
              f"(reference {d['ref_token']}, cwhisper {d['cw_token']}; lengths {d['ref_len']}/{d['cw_len']})")


if __name__ == "__main__":
    main()
