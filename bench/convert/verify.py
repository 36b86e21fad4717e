#!/usr/bin/env python3
"""Checks the converted weights against the CT2 file they came from.

    bench/.venv/bin/python bench/convert/verify.py CT2_DIR HF_DIR GGML_FILE

- ggml: parses the container back (header = openai-whisper dimensions, the
  mel filters = openai-whisper's mel_filters.npz, n_tokens = eot id, each
  token's bytes = the CT2 vocabulary entry through GPT-2's byte decoder) and
  compares every tensor with the openai-whisper state dict made from the CT2
  file (tests/fixtures/ct2_reader.py): equal after the f16/f32 cast, shape
  reversed, none missing or extra;
- HF: every tensor of model.safetensors equals the same state dict entry under
  its HF name; if torch and transformers are importable, the logits of
  WhisperForConditionalGeneration and of openai-whisper's module on the CT2
  weights agree on jfk.flac's first window (max abs difference printed).
Exits 1 on any mismatch.
"""
import json
import os
import struct
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "tests/fixtures"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ct2_reader  # noqa: E402
import ct2_to_ggml  # noqa: E402

HF_RENAMES = [("blocks", "layers"), ("mlp.0", "fc1"), ("mlp.2", "fc2"), ("mlp_ln", "final_layer_norm"),
              (".attn.query", ".self_attn.q_proj"), (".attn.key", ".self_attn.k_proj"),
              (".attn.value", ".self_attn.v_proj"), (".attn.out", ".self_attn.out_proj"),
              (".attn_ln", ".self_attn_layer_norm"), (".cross_attn.query", ".encoder_attn.q_proj"),
              (".cross_attn.key", ".encoder_attn.k_proj"), (".cross_attn.value", ".encoder_attn.v_proj"),
              (".cross_attn.out", ".encoder_attn.out_proj"), (".cross_attn_ln", ".encoder_attn_layer_norm"),
              ("decoder.ln.", "decoder.layer_norm."), ("token_embedding", "embed_tokens"),
              ("encoder.positional_embedding", "encoder.embed_positions.weight"),
              ("decoder.positional_embedding", "decoder.embed_positions.weight"), ("ln_post", "layer_norm")]


def hf_name(name):
    for a, b in HF_RENAMES:
        name = name.replace(a, b)
    return "model." + name


def check_ggml(path, sd, dims, vocab, errors):
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    magic, *hp = take("<12i")
    want = [dims[k] for k in ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
                              "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels")] + [1]
    if magic != 0x67676D6C or hp != want:
        errors.append(f"ggml header {hex(magic)} {hp} != {want}")
    n_mel, n_fft = take("<2i")
    filters = np.frombuffer(data, np.float32, n_mel * n_fft, pos).reshape(n_mel, n_fft)
    pos += 4 * n_mel * n_fft
    ref = np.load(ct2_to_ggml.default_mel_filters())[f"mel_{dims['n_mels']}"]
    if not np.array_equal(filters, ref):
        errors.append("ggml mel filters differ from mel_filters.npz")
    (n_tokens,) = take("<i")
    if n_tokens != vocab.index("<|endoftext|>"):
        errors.append(f"ggml n_tokens {n_tokens}")
    dec = ct2_to_ggml.byte_decoder()
    for i in range(n_tokens):
        (n,) = take("<I")
        if data[pos:pos + n] != bytes(dec[c] for c in vocab[i]):
            errors.append(f"ggml token {i} differs")
            break
        pos += n
    seen = set()
    while pos < len(data):
        n_dims, name_len, ttype = take("<3i")
        ne = take(f"<{n_dims}i")
        name = data[pos:pos + name_len].decode()
        pos += name_len
        dt = np.float32 if ttype == 0 else np.float16
        count = int(np.prod(ne))
        arr = np.frombuffer(data, dt, count, pos).reshape(tuple(reversed(ne)))
        pos += count * np.dtype(dt).itemsize
        seen.add(name)
        want_arr = sd.get(name)
        if want_arr is None:
            errors.append(f"ggml extra tensor {name}")
            continue
        if not np.array_equal(arr.astype(np.float32).reshape(-1), want_arr.astype(dt).astype(np.float32).reshape(-1)):
            errors.append(f"ggml tensor {name} differs")
        if arr.size != want_arr.size:
            errors.append(f"ggml tensor {name} shape {arr.shape} vs {want_arr.shape}")
    missing = set(sd) - seen
    if missing:
        errors.append(f"ggml missing {sorted(missing)[:5]}")
    print(f"ggml: {len(seen)} tensors, {n_tokens} tokens checked", file=sys.stderr)


def check_hf(hf_dir, sd, errors, ct2_dir):
    from safetensors.numpy import load_file
    t = load_file(os.path.join(hf_dir, "model.safetensors"))
    for name, arr in sd.items():
        h = hf_name(name)
        if h not in t:
            errors.append(f"hf missing {h}")
        elif not np.array_equal(t[h].astype(np.float32), arr):
            errors.append(f"hf tensor {h} differs")
    print(f"hf: {len(t)} tensors checked", file=sys.stderr)
    try:
        import torch
        import whisper
        from transformers import WhisperForConditionalGeneration
    except ImportError:
        return
    jfk = os.path.join(ROOT, "../shared/speech/english-fixtures/audio/jfk.flac")
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(jfk)))[None]
    with open(os.path.join(hf_dir, "generation_config.json")) as f:
        sot = json.load(f)["decoder_start_token_id"]
    ids = torch.tensor([[sot]])
    with torch.no_grad():
        a = WhisperForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32)(
            input_features=mel, decoder_input_ids=ids).logits
        b = ct2_reader.load_openai_model(ct2_dir)(mel, ids)
    d = (a - b).abs().max().item()
    print(f"hf: logits max |diff| vs openai-whisper on jfk: {d:.3g}", file=sys.stderr)
    if d > 1e-3:
        errors.append(f"hf logits differ by {d}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    ct2_dir, hf_dir, ggml = sys.argv[1:]
    v = ct2_reader.read_ct2(os.path.join(ct2_dir, "model.bin"))
    sd, dims = ct2_reader.ct2_to_openai_state(v)
    vocab = ct2_to_ggml.read_vocabulary(ct2_dir)
    errors = []
    check_ggml(ggml, sd, dims, vocab, errors)
    check_hf(hf_dir, sd, errors, ct2_dir)
    for e in errors:
        print("MISMATCH:", e, file=sys.stderr)
    print("ok" if not errors else f"{len(errors)} mismatches")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
