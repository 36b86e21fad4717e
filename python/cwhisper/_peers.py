"""The other Whisper implementations behind Transcription's one call, as the
seed's wrapper ran them (model_type "openai-whisper", "faster-whisper",
"transformers", "jax"). Each is imported only when asked for; a missing one
raises ImportError naming the package to install. The weights are the same
as cwhisper's where the checkout's converters are at hand (the CTranslate2
directory itself for faster-whisper; tests/fixtures/ct2_reader.py for
openai-whisper; bench/convert/ct2_to_hf.py for transformers and JAX, as
bench/peers/ does); otherwise each peer loads the model by name its own way.
Decoding: greedy at temperature 0, timestamps on (each peer's defaults
otherwise); batch_size > 1 batches where the peer can.
"""
from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import _build_info
from ._models import models_dir, resolve_model

SR = 16000
Chunk = Dict[str, Any]

_PACKAGES = {"openai-whisper": ("whisper", "openai-whisper"), "faster-whisper": ("faster_whisper", "faster-whisper"),
             "transformers": ("transformers", "transformers torch"), "jax": ("jax", "jax flax transformers")}


def _require(model_type: str) -> Any:
    module, pip_name = _PACKAGES[model_type]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"model_type '{model_type}' needs the {module} module, which is not importable here "
                          f"({e}); install it with: pip install {pip_name}") from e


def _source(rel: str) -> Optional[Path]:
    p = Path(_build_info.SOURCE_DIR) / rel
    return p if p.exists() else None


def _hf_model(name: str) -> str:
    """A Hugging Face directory of the same weights (converted once, cached
    beside the model), or the hub id openai/whisper-NAME without a checkout."""
    conv = _source("bench/convert/ct2_to_hf.py")
    if conv is None:
        return name if os.path.isdir(name) else f"openai/whisper-{name}"
    ct2 = resolve_model(name)
    out = models_dir() / "peers" / os.path.basename(os.path.normpath(ct2)) / "hf"
    if not (out / "tokenizer_config.json").exists():
        subprocess.run([sys.executable, str(conv), ct2, str(out)], check=True)
    return str(out)


class _Input:
    """audio as a path (bytes go to a temporary file) or as samples."""

    def __init__(self, audio: Any):
        self.tmp: Optional[str] = None
        if isinstance(audio, (bytes, bytearray)):
            fd, self.tmp = tempfile.mkstemp(prefix="cwhisper-peer-", suffix=".audio")
            with os.fdopen(fd, "wb") as f:
                f.write(audio)
            audio = self.tmp
        self.path = os.fspath(audio) if isinstance(audio, (str, os.PathLike)) else None
        self.samples = None if self.path else audio

    def pcm(self) -> Any:
        """16 kHz mono float32 samples (the ffmpeg program decodes a path, as openai-whisper does)."""
        import numpy as np
        if self.path is None:
            return np.asarray(self.samples, dtype=np.float32)
        p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", self.path, "-f", "s16le", "-ac", "1",
                            "-ar", str(SR), "-"], capture_output=True)
        if p.returncode != 0:
            raise RuntimeError(f"ffmpeg cannot decode {self.path}: {p.stderr.decode(errors='replace').strip()}")
        return np.frombuffer(p.stdout, np.int16).astype(np.float32) / 32768.0

    def __enter__(self) -> "_Input":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.tmp:
            os.unlink(self.tmp)


class _Peer:
    def __init__(self, name: str, device: str, dtype: str, batch_size: int, threads: Optional[int]):
        self.name, self.device, self.dtype, self.batch_size, self.threads = name, device, dtype, batch_size, threads

    def run(self, audio: Any) -> List[Chunk]:
        with _Input(audio) as inp:
            return self._run(inp)

    def _run(self, inp: _Input) -> List[Chunk]:
        raise NotImplementedError


class _OpenAIWhisper(_Peer):
    def __init__(self, *a: Any):
        super().__init__(*a)
        whisper = _require("openai-whisper")
        import torch
        if self.threads:
            torch.set_num_threads(self.threads)
        if self.dtype not in ("fp32", "fp16"):
            raise ValueError(f"openai-whisper runs fp32 or fp16 (cuda), not {self.dtype}")
        reader = _source("tests/fixtures/ct2_reader.py")
        if reader is not None:
            sys.path.insert(0, str(reader.parent))
            try:
                import ct2_reader
            finally:
                sys.path.remove(str(reader.parent))
            self.model = ct2_reader.load_openai_model(resolve_model(self.name)).to(self.device)
        else:
            self.model = whisper.load_model(self.name, device=self.device)

    def _run(self, inp: _Input) -> List[Chunk]:
        r = self.model.transcribe(inp.path if inp.path else inp.pcm(), fp16=self.dtype == "fp16", verbose=None,
                                  temperature=0.0)
        return [{"timestamp": (s["start"], s["end"]), "text": s["text"]} for s in r["segments"]]


