#!/usr/bin/env python3
"""JAX, the whisper-jax approach: transformers' FlaxWhisperForConditionalGeneration
(transformers 4.57.6, the last release with Flax models) on the HF directory
converted from the CT2 files, with whisper-jax's chunked, batched algorithm:

- audio decoded by the ffmpeg program (transformers' ffmpeg_read, as whisper-jax);
- 30 s chunks with a 5 s stride on each side (step 20 s), start indices
  0, 20 s, 40 s, ... < length, grouped into ceil(n / batch) batches with
  np.array_split, each padded with zero features up to --batch-size
  (whisper-jax's chunk_iter_with_batch + forward), except that a file with
  fewer chunks than --batch-size runs as one unpadded batch of its chunks
  (see below);
- one jax.jit'ed generate (greedy, or num_beams=--beam-size; max_length 448;
  return_timestamps=True), compiled ahead of time in load() for the input
  shape [batch, n_mels, 3000]: the compile is in load_seconds and also given
  as config.compile_seconds;
- chunks merged by the tokenizer's _decode_asr with the strides in seconds and
  time_precision 0.02 (whisper-jax's postprocess).

--dtype fp32|bf16|fp16 is the computation dtype (module dtype=) and the
params are cast to it (whisper-jax casts params with to_bf16/to_fp16 for
half precision). No int8.

Where this differs from whisper-jax's own FlaxWhisperPipline:
- jax.jit on one device instead of jax.pmap over local devices (with one CPU
  device pmap is the same computation; there is no params replication);
- the generate function is compiled ahead of time (jit(...).lower().compile())
  instead of on the first call;
- a file shorter than --batch-size chunks (every short-set utterance is one
  chunk) is not padded up to --batch-size: whisper-jax pads so as never to
  recompile, which on one-chunk files does --batch-size times the work for
  nothing (tiny.en fp32 b8 padded took about 15 s per utterance here).
  Its batch shape is compiled on first use instead, the compile time
  counted in that file's transcription time and listed in
  config.lazy_compile_seconds. Files of at least --batch-size chunks (the
  long recording) are batched and padded exactly as whisper-jax does;
- whisper-jax pins an older transformers/flax; this uses transformers 4.57.6,
  jax/jaxlib 0.4.38, flax 0.10.2;
- return_timestamps=True here (whisper-jax's default is False) so that the
  JSON has segments, as every peer's does;
- the weights are the CT2 checkpoint (fp16 values) converted by
  bench/convert/ct2_to_hf.py, not openai/whisper-* from the Hub;
- no language detection: a multilingual model gets --language or "en"
  (whisper-jax also takes the language as an argument);
- the reference preset is refused: Flax generate has no temperature fallback
  and chunks are decoded independently (no conditioning).
"""
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

NAME = "jax-flax-whisper"
CHUNK_S, STRIDE_S, SR = 30, 5, 16000


class Runner:
    pass


def versions():
    return common.dist_versions("transformers", "jax", "jaxlib", "flax", "numpy", "tokenizers")


