#!/usr/bin/env python3
"""Markdown summary of a bench/parity/run.sh result folder: per set, token
parity, language agreement and WER of both sides (from `cwhisper eval`,
Whisper's English normaliser in C), the first difference of each differing
file with the reference's top-2 logit gap there, and the totals over all sets
(WER pooled over every reference word).

usage: summarize.py RESULT_DIR CWHISPER_BINARY > RESULT_DIR/README.md"""
import json
import os
import re
import subprocess
import sys
import tempfile


def wer_line(cli, refs, hyps):
    out = subprocess.run([cli, "eval", "--refs", refs, "--hyps", hyps], capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else "n/a"


def wer_pct(line):
    m = re.search(r"WER ([0-9.]+)%", line)
    return f"{float(m.group(1)):.2f}%" if m else "n/a"


def main():
    d, cli = sys.argv[1], sys.argv[2]
    sets = sorted(s for s in os.listdir(d) if os.path.exists(os.path.join(d, s, "parity.json")))
    print(f"# Parity with openai-whisper: {os.path.basename(os.path.normpath(d))}\n")
    print("Reference: openai-whisper transcribe() (PyTorch, CPU, fp32, Python API defaults) on the same CT2 "
          "weights; cwhisper `transcribe` with its defaults (the same algorithm). 2 threads each. "
          "Made by `bench/parity/run.sh`; this page by `bench/parity/summarize.py`.\n")
    print("| set | files | identical tokens | language agrees | WER reference | WER cwhisper |")
    print("|---|---|---|---|---|---|")
    tot_files = tot_same = 0
    pooled = {"REF": [], "CW": []}
    refs_all = []
    notes = []
    for s in sets:
        p = json.load(open(os.path.join(d, s, "parity.json")))
        tot_files += p["files"]
        tot_same += p["identical"]
        refs = os.path.join(d, s, "refs.txt")
        w = {}
        for side in ("REF", "CW"):
            hyps = os.path.join(d, s, f"hyps-{side}.txt")
            w[side] = wer_line(cli, refs, hyps) if os.path.getsize(refs) else "n/a"
            if os.path.getsize(refs):
                pooled[side].append(hyps)
        if os.path.getsize(refs):
            refs_all.append(refs)
        la = p.get("language_agreement", p["files"])
        print(f"| {s} | {p['files']} | {p['identical']} ({p['identical_pct']:.1f}%) | {la}/{p['files']} | "
              f"{wer_pct(w['REF'])} | {wer_pct(w['CW'])} |")
        for x in p["differing"]:
            why = x.get("note") or (f"reference top-2 gap {x['gap']:.4f}" if x.get("gap") is not None else "gap not computed")
            notes.append(f"- {s}/{x['file']}: first difference at token {x['position']} "
                         f"(reference {x['ref_token']}, cwhisper {x['cw_token']}): {why}")
    with tempfile.TemporaryDirectory() as t:
        def cat(paths, name):
            out = os.path.join(t, name)
            with open(out, "w") as f:
                for q in paths:
                    f.write(open(q).read())
            return out
        r = cat(refs_all, "refs.txt")
        tw = {side: wer_line(cli, r, cat(pooled[side], side + ".txt")) for side in pooled}
    print(f"| **all** | {tot_files} | {tot_same} ({100.0 * tot_same / max(1, tot_files):.1f}%) | | "
          f"{wer_pct(tw['REF'])} | {wer_pct(tw['CW'])} |\n")
    print(f"Pooled WER: reference `{tw['REF']}`; cwhisper `{tw['CW']}`.\n")
    if notes:
        print("Files whose tokens differ:\n")
        print("\n".join(notes))


if __name__ == "__main__":
    main()
