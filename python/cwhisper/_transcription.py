"""The seed's interface: Transcription(...).run_pipeline(audio) returning
chunks [{"timestamp": (start, end), "text": str}], and transcribe_multiple,
over cwhisper or, with model_type, over the peer implementations."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Union

from ._model import Audio, Model, ProgressCallback, Transcript

Chunk = Dict[str, Any]
"""{"timestamp": (start_s, end_s), "text": str}"""

MODEL_TYPES = ("cwhisper", "openai-whisper", "faster-whisper", "transformers", "jax")


def chunks_of(transcript: Transcript) -> List[Chunk]:
    """The seed's chunks of a cwhisper transcript."""
    return [{"timestamp": (s.start, s.end), "text": s.text} for s in transcript]


class Transcription:
    """The seed's wrapper: one model, loaded once, behind one call.

    model_name: "tiny.en", "base", ... or a model directory. model_type:
    "cwhisper" (this library), or a peer run with the same call when it is
    installed: "openai-whisper", "faster-whisper", "transformers" (the HF
    pipeline, chunked and batched) or "jax" (transformers' Flax Whisper);
    a peer that is not installed raises ImportError. device: "cpu", or
    "cuda" ("gpu" too for cwhisper: see Model). dtype: "fp32", "fp16", "bf16", "int8". batch_size: 1
    decodes long audio with openai-whisper's sequential algorithm; N > 1
    with the chunked one, N chunks at a time (as the seed's batched
    pipelines). threads: None for every CPU. progress and any other keyword
    (language, beam_size, ...) go to Model.transcribe (cwhisper only).
    """

    def __init__(self, model_name: str = "base", device: str = "cpu", dtype: str = "fp32", batch_size: int = 1,
                 model_type: str = "cwhisper", threads: Optional[int] = None,
                 progress: Optional[ProgressCallback] = None, **options: Any):
        if model_type not in MODEL_TYPES:
            raise ValueError(f"model_type '{model_type}' is not one of {', '.join(MODEL_TYPES)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        self.model_name, self.device, self.dtype = model_name, device, dtype
        self.batch_size, self.model_type, self.threads = batch_size, model_type, threads
        self.progress = progress
        self.options = dict(options)
        if model_type == "cwhisper":
            self.model: Any = Model(model_name, device=device, dtype=dtype, threads=threads)
            if batch_size > 1:
                self.options.setdefault("long_form", "chunked")
                self.options.setdefault("batch_size", batch_size)
        else:
            if options or progress:
                raise TypeError(f"options {sorted(options) + (['progress'] if progress else [])} are for "
                                f"model_type 'cwhisper', not '{model_type}'")
            from ._peers import load_peer

            self.model = load_peer(model_type, model_name, device=device, dtype=dtype, batch_size=batch_size,
                                   threads=threads)

    def transcribe(self, audio: Audio) -> Transcript:
        """cwhisper only: the full Transcript (segments with tokens, language, ...)."""
        if self.model_type != "cwhisper":
            raise TypeError(f"transcribe() returns cwhisper Transcripts; use run_pipeline with {self.model_type}")
        t: Transcript = self.model.transcribe(audio, progress=self.progress, **self.options)
        return t

    def run_pipeline(self, audio: Audio) -> List[Chunk]:
        """Transcribes one input (a path, the bytes of an audio file, or a 1-D
        float32 numpy array at 16 kHz) and returns its chunks:
        [{"timestamp": (start, end), "text": str}, ...]."""
        if self.model_type == "cwhisper":
            return chunks_of(self.transcribe(audio))
        chunks: List[Chunk] = self.model.run(audio)
        return chunks

    def transcribe_multiple(self, paths: Sequence[Union[str, "os.PathLike[str]"]],
                            lockstep: int = 8) -> List[List[Chunk]]:
        """Transcribes several files with the model loaded once; returns one
        list of chunks per file, in order, the same as run_pipeline on each.

        cwhisper decodes `lockstep` files together (Model.transcribe_multiple:
        their windows share the encoder calls and decoder steps); with
        batch_size > 1 (the chunked mode) each file is batched by chunks
        instead. A failing file raises its CwhisperError once all are done.
        Peers run the files one after the other."""
        if self.model_type != "cwhisper":
            return [self.run_pipeline(p) for p in paths]
        ts = self.model.transcribe_multiple(paths, lockstep=lockstep, progress=self.progress, **self.options)
        return [chunks_of(t) for t in ts]
