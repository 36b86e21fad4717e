"""cwhisper.Model: the library's transcription with every option of
`cwhisper transcribe`, returning Segment objects (faster-whisper's shape)."""
from __future__ import annotations

import array
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _core
from ._models import resolve_model

Audio = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Any]
"""A path, the bytes of an audio file, or 1-D float32 samples at 16 kHz (numpy array)."""

ProgressCallback = Callable[[float, float], Any]
"""Called after each 30 s window with (seconds done, total seconds)."""

SAMPLE_RATE = 16000
_LONG_FORMS = ("sequential", "chunked", "vad-batched")  # cw_long_form order

_DTYPES = {"fp32": "fp32", "float32": "fp32", "fp16": "fp16", "float16": "fp16", "bf16": "bf16",
           "bfloat16": "bf16", "int8": "int8"}


@dataclass(frozen=True)
class Word:
    """One word of a segment (word_timestamps=True), as openai-whisper's
    result gives it: the text with its leading space and the punctuation
    merged into it, its times in seconds from the start of the audio, and
    the mean probability of its tokens."""

    start: float
    end: float
    word: str
    probability: float

    def to_dict(self) -> Dict[str, Any]:
        """openai-whisper's word dict: {"word", "start", "end", "probability"}."""
        return {"word": self.word, "start": self.start, "end": self.end, "probability": self.probability}


@dataclass(frozen=True)
class Segment:
    """One segment of a transcript, as openai-whisper's transcribe() gives it."""

    id: int
    seek: int
    """window start, in mel frames (10 ms)"""
    start: float
    """seconds from the start of the audio"""
    end: float
    text: str
    tokens: Tuple[int, ...]
    """token ids, timestamp tokens included"""
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    temperature: float
    words: Optional[List[Word]] = None
    """the segment's words with their times (word_timestamps=True; possibly
    empty), None without word timestamps"""

    def to_dict(self) -> Dict[str, Any]:
        """openai-whisper's segment dict (its result["segments"][i]); "words"
        only with word timestamps, as there."""
        d: Dict[str, Any] = {"id": self.id, "seek": self.seek, "start": self.start, "end": self.end,
                             "text": self.text, "tokens": list(self.tokens), "temperature": self.temperature,
                             "avg_logprob": self.avg_logprob, "compression_ratio": self.compression_ratio,
                             "no_speech_prob": self.no_speech_prob}
        if self.words is not None:
            d["words"] = [w.to_dict() for w in self.words]
        return d


def _segment(t: Tuple[Any, ...]) -> Segment:
    """A Segment from the C binding's tuple, whose last item is the words."""
    words = None if t[10] is None else [Word(start, end, word, p) for word, start, end, p in t[10]]
    return Segment(*t[:10], words=words)


class Transcript(Sequence[Segment]):
    """The result of Model.transcribe: a sequence of Segment, with the whole
    text, the language and the duration; format()/write() give txt, srt, vtt,
    json and tsv exactly as `cwhisper transcribe --output-format` does."""

    def __init__(self, result: "_core.Result", source: Optional[str] = None, model: Optional[str] = None):
        self._result = result
        self._source, self._model = source, model
        self.segments: List[Segment] = [_segment(s) for s in result.segments()]
        self.text: str = result.text
        self.language: str = result.language
        self.duration: float = result.duration

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, i: Any) -> Any:
        return self.segments[i]

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __repr__(self) -> str:
        return f"Transcript(language={self.language!r}, duration={self.duration:.2f}, segments={len(self)})"

    def to_dict(self) -> Dict[str, Any]:
        """openai-whisper's result dict: {"text", "segments", "language"}
        (segments as Segment.to_dict, with "words" under word_timestamps=True)."""
        return {"text": self.text, "segments": [s.to_dict() for s in self.segments], "language": self.language}

    def format(self, fmt: str = "txt", *, highlight_words: bool = False, max_line_width: Optional[int] = None,
               max_line_count: Optional[int] = None, max_words_per_line: Optional[int] = None) -> str:
        """The transcript as txt, srt, vtt, json or tsv. The keywords are
        openai-whisper's writer options: srt and vtt cues made from the words
        (a transcript made with word_timestamps=True), a cue per word with it
        underlined (highlight_words), lines of at most max_line_width
        characters, max_line_count lines a cue, max_words_per_line words a
        cue; without words they change nothing, as in openai-whisper. json
        has each segment's "words" under word_timestamps=True."""
        return self._result.format(fmt, self._source, self._model, highlight_words, max_line_width or 0,
                                   max_line_count or 0, max_words_per_line or 0)

    def write(self, path: Union[str, "os.PathLike[str]"], fmt: Optional[str] = None, *,
              highlight_words: bool = False, max_line_width: Optional[int] = None,
              max_line_count: Optional[int] = None, max_words_per_line: Optional[int] = None) -> None:
        """Writes the transcript to path atomically; fmt defaults to path's
        extension; the keywords are format()'s."""
        fmt = fmt or os.path.splitext(os.fspath(path))[1].lstrip(".")
        self._result.write(path, fmt, self._source, self._model, highlight_words, max_line_width or 0,
                           max_line_count or 0, max_words_per_line or 0)