class _FasterWhisper(_Peer):
    def __init__(self, *a: Any):
        super().__init__(*a)
        fw = _require("faster-whisper")
        ct = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "int8"}[self.dtype]
        model = fw.WhisperModel(resolve_model(self.name), device=self.device, compute_type=ct,
                                cpu_threads=self.threads or 0)
        self.model = fw.BatchedInferencePipeline(model=model) if self.batch_size > 1 else model

    def _run(self, inp: _Input) -> List[Chunk]:
        kw: Dict[str, Any] = {"beam_size": 1, "best_of": 1, "temperature": [0.0]}
        if self.batch_size > 1:
            kw = {"beam_size": 1, "batch_size": self.batch_size}
        segs, _ = self.model.transcribe(inp.path if inp.path else inp.pcm(), **kw)
        return [{"timestamp": (s.start, s.end), "text": s.text} for s in segs]


class _Transformers(_Peer):
    def __init__(self, *a: Any):
        super().__init__(*a)
        transformers = _require("transformers")
        import torch
        if self.threads:
            torch.set_num_threads(self.threads)
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(self.dtype)
        if dtype is None:
            raise ValueError(f"the transformers pipeline runs fp32, fp16 or bf16, not {self.dtype}")
        self.pipe = transformers.pipeline("automatic-speech-recognition", model=_hf_model(self.name),
                                          torch_dtype=dtype, device=self.device, chunk_length_s=30,
                                          batch_size=self.batch_size)

    def _run(self, inp: _Input) -> List[Chunk]:
        out = self.pipe({"raw": inp.pcm(), "sampling_rate": SR}, return_timestamps=True)
        return [{"timestamp": tuple(c["timestamp"]), "text": c["text"]} for c in out.get("chunks", [])]


class _Jax(_Peer):
    """whisper-jax's algorithm on transformers' Flax Whisper: 30 s chunks with
    5 s strides, batch_size at a time through a jitted generate, merged by
    the tokenizer's _decode_asr."""

    def __init__(self, *a: Any):
        super().__init__(*a)
        jax = _require("jax")
        import jax.numpy as jnp
        try:
            from transformers import FlaxWhisperForConditionalGeneration, WhisperProcessor
        except ImportError as e:
            raise ImportError(f"model_type 'jax' needs transformers with Flax models (4.x) and flax: {e}") from e
        dtype = {"fp32": jnp.float32, "fp16": jnp.float16, "bf16": jnp.bfloat16}.get(self.dtype)
        if dtype is None:
            raise ValueError(f"Flax Whisper runs fp32, fp16 or bf16, not {self.dtype}")
        hf = _hf_model(self.name)
        model = FlaxWhisperForConditionalGeneration.from_pretrained(hf, from_pt=True, dtype=dtype)
        self.params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=dtype), model.params)
        self.processor = WhisperProcessor.from_pretrained(hf)

        def generate(params: Any, features: Any) -> Any:
            return model.generate(features, params=params, return_timestamps=True,
                                  max_length=model.config.max_target_positions).sequences

        self.generate = jax.jit(generate)

    def _run(self, inp: _Input) -> List[Chunk]:
        import numpy as np
        audio = inp.pcm()
        chunk, stride = 30 * SR, 5 * SR
        starts = np.arange(0, max(len(audio), 1), chunk - 2 * stride)
        outputs = []
        for idx in np.array_split(np.arange(len(starts)), math.ceil(len(starts) / self.batch_size)):
            s, e = starts[idx], starts[idx] + chunk
            pieces = [audio[a:b] for a, b in zip(s, e)]
            feats = self.processor.feature_extractor(pieces, sampling_rate=SR, return_tensors="np").input_features
            tokens = np.asarray(self.generate(self.params, feats))
            for i in range(len(pieces)):
                left = 0 if s[i] == 0 else stride
                right = 0 if e[i] > len(audio) else stride
                outputs.append({"tokens": tokens[i][None, :], "stride": (len(pieces[i]) / SR, left / SR, right / SR)})
        _, extra = self.processor.tokenizer._decode_asr(outputs, return_timestamps=True, return_language=None,
                                                        time_precision=30 / 1500)
        return [{"timestamp": tuple(c["timestamp"]), "text": c["text"]} for c in extra.get("chunks", [])]


_ADAPTERS = {"openai-whisper": _OpenAIWhisper, "faster-whisper": _FasterWhisper, "transformers": _Transformers,
             "jax": _Jax}


def load_peer(model_type: str, model_name: str, *, device: str, dtype: str, batch_size: int,
              threads: Optional[int]) -> _Peer:
    """Loads model_name in the peer implementation model_type (ImportError if it is not installed)."""
    _require(model_type)  # fail before any conversion work
    return _ADAPTERS[model_type](model_name, device, dtype, batch_size, threads)
