#!/usr/bin/env python3
"""CTranslate2 Whisper directory -> whisper.cpp ggml model (legacy "ggml"
container, f16), so that whisper.cpp runs the very weights cwhisper loads.

    python3 bench/convert/ct2_to_ggml.py CT2_DIR OUT.bin [--mel-filters mel_filters.npz]

Written after whisper.cpp's models/convert-pt-to-ggml.py (layout in
docs/whisper-reference.md §3d), all little-endian int32 unless said:

    magic 0x67676d6c; n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
    n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer,
    n_mels, ftype (1 = f16)
    mel filters: n_mel, n_fft (201), f32[n_mel * 201]   (openai-whisper's
        assets/mel_filters.npz, "mel_80" / "mel_128")
    tokens: n_tokens (= eot id: 50256 English-only, 50257 multilingual), then
        per token u32 length + its raw bytes (the tiktoken bytes, i.e. the
        GPT-2 byte-level strings of the CT2 vocabulary mapped back to bytes);
        the special tokens are not stored (whisper.cpp synthesises them)
    tensors until EOF: n_dims, name length, ttype (0 f32, 1 f16), dims
        reversed (ne[0] innermost), name, data.
        f32: 1-D tensors, the conv biases (written as [n, 1]) and both
        positional embeddings; f16: every other tensor (the converter's rules).

The tensor names and values are openai-whisper's, from
tests/fixtures/ct2_reader.py (CT2 fused q/k/v split back, int8 dequantised).
Needs numpy.
"""
import argparse
import os
import struct
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/fixtures"))
import ct2_reader  # noqa: E402

F32_NAMES = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
             "decoder.positional_embedding"}


def byte_decoder():
    """GPT-2's unicode -> byte table (bytes_to_unicode, inverted)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def read_vocabulary(src):
    import json
    p = os.path.join(src, "vocabulary.json")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    with open(os.path.join(src, "vocabulary.txt"), encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def default_mel_filters():
    try:
        import whisper  # openai-whisper ships the filters it uses
        return os.path.join(os.path.dirname(whisper.__file__), "assets", "mel_filters.npz")
    except ImportError:
        raise SystemExit("no --mel-filters given and openai-whisper is not importable")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ct2_dir")
    ap.add_argument("out")
    ap.add_argument("--mel-filters", default=None, help="openai-whisper's assets/mel_filters.npz")
    a = ap.parse_args()

    v = ct2_reader.read_ct2(os.path.join(a.ct2_dir, "model.bin"))
    sd, dims = ct2_reader.ct2_to_openai_state(v)
    n_vocab, n_mels = dims["n_vocab"], dims["n_mels"]
    filters = np.load(a.mel_filters or default_mel_filters())[f"mel_{n_mels}"].astype(np.float32)
    assert filters.shape == (n_mels, 201), filters.shape

    vocab = read_vocabulary(a.ct2_dir)
    n_tokens = vocab.index("<|endoftext|>")  # the ordinary tokens come first, eot right after them
    dec = byte_decoder()
    tokens = [bytes(dec[c] for c in tok) for tok in vocab[:n_tokens]]

    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<i", 0x67676D6C))
        for k in ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
                  "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels"):
            f.write(struct.pack("<i", dims[k]))
        f.write(struct.pack("<i", 1))  # ftype: f16
        f.write(struct.pack("<ii", n_mels, 201))
        f.write(filters.tobytes())
        f.write(struct.pack("<i", n_tokens))
        for t in tokens:
            f.write(struct.pack("<I", len(t)))
            f.write(t)
        for name, data in sd.items():
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                data = data.reshape(data.shape[0], 1)
            if data.ndim < 2 or name in F32_NAMES:
                data, ttype = np.ascontiguousarray(data, dtype=np.float32), 0
            else:
                data, ttype = np.ascontiguousarray(data, dtype=np.float16), 1
            sname = name.encode()
            f.write(struct.pack("<iii", data.ndim, len(sname), ttype))
            for d in reversed(data.shape):
                f.write(struct.pack("<i", d))
            f.write(sname)
            f.write(data.tobytes())
    os.replace(tmp, a.out)
    print(f"{a.out}: {len(sd)} tensors, {n_tokens} tokens, n_vocab {n_vocab}, "
          f"{os.path.getsize(a.out)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