def _float32_samples(audio: Any) -> Any:
    """numpy arrays of another dtype are converted; other buffers go as they are."""
    if type(audio).__module__ == "numpy" and hasattr(audio, "astype"):
        import numpy as np

        a = np.ascontiguousarray(audio, dtype=np.float32)
        if a.ndim != 1:
            raise ValueError(f"audio samples must be 1-D (mono 16 kHz), not of shape {a.shape}")
        return a
    return audio


def _options(*, language: Optional[str] = None, task: str = "transcribe", temperature: Optional[float] = None,
             temperature_increment: Optional[float] = None, no_fallback: bool = False,
             beam_size: Optional[int] = None, patience: Optional[float] = None, best_of: Optional[int] = None,
             length_penalty: Optional[float] = None, compression_ratio_threshold: Optional[float] = None,
             logprob_threshold: Optional[float] = None, no_speech_threshold: Optional[float] = None,
             initial_prompt: Optional[str] = None, condition_on_previous_text: bool = True,
             carry_initial_prompt: bool = False, clip_timestamps: Union[str, Sequence[float], None] = None,
             seed: Optional[int] = None, suppress_blank: Optional[bool] = None, without_timestamps: bool = False,
             max_initial_timestamp: Optional[float] = None, long_form: str = "sequential",
             batch_size: Optional[int] = None, chunk_length: Optional[float] = None,
             stride_length: Optional[float] = None, vad: bool = False, vad_batched_timestamps: bool = True,
             vad_threshold: Optional[float] = None, vad_min_speech_ms: Optional[float] = None,
             vad_min_silence_ms: Optional[float] = None, vad_speech_pad_ms: Optional[float] = None,
             vad_max_speech_s: Optional[float] = None, vad_model: Optional[str] = None,
             word_timestamps: bool = False, prepend_punctuations: Optional[str] = None,
             append_punctuations: Optional[str] = None,
             hallucination_silence_threshold: Optional[float] = None) -> Dict[str, Any]:
    """Model.transcribe's options as the C binding's dict of cw_transcribe_params fields (None: the default)."""
    _check_word_options(word_timestamps, prepend_punctuations, append_punctuations, hallucination_silence_threshold)
    if task not in ("transcribe", "translate"):
        raise ValueError(f"task '{task}' is not transcribe or translate")
    if long_form not in _LONG_FORMS:
        raise ValueError(f"long_form '{long_form}' is not sequential, chunked or vad-batched")
    if (vad or long_form == "vad-batched") and vad_model is None:
        vad_model = resolve_model("silero-vad")  # the models folder, fetched on first use
    opts: Dict[str, Any] = {"task": 0 if task == "transcribe" else 1,
                            "long_form": _LONG_FORMS.index(long_form), "no_fallback": int(no_fallback),
                            "vad": int(vad), "vad_batched_timestamps": int(vad_batched_timestamps),
                            "condition_on_previous_text": int(condition_on_previous_text),
                            "carry_initial_prompt": int(carry_initial_prompt),
                            "without_timestamps": int(without_timestamps),
                            "word_timestamps": int(word_timestamps)}
    given = dict(language=language, temperature=temperature, temperature_increment=temperature_increment,
                 beam_size=beam_size, patience=patience, best_of=best_of, length_penalty=length_penalty,
                 compression_ratio_threshold=compression_ratio_threshold, logprob_threshold=logprob_threshold,
                 no_speech_threshold=no_speech_threshold, initial_prompt=initial_prompt, seed=seed,
                 suppress_blank=None if suppress_blank is None else int(suppress_blank),
                 max_initial_timestamp=max_initial_timestamp, batch_size=batch_size,
                 chunk_length=chunk_length, stride_length=stride_length, vad_threshold=vad_threshold,
                 vad_min_speech_ms=vad_min_speech_ms, vad_min_silence_ms=vad_min_silence_ms,
                 vad_speech_pad_ms=vad_speech_pad_ms, vad_max_speech_s=vad_max_speech_s, vad_model=vad_model,
                 prepend_punctuations=prepend_punctuations, append_punctuations=append_punctuations,
                 hallucination_silence_threshold=hallucination_silence_threshold)
    opts.update({k: v for k, v in given.items() if v is not None})
    if clip_timestamps is not None:  # openai-whisper's "start,end,..." string or a list of seconds
        if isinstance(clip_timestamps, str):
            clips = [float(t) for t in clip_timestamps.split(",")] if clip_timestamps else []
        else:
            clips = [float(t) for t in clip_timestamps]
        if clips:
            opts["clip_timestamps"] = array.array("d", clips).tobytes()
    return opts


