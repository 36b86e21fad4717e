#!/usr/bin/env python3
"""GPU side of bench/gpu/pack (stdlib + numpy).

    unpack.py stage PACK_DIR STAGE   copy the carried part(s) into STAGE, which
                                     outlives the call while the machine is warm;
                                     exit 0 when every part is there, 3 if not
    unpack.py unpack STAGE WORK      rebuild WORK/models/NAME/ (CT2 files, each
                                     checked by sha256), WORK/audio/INPUT.wav,
                                     WORK/wheels/GROUP/*.whl;
                                     writes WORK/inputs.json (seconds, reference)
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import packlib  # noqa: E402


def manifest_of(d):
    with open(os.path.join(d, "manifest.json")) as f:
        return json.load(f)


def missing_parts(stage, m):
    miss = set()
    for b in m["blobs"].values():
        for part, fn, n in b["chunks"]:
            p = os.path.join(stage, fn)
            if not os.path.exists(p) or os.path.getsize(p) != n:
                miss.add(part)
    return sorted(miss)


def stage(pack, st):
    parts = sorted(d for d in os.listdir(pack) if d.startswith("part")) if os.path.isdir(pack) else []
    m = None
    for d in parts:
        m = manifest_of(os.path.join(pack, d))
        if os.path.exists(os.path.join(st, "manifest.json")) and manifest_of(st)["created"] != m["created"]:
            print(f"stage: {st} holds another pack ({manifest_of(st)['created']}): emptied")
            shutil.rmtree(st)
        os.makedirs(st, exist_ok=True)
        for fn in os.listdir(os.path.join(pack, d)):
            shutil.copyfile(os.path.join(pack, d, fn), os.path.join(st, fn))
        print(f"stage: {d} copied into {st}")
    if m is None:
        if not os.path.exists(os.path.join(st, "manifest.json")):
            print(f"stage: no part carried ({pack}/partK) and nothing staged in {st}")
            return 3
        m = manifest_of(st)
    miss = missing_parts(st, m)
    if miss:
        print(f"stage: {m['parts'] - len(miss)} of {m['parts']} parts staged; still to carry: "
              + ", ".join(f".gpu-pack/part{k}" for k in miss))
        return 3
    print(f"stage: all {m['parts']} part(s) staged (pack of {m['created']})")
    return 0


def blob(st, m, name):
    b = m["blobs"][name]
    data = b"".join(open(os.path.join(st, fn), "rb").read() for _, fn, _ in b["chunks"])
    if packlib.sha256(data) != b["sha256"]:
        raise SystemExit(f"{name}: sha256 differs: pack damaged")
    return data


def unpack(st, work):
    m = manifest_of(st)
    os.makedirs(work, exist_ok=True)
    for name, entry in m["models"].items():
        d = os.path.join(work, "models", name)
        os.makedirs(d, exist_ok=True)
        for fn, f in entry["files"].items():
            blobs = {k: blob(st, m, v) for k, v in f["blobs"].items()}
            if f["codec"] == "ct2planes":
                data = packlib.decode_ct2(blobs, f)
            else:
                data = packlib.unxz(blobs["xz"])
                if packlib.sha256(data) != f["sha256"]:
                    raise SystemExit(f"{name}/{fn}: sha256 differs")
            with open(os.path.join(d, fn), "wb") as out:
                out.write(data)
        print(f"unpack: models/{name}: {', '.join(entry['files'])} (sha256 as packed)")
    inputs = {}
    os.makedirs(os.path.join(work, "audio"), exist_ok=True)
    for name, f in m["inputs"].items():
        s = packlib.decode_audio({k: blob(st, m, v) for k, v in f["blobs"].items()}, f)
        p = os.path.join(work, "audio", name + ".wav")
        packlib.write_wav(p, s)
        inputs[name] = {"wav": p, "seconds": f["seconds"], "reference": f.get("reference"), "files": f["files"]}
        print(f"unpack: audio/{name}.wav: {f['seconds']:.1f} s (sha256 as packed)")
    with open(os.path.join(work, "inputs.json"), "w") as out:
        json.dump(inputs, out, indent=1)
    for group, names in m["wheels"].items():
        d = os.path.join(work, "wheels", group)
        os.makedirs(d, exist_ok=True)
        for n in names:
            with open(os.path.join(d, n), "wb") as out:
                out.write(blob(st, m, n))
        print(f"unpack: wheels/{group}: {' '.join(names)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "stage":
        sys.exit(stage(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "unpack":
        sys.exit(unpack(sys.argv[2], sys.argv[3]))
    raise SystemExit(__doc__)
