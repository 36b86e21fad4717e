"""Type stubs of the C extension (python/src/_core.c)."""
from typing import Any, Callable, Dict, List, Optional, Tuple

class CwhisperError(RuntimeError):
    status: int
    status_name: str

WordTuple = Tuple[str, float, float, float]
"""(word, start, end, probability)"""
SegmentTuple = Tuple[int, int, float, float, str, Tuple[int, ...], float, float, float, float,
                     Optional[Tuple[WordTuple, ...]]]
"""(id, seek, start, end, text, tokens, avg_logprob, compression_ratio, no_speech_prob, temperature, words)"""

class Result:
    text: str
    language: str
    duration: float
    def segments(self) -> List[SegmentTuple]: ...
    def format(self, format: str, file: Optional[str] = ..., model: Optional[str] = ...,
               highlight_words: bool = ..., max_line_width: int = ..., max_line_count: int = ...,
               max_words_per_line: int = ...) -> str: ...
    def write(self, path: Any, format: str, file: Optional[str] = ..., model: Optional[str] = ...,
              highlight_words: bool = ..., max_line_width: int = ..., max_line_count: int = ...,
              max_words_per_line: int = ...) -> None: ...

class Model:
    multilingual: bool
    def __init__(self, path: Any, dtype: str = ..., threads: int = ..., int8_attention: bool = ...,
                 device: str = ...) -> None: ...
    def transcribe(self, audio: Any, options: Optional[Dict[str, Any]] = ...,
                   progress: Optional[Callable[[float, float], Any]] = ...) -> Result: ...
    def transcribe_files(self, paths: List[str], options: Optional[Dict[str, Any]] = ...,
                         progress: Optional[Callable[[float, float], Any]] = ...) -> List[Any]: ...
    def describe(self) -> str: ...
    def kernels(self) -> str: ...

def version() -> str: ...
def load_audio(path: Any) -> bytes: ...