def _check_word_options(word_timestamps: bool, prepend: Optional[str], append: Optional[str],
                        hst: Optional[float]) -> None:
    """The word-timestamp options' errors, before any work (the library would
    take a NUL as the string's end and ignore a threshold without words)."""
    for name, v in (("prepend_punctuations", prepend), ("append_punctuations", append)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{name} must be a str, not {type(v).__name__}")
        if v is not None and "\0" in v:
            raise ValueError(f"{name} must not contain NUL characters")
    if hst is not None:
        if isinstance(hst, bool) or not isinstance(hst, (int, float)):
            raise TypeError(f"hallucination_silence_threshold must be a number of seconds, not {type(hst).__name__}")
        if not hst > 0 or hst == float("inf"):
            raise ValueError(f"hallucination_silence_threshold must be a positive number of seconds, not {hst}")
        if not word_timestamps:
            raise ValueError("hallucination_silence_threshold needs word_timestamps=True (it works on the words' times)")


def load_audio(path: Union[str, "os.PathLike[str]"]) -> Any:
    """Decodes any file FFmpeg reads to mono float32 samples at 16 kHz,
    downmixed and resampled as `ffmpeg -ac 1 -ar 16000` does (the samples
    Model.transcribe gets from a path): a numpy array when numpy is
    installed, else an array.array("f")."""
    data = _core.load_audio(path)
    try:
        import numpy as np
    except ImportError:
        import array

        a = array.array("f")
        a.frombytes(data)
        return a
    return np.frombuffer(data, dtype=np.float32)


class Model:
    """A loaded Whisper model and its compute context.

    model: a name ("tiny.en", "base", ...: resolved and fetched as the CLI
    does, see cwhisper.resolve_model) or a model directory (CTranslate2 or
    Hugging Face safetensors). device: "cpu", or "cuda" / "cuda:N" (also
    "gpu" / "gpu:N", the seed's word) for an NVIDIA GPU of compute capability
    8.0 or more, through the CUDA back end (not yet run on a GPU by the
    project's tests); where it cannot run (built without CUDA, no driver, no
    such GPU) CwhisperError says why in one line. dtype: "fp32" (exact), "fp16", "bf16" or "int8" (faster, not
    exact). threads: None for every CPU. int8_attention: with dtype "int8" or
    "bf16", the encoder's attention in int8 too (CLI --int8-attention; a CPU
    with AVX512-VNNI, or AVX2 without AVX-512; elsewhere no change).

    A Model may be shared by threads; its transcriptions run one at a time
    (with the GIL released). For parallel work make one Model per thread.
    """

    def __init__(self, model: Union[str, "os.PathLike[str]"] = "tiny.en", *, device: str = "cpu",
                 dtype: str = "fp32", threads: Optional[int] = None, int8_attention: bool = False):
        if device == "gpu" or device.startswith("gpu:"):
            device = "cuda" + device[3:]
        if dtype not in _DTYPES:
            raise ValueError(f"dtype '{dtype}' is not fp32, fp16, bf16 or int8")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, not {threads}")
        self.name = os.path.basename(os.path.normpath(os.fspath(model)))
        self.path = resolve_model(model)
        self.device, self.dtype, self.threads = device, _DTYPES[dtype], threads
        self.int8_attention = bool(int8_attention)
        self._m = _core.Model(self.path, self.dtype, threads or 0, self.int8_attention, device)

    @property
    def multilingual(self) -> bool:
        """True for a multilingual model, False for an English-only (.en) one."""
        return self._m.multilingual

    @property
    def lockstep(self) -> bool:
        """True when transcribe_multiple can decode files in lockstep (the library has cw_transcribe_files)."""
        return hasattr(self._m, "transcribe_files")

    def describe(self) -> str:
        """Kind, dimensions, dtypes, vocabulary, special tokens and memory (`cwhisper info`)."""
        return self._m.describe()

    def kernels(self) -> str:
        """The kernels this model's context runs (ISA, threads, dtype)."""
        return self._m.kernels()

    def transcribe(self, audio: Audio, *, language: Optional[str] = None, task: str = "transcribe",
                   temperature: Optional[float] = None, temperature_increment: Optional[float] = None,
                   no_fallback: bool = False, beam_size: Optional[int] = None, patience: Optional[float] = None,
                   best_of: Optional[int] = None, length_penalty: Optional[float] = None,
                   compression_ratio_threshold: Optional[float] = None, logprob_threshold: Optional[float] = None,
                   no_speech_threshold: Optional[float] = None, initial_prompt: Optional[str] = None,
                   condition_on_previous_text: bool = True, carry_initial_prompt: bool = False,
                   clip_timestamps: Union[str, Sequence[float], None] = None, seed: Optional[int] = None,
                   suppress_blank: Optional[bool] = None, without_timestamps: bool = False,
                   max_initial_timestamp: Optional[float] = None, long_form: str = "sequential",
                   batch_size: Optional[int] = None, chunk_length: Optional[float] = None,
                   stride_length: Optional[float] = None, vad: bool = False, vad_batched_timestamps: bool = True,
                   vad_threshold: Optional[float] = None, vad_min_speech_ms: Optional[float] = None,
                   vad_min_silence_ms: Optional[float] = None, vad_speech_pad_ms: Optional[float] = None,
                   vad_max_speech_s: Optional[float] = None, vad_model: Optional[str] = None,
                   word_timestamps: bool = False, prepend_punctuations: Optional[str] = None,
                   append_punctuations: Optional[str] = None,
                   hallucination_silence_threshold: Optional[float] = None,
                   progress: Optional[ProgressCallback] = None) -> Transcript:
        """Transcribes audio: a path (any file FFmpeg reads), the bytes of such
        a file, or a 1-D float32 numpy array of 16 kHz mono samples.

        The options are those of `cwhisper transcribe` (None: the library's
        default, which is openai-whisper's transcribe()):

        - language: "auto"/None (detect; English for .en models) or a code;
          task: "transcribe" or "translate";
        - temperature (0.0), temperature_increment (0.2; the fallback runs up
          to 1.0), no_fallback; beam_size (greedy), patience (1.0), best_of
          (1), length_penalty;
        - compression_ratio_threshold (2.4; <= 0 off), logprob_threshold
          (-1.0; float("nan") off), no_speech_threshold (0.6; <= 0 off);
        - initial_prompt, condition_on_previous_text (True), seed (0),
          suppress_blank (True), without_timestamps, max_initial_timestamp (1.0 s);
          carry_initial_prompt (the initial prompt starts every window's
          prompt); clip_timestamps ("start,end,..." or a list of seconds:
          only those stretches, the last end defaulting to the end; sequential);
        - long_form: "sequential" (openai-whisper's seek loop) or "chunked"
          (30 s chunks decoded batch_size at a time and merged; chunk_length,
          stride_length), or "vad-batched" (faster-whisper's batched
          pipeline: Silero VAD speech in <= 30 s chunks, batch_size at a time;
          vad_batched_timestamps (True: timestamp tokens; False or
          without_timestamps: text only, the pipeline's default)); vad=True skips what the VAD finds silent
          in the other modes; vad_threshold (0.5), vad_min_speech_ms,
          vad_min_silence_ms, vad_speech_pad_ms, vad_max_speech_s, vad_model
          (default: "silero-vad" in the models folder, fetched on first use);
        - word_timestamps: each segment gets its words (Segment.words, a list
          of Word: word, start, end, probability) as openai-whisper's
          word_timestamps=True computes them (the alignment heads'
          cross-attention, DTW), and the segment times and the seek follow
          the words as there; sequential long-form mode only (with vad too).
          prepend_punctuations (openai-whisper's default "\\"'“¿([{-") and
          append_punctuations ("\\"'.。,，!！?？:：”)]}、") are merged into the
          next / previous word; hallucination_silence_threshold (seconds,
          needs word_timestamps): silences longer than this around segments
          that look hallucinated are skipped, as openai-whisper does;
        - progress(done_s, total_s): called after each window from the
          transcribing thread; if it raises, it is not called again and its
          exception is raised when the transcription ends.

        Raises CwhisperError (carrying the library's message) on a failure,
        e.g. an unreadable file or an invalid option.
        """
        opts = _options(**{k: v for k, v in locals().items() if k not in ("self", "audio", "progress")})
        if isinstance(audio, (bytes, bytearray)):
            return self._transcribe_bytes(bytes(audio), opts, progress)
        source = os.fspath(audio) if isinstance(audio, (str, os.PathLike)) else None
        r = self._m.transcribe(source if source is not None else _float32_samples(audio), opts, progress)
        return Transcript(r, source, self.name)

    def transcribe_multiple(self, paths: Sequence[Union[str, "os.PathLike[str]"]], *, lockstep: int = 8,
                            return_errors: bool = False, progress: Optional[ProgressCallback] = None,
                            **options: Any) -> List[Any]:
        """Transcribes files (paths) with the model loaded once; returns one
        Transcript per file, in order, each equal to transcribe(path, **options).

        In the sequential long-form mode, `lockstep` files (1..64) are decoded
        together: the windows they are at share each encoder call and decoder
        step (cw_transcribe_files), which is faster on many short files; a file
        that ends makes room for the next. In the chunked mode the files go one
        after the other, each batched by chunks (batch_size). A library built
        without cw_transcribe_files (Model.lockstep is False) runs them one
        after the other too; the results are the same either way.

        A file that fails does not stop the others: its CwhisperError (naming
        the file) is raised once all are done, or, with return_errors=True,
        put in the list in its place.
        """
        opts = _options(**options)
        if options.get("long_form", "sequential") == "sequential":
            if not 1 <= lockstep <= 64:
                raise ValueError(f"lockstep must be in 1..64, not {lockstep}")
            if options.get("batch_size", 1) > 1:
                raise ValueError("batch_size is the chunked mode's; the sequential mode batches files (lockstep)")
            opts["batch_size"] = lockstep
        srcs = [os.fspath(p) for p in paths]
        out: List[Any] = []
        for src, r in zip(srcs, self._transcribe_files(srcs, opts, progress)):
            if isinstance(r, _core.CwhisperError):
                if not return_errors:
                    raise r
                out.append(r)
            else:
                out.append(Transcript(r, src, self.name))
        return out

    def _transcribe_files(self, srcs: List[str], opts: Dict[str, Any],
                          progress: Optional[ProgressCallback]) -> List[Any]:
        if self.lockstep:
            r: List[Any] = self._m.transcribe_files(srcs, opts, progress)
            return r
        # A library without the lockstep entry point: one file after the
        # other, with the same results.
        one = dict(opts, batch_size=1) if opts.get("long_form", 0) == 0 else opts
        out: List[Any] = []
        for src in srcs:
            try:
                out.append(self._m.transcribe(src, one, progress))
            except _core.CwhisperError as e:
                out.append(e)
        return out

    def _transcribe_bytes(self, data: bytes, opts: Dict[str, Any], progress: Optional[ProgressCallback]) -> Transcript:
        # The library decodes from a path (FFmpeg needs to seek in some
        # containers), so the bytes go to a private temporary file first.
        fd, tmp = tempfile.mkstemp(prefix="cwhisper-", suffix=".audio")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return Transcript(self._m.transcribe(tmp, opts, progress), None, self.name)
        except _core.CwhisperError as e:
            e.args = (str(e).replace(tmp, "<audio bytes>"),)  # the caller never saw that name
            raise
        finally:
            os.unlink(tmp)
