#!/usr/bin/env python3
"""openai-whisper (PyTorch), sequential transcribe() as the article ran it,
on the CT2 weights (tests/fixtures/ct2_reader.py builds the Whisper module).

dtype: fp32 (CPU, as transcribe(fp16=False)); fp16 only on cuda
(transcribe(fp16=True): openai-whisper's own half-precision path). No
batching (batch size 1 only). Beam: --beam-size N > 1 gives beam_size=N.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

NAME = "openai-whisper"


def versions():
    return common.dist_versions("openai-whisper", "torch", "numpy", "numba", "tiktoken")


def load(args, cfg):
    if args.batch_size != 1:
        raise common.Unavailable("openai-whisper transcribe() is sequential: batch size 1 only")
    if args.dtype not in ("fp32", "fp16") or (args.dtype == "fp16" and args.device != "cuda"):
        raise common.Unavailable(f"openai-whisper runs fp32 on the CPU and fp16 on cuda, not {args.dtype} on {args.device}")
    import torch
    sys.path.insert(0, os.path.join(common.ROOT, "tests/fixtures"))
    import ct2_reader
    if args.device == "cuda" and not torch.cuda.is_available():
        raise common.Unavailable("no CUDA device visible to torch")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = ct2_reader.load_openai_model(args.model).to(args.device)
    cfg.update({"long_form": "openai sequential (seek, 30 s windows, transcribe.py)",
                "fallback": args.preset == "reference", "timestamps": True,
                "compute": "fp16 (fp16=True)" if args.dtype == "fp16" else "fp32"})
    return model


def transcribe(model, path, args, cfg):
    kw = dict(fp16=args.dtype == "fp16", language=cfg["language"], verbose=None,
              beam_size=args.beam_size if args.beam_size > 1 else None)
    if args.preset == "greedy":
        kw.update(temperature=0.0, condition_on_previous_text=False)
    r = model.transcribe(path, **kw)
    return r["text"], r["segments"]


if __name__ == "__main__":
    common.main(NAME, load, transcribe, versions)
