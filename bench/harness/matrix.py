"""The benchmark matrix: which cells `bench/run` measures, in priority order.

A cell is one implementation in one configuration (model, device, dtype,
batch size, decoding preset). Cells a peer cannot run here stay in the
matrix: the adapter says why and the report lists the error.

Priority: the article's comparison first (openai-whisper, JAX, cwhisper,
fp32, greedy), then the other peers, the dtypes and batch sizes, then the
reference preset; tiny.en before base. `bench/run` stops launching cells when
its time budget is spent and resumes where it stopped.

Tiers (the full matrix is ~15 hours of runs on 2 CPUs, so not every cell
gets every measurement first):
  headline   each peer in its usual/best CPU configuration: the full
             protocol (cold + 3 warm runs, a second fresh process, short sets)
  variant    the other dtypes, batch sizes, GEMM back ends, and the reference
             preset: the first process repeats only while it stays within
             VARIANT_REPEAT_BUDGET_S (the cold run always; several of these
             cells take 10-20 minutes per run of the long recording), then
             the short sets; their second fresh process comes last of all
"""

VARIANT_REPEAT_BUDGET_S = 900

# label -> (adapter file in bench/peers/, short description, extra environment)
# CTranslate2's PyPI wheel uses Intel MKL only on Intel CPUs; elsewhere its
# float32 GEMM goes through oneDNN, which on the AMD Zen 3 machines here is
# several times slower (jfk: 9.2 s against 3.3 s). CT2_USE_MKL=1 is its
# documented switch; the "-mkl" labels are faster-whisper with it, the plain
# labels are what a user gets by default. Both are reported.
IMPLS = {
    "openai-whisper": ("openai_whisper.py", "PyTorch reference, sequential", {}),
    "jax-flax": ("flax_whisper.py", "Flax Whisper, whisper-jax chunking, batched", {}),
    "cwhisper": ("cwhisper.py", "this project, sequential", {}),
    "cwhisper-chunked": ("cwhisper.py", "this project, whisper-jax chunking, batched",
                         {"CWHISPER_LONG_FORM": "chunked"}),
    "cwhisper-vad-batched": ("cwhisper.py", "this project, Silero VAD chunks (faster-whisper batched), batched",
                             {"CWHISPER_LONG_FORM": "vad-batched"}),
    "cwhisper-notimestamps": ("cwhisper.py", "this project, sequential, text-only decoding (--without-timestamps, "
                              "as faster-whisper batched decodes)", {"CWHISPER_WITHOUT_TIMESTAMPS": "1"}),
    # the two decodings a user picks for accuracy, without temperature fallback:
    # beams (the cell's beam_size; in lockstep each file's beams step in the
    # shared decoder pass), and openai-whisper's conditioning on the previous
    # window's text (its transcribe() default; long recordings only)
    "cwhisper-beam2": ("cwhisper.py", "this project, sequential, beam search of 2", {}),
    "cwhisper-condition": ("cwhisper.py", "this project, sequential, conditioned on the previous text",
                           {"CWHISPER_CONDITION": "1"}),
    # the same decodings with the encoder's attention in int8 too (--int8-attention)
    "cwhisper-a8": ("cwhisper.py", "this project, sequential, int8 encoder attention",
                    {"CWHISPER_INT8_ATTENTION": "1"}),
    "cwhisper-beam2-a8": ("cwhisper.py", "this project, sequential, beam search of 2, int8 encoder attention",
                          {"CWHISPER_INT8_ATTENTION": "1"}),
    "cwhisper-condition-a8": ("cwhisper.py", "this project, sequential, conditioned on the previous text, int8 "
                              "encoder attention", {"CWHISPER_CONDITION": "1", "CWHISPER_INT8_ATTENTION": "1"}),
    "faster-whisper": ("faster_whisper.py", "CTranslate2, sequential", {}),
    "faster-whisper-mkl": ("faster_whisper.py", "CTranslate2 with CT2_USE_MKL=1, sequential", {"CT2_USE_MKL": "1"}),
    "faster-whisper-batched": ("faster_whisper.py", "CTranslate2 BatchedInferencePipeline", {}),
    "faster-whisper-batched-mkl": ("faster_whisper.py", "BatchedInferencePipeline, CT2_USE_MKL=1",
                                   {"CT2_USE_MKL": "1"}),
    "whisper.cpp": ("whisper_cpp.py", "pywhispercpp, sequential", {}),
    "transformers": ("hf_pipeline.py", "HF pipeline, chunked, batched", {}),
    "openvino-genai": ("openvino_genai.py", "OpenVINO GenAI WhisperPipeline, sequential", {}),
}

MODELS = ["tiny.en", "base", "small"]


def cell(impl, model, dtype, batch, preset="greedy", device="cpu", tier="headline", jobs=None, beam=1):
    c = {"impl": impl, "model": model, "device": device, "dtype": dtype, "batch_size": batch,
         "preset": preset, "beam_size": beam, "tier": tier}
    if jobs:  # only these job kinds (run.py's jobs_for)
        c["jobs"] = tuple(jobs)
    return c


def variant(c):
    return dict(c, tier="variant")


def cell_id(c):
    return f"{c['impl']}_{c['model']}_{c['device']}_{c['dtype']}_b{c['batch_size']}_{c['preset']}"


