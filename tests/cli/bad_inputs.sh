#!/usr/bin/env bash
# The table of bad inputs (docs/bad-inputs.md is made from it): each case is
# one `cwhisper transcribe` call that must exit with the code given (never by
# a signal), print exactly one line on stderr matching the pattern (naming
# the file and the problem), print nothing on stdout and, where it writes
# outputs, leave no half file. Then the odd inputs that must be accepted.
# Cases that need root's powers (a tmpfs) or a non-root user (permissions)
# run as root through mount / setpriv, and say "skipped" when they cannot.
# CW_BAD_INPUTS_DOC=FILE writes the table as Markdown rows to FILE.
set -u
export LC_ALL=C # patterns match bytes (the non-UTF-8 names)
. "$(dirname "$0")/lib/transcribe_prologue.sh"
chmod 755 "$tmp" # the permission cases run as nobody
doc=${CW_BAD_INPUTS_DOC:-/dev/null}
: >"$doc"
tiny=$models/tiny.en
fix=${CW_FIXTURES_DIR:?}
n_cases=0 skips=0

# case RC NAME PATTERN ARGS...: refused (prologue) with RC, plus the row.
case_() {
  local want=$1 name=$2 pattern=$3
  shift 3
  n_cases=$((n_cases + 1))
  local before=$fails
  refused "$want" "$name" "$pattern" "$@"
  local rc_line
  rc_line=$(head -n 1 "$tmp/err" | sed "s|$tmp|TMP|g; s|$models|MODELS|g; s|$speech|SPEECH|g; s|$fix|FIXTURES|g" | LC_ALL=C tr -c '[:print:]\n' '?')
  [ "$fails" -eq "$before" ] || echo "   (case $n_cases: $name)" >&2
  printf '| %d | %s | %s | `%s` |\n' "$n_cases" "$name" "$want" "${rc_line//|/\\|}" >>"$doc"
}
skip() { skips=$((skips + 1)); echo "skipped: $*"; printf '| - | %s | skipped here | |\n' "$*" >>"$doc"; }
M=(--model "$tiny" --threads 2)
# The cases run as nobody need a model nobody can reach: the checkout may sit
# under a directory of mode 700 (mktemp -d), so then a copy in $tmp.
M_nobody=("${M[@]}")
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
   ! setpriv --reuid=65534 --regid=65534 --clear-groups -- test -r "$tiny/model.bin"; then
  cp -r "$tiny" "$tmp/nobody-tiny.en" && chmod -R a+rX "$tmp/nobody-tiny.en"
  M_nobody=(--model "$tmp/nobody-tiny.en" --threads 2)
fi
jfk=$speech/english-fixtures/audio/jfk.flac

# A copy of tiny.en made of links to its files, for damaging one of them.
model_copy() {
  local d=$tmp/m/$1
  mkdir -p "$d"
  for f in model.bin config.json vocabulary.txt tokenizer.json; do ln -s "$tiny/$f" "$d/$f"; done
  echo "$d"
}
# wav NAME RATE CHANNELS SAMPLES: a 16-bit tone
wav() {
  python3 - "$tmp/$1" "$2" "$3" "$4" <<'PY'
import math, struct, sys, wave
path, rate, ch, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with wave.open(path, "wb") as w:
    w.setnchannels(ch); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) * ch for i in range(n)))
PY
}

