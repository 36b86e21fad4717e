#!/usr/bin/env python3
"""CTranslate2 Whisper directory -> Hugging Face directory that transformers
(PyTorch and Flax) loads offline, so that the HF peers run the very weights
cwhisper and faster-whisper load.

    python3 bench/convert/ct2_to_hf.py CT2_DIR OUT_DIR

The tensors come from tests/fixtures/ct2_to_safetensors.py, run as it is
(bit-identical values, reference names). This script then completes what
transformers needs and that converter leaves at its defaults:

- config.json: special token ids (bos/eos/pad/decoder_start) for English-only
  or multilingual vocabularies, max_length, WhisperForConditionalGeneration;
- generation_config.json: the reference's decoding set-up (openai-whisper
  decoding.py): suppress_tokens = the CT2 list (non-speech tokens) plus
  transcribe/translate/sot/sot_prev/sot_lm/no_speech, as
  DecodingTask._get_suppress_tokens adds them; begin_suppress_tokens
  [220, eot]; no_timestamps_token_id; forced ids; is_multilingual,
  lang_to_id, task_to_id; alignment heads; max_initial_timestamp_index 50
  (openai-whisper max_initial_timestamp 1.0 s / 0.02);
- tokenizer_config.json + special_tokens_map.json beside the copied
  tokenizer.json (WhisperTokenizerFast), and added timestamp tokens are not
  needed (transformers handles ids >= timestamp_begin itself); merges.txt;
- preprocessor_config.json with the mel filters of the feature extractor left
  to transformers (it computes the same slaney filters as openai-whisper).

Stdlib only, like the fixture it calls.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
FIXTURE = os.path.join(ROOT, "tests/fixtures/ct2_to_safetensors.py")

LANGS = ["en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id",
         "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg",
         "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br",
         "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so",
         "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt",
         "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"]


def special_ids(tokenizer_json, n_vocab):
    """Ids of the special tokens, read from tokenizer.json's added tokens by content."""
    ids = {}
    if os.path.exists(tokenizer_json):
        with open(tokenizer_json, encoding="utf-8") as f:
            for t in json.load(f).get("added_tokens", []):
                ids[t["content"]] = t["id"]
    if "<|endoftext|>" not in ids:  # no tokenizer.json: the fixed layout (whisper tokenizer.py)
        eot = 50256 if n_vocab < 51865 else 50257
        n_lang = n_vocab - 51765 - (1 if n_vocab >= 51865 else 0)
        names = ["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{c}|>" for c in LANGS[:n_lang]] + [
            "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>",
            "<|notimestamps|>"]
        ids = {n: eot + i for i, n in enumerate(names)}
    return ids


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    subprocess.run([sys.executable, FIXTURE, src, dst], check=True)
    with open(os.path.join(dst, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(src, "config.json")) as f:
        ct2 = json.load(f)
    n_vocab = config["vocab_size"]
    multilingual = n_vocab >= 51865
    sp = special_ids(os.path.join(src, "tokenizer.json"), n_vocab)
    if "<|nocaptions|>" not in sp and "<|nospeech|>" in sp:  # newer tokenizers name it so
        sp["<|nocaptions|>"] = sp["<|nospeech|>"]
    eot, sot = sp["<|endoftext|>"], sp["<|startoftranscript|>"]
    no_ts = sp["<|notimestamps|>"]
    lang_to_id = {k: v for k, v in sp.items() if k[2:-2] in LANGS and k.startswith("<|")} if multilingual else {}
    task_to_id = {"transcribe": sp["<|transcribe|>"], "translate": sp["<|translate|>"]}
    suppress = sorted(set(ct2.get("suppress_ids", [])) | {
        sp["<|transcribe|>"], sp["<|translate|>"], sot, sp["<|startofprev|>"], sp["<|startoflm|>"],
        sp["<|nocaptions|>"]})
    begin_suppress = ct2.get("suppress_ids_begin", [220, eot])

    config.update({
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "decoder_start_token_id": sot,
        "max_length": config["max_target_positions"], "num_hidden_layers": config["encoder_layers"],
        "use_cache": True, "torch_dtype": "float16", "begin_suppress_tokens": begin_suppress,
        "suppress_tokens": suppress, "median_filter_width": 7,
    })
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    generation = {
        "_from_model_config": False,
        "alignment_heads": ct2.get("alignment_heads", []),
        "begin_suppress_tokens": begin_suppress,
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "decoder_start_token_id": sot,
        # generate() builds the prompt from language/task/return_timestamps itself.
        "forced_decoder_ids": None,
        "is_multilingual": multilingual,
        "max_initial_timestamp_index": 50,
        "max_length": config["max_target_positions"],
        "no_timestamps_token_id": no_ts,
        "prev_sot_token_id": sp["<|startofprev|>"],
        "return_timestamps": False,
        "suppress_tokens": suppress,
    }
    if multilingual:  # an English-only config must not have them: transformers then inserts a language slot
        generation.update(lang_to_id=lang_to_id, task_to_id=task_to_id)
    with open(os.path.join(dst, "generation_config.json"), "w") as f:
        json.dump(generation, f, indent=2)

    # WhisperTokenizerFast from tokenizer.json; specials as openai-whisper names them.
    extra = [k for k in sorted(sp, key=sp.get) if k != "<|endoftext|>" and not k[2:3].isdigit()]
    tok_config = {"tokenizer_class": "WhisperTokenizer", "model_max_length": 1024,
                  "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                  "pad_token": "<|endoftext|>", "add_prefix_space": False, "errors": "replace",
                  "clean_up_tokenization_spaces": True, "processor_class": "WhisperProcessor",
                  "additional_special_tokens": extra}
    with open(os.path.join(dst, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f, indent=2)
    with open(os.path.join(dst, "special_tokens_map.json"), "w") as f:
        json.dump({k: "<|endoftext|>" for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
                  | {"additional_special_tokens": extra}, f, indent=2)
    # merges.txt for the slow tokenizer (tokenizer.json holds them).
    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
        merges = json.load(f)["model"].get("merges", [])
    with open(os.path.join(dst, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in merges:
            f.write((m if isinstance(m, str) else " ".join(m)) + "\n")
    print(f"{dst}: {'multilingual' if multilingual else 'English-only'}, vocab {n_vocab}, eot {eot}, "
          f"{len(suppress)} suppressed tokens", file=sys.stderr)


if __name__ == "__main__":
    main()