def _per_model(model):
    return [
        # the article: PyTorch against JAX (batched, as whisper-jax runs), and us
        cell("openai-whisper", model, "fp32", 1),
        cell("cwhisper", model, "fp32", 1),
        cell("jax-flax", model, "fp32", 8),
        cell("cwhisper-chunked", model, "fp32", 8),  # the like-for-like of the JAX cell
        # the other peers in their usual (or best) CPU configurations
        cell("faster-whisper-mkl", model, "fp32", 1),
        cell("faster-whisper", model, "int8", 1),
        cell("faster-whisper-batched", model, "int8", 8),
        cell("whisper.cpp", model, "fp16", 1),
        cell("transformers", model, "fp32", 8),
        cell("openvino-genai", model, "int8", 1),  # int8 weights, bf16 compute where the CPU has it
        # dtypes, batch sizes, the other CTranslate2 GEMM back end
        variant(cell("jax-flax", model, "bf16", 8)),
        variant(cell("jax-flax", model, "fp32", 1)),
        variant(cell("faster-whisper-batched-mkl", model, "fp32", 8)),
        variant(cell("transformers", model, "fp32", 1)),
        variant(cell("transformers", model, "bf16", 8)),
        variant(cell("faster-whisper", model, "bf16", 1)),
        variant(cell("openvino-genai", model, "bf16", 1)),
        variant(cell("openvino-genai", model, "fp32", 1)),
        variant(cell("jax-flax", model, "fp16", 8)),
        # cwhisper's other modes: chunked unbatched, low-precision weights (sequential)
        variant(cell("cwhisper-chunked", model, "fp32", 1)),
        variant(cell("cwhisper", model, "bf16", 1)),
        variant(cell("cwhisper", model, "int8", 1)),
        # cwhisper's fastest configurations: chunked, batched, low precision
        cell("cwhisper-chunked", model, "int8", 8),
        cell("cwhisper-vad-batched", model, "int8", 8),  # the like-for-like of faster-whisper-batched
        # many files at once: the exact sequential algorithm on 8 files in lockstep, each file's tokens its
        # one-file tokens; the short sets only (one long file has nothing to step with)
        cell("cwhisper", model, "int8", 8, jobs=("short",)),
        cell("cwhisper", model, "fp32", 8, jobs=("short",)),
        cell("cwhisper", model, "bf16", 8, jobs=("short",)),  # bf16 at OpenVINO int8's WER (2026-12-07)
        # beams and conditioning, for the WER of the fastest peers at twice their speed (2026-12-07)
        cell("cwhisper-beam2", model, "int8", 8, jobs=("short",), beam=2),
        cell("cwhisper-condition", model, "int8", 1, jobs=("long-p1", "long-p2")),
        # the encoder's attention in int8 too (2026-12-08)
        cell("cwhisper-a8", model, "int8", 8, jobs=("short",)),
        cell("cwhisper-a8", model, "int8", 1, jobs=("long-p1", "long-p2")),
        cell("cwhisper-beam2-a8", model, "int8", 8, jobs=("short",), beam=2),
        cell("cwhisper-condition-a8", model, "int8", 1, jobs=("long-p1", "long-p2")),
        # the same without timestamp tokens: the text-only decoding faster-whisper batched uses
        cell("cwhisper-notimestamps", model, "int8", 8, jobs=("short",)),
        variant(cell("cwhisper-chunked", model, "bf16", 8)),
        variant(cell("faster-whisper", model, "fp32", 1)),  # oneDNN fp32 on AMD: one of the slowest cells
        # MKL int8 on AMD: no run of the 30.5-min recording finished within 9 min
        # (2026-11-28; oneDNN int8 takes 94 s), so it comes last
        variant(cell("faster-whisper-mkl", model, "int8", 1)),
    ]


def _reference_preset(model):
    return [cell(i, model, d, 1, "reference", tier="variant") for i, d in
            (("openai-whisper", "fp32"), ("cwhisper", "fp32"), ("faster-whisper-mkl", "fp32"), ("whisper.cpp", "fp16"),
             ("jax-flax", "fp32"))]


def full():
    cells = _per_model("tiny.en") + _per_model("base") + _reference_preset("tiny.en") + _reference_preset("base")
    # small: listed so that the report says why it is missing (see scripts/fetch-model)
    cells += [cell("openai-whisper", "small", "fp32", 1), cell("cwhisper", "small", "fp32", 1)]
    return cells


def quick():
    """Every peer once, tiny.en, greedy, its usual CPU configuration (plus one
    configuration a peer refuses here, to show the refusal in the table)."""
    m = "tiny.en"
    return [cell("openai-whisper", m, "fp32", 1), cell("cwhisper", m, "fp32", 1), cell("jax-flax", m, "fp32", 8),
            cell("cwhisper-chunked", m, "fp32", 8),
            cell("faster-whisper-mkl", m, "fp32", 1), cell("faster-whisper", m, "int8", 1),
            cell("faster-whisper-batched", m, "int8", 8), cell("cwhisper-vad-batched", m, "int8", 8),
            cell("whisper.cpp", m, "fp16", 1),
            cell("transformers", m, "fp32", 8), cell("openvino-genai", m, "int8", 1),
            cell("faster-whisper", m, "bf16", 1)]
