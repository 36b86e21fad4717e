#!/usr/bin/env python3
"""faster-whisper (CTranslate2) on the CT2 directory itself.

--batch-size 1: sequential WhisperModel.transcribe (OpenAI's seek algorithm,
no VAD); --batch-size N > 1: BatchedInferencePipeline.transcribe(batch_size=N)
(Silero VAD cuts <= 30 s speech chunks, decoded independently, without
timestamps tokens, no conditioning). --dtype maps to CT2's compute_type:
fp32 float32, fp16 float16, bf16 bfloat16, int8 int8 (weights quantised at
load time). The environment's CT2_USE_MKL (CTranslate2's switch between MKL
and oneDNN) is recorded in the config. Both presets set best_of=1 and patience=1 explicitly, because
faster-whisper's own defaults (beam 5, best_of 5) differ from openai-whisper's.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]  # this file must not shadow the package

NAME = "faster-whisper"
COMPUTE = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "int8"}


def versions():
    return common.dist_versions("faster-whisper", "ctranslate2", "onnxruntime", "av", "numpy", "tokenizers")


def load(args, cfg):
    import ctranslate2
    from faster_whisper import WhisperModel, BatchedInferencePipeline
    supported = ctranslate2.get_supported_compute_types(args.device)
    ct = COMPUTE[args.dtype]
    if ct not in supported:
        raise common.Unavailable(f"CTranslate2 {ctranslate2.__version__} supports {sorted(supported)} on "
                                 f"{args.device} here, not {ct}")
    model = WhisperModel(args.model, device=args.device, compute_type=ct, cpu_threads=args.threads,
                         num_workers=1, local_files_only=True)
    batched = args.batch_size > 1
    cfg.update({"compute_type": ct, "supported_compute_types": sorted(supported),
                "long_form": ("BatchedInferencePipeline: Silero VAD chunks <= 30 s, batched, no timestamp tokens"
                              if batched else "sequential WhisperModel.transcribe (OpenAI seek algorithm)"),
                "vad": batched, "best_of": 1, "timestamps": not batched,
                # CT2's wheel uses MKL on Intel CPUs only unless CT2_USE_MKL=1 (oneDNN otherwise)
                "ct2_use_mkl": os.environ.get("CT2_USE_MKL", "unset (MKL on Intel CPUs only)")})
    if batched:
        cfg.update({"fallback": False, "condition_on_previous_text": False, "temperatures": [0.0]})
        if args.preset == "reference":
            cfg["note"] = "the batched pipeline has no fallback nor conditioning: reference preset = its defaults"
        return BatchedInferencePipeline(model=model)
    cfg["fallback"] = args.preset == "reference"
    return model


def transcribe(model, path, args, cfg):
    kw = dict(language=cfg["language"], beam_size=args.beam_size, best_of=1, patience=1.0)
    if args.batch_size > 1:
        segs, _ = model.transcribe(path, batch_size=args.batch_size, **kw)
    elif args.preset == "greedy":
        segs, _ = model.transcribe(path, temperature=[0.0], condition_on_previous_text=False, **kw)
    else:
        r = common.REFERENCE
        segs, _ = model.transcribe(path, temperature=r["temperatures"],
                                   compression_ratio_threshold=r["compression_ratio_threshold"],
                                   log_prob_threshold=r["logprob_threshold"],
                                   no_speech_threshold=r["no_speech_threshold"],
                                   condition_on_previous_text=True, **kw)
    segs = [{"start": s.start, "end": s.end, "text": s.text} for s in segs]  # the generator runs here
    return "".join(s["text"] for s in segs), segs


if __name__ == "__main__":
    common.main(NAME, load, transcribe, versions)
