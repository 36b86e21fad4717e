"""Lossless codecs for what travels to the GPU machine (bench/gpu/pack writes,
bench/gpu/unpack.py reads). Weights: stdlib only. Audio: numpy.

CT2 model.bin ("ct2planes"): the file is walked as CTranslate2 writes it
(header, then per variable: name, shape, dtype, byte count, bytes; then the
aliases). Every fp16/bf16 tensor's bytes go to two planes, the low bytes
(mostly mantissa: incompressible) and the high bytes (sign, exponent, top
mantissa bits: ~5.6 bits of 8); everything else (headers, fp32/int tensors)
goes to a third stream in file order. Each stream is xz-compressed (lzma,
preset 6). The decoder re-interleaves them; the result is checked against the
sha256 of the original file.

Audio ("s16d1"): 16 kHz mono s16 samples; first differences modulo 2^16,
split into low/high byte planes, xz-compressed. Also checked by sha256 (of the
s16 bytes).
"""
import hashlib
import json
import lzma
import struct

XZ = [{"id": lzma.FILTER_LZMA2, "preset": 6}]


def xz(b):
    return lzma.compress(b, format=lzma.FORMAT_XZ, filters=XZ)


def unxz(b):
    return lzma.decompress(b, format=lzma.FORMAT_XZ)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def ct2_segments(data):
    """[(start, end, is_half)] covering the file in order."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise ValueError("truncated CT2 file")
        pos += n
        return data[pos - n:pos]

    def u32():
        return struct.unpack("<I", take(4))[0]

    def string():
        return take(struct.unpack("<H", take(2))[0])

    if u32() < 4:
        raise ValueError("CT2 binary_version < 4")
    string()
    u32()
    segs, last = [], 0
    for _ in range(u32()):
        string()
        rank = take(1)[0]
        for _ in range(rank):
            u32()
        dtype = take(1)[0]
        nbytes = u32()
        start = pos
        take(nbytes)
        half = dtype in (4, 5) and nbytes % 2 == 0
        segs.append((last, start, False))
        segs.append((start, pos, half))
        last = pos
    segs.append((last, len(data), False))
    return [s for s in segs if s[1] > s[0]]


def encode_ct2(data):
    """model.bin bytes -> ({'raw','hi','lo'} compressed blobs, layout)"""
    segs = ct2_segments(data)
    raw = b"".join(data[a:b] for a, b, h in segs if not h)
    half = b"".join(data[a:b] for a, b, h in segs if h)
    layout = {"codec": "ct2planes", "size": len(data), "sha256": sha256(data),
              "segments": [[b - a, 1 if h else 0] for a, b, h in segs]}
    return {"raw": xz(raw), "hi": xz(half[1::2]), "lo": xz(half[0::2])}, layout


def decode_ct2(blobs, layout):
    raw, hi, lo = unxz(blobs["raw"]), unxz(blobs["hi"]), unxz(blobs["lo"])
    half = bytearray(len(hi) + len(lo))
    half[0::2] = lo
    half[1::2] = hi
    out = bytearray()
    pr = ph = 0
    for n, h in layout["segments"]:
        if h:
            out += half[ph:ph + n]
            ph += n
        else:
            out += raw[pr:pr + n]
            pr += n
    out = bytes(out)
    if len(out) != layout["size"] or sha256(out) != layout["sha256"]:
        raise ValueError("model.bin: decoded bytes differ from the original (sha256)")
    return out


def encode_audio(samples):
    """int16 numpy array -> ({'hi','lo'} compressed blobs, layout)"""
    import numpy as np
    s = np.ascontiguousarray(samples, dtype="<i2")
    d = np.diff(s.view(np.uint16), prepend=np.uint16(0))  # uint16 arithmetic wraps: lossless
    b = d.astype("<u2").view(np.uint8)
    layout = {"codec": "s16d1", "samples": int(len(s)), "sha256": sha256(s.tobytes())}
    return {"hi": xz(b[1::2].tobytes()), "lo": xz(b[0::2].tobytes())}, layout


def decode_audio(blobs, layout):
    """-> int16 numpy array"""
    import numpy as np
    lo = np.frombuffer(unxz(blobs["lo"]), np.uint8)
    hi = np.frombuffer(unxz(blobs["hi"]), np.uint8)
    d = lo.astype(np.uint16) | (hi.astype(np.uint16) << 8)
    s = np.cumsum(d, dtype=np.uint16).view(np.int16)
    if len(s) != layout["samples"] or sha256(s.astype("<i2").tobytes()) != layout["sha256"]:
        raise ValueError("audio: decoded samples differ from the original (sha256)")
    return s


def write_wav(path, samples, rate=16000):
    import wave
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def read_wav(path):
    """16-bit mono WAV -> float32 numpy array in [-1, 1) (what ffmpeg -f f32le gives)."""
    import wave

    import numpy as np
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: not 16-bit mono")
        b = w.readframes(w.getnframes())
    return np.frombuffer(b, "<i2").astype(np.float32) / 32768.0


def dumps(obj):
    return json.dumps(obj, indent=1, sort_keys=True)