def load(args, cfg):
    if args.dtype == "int8":
        raise common.Unavailable("Flax Whisper has no int8 path (fp32, bf16, fp16)")
    if args.preset == "reference":
        raise common.Unavailable("Flax Whisper generate has no temperature fallback and the chunks are "
                                 "independent (no conditioning): only the greedy preset")
    hf = common.converted(args.model, "hf")
    import jax
    import jax.numpy as jnp
    import numpy as np
    try:
        from transformers import FlaxWhisperForConditionalGeneration, WhisperProcessor
    except ImportError as e:
        raise common.Unavailable(f"no FlaxWhisperForConditionalGeneration in this transformers: {e}")
    import transformers
    transformers.logging.set_verbosity_error()  # it lists every fp16 tensor it loaded; we cast them below
    backend = jax.default_backend()
    if args.device == "cuda" and backend != "gpu":
        raise common.Unavailable(f"jax has no GPU here (default backend {backend})")
    dtype = {"fp32": jnp.float32, "bf16": jnp.bfloat16, "fp16": jnp.float16}[args.dtype]
    # from_pt needs _do_init=True (transformers converts into the initialised tree).
    model = FlaxWhisperForConditionalGeneration.from_pretrained(hf, from_pt=True, dtype=dtype,
                                                                local_files_only=True)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=dtype), model.params)
    processor = WhisperProcessor.from_pretrained(hf, local_files_only=True)
    lang = cfg["language"] or "en"
    gen_kw = dict(max_length=model.config.max_target_positions, return_timestamps=True,
                  num_beams=args.beam_size)
    if common.is_multilingual(args.model):
        gen_kw.update(language=f"<|{lang}|>", task="transcribe")
        cfg["language"] = lang

    def generate(params, input_features):
        return model.generate(input_features, params=params, **gen_kw).sequences

    n_mels = model.config.num_mel_bins
    jitted = jax.jit(generate)
    r = Runner()

    def compile_for(batch):  # input features [batch, n_mels, 3000] fp32
        return jitted.lower(params, jax.ShapeDtypeStruct((batch, n_mels, 3000), jnp.float32)).compile()

    r.compile = compile_for
    t = time.perf_counter()
    r.compiled = {args.batch_size: r.compile(args.batch_size)}
    r.params, r.processor, r.np = params, processor, np
    cfg.update({"hf_model_dir": hf, "jax_backend": backend, "jax_devices": [str(d) for d in jax.devices()],
                "compute_dtype": str(jnp.dtype(dtype)), "params_dtype": str(jnp.dtype(dtype)),
                "compile_seconds": time.perf_counter() - t, "jit": "jax.jit, compiled ahead of time for --batch-size",
                "long_form": "whisper-jax chunking: 30 s chunks, 5 s stride each side, batched (padded to "
                             "batch size; a file of fewer chunks: one unpadded batch), merged by _decode_asr",
                "timestamps": True, "fallback": False, "condition_on_previous_text": False})
    return r


def transcribe(r, path, args, cfg):
    from transformers.pipelines.audio_utils import ffmpeg_read
    np = r.np
    with open(path, "rb") as f:
        audio = ffmpeg_read(f.read(), SR)
    fe = r.processor.feature_extractor
    chunk_len, stride = CHUNK_S * SR, STRIDE_S * SR
    step = chunk_len - 2 * stride
    n = len(audio)
    starts = np.arange(0, n, step)
    outputs = []
    batch = min(args.batch_size, len(starts))
    if batch not in r.compiled:
        t = time.perf_counter()
        r.compiled[batch] = r.compile(batch)
        cfg.setdefault("lazy_compile_seconds", {})[str(batch)] = time.perf_counter() - t
    for idx in np.array_split(np.arange(len(starts)), math.ceil(len(starts) / batch)):
        s = starts[idx]
        e = s + chunk_len
        chunks = [audio[a:b] for a, b in zip(s, e)]
        feats = fe(chunks, sampling_rate=SR, return_tensors="np").input_features
        k = feats.shape[0]
        if k < batch:  # pad the batch with zero features, as whisper-jax does
            feats = np.concatenate([feats, np.zeros((batch - k,) + feats.shape[1:], feats.dtype)])
        tokens = np.asarray(r.compiled[batch](r.params, feats))[:k]
        left = np.where(s == 0, 0, stride)
        right = np.where(e > n, 0, stride)  # whisper-jax: is_last = end > len when stride_right > 0
        for i in range(k):
            outputs.append({"tokens": tokens[i][None, :],
                            "stride": (len(chunks[i]) / SR, left[i] / SR, right[i] / SR)})
    text, extra = r.processor.tokenizer._decode_asr(outputs, return_timestamps=True, return_language=None,
                                                    time_precision=CHUNK_S / 1500)
    segs = [{"start": c["timestamp"][0], "end": c["timestamp"][1], "text": c["text"]}
            for c in extra.get("chunks", [])]
    return text, segs


if __name__ == "__main__":
    common.main(NAME, load, transcribe, versions, converts="hf")
