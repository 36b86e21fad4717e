"""What every peer adapter shares: the one command line, thread pinning,
timing, peak RSS, the weight conversions (cached) and the one JSON output.

An adapter defines
    NAME                      its implementation name in the JSON
    versions() -> dict        library versions (called after load)
    load(args, cfg) -> model  loads the model; fills cfg with what it really uses
    transcribe(model, path, args, cfg) -> (text, [{"start","end","text"}, ...])
and ends with `common.main(NAME, load, transcribe, versions)`.

Command line (the same for every adapter):
    --model DIR       a CTranslate2 Whisper directory (models/tiny.en); each
                      adapter converts it to its own format once (cached under
                      models/peers/NAME/), so every peer runs the same weights
    --device cpu|cuda --dtype fp32|fp16|bf16|int8 --batch-size N
    --beam-size N     default 1
    --threads N       every library is told N, and the process is pinned to N
                      CPUs (sched_setaffinity), so no peer can use more
    --preset greedy|reference
                      greedy: beam --beam-size, temperature 0 only (no
                      fallback), no conditioning on the previous text, where
                      the peer has those knobs; reference: openai-whisper
                      transcribe() defaults (temperatures 0,0.2..1.0,
                      compression 2.4, logprob -1, no-speech 0.6,
                      conditioning)
    --language L      default: en for English-only models, else detect
    --repeat N        transcribe the files N times in the one process (the
                      first run against the later ones; default 1)
    --repeat-budget S stop repeating once another run (as long as the last
                      one) would end more than S seconds after run 1 began
                      (0: no limit); the cut is recorded as repeat_cut
    --out OUT.json    FILE...

Output (one JSON per run): implementation, versions, config (what was used),
load_seconds, transcribe_seconds (all files, audio decoding included),
peak_rss_bytes (this process and its waited-for children), files [{file,
text, segments [{start, end, text}], seconds}] (of the first run); with
--repeat N also repeat_transcribe_seconds [run 1, ..., run N] and
repeat_text_differs where a later run's text changed, repeat_cut where
--repeat-budget stopped the runs early. On failure: the same object
with "error" (one line), and exit status 1; the reason also goes to stderr.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
TEMPERATURES = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
REFERENCE = {"temperatures": TEMPERATURES, "compression_ratio_threshold": 2.4,
             "logprob_threshold": -1.0, "no_speech_threshold": 0.6, "condition_on_previous_text": True}


class Unavailable(Exception):
    """The peer cannot run this configuration here (one-line reason)."""


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="bench/peers adapter (common command line)")
    ap.add_argument("--model", required=True, help="CTranslate2 Whisper directory")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--dtype", choices=["fp32", "fp16", "bf16", "int8"], default="fp32")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--preset", choices=["greedy", "reference"], default="greedy")
    ap.add_argument("--language", default=None)
    ap.add_argument("--repeat", type=int, default=1,
                    help="transcribe the files N times in this process (first run vs later ones)")
    ap.add_argument("--repeat-budget", type=float, default=0,
                    help="seconds: no further run once another would end after this (0: no limit)")
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    return ap.parse_args(argv)


def model_name(model_dir):
    return os.path.basename(os.path.normpath(model_dir))


def is_multilingual(model_dir):
    return _n_vocab(model_dir) >= 51865


def _n_vocab(model_dir):
    for name in ("vocabulary.json", "vocabulary.txt"):
        p = os.path.join(model_dir, name)
        if os.path.exists(p):
            with open(p, encoding="utf-8", newline="\n") as f:
                if name.endswith(".json"):
                    return len(json.load(f))
                lines = f.read().split("\n")
                return len(lines) - (1 if lines[-1] == "" else 0)
    return 51865


def language(args):
    if args.language:
        return args.language
    return None if is_multilingual(args.model) else "en"


def converted(model_dir, kind):
    """Path of the model converted for a peer ("hf" dir or "ggml" file), made once
    by bench/convert/ from the same CT2 files; the conversion is not timed."""
    out = os.path.join(ROOT, "models", "peers", model_name(model_dir))
    os.makedirs(out, exist_ok=True)
    if kind == "hf":
        path = os.path.join(out, "hf")
        if not os.path.exists(os.path.join(path, "tokenizer_config.json")):
            subprocess.run([sys.executable, os.path.join(ROOT, "bench/convert/ct2_to_hf.py"), model_dir, path],
                           check=True)
    elif kind == "ggml":
        path = os.path.join(out, "ggml-f16.bin")
        if not os.path.exists(path):
            subprocess.run([sys.executable, os.path.join(ROOT, "bench/convert/ct2_to_ggml.py"), model_dir, path],
                           check=True)
    else:
        raise ValueError(kind)
    return path


def decode_16k(path):
    """Mono 16 kHz float32 samples of any audio file, through the ffmpeg
    program (as openai-whisper's load_audio does), for peers that accept
    only 16 kHz input."""
    import subprocess

    import numpy as np
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1",
                        "-ar", "16000", "-"], capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"ffmpeg cannot decode {path}: {p.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(p.stdout, np.int16).astype(np.float32) / 32768.0


def pin_threads(n):
    """Tells every threading library n threads (before they are imported) and
    pins the process to n CPUs. Returns the CPUs used."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "CT2_INTRA_THREADS"):
        os.environ[var] = str(n)
    if n == 1:  # XLA has no thread-count flag; its pools size themselves to the CPUs in the affinity mask
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cpus = sorted(os.sched_getaffinity(0))
    if n < len(cpus):
        cpus = cpus[:n]
        os.sched_setaffinity(0, cpus)
    return cpus


def peak_rss():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) * 1024


