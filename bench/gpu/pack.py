#!/usr/bin/env python3
"""Builds .gpu-pack/: what bench/gpu/run.sh needs on the GPU machine and that
the repository does not hold (weights, audio, wheels), losslessly compressed
(bench/gpu/packlib.py) and cut into parts that each fit one device call
(64 MiB per call, the repository's own files included). See bench/gpu/README.md.

    bench/gpu/pack [--models tiny.en[,base]] [--long] [--clip S] [--part-mib M]

Writes .gpu-pack/part1 .. partN (each with the same manifest.json) and prints
the size table. Run it in the checkout the device calls are made from.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, HERE)
import packlib  # noqa: E402

MIB = 1 << 20
SR = 16000
# Wheels that travel (built/downloaded into .gpu-pack-cache/wheels by --fetch-wheels).
WHEELS = {
    # Flax Whisper: transformers 5.x has no Flax models; 4.57.6 needs huggingface_hub<1 and tokenizers<=0.23.0.
    "jax": ["transformers==4.57.6", "huggingface_hub==0.36.0", "tokenizers==0.22.1"],
    # openai-whisper is an sdist on PyPI: `pip wheel` builds the pure-Python wheel.
    "ow": ["openai-whisper==20250625", "more-itertools==10.8.0"],
}
PIP_PLATFORM = ["--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def decode_s16(path):
    import numpy as np
    b = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", str(SR), "-f", "s16le",
                        "-"], check=True, capture_output=True).stdout
    return np.frombuffer(b, "<i2")


def transcripts(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(" ")
            out[k] = v
    return out


def harness_input(shared, name):
    """The samples and metadata of bench/run's input NAME, so that the GPU runs
    decode exactly the samples the CPU matrix uses."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
    import make_inputs
    meta = make_inputs.load_input(name, shared)
    return decode_s16(meta["file"]), meta


def build_quick(shared):
    """quick-5min: bench/run --quick's excerpt (librispeech-test-other-100 utterances in sorted
    order, 0.5 s gaps, as many as fit in 300 s)."""
    s, meta = harness_input(shared, "quick")
    refs = transcripts(os.path.join(shared, "speech/librispeech-test-other-100/transcripts.txt"))
    used = [os.path.splitext(os.path.basename(p["file"]))[0] for p in meta["pieces"]]
    ends = [int(round(p["end"] * SR)) for p in meta["pieces"]]
    return s, [refs[u] for u in used], used, ends


def build_long(shared):
    """long-30min: bench/run's long recording (english-mix-16k-concat.flac, 1 s gap, sorted
    train-clean-100-noref utterances 0.5 s apart until >= 30.5 min)."""
    s, meta = harness_input(shared, "long")
    return s, [os.path.splitext(os.path.basename(p["file"]))[0] for p in meta["pieces"]]


def cached(cache, key, make):
    """{name: bytes} blobs + layout, cached under cache/key/."""
    d = os.path.join(cache, key)
    if os.path.exists(os.path.join(d, "layout.json")):
        with open(os.path.join(d, "layout.json")) as f:
            layout = json.load(f)
        return {n: open(os.path.join(d, n), "rb").read() for n in layout["blobs"]}, layout
    t = time.time()
    blobs, layout = make()
    layout["blobs"] = sorted(blobs)
    os.makedirs(d + ".tmp", exist_ok=True)
    for n, b in blobs.items():
        with open(os.path.join(d + ".tmp", n), "wb") as f:
            f.write(b)
    with open(os.path.join(d + ".tmp", "layout.json"), "w") as f:
        f.write(packlib.dumps(layout))
    shutil.rmtree(d, ignore_errors=True)
    os.replace(d + ".tmp", d)
    log(f"  compressed {key} in {time.time() - t:.0f} s")
    return blobs, layout


