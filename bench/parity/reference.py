#!/usr/bin/env python3
"""Runs the reference, openai-whisper transcribe() (PyTorch, CPU, fp32, Python
API defaults: greedy, fallback, conditioning), on the CTranslate2 weights that
cwhisper loads, over audio files; writes one JSON line per file (file, text,
language, segments with tokens) and a summary line with the load and
transcription seconds, threads and peak RSS.

usage: reference.py MODEL_DIR OUT.jsonl [--threads N] [--language L] FILE..."""
import argparse
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/fixtures"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--language", default=None)
    ap.add_argument("--beam-size", type=int, default=None)
    ap.add_argument("--best-of", type=int, default=None)
    ap.add_argument("--initial-prompt", default=None)
    ap.add_argument("--detect-only", action="store_true", help="only detect the language")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    import torch
    import whisper
    import ct2_reader
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = ct2_reader.load_openai_model(a.model_dir)
    load_s = time.perf_counter() - t0
    total = 0.0
    with open(a.out + ".tmp", "w") as out:
        for f in a.files:
            t = time.perf_counter()
            if a.detect_only:
                audio = whisper.pad_or_trim(whisper.load_audio(f))
                mel = whisper.log_mel_spectrogram(audio, model.dims.n_mels)
                _, probs = model.detect_language(mel)
                lang = max(probs, key=probs.get)
                rec = {"file": f, "language": lang, "probability": probs[lang]}
            else:
                r = model.transcribe(f, fp16=False, language=a.language, beam_size=a.beam_size,
                                     best_of=a.best_of, initial_prompt=a.initial_prompt)
                rec = {"file": f, "text": r["text"], "language": r["language"],
                       "segments": [{k: s[k] for k in ("id", "seek", "start", "end", "text", "tokens",
                                                        "temperature", "avg_logprob",
                                                        "compression_ratio", "no_speech_prob")}
                                    for s in r["segments"]]}
            dt = time.perf_counter() - t
            total += dt
            rec["seconds"] = dt
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            print(f"{os.path.basename(f)}: {dt:.2f}s", file=sys.stderr)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        out.write(json.dumps({"summary": True, "implementation": "openai-whisper",
                              "version": whisper.__version__, "torch": torch.__version__,
                              "threads": a.threads, "load_seconds": load_s,
                              "transcribe_seconds": total, "peak_rss_bytes": rss}) + "\n")
    os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
