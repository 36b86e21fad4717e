#!/usr/bin/env python3
"""whisper.cpp through pywhispercpp (PyPI manylinux wheel that bundles
libwhisper + CPU ggml), on the ggml file converted from the CT2 files
(bench/convert/ct2_to_ggml.py: f16 weights, f32 biases/positional
embeddings), so --dtype is fp16 only (ggml computes in f32 with f16 weights).

whisper_full() is whisper.cpp's sequential long-form loop (OpenAI's seek
algorithm). Set explicitly in both presets: suppress_nst=True (openai-whisper
suppresses the non-speech tokens, whisper.cpp by default does not),
greedy best_of=1, language, n_threads. greedy preset: temperature 0,
temperature_inc 0 (no fallback), no_context=True (no conditioning).
reference preset: temperature_inc 0.2, logprob_thold -1.0, no_speech_thold
0.6, entropy_thold 2.4 (whisper.cpp's stand-in for the compression-ratio
test), no_context=False. --beam-size N > 1: beam search, patience -1 (1.0).
No batching: --batch-size 1 only. Audio: decoded by the ffmpeg program to
16 kHz mono float32 (common.decode_16k, counted in the transcription time)
and handed over as an array: pywhispercpp reads a WAV file itself and
refuses one that is not 16 kHz (LJSpeech is 22.05 kHz).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

NAME = "whisper.cpp"


def versions():
    v = common.dist_versions("pywhispercpp", "numpy")
    try:
        import _pywhispercpp as pw
        v["whisper.cpp_system_info"] = pw.whisper_print_system_info().strip()
    except Exception:  # noqa: BLE001
        pass
    import glob
    import pywhispercpp
    site = os.path.dirname(os.path.dirname(pywhispercpp.__file__))
    so = sorted(glob.glob(os.path.join(site, "libwhisper.so.*.*")))
    if so:
        v["libwhisper"] = os.path.basename(so[-1])[len("libwhisper.so."):]
    return v


def load(args, cfg):
    if args.device != "cpu":
        raise common.Unavailable("the pywhispercpp wheel is built for the CPU only")
    if args.dtype != "fp16":
        raise common.Unavailable("the converted ggml file is f16 (weights); run with --dtype fp16")
    if args.batch_size != 1:
        raise common.Unavailable("whisper_full() is sequential: batch size 1 only")
    ggml = common.converted(args.model, "ggml")
    from pywhispercpp.model import Model
    params = dict(n_threads=args.threads, print_progress=False, print_realtime=False,
                  language=cfg["language"] or "auto", suppress_nst=True, greedy={"best_of": 1},
                  temperature=0.0)
    if args.beam_size > 1:
        params["beam_search"] = {"beam_size": args.beam_size, "patience": -1.0}
    if args.preset == "greedy":
        params.update(temperature_inc=0.0, no_context=True)
    else:
        params.update(temperature_inc=0.2, logprob_thold=-1.0, no_speech_thold=0.6, entropy_thold=2.4,
                      no_context=False)
    model = Model(ggml, params_sampling_strategy=1 if args.beam_size > 1 else 0,
                  redirect_whispercpp_logs_to=None, **params)
    if args.preset == "reference":  # whisper.cpp has no compression-ratio test; its entropy test stands in
        cfg.pop("compression_ratio_threshold", None)
        cfg["entropy_threshold"] = 2.4
    cfg.update({"ggml_file": ggml, "whisper_params": {k: v for k, v in params.items() if k != "print_realtime"},
                "long_form": "whisper.cpp whisper_full (sequential seek, 30 s windows)",
                "fallback": args.preset == "reference", "timestamps": True,
                "compute": "ggml f16 weights, f32 activations"})
    return model


def transcribe(model, path, args, cfg):
    segs = model.transcribe(common.decode_16k(path))
    out = [{"start": s.t0 / 100.0, "end": s.t1 / 100.0, "text": s.text} for s in segs]
    # pywhispercpp hands segment texts without their leading space: join with one.
    return " ".join(s["text"].strip() for s in out), out


if __name__ == "__main__":
    common.main(NAME, load, transcribe, versions, converts="ggml")