def write(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main(name, load, transcribe, versions, finish=None, repeatable=True, converts=None):
    """finish(result), if given, may correct the timings of a successful run
    (cwhisper: one process does all files). repeatable=False: the adapter
    cannot time --repeat runs in one process. converts ("hf" or "ggml"): the
    format load() gets from converted(); made here, before the load timer
    starts, so a fresh machine's first run does not count the conversion."""
    args = parse_args()
    # Offline: nothing may come from a model hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    cpus = pin_threads(args.threads)
    cfg = {"device": args.device, "dtype": args.dtype, "batch_size": args.batch_size, "repeat": args.repeat,
           "beam_size": args.beam_size, "threads": args.threads, "cpu_affinity": cpus,
           "preset": args.preset, "model": os.path.abspath(args.model), "language": language(args)}
    if args.preset == "reference":
        cfg.update(REFERENCE)
    else:
        cfg.update({"temperatures": [0.0], "condition_on_previous_text": False})
    result = {"implementation": name, "versions": {}, "config": cfg, "load_seconds": None,
              "transcribe_seconds": None, "peak_rss_bytes": None, "files": []}
    status = 0
    try:
        if converts:
            t = time.perf_counter()
            converted(args.model, converts)
            result["conversion_seconds"] = time.perf_counter() - t  # 0 when already made
        t = time.perf_counter()
        model = load(args, cfg)
        result["load_seconds"] = time.perf_counter() - t
        try:
            result["versions"] = versions()
        except Exception as e:  # noqa: BLE001 - versions are informative only
            result["versions"] = {"error": str(e)}
        if args.repeat > 1 and not repeatable:
            raise Unavailable(f"{name} cannot time a second run in the same process (--repeat 1 only)")
        repeats = []
        t_runs = time.perf_counter()
        for run in range(args.repeat):
            if run and args.repeat_budget > 0 and time.perf_counter() - t_runs + repeats[-1] > args.repeat_budget:
                result["repeat_cut"] = (f"{run} of {args.repeat} runs: one more (~{repeats[-1]:.0f} s) would pass "
                                        f"the --repeat-budget of {args.repeat_budget:.0f} s")
                print(f"{name}: {result['repeat_cut']}", file=sys.stderr)
                break
            total = 0.0
            for path in args.files:
                t = time.perf_counter()
                text, segments = transcribe(model, path, args, cfg)
                dt = time.perf_counter() - t
                total += dt
                if run == 0:
                    result["files"].append({"file": path, "text": text, "seconds": dt,
                                            "segments": [{"start": s["start"], "end": s["end"], "text": s["text"]}
                                                         for s in segments]})
                elif text != result["files"][args.files.index(path)]["text"]:
                    result.setdefault("repeat_text_differs", []).append({"run": run + 1, "file": path})
                print(f"{name}: run {run + 1}: {os.path.basename(path)}: {dt:.2f}s: {text.strip()[:100]}",
                      file=sys.stderr)
            repeats.append(total)
        result["transcribe_seconds"] = repeats[0]
        if args.repeat > 1:
            result["repeat_transcribe_seconds"] = repeats
            cfg["repeat_done"] = len(repeats)
        if finish:
            finish(result)
    except Exception as e:  # noqa: BLE001 - every failure becomes a JSON with "error"
        reason = f"{type(e).__name__}: {e}".replace("\n", " ")[:500]
        if not isinstance(e, Unavailable):
            traceback.print_exc(file=sys.stderr)
        result["error"] = reason
        if not result["versions"]:
            try:
                result["versions"] = versions()
            except Exception:  # noqa: BLE001
                pass
        print(f"{name}: error: {reason}", file=sys.stderr)
        status = 1
    result["peak_rss_bytes"] = peak_rss()
    write(args.out, result)
    sys.exit(status)


def dist_versions(*names):
    """{distribution: version} for the installed ones."""
    from importlib import metadata
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    out["python"] = sys.version.split()[0]
    return out
