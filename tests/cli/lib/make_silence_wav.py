#!/usr/bin/env python3
"""Writes a 16 kHz mono WAV of shared speech clips with 10 s of digital
silence before, between and after them: the input of the
--hallucination-silence-threshold test (made at test time, never committed;
tests/fixtures/make_word_refs.py ran openai-whisper on the same bytes).

usage: make_silence_wav.py SHARED_SPEECH_DIR OUT.wav"""
import sys
import wave

CLIPS = ["pocketsphinx/audio/sense_and_sensibility_01_austen_64kb-0870.wav",
         "harvard-sentences/audio/spk1_snt1.wav",
         "pocketsphinx/audio/goforward.wav",
         "pocketsphinx/audio/sense_and_sensibility_01_austen_64kb-0920.wav"]


def main():
    speech, out = sys.argv[1], sys.argv[2]
    gap = b"\0\0" * 16000 * 10
    data = [gap]
    for c in CLIPS:
        with wave.open(f"{speech}/{c}", "rb") as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, c
            data += [w.readframes(w.getnframes()), gap]
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(data))


if __name__ == "__main__":
    main()
