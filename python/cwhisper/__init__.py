"""cwhisper: OpenAI's Whisper speech recognition in C, from Python.

    import cwhisper
    cwhisper.Transcription(model_name="tiny.en").run_pipeline("jfk.flac")
    # [{'timestamp': (0.0, 10.5), 'text': ' And so my fellow Americans ...'}, ...]

- Transcription: the seed's wrapper (run_pipeline, transcribe_multiple),
  over cwhisper or a peer implementation (model_type);
- Model: the library itself, transcribe(audio, **options) with every option
  of `cwhisper transcribe`, returning a Transcript of Segment objects
  (with word_timestamps=True each has its words: Word objects);
- CwhisperError: a library failure, carrying its message (cw_last_error())
  and .status / .status_name (the cw_status);
- resolve_model / models_dir: model names as the CLI resolves them;
- load_audio: the library's decoder (any file FFmpeg reads -> 16 kHz float32).

The transcription runs with the GIL released.
"""
from ._core import CwhisperError
from ._core import version as _library_version
from ._model import SAMPLE_RATE, Model, Segment, Transcript, Word, load_audio
from ._models import models_dir, resolve_model
from ._transcription import MODEL_TYPES, Transcription, chunks_of

__version__: str = _library_version()

__all__ = ["CwhisperError", "MODEL_TYPES", "Model", "SAMPLE_RATE", "Segment", "Transcript", "Transcription",
           "Word", "chunks_of", "load_audio", "models_dir", "resolve_model", "__version__"]