printf "| | **%s** | | |\n" audio >>"$doc"
case_ 1 "missing file" "nope.wav: No such file or directory" "${M[@]}" "$tmp/nope.wav"
: >"$tmp/empty.wav"
case_ 1 "0-byte file" "empty.wav: empty file" "${M[@]}" "$tmp/empty.wav"
printf 'not audio at all, just text' >"$tmp/fake.mp3"
case_ 1 "text named .mp3" "fake.mp3: not a readable audio file" "${M[@]}" "$tmp/fake.mp3"
head -c 100 "$jfk" >"$tmp/head.flac"
case_ 1 "FLAC cut inside its header (100 bytes)" "head.flac: .*" "${M[@]}" "$tmp/head.flac"
wav header.wav 16000 1 0
case_ 1 "WAV with a header and no samples" "header.wav: no audio samples" "${M[@]}" "$tmp/header.wav"
{ printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00'; head -c 200 /dev/urandom; } >"$tmp/corrupt.wav"
case_ 1 "WAV with a corrupt format chunk" "corrupt.wav: " "${M[@]}" "$tmp/corrupt.wav"
mkdir -p "$tmp/adir"
case_ 1 "directory given as the audio file" "adir: is a directory" "${M[@]}" "$tmp/adir"
mkfifo "$tmp/fifo.wav"
case_ 1 "FIFO (would block)" "fifo.wav: not a regular file (a FIFO)" "${M[@]}" "$tmp/fifo.wav"
case_ 1 "/dev/zero (never ends)" "/dev/zero: not a regular file (a character device)" "${M[@]}" /dev/zero
case_ 1 "/dev/null" "/dev/null: not a regular file (a character device)" "${M[@]}" /dev/null
case_ 1 "video file without an audio stream" "video-no-audio.mp4: no audio stream" "${M[@]}" "$fix/bad/video-no-audio.mp4"
case_ 1 "empty stdin" "- (stdin): no audio samples" "${M[@]}" - </dev/null
cp "$CW_SOURCE_DIR/tests/fuzz/seeds/fuzz_audio/regress-au-520mhz.au" "$tmp/rate.au"
case_ 1 ".au header claiming 520 MHz (found by fuzzing)" "rate.au: sample rate 520110080 Hz is outside" "${M[@]}" "$tmp/rate.au"
case_ 1 "longer than --max-duration" "jfk.flac: 11.0 s of audio is over the maximum duration of 5 s" "${M[@]}" --max-duration 5 "$jfk"
case_ 1 "larger than --max-file-size" "jfk.flac: 1152693 bytes is over the maximum file size of 100000 bytes" "${M[@]}" --max-file-size 100000 "$jfk"
python3 -c "import sys; sys.stdout.buffer.write(bytes(16000 * 2 * 3))" >"$tmp/three.raw"
case_ 1 "stdin longer than --max-duration" "- (stdin): more than 2.0 s of audio is over the maximum duration of 2 s" "${M[@]}" --max-duration 2 - <"$tmp/three.raw"
bad8=$(printf '%s/caf\xe9-\xff.wav' "$tmp")
case_ 1 "missing file with a non-UTF-8 name" "caf.-.\.wav: No such file or directory" "${M[@]}" "$bad8"
if [ "$(id -u)" -ne 0 ]; then
  cp "$jfk" "$tmp/secret.flac"; chmod 000 "$tmp/secret.flac"
  case_ 1 "unreadable file (mode 000)" "secret.flac: .*Permission denied" "${M[@]}" "$tmp/secret.flac"
elif command -v setpriv >/dev/null; then
  cp "$jfk" "$tmp/secret.flac"; chmod 000 "$tmp/secret.flac"
  cli_user=$cli
  cli() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$cli_user" "$@"; }
  cli=cli
  case_ 1 "unreadable file (mode 000; run as nobody)" "secret.flac: .*Permission denied" "${M_nobody[@]}" "$tmp/secret.flac"
  cli=$cli_user
else
  skip "unreadable file: running as root without setpriv (root reads a mode 000 file)"
fi

printf "| | **%s** | | |\n" models >>"$doc"
case_ 1 "missing model directory" "nomodel: no such model directory" --model "$tmp/nomodel" "$jfk"
case_ 1 "a file given as the model" "jfk.flac: not a model directory" --model "$jfk" "$jfk"
mkdir -p "$tmp/m/empty"
case_ 1 "empty model directory" "empty/model.bin: not found (nor model.safetensors)" --model "$tmp/m/empty" "$jfk"
d=$(model_copy zero); rm "$d/model.bin"; : >"$d/model.bin"
case_ 1 "0-byte model.bin" "zero/model.bin: truncated while reading the header" --model "$d" "$jfk"
d=$(model_copy cut); rm "$d/model.bin"; head -c 100000 "$tiny/model.bin" >"$d/model.bin"
case_ 1 "model.bin cut at 100 kB" "cut/model.bin: truncated while reading" --model "$d" "$jfk"
d=$(model_copy garbage); rm "$d/model.bin"; head -c 5000 /dev/urandom >"$d/model.bin"
case_ 1 "random bytes as model.bin" "garbage/model.bin: CTranslate2 binary_version .* not supported" --model "$d" "$jfk"
d=$(model_copy dirbin); rm "$d/model.bin"; mkdir "$d/model.bin"
case_ 1 "model.bin is a directory" "dirbin/model.bin: not found" --model "$d" "$jfk"
d=$(model_copy badjson); rm "$d/config.json"; printf '{"suppress_ids": [1, 2' >"$d/config.json"
case_ 1 "config.json cut short" "badjson/config.json: invalid JSON" --model "$d" "$jfk"
d=$(model_copy novocab); rm "$d/vocabulary.txt" "$d/tokenizer.json"
case_ 1 "no vocabulary file" "novocab: no vocabulary.json, vocabulary.txt, tokenizer.json or vocab.json" --model "$d" "$jfk"
d=$(model_copy dup); rm "$d/vocabulary.txt"
{ head -n 1000 "$tiny/vocabulary.txt"; sed -n 1000p "$tiny/vocabulary.txt"; tail -n +1002 "$tiny/vocabulary.txt"; } >"$d/vocabulary.txt"
case_ 1 "vocabulary with a duplicate token" "dup/vocabulary.txt: tokens 999 and 1000 are both \"imes\" (duplicate token)" --model "$d" "$jfk"
d=$(model_copy short); rm "$d/vocabulary.txt" "$d/tokenizer.json"; head -n 100 "$tiny/vocabulary.txt" >"$d/vocabulary.txt"
case_ 1 "vocabulary of 100 tokens" "short/vocabulary.txt: " --model "$d" "$jfk"
mkdir -p "$tmp/m/wide" "$tmp/m/widest"
cp "$tiny/config.json" "$tiny/vocabulary.txt" "$tmp/m/wide/"
cp "$tiny/tokenizer.json" "$tmp/m/widest/"
python3 - "$tmp/m" <<'PY'
import json, struct, sys
d = sys.argv[1]
def s(x):
    b = x.encode() + b"\0"
    return struct.pack("<H", len(b)) + b
# CTranslate2 model.bin: a conv1 of 10^9 output channels, 16 bytes of data
out = struct.pack("<I", 6) + s("WhisperSpec") + struct.pack("<II", 3, 1)
out += s("encoder/conv1/weight") + struct.pack("<B3IBI", 3, 10**9, 80, 3, 4, 16) + bytes(16) + struct.pack("<I", 0)
open(d + "/wide/model.bin", "wb").write(out)
# safetensors with config.json d_model = 10^9
hdr = json.dumps({"model.encoder.conv1.weight": {"dtype": "F16", "shape": [10**9, 80, 3], "data_offsets": [0, 16]}}).encode()
open(d + "/widest/model.safetensors", "wb").write(struct.pack("<Q", len(hdr)) + hdr + bytes(16))
json.dump({"d_model": 10**9, "encoder_layers": 4, "decoder_layers": 4, "encoder_attention_heads": 6,
           "decoder_attention_heads": 6, "num_mel_bins": 80, "vocab_size": 51864,
           "max_source_positions": 1500, "max_target_positions": 448}, open(d + "/widest/config.json", "w"))
PY
case_ 1 "model.bin with a 10^9-wide layer" "wide/model.bin: variable 'encoder/conv1/weight' has 16 bytes, its shape needs 480000000000" --model "$tmp/m/wide" "$jfk"
case_ 1 "config.json with d_model 10^9" "widest/config.json: 'd_model' 1000000000 is outside \[1, 16777216\]" --model "$tmp/m/widest" "$jfk"
mkdir -p "$tmp/m/sthdr"; cp "$tiny/tokenizer.json" "$tmp/m/sthdr/"
sed 's/1000000000/384/' "$tmp/m/widest/config.json" >"$tmp/m/sthdr/config.json"
printf '\xff\xff\xff\x7f\x00\x00\x00\x00{}' >"$tmp/m/sthdr/model.safetensors"
case_ 1 "safetensors header length past the end" "sthdr/model.safetensors: header length .* exceeds the file" --model "$tmp/m/sthdr" "$jfk"

printf "| | **%s** | | |\n" options >>"$doc"
case_ 2 "--threads 0" "--threads: '0' is not an integer in \[1, 1024\]" "${M[@]}" --threads 0 "$jfk"
case_ 2 "--threads abc" "--threads: 'abc' is not an integer" "${M[@]}" --threads abc "$jfk"
case_ 2 "--beam-size 65" "--beam-size: '65' is not an integer in \[1, 64\]" "${M[@]}" --beam-size 65 "$jfk"
case_ 2 "--best-of 0" "--best-of: '0' is not an integer in \[1, 64\]" "${M[@]}" --best-of 0 "$jfk"
case_ 2 "--temperature 1.5" "--temperature 1.5 is outside \[0, 1\]" "${M[@]}" --temperature 1.5 "$jfk"
case_ 2 "--temperature nan" "--temperature: 'nan' is not a number" "${M[@]}" --temperature nan "$jfk"
case_ 2 "--temperature-increment -1" "--temperature-increment -1 must be positive" "${M[@]}" --temperature-increment -1 "$jfk"
case_ 2 "--patience 0" "--patience 0 must be positive" "${M[@]}" --patience 0 "$jfk"
case_ 2 "--seed -1" "--seed: '-1' is not an integer" "${M[@]}" --seed -1 "$jfk"
case_ 2 "--batch-size without --long-form chunked" "need --long-form chunked" "${M[@]}" --batch-size 8 "$jfk"
case_ 2 "--batch-size 65" "--batch-size: '65' is not an integer in \[1, 64\]" "${M[@]}" --long-form chunked --batch-size 65 "$jfk"
case_ 2 "--chunk-length 31" "--chunk-length 31 is outside (0, 30\]" "${M[@]}" --long-form chunked --chunk-length 31 "$jfk"
case_ 2 "--stride-length 15" "--stride-length 15 is outside (0, 15)" "${M[@]}" --long-form chunked --stride-length 15 "$jfk"
case_ 2 "stride not under half the chunk" "--stride-length 5 must be under half the chunk length (10 s)" "${M[@]}" --long-form chunked --chunk-length 10 --stride-length 5 "$jfk"
case_ 2 "chunked with beam search" "--long-form chunked decodes greedily" "${M[@]}" --long-form chunked --beam-size 2 "$jfk"
case_ 2 "--long-form parallel" "--long-form: 'parallel' is not sequential, chunked or vad-batched" "${M[@]}" --long-form parallel "$jfk"
case_ 2 "--dtype fp8" "--dtype: 'fp8' is not fp32, fp16, bf16 or int8" "${M[@]}" --dtype fp8 "$jfk"
case_ 2 "--task dance" "--task: 'dance' is not transcribe or translate" "${M[@]}" --task dance "$jfk"
case_ 2 "--output-format doc" "--output-format: 'doc' is not txt, srt, vtt, json, tsv or all" "${M[@]}" --output-format doc "$jfk"
case_ 2 "--output-format all to stdout" "--output-format all needs --output-dir" "${M[@]}" --output-format all "$jfk"
case_ 2 "--skip-existing without --output-dir" "--skip-existing needs --output-dir" "${M[@]}" --skip-existing "$jfk"
case_ 2 "--max-duration 0" "--max-duration 0 is outside (0, 1e9) seconds" "${M[@]}" --max-duration 0 "$jfk"
case_ 2 "--max-file-size 0" "--max-file-size: '0' is not an integer" "${M[@]}" --max-file-size 0 "$jfk"
case_ 2 "unknown option" "unknown option --frobnicate" "${M[@]}" --frobnicate 1 "$jfk"
case_ 2 "option without its value" "--model needs a value" "$jfk" --model
case_ 1 "unknown language" "unknown language 'xx'" "${M[@]}" --language xx "$jfk"
case_ 1 "translate with an English-only model" "an English-only model cannot translate" "${M[@]}" --task translate "$jfk"

printf "| | **%s** | | |\n" outputs >>"$doc"
case_ 1 "--output-dir is a file" "output directory .*jfk.flac: not a directory" "${M[@]}" --output-dir "$jfk" "$jfk"
case_ 1 "--output-dir missing" "output directory .*/missing: No such file or directory" "${M[@]}" --output-dir "$tmp/missing" "$jfk"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  mkdir -p "$tmp/ro"; chmod 555 "$tmp/ro"
  cli_user=$cli; cli() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$cli_user" "$@"; }; cli=cli
  case_ 1 "--output-dir not writable (run as nobody)" "output directory .*/ro is not writable: Permission denied" "${M_nobody[@]}" --output-dir "$tmp/ro" "$jfk"
  cli=$cli_user
elif [ "$(id -u)" -ne 0 ]; then
  mkdir -p "$tmp/ro"; chmod 555 "$tmp/ro"
  case_ 1 "--output-dir not writable" "output directory .*/ro is not writable: Permission denied" "${M[@]}" --output-dir "$tmp/ro" "$jfk"
else
  skip "unwritable output directory: root without setpriv"
fi
# A full file system: a 64 kB tmpfs filled to the last block. The write
# fails, and neither the output nor its temporary file is left.
mkdir -p "$tmp/full"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k tmpfs "$tmp/full" 2>/dev/null; then
  trap 'umount "$tmp/full" 2>/dev/null; rm -rf "$tmp"' EXIT
  dd if=/dev/zero of="$tmp/full/filler" bs=4k 2>/dev/null
  case_ 1 "--output-dir on a full file system" "full/jfk.txt: cannot write: No space left on device" "${M[@]}" --output-dir "$tmp/full" "$jfk"
  [ "$(ls "$tmp/full")" = filler ] && ok || bad "full file system: left $(ls "$tmp/full")"
  umount "$tmp/full"
else
  skip "full output file system: cannot mount a tmpfs here (needs root)"
fi

# Odd inputs that are fine: exit 0, never a signal.
accepted() { # NAME CHECK-COMMAND ARGS...
  local name=$1 check=$2
  shift 2
  "$cli" transcribe "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq 0 ] && eval "$check"; then ok; printf '| + | %s | 0 | accepted |\n' "$name" >>"$doc"
  else bad "$name: exit $rc, $(head -c 300 "$tmp/out") $(cat "$tmp/err")"; fi
}
printf "| | **%s** | | |\n" accepted >>"$doc"
wav one.wav 16000 1 1
accepted "audio of 1 sample (no speech: empty transcript)" '[ ! -s "$tmp/out" ]' "${M[@]}" "$tmp/one.wav"
wav hi.wav 96000 8 96000
accepted "96 kHz, 8 channels (downmixed, resampled)" '[ ! -s "$tmp/err" ]' "${M[@]}" "$tmp/hi.wav"
good8=$(printf '%s/caf\xe9-\xff.wav' "$tmp")
cp "$tmp/one.wav" "$good8"; mkdir -p "$tmp/o8"
accepted "non-UTF-8 file name (output named with its bytes; valid UTF-8 JSON)" '[ -f "$(printf "%s/o8/caf\xe9-\xff.json" "$tmp")" ] && python3 -c "import glob, json, sys; json.load(open(glob.glob(sys.argv[1] + \"/o8/*.json\")[0], encoding=\"utf-8\"))" "$tmp"' "${M[@]}" --output-format json --output-dir "$tmp/o8" "$good8"
head -c 600000 "$jfk" >"$tmp/half.flac"
accepted "FLAC cut in the middle (its decodable part)" 'grep -q "And so my fellow Americans" "$tmp/out"' "${M[@]}" "$tmp/half.flac"

# A file that shrinks while it is read: a preloaded read() truncates the file
# to a third after the first read of it, deterministically mid-decode. FFmpeg
# then meets the end early: the part read is transcribed, no signal.
if command -v cc >/dev/null; then
  cat >"$tmp/shrink.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static int done;
ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real) real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    ssize_t r = real(fd, buf, n);
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t l = done ? -1 : readlink(link, path, sizeof path - 1);
    if (l > 0) {
        path[l] = 0;
        const char *want = getenv("SHRINK_PATH");
        struct stat st;
        if (want && strcmp(path, want) == 0 && fstat(fd, &st) == 0) {
            done = 1;
            if (truncate(path, st.st_size / 3) != 0) abort();
        }
    }
    return r;
}
C
  if cc -shared -fPIC -o "$tmp/shrink.so" "$tmp/shrink.c" -ldl 2>"$tmp/cc.err"; then
    cat "$jfk" "$jfk" "$jfk" >/dev/null
    # speech where the ffmpeg program is (scripts/install-deps installs it),
    # else a tone: then only the clean exit is checked, not the words
    said="fellow Americans"
    ffmpeg -loglevel error -y -i "$jfk" -i "$jfk" -i "$jfk" -filter_complex concat=n=3:v=0:a=1 "$tmp/shrink.wav" 2>/dev/null ||
      { said=""; python3 - "$tmp/shrink.wav"; } <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 9))) for i in range(16000 * 33)))
PY
    full=$(stat -c %s "$tmp/shrink.wav")
    SHRINK_PATH=$(readlink -f "$tmp/shrink.wav") LD_PRELOAD="$tmp/shrink.so" \
      ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
      "$cli" transcribe "${M[@]}" "$tmp/shrink.wav" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    now=$(stat -c %s "$tmp/shrink.wav")
    if [ "$rc" -eq 0 ] && [ "$now" -lt "$full" ] && [ ! -s "$tmp/err" ] && { [ -z "$said" ] || grep -q "$said" "$tmp/out"; }; then
      ok; printf '| + | %s | 0 | accepted |\n' "a file that shrinks to a third while it is read (the part read)" >>"$doc"
    else bad "shrinking file: exit $rc, size $full -> $now, $(head -c 300 "$tmp/err")"; fi
  else skip "shrinking file (cc failed: $(head -1 "$tmp/cc.err"))"; fi
else skip "shrinking file (no cc)"; fi

echo "$n_cases refused cases, $skips skipped"
[ "$n_cases" -ge 30 ] && ok || bad "only $n_cases cases"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
