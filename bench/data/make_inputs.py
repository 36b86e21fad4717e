#!/usr/bin/env python3
"""Builds the harness's inputs from ../shared/speech (nothing is copied into
the repo: the outputs go to bench/.data/, git-ignored), deterministically:

  long.flac    >= 30 minutes: longform/english-mix-16k-concat.flac (22.7 min,
               3,184 reference words), 1 s of silence, then the
               librispeech-train-clean-100-noref utterances in sorted order,
               0.5 s apart, until the whole is at least --minutes (30.5) long.
  quick.flac   the 5-minute excerpt of `bench/run --quick`: the
               librispeech-test-other-100 utterances in sorted order, 0.5 s
               apart, as many as fit in --quick-seconds (300).

Each FILE.flac gets FILE.json: duration, the pieces with their offsets, and
the reference text of the part that has one (long: the english-mix part,
which ends at `scored_until` seconds; quick: all of it). The harness scores a
long run's WER on its words before `scored_until`, and its word
agreement with the reference implementation on everything.

Audio goes through the ffmpeg program exactly as openai-whisper loads it
(`ffmpeg -i F -ac 1 -ar 16000 -f s16le`), is joined as 16-bit PCM and written
as 16 kHz mono FLAC (lossless), so every peer decodes the same samples.

usage: bench/data/make_inputs.py [--shared DIR] [--out DIR] [--minutes 30.5]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
SR = 16000


def pcm(path):
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", str(SR),
                        "-f", "s16le", "-"], capture_output=True)
    if p.returncode != 0 or not p.stdout:
        sys.exit(f"make_inputs: {path}: ffmpeg failed: {p.stderr.decode(errors='replace').strip()[:200]}")
    return p.stdout


def silence(seconds):
    return bytes(2 * int(round(seconds * SR)))


def transcripts(set_dir):
    refs = {}
    with open(os.path.join(set_dir, "transcripts.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip():
                fid, _, text = line.partition(" ")
                refs[fid] = text
    return refs


def write_input(out_dir, name, chunks, meta):
    """Joins the PCM chunks, writes NAME.flac (temp name, then rename) and NAME.json."""
    data = b"".join(chunks)
    flac = os.path.join(out_dir, name + ".flac")
    tmp = flac + ".tmp.flac"
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "s16le", "-ar", str(SR), "-ac", "1",
                        "-i", "-", "-c:a", "flac", tmp], input=data, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"make_inputs: writing {flac}: {p.stderr.decode(errors='replace').strip()[:200]}")
    os.replace(tmp, flac)
    meta.update({"file": flac, "duration": len(data) / 2 / SR, "pcm_sha256": hashlib.sha256(data).hexdigest()})
    with open(os.path.join(out_dir, name + ".json.tmp"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
    os.replace(os.path.join(out_dir, name + ".json.tmp"), os.path.join(out_dir, name + ".json"))
    print(f"{flac}: {meta['duration'] / 60:.2f} min, {len(meta['pieces'])} pieces", file=sys.stderr)


def make_long(speech, out_dir, minutes):
    mix_path = os.path.join(speech, "longform/audio/english-mix-16k-concat.flac")
    mix = pcm(mix_path)
    mix_ref = transcripts(os.path.join(speech, "longform"))["english-mix-16k-concat"]
    chunks, pieces = [mix, silence(1.0)], [{"file": mix_path, "start": 0.0, "end": len(mix) / 2 / SR}]
    t = len(mix) / 2 / SR + 1.0
    noref = os.path.join(speech, "librispeech-train-clean-100-noref/audio")
    for name in sorted(os.listdir(noref)):
        if t >= minutes * 60:
            break
        a = pcm(os.path.join(noref, name))
        if pieces[-1]["file"] != mix_path:
            chunks.append(silence(0.5))
            t += 0.5
        chunks.append(a)
        pieces.append({"file": os.path.join(noref, name), "start": t, "end": t + len(a) / 2 / SR})
        t += len(a) / 2 / SR
    if t < minutes * 60:
        sys.exit(f"make_inputs: only {t / 60:.1f} min of audio available, {minutes} asked")
    write_input(out_dir, "long", chunks, {"pieces": pieces, "scored_until": pieces[0]["end"] + 0.5,
                                          "reference": mix_ref,
                                          "made_by": "bench/data/make_inputs.py"})


def make_quick(speech, out_dir, seconds):
    d = os.path.join(speech, "librispeech-test-other-100")
    refs = transcripts(d)
    chunks, pieces, texts, t = [], [], [], 0.0
    for name in sorted(os.listdir(os.path.join(d, "audio"))):
        a = pcm(os.path.join(d, "audio", name))
        gap = 0.5 if chunks else 0.0
        if t + gap + len(a) / 2 / SR > seconds:
            break
        if gap:
            chunks.append(silence(gap))
        t += gap
        chunks.append(a)
        pieces.append({"file": os.path.join(d, "audio", name), "start": t, "end": t + len(a) / 2 / SR})
        t += len(a) / 2 / SR
        texts.append(refs[os.path.splitext(name)[0]])
    write_input(out_dir, "quick", chunks, {"pieces": pieces, "scored_until": t + 1.0, "reference": " ".join(texts),
                                           "made_by": "bench/data/make_inputs.py"})


def load_input(name, shared=None):
    """The metadata of bench/.data/NAME (long or quick), made first if missing:
    the one loader that bench/run, its report and bench/gpu/pack share."""
    path = os.path.join(ROOT, "bench", ".data", name + ".json")
    if not os.path.exists(path):
        cmd = [sys.executable, os.path.abspath(__file__), "--only", name]
        subprocess.run(cmd + (["--shared", shared] if shared else []), check=True)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.environ.get("CW_SHARED_DIR", os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", ".data"))
    ap.add_argument("--minutes", type=float, default=30.5)
    ap.add_argument("--quick-seconds", type=float, default=300.0)
    ap.add_argument("--only", choices=["long", "quick"])
    a = ap.parse_args()
    speech = os.path.join(a.shared, "speech")
    if not os.path.isdir(speech):
        sys.exit(f"make_inputs: {speech}: no such directory (set --shared or CW_SHARED_DIR)")
    os.makedirs(a.out, exist_ok=True)
    if a.only in (None, "quick"):
        make_quick(speech, a.out, a.quick_seconds)
    if a.only in (None, "long"):
        make_long(speech, a.out, a.minutes)


if __name__ == "__main__":
    main()
