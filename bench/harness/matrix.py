"""The benchmark matrix: which cells `bench/run` measures, in priority order.

A cell is one implementation in one configuration (model, device, dtype,
batch size, decoding preset). Cells a peer cannot run here stay in the
matrix: the adapter says why and the report lists the error.

Priority: the article's comparison first (openai-whisper, JAX, cwhisper,
fp32, greedy), then the other peers, the dtypes and batch sizes, then the
reference preset; tiny.en before base. `bench/run` stops launching cells when
its time budget is spent and resumes where it stopped.
"""

# label -> (adapter file in bench/peers/, short description)
IMPLS = {
    "openai-whisper": ("openai_whisper.py", "PyTorch reference, sequential"),
    "jax-flax": ("flax_whisper.py", "Flax Whisper, whisper-jax chunking, batched"),
    "cwhisper": ("cwhisper.py", "this project"),
    "faster-whisper": ("faster_whisper.py", "CTranslate2, sequential"),
    "faster-whisper-batched": ("faster_whisper.py", "CTranslate2 BatchedInferencePipeline"),
    "whisper.cpp": ("whisper_cpp.py", "pywhispercpp, sequential"),
    "transformers": ("hf_pipeline.py", "HF pipeline, chunked, batched"),
}

MODELS = ["tiny.en", "base", "small"]


def cell(impl, model, dtype, batch, preset="greedy", device="cpu"):
    return {"impl": impl, "model": model, "device": device, "dtype": dtype, "batch_size": batch,
            "preset": preset, "beam_size": 1}


def cell_id(c):
    return f"{c['impl']}_{c['model']}_{c['device']}_{c['dtype']}_b{c['batch_size']}_{c['preset']}"


def _per_model(model):
    return [
        # the article: PyTorch against JAX (fp32, then its half precision and batches), and us
        cell("openai-whisper", model, "fp32", 1),
        cell("cwhisper", model, "fp32", 1),
        cell("jax-flax", model, "fp32", 1),
        cell("jax-flax", model, "fp32", 8),
        cell("jax-flax", model, "bf16", 8),
        # the other peers
        cell("faster-whisper", model, "fp32", 1),
        cell("faster-whisper", model, "int8", 1),
        cell("faster-whisper-batched", model, "int8", 8),
        cell("whisper.cpp", model, "fp16", 1),
        cell("transformers", model, "fp32", 8),
        cell("faster-whisper-batched", model, "fp32", 8),
        cell("transformers", model, "fp32", 1),
        cell("transformers", model, "bf16", 8),
        cell("faster-whisper", model, "bf16", 1),
        cell("jax-flax", model, "fp16", 8),
    ]


def _reference_preset(model):
    return [cell(i, model, d, 1, "reference") for i, d in
            (("openai-whisper", "fp32"), ("cwhisper", "fp32"), ("faster-whisper", "fp32"), ("whisper.cpp", "fp16"),
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
            cell("faster-whisper", m, "fp32", 1), cell("faster-whisper", m, "int8", 1),
            cell("faster-whisper-batched", m, "int8", 8), cell("whisper.cpp", m, "fp16", 1),
            cell("transformers", m, "fp32", 8), cell("faster-whisper", m, "bf16", 1)]
