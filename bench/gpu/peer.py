#!/usr/bin/env python3
"""Runs one bench/peers adapter unchanged (same command line, same JSON), with
two hooks for the GPU machine, which has no ffmpeg program:

- audio: the inputs are 16 kHz mono s16 WAV files (bench/gpu/unpack.py), read
  with the stdlib wave module into the float32 array ffmpeg would give
  (s16 / 32768), inside the timed transcribe call as ffmpeg's decoding is in
  the CPU runs. hf_pipeline gets the array instead of the path;
  flax_whisper's ffmpeg_read and openai-whisper's load_audio are replaced.
- weights: a model under DIR/models/NAME uses the HF directory already made
  in DIR/models/peers/NAME/hf by run.sh (bench/convert/ct2_to_hf.py), instead
  of common.converted's ROOT/models/peers (ROOT/models does not travel).

    python3 bench/gpu/peer.py hf_pipeline|flax_whisper|openai_whisper ADAPTER-ARGS...
"""
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "..", "peers")
sys.path.insert(0, HERE)
sys.path.insert(0, PEERS)
import common  # noqa: E402
import packlib  # noqa: E402

_converted = common.converted


def converted(model_dir, kind):
    d = os.path.join(os.path.dirname(os.path.abspath(model_dir)), "peers", common.model_name(model_dir), kind)
    if kind == "hf" and os.path.exists(os.path.join(d, "tokenizer_config.json")):
        return d
    return _converted(model_dir, kind)


def wav_bytes_to_float(payload, sampling_rate=16000):
    import wave

    import numpy as np
    with wave.open(io.BytesIO(payload), "rb") as w:
        if w.getframerate() != sampling_rate or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("bench/gpu inputs are 16 kHz mono s16 WAV")
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


class AudioPipe:
    """The transformers pipeline, called with the decoded array instead of a path."""

    def __init__(self, pipe):
        self.pipe = pipe

    def __call__(self, inputs, **kw):
        if isinstance(inputs, str):
            inputs = packlib.read_wav(inputs)
        return self.pipe(inputs, **kw)


def main():
    which = sys.argv.pop(1)
    common.converted = converted
    if which == "hf_pipeline":
        import hf_pipeline as ad
        load = ad.load

        def hooked_load(args, cfg):
            pipe = load(args, cfg)
            cfg["audio_input"] = "16 kHz s16 WAV read by bench/gpu/peer.py (no ffmpeg), array to the pipeline"
            return AudioPipe(pipe)
        ad.load = hooked_load
    elif which == "flax_whisper":
        import flax_whisper as ad
        load = ad.load

        def hooked_load(args, cfg):  # imports after common.main has pinned the threads
            r = load(args, cfg)
            from transformers.pipelines import audio_utils
            audio_utils.ffmpeg_read = wav_bytes_to_float
            cfg["audio_input"] = "16 kHz s16 WAV read by bench/gpu/peer.py (ffmpeg_read replaced)"
            return r
        ad.load = hooked_load
    elif which == "openai_whisper":
        import openai_whisper as ad
        load = ad.load

        def hooked_load(args, cfg):
            m = load(args, cfg)
            import whisper.audio
            whisper.audio.load_audio = lambda file, sr=16000: packlib.read_wav(file)
            cfg["audio_input"] = "16 kHz s16 WAV read by bench/gpu/peer.py (load_audio replaced)"
            return m
        ad.load = hooked_load
    else:
        raise SystemExit(f"unknown adapter {which}")
    common.main(ad.NAME, ad.load, ad.transcribe, ad.versions)


if __name__ == "__main__":
    main()
