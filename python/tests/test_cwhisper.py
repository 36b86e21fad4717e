"""The Python package against the library and the `cwhisper` program (tiny.en).

Paths come from the environment CTest sets (tests/python/run.sh); run by
hand, they default to the checkout this file is in and its build/.
"""
import array
import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import cwhisper

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("CW_MODELS_DIR", ROOT / "models"))
SPEECH = Path(os.environ.get("CW_SHARED_DIR", ROOT.parent / "shared")) / "speech"
CLI = os.environ.get("CW_CLI", str(ROOT / "build" / "cwhisper"))
FIXTURES = SPEECH / "english-fixtures" / "audio"
JFK = FIXTURES / "jfk.flac"
TINY = MODELS / "tiny.en"

if not (TINY / "model.bin").is_file():
    pytest.skip("no models/tiny.en", allow_module_level=True)

# The CLI's own jfk transcript (tiny.en, fp32, default options).
JFK_CHUNKS = [{"timestamp": (0.0, 7.74), "text": " And so my fellow Americans ask not what your country can do for you"},
              {"timestamp": (7.74, 10.74), "text": " ask what you can do for your country"}]


# One thread: CTest runs other tests beside this one.
@pytest.fixture(scope="module")
def model():
    return cwhisper.Model(str(TINY), threads=1)


@pytest.fixture(scope="module")
def jfk(model):
    return model.transcribe(str(JFK))


@pytest.fixture(scope="module")
def transcription():
    return cwhisper.Transcription(model_name=str(TINY), threads=1)


