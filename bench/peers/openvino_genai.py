#!/usr/bin/env python3
"""OpenVINO GenAI's WhisperPipeline (Intel's CPU runtime), on an OpenVINO IR
exported by optimum-intel from the same weights (the HF copy that
bench/convert/ct2_to_hf.py makes of the CT2 directory; the export is cached
under models/peers/NAME/ov-f16 or ov-int8 and not timed).

It lives in a venv of its own, bench/.venv-ov (bench/setup): optimum-intel
needs transformers 5, the Flax peer transformers 4.57.6. Run from any
python, this file re-executes itself with bench/.venv-ov's.

--dtype: fp32 = f16 weights, INFERENCE_PRECISION_HINT f32; bf16 = f16
weights, bf16 inference precision (AMX or AVX512-BF16 where the CPU has
them, else OpenVINO emulates or refuses: recorded); int8 = int8 weights
(optimum-intel's weight-only int8), bf16 inference precision where the CPU
reports BF16, else f32. The pipeline's long-form loop is sequential 30 s
windows with timestamp tokens; greedy (num_beams 1, no sampling). GenAI has
no temperature fallback, so the reference preset is recorded as its greedy
loop. No batching: --batch-size 1 only.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
OV_PY = os.path.join(ROOT, "bench", ".venv-ov", "bin", "python")
if os.path.exists(OV_PY) and os.path.abspath(sys.prefix) != os.path.abspath(os.path.join(ROOT, "bench", ".venv-ov")):
    os.execv(OV_PY, [OV_PY, os.path.abspath(__file__)] + sys.argv[1:])

sys.path.insert(0, HERE)
import common  # noqa: E402

sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]  # this file must not shadow the package

NAME = "openvino-genai"
PRECISION = {"fp32": "f32", "bf16": "bf16"}


def versions():
    v = common.dist_versions("openvino", "openvino-genai", "openvino-tokenizers", "optimum-intel", "transformers",
                             "torch", "numpy")
    try:
        import openvino as ov
        v["cpu_capabilities"] = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # noqa: BLE001
        pass
    return v


def exported(model_dir, weights):
    """models/peers/NAME/ov-{f16,int8}: the HF copy (made with bench/.venv's
    python, as the other peers' is) exported by optimum-cli once."""
    out = os.path.join(ROOT, "models", "peers", common.model_name(model_dir), f"ov-{weights}")
    if os.path.exists(os.path.join(out, "openvino_decoder_model.xml")):
        return out
    hf = os.path.join(ROOT, "models", "peers", common.model_name(model_dir), "hf")
    if not os.path.exists(os.path.join(hf, "tokenizer_config.json")):
        py = os.path.join(ROOT, "bench", ".venv", "bin", "python")
        subprocess.run([py if os.path.exists(py) else sys.executable,
                        os.path.join(ROOT, "bench/convert/ct2_to_hf.py"), model_dir, hf], check=True)
    cli = os.path.join(os.path.dirname(sys.executable), "optimum-cli")
    tmp = out + ".tmp"
    subprocess.run([cli, "export", "openvino", "--model", hf, "--task", "automatic-speech-recognition-with-past",
                    "--weight-format", "fp16" if weights == "f16" else "int8", tmp], check=True,
                   stdout=subprocess.DEVNULL)
    os.replace(tmp, out)
    return out


def load(args, cfg):
    try:
        import openvino as ov
        import openvino_genai as ov_genai
    except ImportError as e:
        raise common.Unavailable(f"openvino-genai is not installed (bench/setup makes bench/.venv-ov): {e}")
    if args.device != "cpu":
        raise common.Unavailable("this adapter runs OpenVINO's CPU plugin only")
    if args.batch_size != 1:
        raise common.Unavailable("WhisperPipeline decodes one window at a time: batch size 1 only")
    if args.beam_size != 1:
        raise common.Unavailable("greedy only here (num_beams 1)")
    if args.dtype not in ("fp32", "bf16", "int8"):
        raise common.Unavailable("dtypes: fp32 (f16 weights), bf16, int8 (int8 weights)")
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    prec = PRECISION.get(args.dtype) or ("bf16" if "BF16" in caps else "f32")
    weights = "int8" if args.dtype == "int8" else "f16"
    path = exported(args.model, weights)
    pipe = ov_genai.WhisperPipeline(path, "CPU", INFERENCE_NUM_THREADS=args.threads,
                                    INFERENCE_PRECISION_HINT=prec)
    gc = pipe.get_generation_config()
    gc.return_timestamps = True
    gc.max_new_tokens = 448
    gc.num_beams = 1
    gc.do_sample = False
    if cfg["language"] and gc.is_multilingual:
        gc.language = f"<|{cfg['language']}|>"
        gc.task = "transcribe"
    cfg.update({"weights": weights, "inference_precision": prec, "cpu_capabilities": caps,
                "long_form": "WhisperPipeline: sequential 30 s windows, timestamp tokens",
                "fallback": False, "condition_on_previous_text": False})
    if args.preset == "reference":
        cfg["note"] = "GenAI has no temperature fallback: the reference preset runs its greedy loop"
    return pipe, gc


def transcribe(model, path, args, cfg):
    pipe, gc = model
    r = pipe.generate(common.decode_16k(path), gc)
    segs = [{"start": c.start_ts, "end": c.end_ts, "text": c.text} for c in (r.chunks or [])]
    return r.texts[0], segs


if __name__ == "__main__":
    common.main(NAME, load, transcribe, versions)
