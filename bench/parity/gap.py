#!/usr/bin/env python3
"""For each file whose tokens differ (compare.py's parity.json), rebuilds the
reference's decoding context at the first differing token — the window (by
seek), the prompt from earlier windows, the tokens sampled so far in it — and
reports the reference's two best filtered logits there and their gap: a near
tie means the two implementations part on rounding, not on a rule. A window
decoded at a temperature above 0 is reported as sampled (PyTorch's random
numbers cannot be matched).

usage: gap.py MODEL_DIR REF.jsonl PARITY.json"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/fixtures"))


def windows_of(rec):
    """[(seek, temperature, tokens)] in order, from the reference segments."""
    out = []
    for s in rec["segments"]:
        if out and out[-1][0] == s["seek"]:
            out[-1][2].extend(s["tokens"])
        else:
            out.append((s["seek"], s["temperature"], list(s["tokens"])))
    return out


def locate(wins, k):
    """Window index and offset of flat token index k."""
    for w, (_, _, toks) in enumerate(wins):
        if k < len(toks):
            return w, k
        k -= len(toks)
    return len(wins) - 1, len(wins[-1][2]) if wins else 0


def main():
    import whisper
    from whisper.audio import HOP_LENGTH, N_FRAMES, N_SAMPLES, log_mel_spectrogram, pad_or_trim
    from whisper.decoding import DecodingOptions, DecodingTask
    import ct2_reader

    model_dir, ref_path, parity_path = sys.argv[1:4]
    torch.set_num_threads(2)
    model = ct2_reader.load_openai_model(model_dir)
    refs = {os.path.splitext(os.path.basename(json.loads(l)["file"]))[0]: json.loads(l)
            for l in open(ref_path) if not json.loads(l).get("summary")}
    parity = json.load(open(parity_path))
    for d in parity["differing"]:
        rec = refs[d["file"]]
        wins = windows_of(rec)
        w, j = locate(wins, d["position"])
        seek, temp, toks = wins[w]
        if temp > 0:
            d["gap"] = None
            d["note"] = f"window at {seek / 100:.2f} s decoded at temperature {temp} in the reference (sampled)"
            print(f"{d['file']}: {d['note']}")
            continue
        prompt, since = [], 0
        for i in range(w):
            prompt.extend(wins[i][2])
            if wins[i][1] > 0.5:
                since = len(prompt)
        prompt = prompt[since:]
        audio = whisper.load_audio(rec["file"])
        mel = log_mel_spectrogram(audio, model.dims.n_mels, padding=N_SAMPLES)
        content = mel.shape[-1] - N_FRAMES
        seg = pad_or_trim(mel[:, seek:seek + min(N_FRAMES, content - seek)], N_FRAMES)
        opts = DecodingOptions(language=rec.get("language"), prompt=prompt, temperature=0.0, fp16=False)
        task = DecodingTask(model, opts)
        with torch.no_grad():
            feats = model.encoder(seg[None])
            tokens = torch.tensor([list(task.initial_tokens) + toks[:j]])
            logits = model.decoder(tokens, feats)[:, -1].float()
            for f in task.logit_filters:
                f.apply(logits, tokens)
        top = torch.topk(logits[0], 2)
        ids, vals = top.indices.tolist(), top.values.tolist()
        d["gap"] = vals[0] - vals[1]
        d["top2"] = [[ids[0], vals[0]], [ids[1], vals[1]]]
        d["window_seconds"] = seek / 100
        cw_tok = d.get("cw_token")
        cw_logit = float(logits[0, cw_tok]) if cw_tok is not None else None
        print(f"{d['file']}: window at {seek / 100:.2f} s, token {j} of it: reference top-2 "
              f"{ids[0]} ({vals[0]:.4f}) and {ids[1]} ({vals[1]:.4f}), gap {vals[0] - vals[1]:.4f}; "
              f"cwhisper chose {cw_tok} (reference logit {cw_logit})")
    json.dump(parity, open(parity_path, "w"), indent=1)


if __name__ == "__main__":
    main()