def run_cli(*args):
    p = subprocess.run([CLI, "transcribe", "--model", str(TINY), "--threads", "1", *args], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_run_pipeline_jfk_gives_the_seeds_chunks(transcription):
    assert transcription.run_pipeline(str(JFK)) == JFK_CHUNKS


def test_model_names_resolve_like_the_cli(monkeypatch):
    monkeypatch.setenv("CWHISPER_MODELS", str(MODELS))
    assert cwhisper.models_dir() == MODELS
    assert cwhisper.resolve_model("tiny.en") == str(MODELS / "tiny.en")
    assert cwhisper.resolve_model(str(TINY)) == str(TINY)  # a directory is used as is
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        cwhisper.resolve_model("/nonexistent/model/dir")
    t = cwhisper.Transcription(model_name="tiny.en", threads=1)  # by name, as in the README
    assert t.model.path == str(MODELS / "tiny.en")
    assert t.run_pipeline(str(JFK)) == JFK_CHUNKS


def test_int8_attention_equals_the_cli(tmp_path):
    """int8_attention=True is the CLI's --int8-attention: the same segments."""
    model = cwhisper.Model(str(TINY), dtype="int8", threads=1, int8_attention=True)
    run_cli("--dtype", "int8", "--int8-attention", "--output-format", "json", "--output-dir", str(tmp_path), str(JFK))
    ref = json.loads((tmp_path / "jfk.json").read_text())
    got = model.transcribe(str(JFK))
    assert [list(s.tokens) for s in got] == [r["tokens"] for r in ref["segments"]]
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    if "avx512_vnni" in flags and "avx512_bf16" in flags:
        assert "attention: avx512-vnni int8" in model.kernels()


def test_equal_to_the_cli_on_english_fixtures(tmp_path):
    """Same tokens, text and times as `cwhisper transcribe` on every file.
    In int8, to keep the test short: the binding is the same either way, and
    fp32 is compared with the CLI on jfk by the other tests."""
    files = sorted(FIXTURES.iterdir())
    assert len(files) >= 10
    model = cwhisper.Model(str(TINY), dtype="int8", threads=1)
    run_cli("--dtype", "int8", "--output-format", "json", "--output-dir", str(tmp_path), *map(str, files))
    for f in files:
        ref = json.loads((tmp_path / (f.stem + ".json")).read_text())
        got = model.transcribe(str(f))
        assert got.text == ref["text"], f.name
        assert got.language == ref["language"]
        assert len(got) == len(ref["segments"]), f.name
        for s, r in zip(got, ref["segments"]):
            assert list(s.tokens) == r["tokens"], f.name
            assert (s.start, s.end, s.text) == (r["start"], r["end"], r["text"]), f.name
            assert s.avg_logprob == pytest.approx(r["avg_logprob"], abs=1e-12)
            assert s.words is None


def test_numpy_input_equals_the_file(model, jfk):
    samples = cwhisper.load_audio(str(JFK))
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == pytest.approx(11.0 * cwhisper.SAMPLE_RATE, abs=cwhisper.SAMPLE_RATE)
    from_pcm = model.transcribe(samples)
    assert [s.tokens for s in from_pcm] == [s.tokens for s in jfk]
    assert [(s.start, s.end, s.text) for s in from_pcm] == [(s.start, s.end, s.text) for s in jfk]
    # float64 is converted; array.array('f') (any float32 buffer) works without numpy
    head = samples[: 3 * cwhisper.SAMPLE_RATE]
    want = [s.tokens for s in model.transcribe(head)]
    assert want and [s.tokens for s in model.transcribe(head.astype(np.float64))] == want
    assert [s.tokens for s in model.transcribe(array.array("f", head.tobytes()))] == want
    with pytest.raises(ValueError, match="1-D"):
        model.transcribe(np.stack([samples, samples]))
    with pytest.raises(TypeError, match="float32"):
        model.transcribe(array.array("h", [0, 1, 2]))


def test_bytes_input(transcription):
    assert transcription.run_pipeline(JFK.read_bytes()) == JFK_CHUNKS


def test_bad_file_raises_naming_the_file(model, tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_bytes(b"this is not a RIFF file at all" * 100)
    with pytest.raises(cwhisper.CwhisperError, match="not-audio.wav") as e:
        model.transcribe(str(bad))
    assert e.value.status_name and e.value.status > 0
    with pytest.raises(cwhisper.CwhisperError, match="<audio bytes>"):
        model.transcribe(bad.read_bytes())
    missing = tmp_path / "missing.flac"
    with pytest.raises(cwhisper.CwhisperError, match="missing.flac"):
        model.transcribe(missing)  # os.PathLike accepted
    with pytest.raises(cwhisper.CwhisperError, match="missing.flac"):
        cwhisper.load_audio(str(missing))
    with pytest.raises(cwhisper.CwhisperError, match="model.bin|config|vocabulary|no such|tmp"):
        cwhisper.Model(str(tmp_path))  # a directory without a model


def test_invalid_options_raise_the_librarys_message(model):
    with pytest.raises(cwhisper.CwhisperError, match="English-only model cannot transcribe 'fr'"):
        model.transcribe(str(JFK), language="fr")
    with pytest.raises(cwhisper.CwhisperError, match="chunked"):
        model.transcribe(str(JFK), batch_size=4)  # needs long_form="chunked"
    with pytest.raises(ValueError, match="task"):
        model.transcribe(str(JFK), task="summarise")
    with pytest.raises(ValueError, match="dtype"):
        cwhisper.Model(str(TINY), dtype="int4")
    with pytest.raises(ValueError, match="int8 attention needs dtype int8 or bf16"):
        cwhisper.Model(str(TINY), int8_attention=True)  # fp32
    with pytest.raises(ValueError, match="tpu"):
        cwhisper.Model(str(TINY), device="tpu")


def test_gpu_device_runs_or_says_why():
    """device="cuda" (or the seed's "gpu"): jfk's words where a GPU can run it,
    else one line saying why (built without CUDA, no driver, no GPU)."""
    for device in ("cuda", "gpu:0"):
        try:
            m = cwhisper.Model(str(TINY), device=device, threads=1)
        except cwhisper.CwhisperError as e:
            assert "CUDA" in str(e) and "\n" not in str(e), str(e)
            assert e.status_name == "unsupported"
            continue
        got = " ".join(s.text for s in m.transcribe(str(JFK))).lower()
        assert "ask not what your country can do for you" in got


def test_cli_options_change_the_decoding(model):
    """A few CLI options, checked against the CLI itself."""
    for py_opts, cli_opts in [({"beam_size": 2, "no_fallback": True}, ["--beam-size", "2", "--no-fallback"]),
                              ({"initial_prompt": "Kennedy's inaugural address."},
                               ["--initial-prompt", "Kennedy's inaugural address."]),
                              ({"long_form": "chunked", "batch_size": 2, "chunk_length": 8.0},
                               ["--long-form", "chunked", "--batch-size", "2", "--chunk-length", "8"])]:
        ref = json.loads(run_cli("--output-format", "json", *cli_opts, str(JFK)))
        got = model.transcribe(str(JFK), **py_opts)
        assert [list(s.tokens) for s in got] == [s["tokens"] for s in ref["segments"]], py_opts


def test_formats_equal_the_clis(jfk, tmp_path):
    run_cli("--output-format", "all", "--output-dir", str(tmp_path), str(JFK))
    for fmt in ("txt", "srt", "vtt", "tsv"):
        assert jfk.format(fmt) == (tmp_path / f"jfk.{fmt}").read_text(), fmt
    jfk.write(tmp_path / "py.srt")
    assert (tmp_path / "py.srt").read_text() == jfk.format("srt")
    assert json.loads(jfk.format("json"))["segments"][0]["tokens"] == list(jfk[0].tokens)
    with pytest.raises(ValueError, match="output format"):
        jfk.format("docx")


def test_transcribe_multiple_equals_one_by_one(transcription, model, tmp_path):
    files = [str(FIXTURES / n) for n in ("ljspeech-LJ002-0020.wav", "jfk.flac", "uberi-english.wav",
                                          "ljspeech-LJ002-0035.wav")]
    one_by_one = [model.transcribe(f) for f in files]
    together = transcription.transcribe_multiple(files, lockstep=3)  # 4 files through 3 slots
    assert together == [cwhisper.chunks_of(t) for t in one_by_one]
    assert together[1] == JFK_CHUNKS
    # Model level: same tokens; a missing file in the middle does not stop the others.
    bad = str(tmp_path / "missing.wav")
    got = model.transcribe_multiple(files[:2] + [bad] + files[2:], lockstep=2, return_errors=True)
    assert isinstance(got[2], cwhisper.CwhisperError) and "missing.wav" in str(got[2])
    assert [[s.tokens for s in t] for t in got[:2] + got[3:]] == [[s.tokens for s in t] for t in one_by_one]
    with pytest.raises(cwhisper.CwhisperError, match="missing.wav"):
        model.transcribe_multiple([bad, files[0]])
    with pytest.raises(ValueError, match="lockstep"):
        model.transcribe_multiple(files, lockstep=0)


def test_progress_callback(model):
    calls = []
    t = model.transcribe(str(JFK), progress=lambda done, total: calls.append((done, total)))
    assert calls, "progress was never called"
    assert all(total == pytest.approx(t.duration, abs=0.05) for _, total in calls)
    assert calls[-1][0] == pytest.approx(t.duration, abs=0.05)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    def fails(done, total):
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        model.transcribe(str(JFK), progress=fails)


def test_gil_released_while_c_runs(model):
    """Another Python thread keeps running during a transcription."""
    ticks = 0
    done = threading.Event()

    def work():
        model.transcribe(str(JFK))
        done.set()

    th = threading.Thread(target=work)
    th.start()
    while not done.is_set():
        ticks += 1
        done.wait(0.001)
    th.join()
    # jfk takes a good fraction of a second at least; with the GIL held the
    # main thread could not tick at all until it returned.
    assert ticks > 20


@pytest.mark.parametrize("peer,module", [("openai-whisper", "whisper"), ("faster-whisper", "faster_whisper"),
                                         ("transformers", "transformers"), ("jax", "jax")])
def test_peers_run_or_say_what_to_install(peer, module):
    try:
        __import__(module)
    except ImportError:
        with pytest.raises(ImportError, match=f"pip install .*{peer.split('-')[0] if peer != 'jax' else 'jax'}"):
            cwhisper.Transcription(model_name=str(TINY), model_type=peer, threads=1)
        return
    chunks = cwhisper.Transcription(model_name=str(TINY), model_type=peer, threads=1).run_pipeline(str(JFK))
    text = "".join(c["text"] for c in chunks).lower()
    assert "ask not what your country can do for you" in text
    assert all(len(c["timestamp"]) == 2 for c in chunks)


def test_threads_share_a_model(model):
    """Transcriptions from several threads on one Model run one at a time and
    give each thread its own, correct result."""
    clip = str(FIXTURES / "ljspeech-LJ002-0020.wav")
    want = [s.tokens for s in model.transcribe(clip)]
    got = [None] * 3

    def work(i):
        got[i] = [s.tokens for s in model.transcribe(clip)]

    ths = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert got == [want] * 3


def test_vad_options_equal_the_cli(model):
    if not (MODELS / "silero-vad" / "silero_vad_v6.safetensors").is_file():
        pytest.skip("no models/silero-vad")
    vad = str(MODELS / "silero-vad")
    for py_opts, cli_opts in [({"long_form": "vad-batched", "batch_size": 2, "vad_batched_timestamps": True},
                               ["--long-form", "vad-batched", "--batch-size", "2", "--vad-batched-timestamps"]),
                              ({"vad": True, "vad_min_silence_ms": 500.0}, ["--vad", "--vad-min-silence-ms", "500"])]:
        ref = json.loads(run_cli("--output-format", "json", "--vad-model", vad, *cli_opts, str(JFK)))
        got = model.transcribe(str(JFK), vad_model=vad, **py_opts)
        assert [(list(s.tokens), s.start, s.end) for s in got] == \
            [(s["tokens"], s["start"], s["end"]) for s in ref["segments"]], py_opts
        assert "ask not what your country" in got.text


def test_clip_timestamps_and_carry_equal_the_cli(model):
    """clip_timestamps as openai-whisper's string or a list, carry_initial_prompt: the CLI's tokens and times."""
    for py_opts, cli_opts in [({"clip_timestamps": "2,7.5,8"}, ["--clip-timestamps", "2,7.5,8"]),
                              ({"clip_timestamps": [0, 4.2, 4.2, 8], "initial_prompt": "Kennedy's address.",
                                "carry_initial_prompt": True, "condition_on_previous_text": False},
                               ["--clip-timestamps", "0,4.2,4.2,8", "--initial-prompt", "Kennedy's address.",
                                "--carry-initial-prompt", "--no-condition-on-previous-text"])]:
        ref = json.loads(run_cli("--output-format", "json", *cli_opts, str(JFK)))
        got = model.transcribe(str(JFK), **py_opts)
        assert [(list(s.tokens), s.start, s.end) for s in got] == \
            [(s["tokens"], s["start"], s["end"]) for s in ref["segments"]], py_opts
        assert got[0].start >= 2.0 or py_opts["clip_timestamps"] != "2,7.5,8"
    assert model.transcribe(str(JFK), clip_timestamps="").text == model.transcribe(str(JFK)).text
    with pytest.raises(cwhisper.CwhisperError, match="sequential"):
        model.transcribe(str(JFK), clip_timestamps=[1, 2], long_form="chunked")


def test_writer_options(jfk, tmp_path):
    """Without word timestamps the writer options change nothing (openai-whisper's writers fall back to the
    segments); negative values are the library's error."""
    plain = jfk.format("srt")
    assert jfk.format("srt", highlight_words=True, max_line_width=10, max_line_count=1, max_words_per_line=2) == plain
    jfk.write(tmp_path / "o.vtt", highlight_words=True, max_words_per_line=3)
    assert (tmp_path / "o.vtt").read_text() == jfk.format("vtt")
    with pytest.raises(cwhisper.CwhisperError, match="negative"):
        jfk.format("srt", max_line_width=-1)


UBERI = FIXTURES / "uberi-english.wav"  # " One, two, three.": punctuation to merge


def cli_words(ref):
    return [[(w["word"], w["start"], w["end"], w["probability"]) for w in s["words"]] for s in ref["segments"]]


def assert_words_match(got, ref):
    """Same segments and words as the CLI's JSON, times within 0.02 s (one DTW frame)."""
    want = cli_words(ref)
    assert [[w.word for w in s.words] for s in got] == [[w[0] for w in ws] for ws in want]
    for s, r, ws in zip(got, ref["segments"], want):
        assert (s.start, s.end, s.text) == pytest.approx((r["start"], r["end"], r["text"]), abs=0.02)
        for w, (_, start, end, p) in zip(s.words, ws):
            assert (w.start, w.end) == pytest.approx((start, end), abs=0.02), w
            assert w.probability == pytest.approx(p, abs=1e-6), w


@pytest.fixture(scope="module")
def jfk_words(model):
    return model.transcribe(str(JFK), word_timestamps=True)


def test_word_timestamps_equal_the_cli(model, jfk, jfk_words):
    """word_timestamps=True: every segment's words as `cwhisper transcribe --word-timestamps` gives them."""
    ref = json.loads(run_cli("--word-timestamps", "--output-format", "json", str(JFK)))
    assert_words_match(jfk_words, ref)
    assert sum(len(s.words) for s in jfk_words) == 22  # jfk's 22 words
    words = [w for s in jfk_words for w in s.words]
    assert words[0].word == " And" and words[-1].word == " country"
    assert all(w.start <= w.end for w in words) and all(0 <= w.probability <= 1 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert jfk_words.text == jfk.text  # the words do not change jfk's text
    assert all(s.words is None for s in jfk)  # without the option: None, as before
    assert "words" not in jfk.to_dict()["segments"][0]
    d = jfk_words.to_dict()  # openai-whisper's result dict
    assert set(d) == {"text", "segments", "language"} and d["text"] == ref["text"]
    assert d["segments"][0]["words"][0] == {"word": " And", "start": words[0].start, "end": words[0].end,
                                            "probability": words[0].probability}
    assert json.loads(jfk_words.format("json"))["segments"][0]["words"] == ref["segments"][0]["words"]


def test_punctuation_options_equal_the_cli(model):
    """prepend_punctuations / append_punctuations: the default merges ", " and "." into the words; empty
    strings keep them as words of their own; both as the CLI's."""
    default = model.transcribe(str(UBERI), word_timestamps=True)
    assert [w.word for s in default for w in s.words] == [" One,", " two,", " three."]
    ref = json.loads(run_cli("--word-timestamps", "--output-format", "json", str(UBERI)))
    assert_words_match(default, ref)
    for py_opts, cli_opts in [({"append_punctuations": ""}, ["--append-punctuations", ""]),
                              ({"append_punctuations": ".", "prepend_punctuations": ""},
                               ["--append-punctuations", ".", "--prepend-punctuations", ""])]:
        got = model.transcribe(str(UBERI), word_timestamps=True, **py_opts)
        ref = json.loads(run_cli("--word-timestamps", "--output-format", "json", *cli_opts, str(UBERI)))
        assert_words_match(got, ref)
        assert [w.word for s in got for w in s.words] != [" One,", " two,", " three."], py_opts


def test_hallucination_silence_threshold_equals_the_cli(model):
    got = model.transcribe(str(JFK), word_timestamps=True, hallucination_silence_threshold=1.0)
    ref = json.loads(run_cli("--word-timestamps", "--hallucination-silence-threshold", "1", "--output-format",
                             "json", str(JFK)))
    assert_words_match(got, ref)


def test_word_writers_equal_the_clis(jfk_words, tmp_path):
    """srt / vtt with words and openai-whisper's writer options: byte for byte the CLI's."""
    for py_opts, cli_opts in [({}, []),
                              ({"highlight_words": True}, ["--highlight-words"]),
                              ({"max_line_width": 20, "max_line_count": 2}, ["--max-line-width", "20",
                                                                              "--max-line-count", "2"]),
                              ({"max_words_per_line": 3, "highlight_words": True},
                               ["--max-words-per-line", "3", "--highlight-words"])]:
        out = tmp_path / f"o{len(cli_opts)}"
        out.mkdir()
        run_cli("--word-timestamps", "--output-format", "all", "--output-dir", str(out), *cli_opts, str(JFK))
        for fmt in ("srt", "vtt"):
            assert jfk_words.format(fmt, **py_opts) == (out / f"jfk.{fmt}").read_text(), (fmt, py_opts)
        jfk_words.write(tmp_path / "py.vtt", **py_opts)
        assert (tmp_path / "py.vtt").read_text() == (out / "jfk.vtt").read_text(), py_opts
    assert "<u>" in jfk_words.format("srt", highlight_words=True)
    assert jfk_words.format("srt", max_words_per_line=1).count("-->") == 22  # a cue per word


def test_word_timestamps_in_transcribe_multiple(model, jfk_words):
    got = model.transcribe_multiple([str(UBERI), str(JFK)], word_timestamps=True)
    assert [s.to_dict() for s in got[1]] == [s.to_dict() for s in jfk_words]
    assert [w.word for s in got[0] for w in s.words] == [" One,", " two,", " three."]


def test_word_option_errors(model):
    for bad in (0, -1.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="hallucination_silence_threshold must be a positive"):
            model.transcribe(str(JFK), word_timestamps=True, hallucination_silence_threshold=bad)
    with pytest.raises(TypeError, match="hallucination_silence_threshold"):
        model.transcribe(str(JFK), word_timestamps=True, hallucination_silence_threshold="2")
    with pytest.raises(ValueError, match="needs word_timestamps=True"):
        model.transcribe(str(JFK), hallucination_silence_threshold=2.0)
    with pytest.raises(TypeError, match="prepend_punctuations must be a str"):
        model.transcribe(str(JFK), word_timestamps=True, prepend_punctuations=["("])
    with pytest.raises(ValueError, match="append_punctuations must not contain NUL"):
        model.transcribe(str(JFK), word_timestamps=True, append_punctuations=".\0,")
    with pytest.raises(cwhisper.CwhisperError, match="sequential"):
        model.transcribe(str(JFK), word_timestamps=True, long_form="chunked")
