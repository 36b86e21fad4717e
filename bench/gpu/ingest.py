#!/usr/bin/env python3
"""Files the records of a bench/gpu/run.sh call ($OUT/gpu-raw.jsonl[.gz]) into
a bench/run results folder, as raw/<cell>__gpu-<input>.json with the harness
fields report.py reads, so that time.png gets its GPU panel and results.csv
its cuda rows. Then run bench/harness/report.py on the folder.

usage: bench/gpu/ingest.py GPU_RAW_JSONL RESULTS_DIR
"""
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import matrix  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    opener = gzip.open if src.endswith(".gz") else open
    os.makedirs(os.path.join(out, "raw"), exist_ok=True)
    n = 0
    with opener(src, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            g = rec.get("harness", {})
            kind = "quick" if g.get("input", "").startswith("quick") else "long"
            impl = g.get("impl") or rec.get("implementation")
            c = matrix.cell(impl, g.get("model"), g.get("dtype"), g.get("batch_size") or 1, g.get("preset", "greedy"),
                            device="cuda")
            rec["harness"] = dict(c, cell=matrix.cell_id(c), job=f"gpu-{kind}-p1", input=kind, threads=None,
                                  process_wall_seconds=g.get("step_wall_seconds"), gpu=g.get("gpu"),
                                  started=g.get("date"), gpu_harness=g,
                                  machine={"cpu": g.get("gpu"), "date": (g.get("date") or "")[:10]})
            path = os.path.join(out, "raw", f"{matrix.cell_id(c)}__gpu-{kind}-p1.json")
            with open(path + ".tmp", "w", encoding="utf-8") as o:
                json.dump(rec, o, ensure_ascii=False, indent=1)
            os.replace(path + ".tmp", path)
            n += 1
    print(f"ingest: {n} GPU records into {out}/raw", file=sys.stderr)


if __name__ == "__main__":
    main()
