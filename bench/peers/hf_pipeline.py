#!/usr/bin/env python3
"""Hugging Face transformers (PyTorch) pipeline("automatic-speech-recognition"),
chunked and batched: chunk_length_s=30 (stride 5 s each side, the pipeline's
default chunk_length_s/6), batch_size=--batch-size, return_timestamps=True,
on the HF directory converted from the CT2 files (bench/convert/ct2_to_hf.py).

dtype: fp32, bf16, fp16 (torch_dtype of the model; fp16 on cuda); no int8.
greedy preset: num_beams=--beam-size, do_sample=False, one temperature.
reference preset: transformers' own equivalents passed to generate():
temperature=(0.0, 0.2, ..., 1.0), logprob_threshold=-1.0,
no_speech_threshold=0.6, compression_ratio_threshold=1.35 (transformers
measures the ratio on token ids, not on text; 1.35 is its documented
counterpart of openai-whisper's 2.4). Chunks are decoded independently, so
there is no conditioning on previous text in either preset.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

NAME = "transformers-pipeline"


def versions():
    return common.dist_versions("transformers", "torch", "tokenizers", "safetensors", "numpy")


def load(args, cfg):
    if args.dtype == "int8":
        raise common.Unavailable("the transformers pipeline has no int8 path here (fp32, fp16, bf16)")
    hf = common.converted(args.model, "hf")
    import torch
    import transformers
    from transformers import WhisperForConditionalGeneration, WhisperProcessor, pipeline
    transformers.logging.set_verbosity_error()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise common.Unavailable("no CUDA device visible to torch")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    model = WhisperForConditionalGeneration.from_pretrained(hf, torch_dtype=dtype, local_files_only=True)
    model.eval()
    processor = WhisperProcessor.from_pretrained(hf, local_files_only=True)
    pipe = pipeline("automatic-speech-recognition", model=model, tokenizer=processor.tokenizer,
                    feature_extractor=processor.feature_extractor, chunk_length_s=30, batch_size=args.batch_size,
                    device=args.device, torch_dtype=dtype)
    cfg.update({"hf_model_dir": hf, "torch_dtype": str(dtype),
                "long_form": "HF pipeline chunking: 30 s chunks, 5 s stride each side, batched, "
                             "merged by _find_longest_common_sequence (_decode_asr)",
                "timestamps": True, "condition_on_previous_text": False,
                "fallback": args.preset == "reference"})
    if args.preset == "reference":
        cfg["compression_ratio_threshold"] = 1.35
    return pipe


def transcribe(pipe, path, args, cfg):
    gk = {"num_beams": args.beam_size, "do_sample": False}
    if common.is_multilingual(args.model):
        # task always: with language detection (language=None) transformers 4.57 puts no task token
        # in the prompt ([sot, lang] only), and base then loops ("Americans Americans ...").
        gk["task"] = "transcribe"
        if cfg["language"]:
            gk["language"] = cfg["language"]
    if args.preset == "reference":
        gk.update(temperature=tuple(common.TEMPERATURES), logprob_threshold=-1.0, no_speech_threshold=0.6,
                  compression_ratio_threshold=1.35)
    out = pipe(path, return_timestamps=True, generate_kwargs=gk)
    segs = []
    for c in out.get("chunks", []):
        start, end = c["timestamp"]
        segs.append({"start": start, "end": end, "text": c["text"]})
    return out["text"], segs


if __name__ == "__main__":
    common.main(NAME, load, transcribe, versions, converts="hf")
