#!/usr/bin/env python3
"""cwhisper: runs build/cwhisper (or $CWHISPER) `transcribe` once over all
files (the model loaded once) with --output-format json, on the CT2
directory itself.

Modes: CPU. Long form from $CWHISPER_LONG_FORM (the matrix's
"cwhisper-chunked" label sets it): "sequential" (default; OpenAI's seek loop;
with --batch-size N > 1 and several files, `--batch-size N`: N files decoded
in lockstep, each file's output exactly its one-file output; the per-file
seconds are then the time since the previous file finished) or "chunked" (`--long-form chunked --batch-size N`: the
HF pipeline / whisper-jax algorithm, 30 s chunks with 5 s strides, N chunks
per encoder call and decoding, greedy, no fallback, no conditioning, so both
presets run the same decoding there). --dtype other than fp32 is passed on
as `--dtype X` (cwhisper's low-precision weights); fp32 passes nothing. The
--device cuda is passed on (the CUDA back end; without a usable GPU cwhisper
exits with the reason). greedy
preset (sequential): --no-fallback --no-condition-on-previous-text (beam
--beam-size; $CWHISPER_CONDITION=1 keeps the conditioning); reference preset: cwhisper's defaults, which are
openai-whisper transcribe()'s.

Timing: `cwhisper transcribe --print-timings` prints the model load and each
file's wall time (audio decoding, log-mel, transcription, writing the JSON)
on stderr; the adapter reads them. --repeat N passes the file list N times to
the one process (the model loaded once), so run 1 is the process's first run
and runs 2..N the later ones; config.process_wall_seconds is the whole
process. Peak RSS is the child's (wait4's rusage). The text checked against
run 1 for the later runs is the last run's (the outputs share one name).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

NAME = "cwhisper"
LONG_FORM = os.environ.get("CWHISPER_LONG_FORM", "sequential")
# CWHISPER_WITHOUT_TIMESTAMPS=1: --without-timestamps (text-only decoding, one segment per
# window), as faster-whisper's BatchedInferencePipeline decodes by default
TEXT_ONLY = os.environ.get("CWHISPER_WITHOUT_TIMESTAMPS") == "1"
# CWHISPER_CONDITION=1: the greedy preset keeps openai-whisper's conditioning on the previous
# window's text (its transcribe() default); temperature fallback stays off
CONDITION = os.environ.get("CWHISPER_CONDITION") == "1"
# CWHISPER_INT8_ATTENTION=1: --int8-attention (the encoder's attention in int8 too; int8/bf16 only)
INT8_ATTENTION = os.environ.get("CWHISPER_INT8_ATTENTION") == "1"
BINARY = os.environ.get("CWHISPER", os.path.join(common.ROOT, "build", "cwhisper"))


class Run:
    pass


def _cpu_has(*flags):
    try:
        with open("/proc/cpuinfo") as f:
            have = set(f.read().split())
    except OSError:
        return False
    return all(x in have for x in flags)


def versions():
    v = subprocess.run([BINARY, "version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", common.ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    return {"cwhisper": v.replace("cwhisper ", "", 1), "git": git}


def load(args, cfg):
    if not os.access(BINARY, os.X_OK):
        raise common.Unavailable(f"{BINARY} not built (make build)")
    if args.device not in ("cpu", "cuda"):
        raise common.Unavailable(f"device {args.device!r} is not cpu or cuda")
    if LONG_FORM not in ("sequential", "chunked", "vad-batched"):
        raise common.Unavailable(f"CWHISPER_LONG_FORM={LONG_FORM!r} is not sequential, chunked or vad-batched")
    chunked = LONG_FORM in ("chunked", "vad-batched")  # both batched, greedy, without fallback
    lockstep = args.batch_size > 1 and not chunked and len(args.files) * args.repeat > 1
    if not 1 <= args.batch_size <= 64:
        raise common.Unavailable(f"batch size {args.batch_size} is outside cwhisper's 1..64")
    if chunked and args.beam_size > 1:
        raise common.Unavailable(f"cwhisper's {LONG_FORM} long form decodes greedily (no beam search)")
    if LONG_FORM == "vad-batched" and not os.path.exists(os.path.join(common.ROOT, "models", "silero-vad")):
        raise common.Unavailable("models/silero-vad missing (scripts/fetch-model silero-vad)")
    # One cwhisper process runs every repeat (run_all), so the Python loop's
    # timings cannot stop it early; the harness's variant budget is not applied.
    if args.repeat_budget:
        cfg["repeat_budget_ignored"] = args.repeat_budget
        args.repeat_budget = 0
    r = Run()
    cmd = ["transcribe", "--model", args.model, "--threads", str(args.threads), "--output-format", "json",
           "--print-timings"]
    if cfg["language"]:
        cmd += ["--language", cfg["language"]]
    if args.dtype != "fp32":
        cmd += ["--dtype", args.dtype]
    if INT8_ATTENTION:
        if args.dtype not in ("int8", "bf16"):
            raise common.Unavailable("--int8-attention needs dtype int8 or bf16")
        avx2_table = _cpu_has("avx2", "fma", "f16c") and (os.environ.get("CW_ISA") == "avx2" or not _cpu_has("avx512f"))
        if args.device == "cpu" and not (_cpu_has("avx512_vnni") or avx2_table):
            # the flag would change nothing: the cell would repeat its plain twin
            raise common.Unavailable("--int8-attention has kernels for AVX512-VNNI CPUs and for AVX2 CPUs "
                                     "without AVX-512 (not this one)")
        cmd += ["--int8-attention"]
    if args.device != "cpu":  # cwhisper itself says why when the GPU cannot run (exit 2)
        cmd += ["--device", args.device]
    if args.beam_size > 1:
        cmd += ["--beam-size", str(args.beam_size)]
    if chunked:
        cmd += ["--long-form", LONG_FORM, "--batch-size", str(args.batch_size)]
    elif args.preset == "greedy":
        cmd += ["--no-fallback"] + ([] if CONDITION else ["--no-condition-on-previous-text"])
    if lockstep:  # many files at once: the sequential algorithm on N files in lockstep
        cmd += ["--batch-size", str(args.batch_size)]
    if TEXT_ONLY:
        cmd += ["--without-timestamps"]
    r.cmd = cmd
    r.results = None
    cfg.update({"command": ["cwhisper"] + cmd,
                "long_form": ("chunked (src/longform/chunked.c): 30 s chunks, 5 s strides, batched, merged as "
                              "_decode_asr" if LONG_FORM == "chunked" else
                              "vad-batched (src/longform/vad_batched.c): Silero VAD chunks <= 30 s, batched, "
                              "timestamp tokens, chunks ended early decoded again from their last timestamp "
                              "(faster-whisper's BatchedInferencePipeline decodes text only, each chunk once)"
                              if chunked else
                              "openai sequential (src/longform), %d files in lockstep (src/longform/lockstep.c)"
                              % args.batch_size if lockstep else "openai sequential (src/longform)"),
                "vad": LONG_FORM == "vad-batched",
                "fallback": args.preset == "reference" and not chunked,
                "condition_on_previous_text": not chunked and (args.preset == "reference" or CONDITION),
                "timestamps": not TEXT_ONLY, "compute": args.dtype, "int8_attention": INT8_ATTENTION,
                "kernels": os.environ.get("CW_ISA") or "auto",  # CW_ISA=avx2: the AVX2 table on any CPU
                "timing": "cwhisper transcribe --print-timings: load, and each file's wall time"})
    if chunked and args.preset == "reference":
        cfg["note"] = "the chunked mode has no fallback nor conditioning: reference preset = greedy"
    return r


def run_all(r, args, cfg):
    tmp = tempfile.mkdtemp(prefix="cwpeer.")
    try:
        t = time.perf_counter()
        p = subprocess.Popen([BINARY] + r.cmd + ["--output-dir", tmp] + args.files * args.repeat,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, status, _ = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        if status != 0:
            last = err.strip().splitlines()[-1:] or ["?"]
            raise RuntimeError(f"cwhisper transcribe exited with status {status >> 8}: {last[0][:200]}")
        cfg["process_wall_seconds"] = wall
        load = re.findall(r"^cwhisper: timings: load ([0-9.]+) s$", err, re.M)
        files = re.findall(r"^cwhisper: timings: file .*: ([0-9.]+) s for [0-9.]+ s of audio", err, re.M)
        if len(load) != 1 or len(files) != len(args.files) * args.repeat:
            raise RuntimeError("cwhisper --print-timings lines missing: " + err[-300:])
        r.load_s = float(load[0])
        r.file_s = [float(x) for x in files]
        r.results = {}
        for f in args.files:
            stem = os.path.splitext(os.path.basename(f))[0]
            with open(os.path.join(tmp, stem + ".json"), encoding="utf-8") as fh:
                j = json.load(fh)
            r.results[f] = (j["text"], j["segments"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def transcribe(r, path, args, cfg):
    if r.results is None:  # the first call runs the one process for all files and runs
        run_all(r, args, cfg)
    return r.results[path]


def finish(result):
    """The timings cwhisper printed replace the Python loop's (its first call did everything)."""
    r = RUN[0]
    n = len(result["files"])
    runs = [sum(r.file_s[k * n:(k + 1) * n]) for k in range(len(r.file_s) // n)]
    result["load_seconds"] = r.load_s
    result["transcribe_seconds"] = runs[0]
    if len(runs) > 1:
        result["repeat_transcribe_seconds"] = runs
    for i, f in enumerate(result["files"]):
        f["seconds"] = r.file_s[i]


RUN = []


def load_and_keep(args, cfg):
    r = load(args, cfg)
    RUN.append(r)
    return r


if __name__ == "__main__":
    common.main(NAME, load_and_keep, transcribe, versions, finish)