def tree_bytes():
    """Bytes that travel with every call without carry: tracked + untracked-not-ignored files."""
    total = 0
    for args in (["ls-files", "-z"], ["ls-files", "-z", "-o", "--exclude-standard"]):
        out = subprocess.run(["git", "-C", ROOT] + args, capture_output=True, check=True).stdout
        for p in out.split(b"\0"):
            if p:
                fp = os.path.join(ROOT, p.decode())
                if os.path.islink(fp):
                    total += len(os.readlink(fp))
                elif os.path.isfile(fp):
                    total += os.path.getsize(fp)
    return total


def fetch_wheels(wdir):
    os.makedirs(wdir, exist_ok=True)
    py = [sys.executable, "-m", "pip"]
    for group, specs in WHEELS.items():
        for spec in specs:
            if spec.startswith("openai-whisper"):
                subprocess.run(py + ["wheel", "-q", "--no-deps", "-w", wdir, spec], check=True)
            else:
                subprocess.run(py + ["download", "-q", "--no-deps", "--only-binary=:all:"] + PIP_PLATFORM +
                               ["-d", wdir, spec], check=True)


def wheel_file(wdir, spec):
    name, ver = spec.split("==")
    norm = name.replace("-", "_").lower()
    for f in sorted(os.listdir(wdir)):
        if f.endswith(".whl") and f.lower().startswith(f"{norm}-{ver}-"):
            return os.path.join(wdir, f)
    raise SystemExit(f"wheel {spec} not in {wdir}: run bench/gpu/pack --fetch-wheels (needs the network)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny.en", help="comma-separated CT2 dirs under models/")
    ap.add_argument("--long", action="store_true", help="also the >= 30.5 min input (long-30min)")
    ap.add_argument("--clip", type=float, default=0,
                    help="cut every input to S seconds (CPU dry runs; quick-5min at an utterance's end)")
    ap.add_argument("--part-mib", type=float, default=0,
                    help="size of one part (default: 64 MiB - what the tree sends - 1 MiB)")
    ap.add_argument("--no-wheels", action="store_true")
    ap.add_argument("--fetch-wheels", action="store_true", help="pip download/build the wheels first")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(ROOT, ".gpu-pack"))
    ap.add_argument("--cache", default=os.path.join(ROOT, ".gpu-pack-cache"))
    args = ap.parse_args()

    blobs = {}  # name -> bytes, in part order
    manifest = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "models": {}, "inputs": {},
                "wheels": {}, "clip_seconds": args.clip or None}
    sizes = []  # (what, original bytes, packed bytes)

    # Audio first: the quick input must be in part 1 if anything is.
    import numpy as np
    log("audio: quick-5min")
    quick, words, used, ends = build_quick(args.shared)
    if args.clip:  # cut at the end of the last whole utterance within the clip, so that the reference holds
        k = max(1, sum(1 for e in ends if e <= args.clip * SR))
        quick, words, used = quick[:ends[k - 1]], words[:k], used[:k]
    inputs = [("quick-5min", quick, " ".join(words), used)]
    if args.long:
        log("audio: long-30min")
        lng, used_l = build_long(args.shared)
        inputs.append(("long-30min", lng, None, used_l))
    for name, s, ref, used in inputs:
        if args.clip:
            s = s[:int(args.clip * SR)]
        key = f"audio-{packlib.sha256(s.tobytes())[:16]}"
        b, layout = cached(args.cache, key, lambda s=s: packlib.encode_audio(s))
        for k, v in b.items():
            blobs[f"{name}.{k}.xz"] = v
        layout = dict(layout, blobs={k: f"{name}.{k}.xz" for k in b}, seconds=len(s) / SR, files=used,
                      reference=ref)
        manifest["inputs"][name] = layout
        sizes.append((f"audio {name} ({len(s) / SR / 60:.1f} min, s16)", 2 * len(s), sum(map(len, b.values()))))

    for m in filter(None, args.models.split(",")):
        src = os.path.join(ROOT, "models", m)
        entry = {"files": {}}
        for f in sorted(os.listdir(src)):
            p = os.path.join(src, f)
            if f.startswith(".") or not os.path.isfile(p):
                continue
            data = open(p, "rb").read()
            if f == "model.bin":
                key = f"ct2-{packlib.sha256(data)[:16]}"
                log(f"weights: {m}/model.bin ({len(data) / MIB:.1f} MiB)")
                b, layout = cached(args.cache, key, lambda data=data: packlib.encode_ct2(data))
                for k, v in b.items():
                    blobs[f"{m}.model.bin.{k}.xz"] = v
                entry["files"][f] = dict(layout, blobs={k: f"{m}.model.bin.{k}.xz" for k in b})
                sizes.append((f"{m} model.bin (fp16 planes, xz)", len(data), sum(map(len, b.values()))))
            else:
                c = packlib.xz(data)
                blobs[f"{m}.{f}.xz"] = c
                entry["files"][f] = {"codec": "xz", "size": len(data), "sha256": packlib.sha256(data),
                                     "blobs": {"xz": f"{m}.{f}.xz"}}
                sizes.append((f"{m} {f} (xz)", len(data), len(c)))
        manifest["models"][m] = entry

    if not args.no_wheels:
        wdir = os.path.join(args.cache, "wheels")
        if args.fetch_wheels:
            fetch_wheels(wdir)
        for group, specs in WHEELS.items():
            manifest["wheels"][group] = []
            for spec in specs:
                p = wheel_file(wdir, spec)
                data = open(p, "rb").read()
                blobs[os.path.basename(p)] = data
                manifest["wheels"][group].append(os.path.basename(p))
                sizes.append((f"wheel {os.path.basename(p)}", len(data), len(data)))

    # Cut into parts: every blob is cut into chunks at part boundaries.
    tree = tree_bytes()
    part_max = int(args.part_mib * MIB) if args.part_mib else 64 * MIB - tree - MIB
    if part_max < 4 * MIB:
        raise SystemExit(f"the tree already sends {tree / MIB:.1f} MiB: no room for a part")
    shutil.rmtree(args.out, ignore_errors=True)
    part, room, chunks = 1, part_max - 64 * 1024, {}  # 64 KiB for the manifest
    for name, data in blobs.items():
        off, i = 0, 0
        chunks[name] = {"size": len(data), "sha256": packlib.sha256(data), "chunks": []}
        while off < len(data):
            if room <= 0:
                part, room = part + 1, part_max - 64 * 1024
            n = min(room, len(data) - off)
            fn = f"{name}.{i:03d}"
            d = os.path.join(args.out, f"part{part}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, fn), "wb") as f:
                f.write(data[off:off + n])
            chunks[name]["chunks"].append([part, fn, n])
            off, room, i = off + n, room - n, i + 1
    manifest["parts"] = part
    manifest["blobs"] = chunks
    for k in range(1, part + 1):
        with open(os.path.join(args.out, f"part{k}", "manifest.json"), "w") as f:
            f.write(packlib.dumps(manifest))

    log("")
    print("| what | original | packed |\n| --- | ---: | ---: |")
    for what, a, b in sizes:
        print(f"| {what} | {a / MIB:.2f} MiB | {b / MIB:.2f} MiB |")
    total = sum(b for _, _, b in sizes)
    print(f"| **all packed** | {sum(a for _, a, _ in sizes) / MIB:.2f} MiB | {total / MIB:.2f} MiB |")
    print(f"\nthe tree sends {tree / MIB:.2f} MiB with every call; one part holds at most {part_max / MIB:.2f} MiB")
    for k in range(1, part + 1):
        d = os.path.join(args.out, f"part{k}")
        n = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{os.path.relpath(d, ROOT)}: {n / MIB:.2f} MiB -> call {k}: {(n + tree) / MIB:.2f} MiB of 64")
    print(f"\n{part} device call(s), each `bash bench/gpu/run.sh` with carry=['.gpu-pack/partK'], "
          f"K = 1..{part}, one right after the other (the machine stays warm 30 s)")


if __name__ == "__main__":
    main()
