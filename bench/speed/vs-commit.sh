#!/usr/bin/env bash
# bench/speed/vs-commit.sh REV [FILE] : this tree's cwhisper against the one
# built from commit REV, same model, options and file, run in turn (A B A B
# ...) so that the machine's drift hits both alike; the ratio is taken pair by
# pair. Also says whether the two transcripts (JSON segments: text, tokens,
# times) are identical. Run it on an idle machine.
#
# Environment: MODEL (tiny.en), THREADS (2), RUNS (3), OPTS (extra transcribe
# options for both, default the greedy preset), OUT (results markdown; default
# stdout only).
set -euo pipefail
rev=${1:?usage: bench/speed/vs-commit.sh REV [FILE]}
root=$(cd "$(dirname "$0")/../.." && pwd)
file=${2:-$root/bench/.data/quick.flac}
model=${MODEL:-tiny.en}
threads=${THREADS:-2}
runs=${RUNS:-3}
opts=${OPTS:---language en --no-fallback --no-condition-on-previous-text}
old=$(mktemp -d /tmp/cw-rev.XXXXXX)
work=$(mktemp -d /tmp/cw-vs.XXXXXX)
trap 'git -C "$root" worktree remove --force "$old" >/dev/null 2>&1 || rm -rf "$old"; rm -rf "$work"' EXIT
[ -f "$file" ] || { echo "vs-commit: no input $file (bench/data/make_inputs.py makes bench/.data/)" >&2; exit 2; }
git -C "$root" worktree add --detach -q "$old" "$rev"
cmake -S "$old" -B "$old/build" -DCMAKE_BUILD_TYPE=Release -DCW_BUILD_TESTS=OFF >/dev/null
cmake --build "$old/build" -j "$(nproc)" >/dev/null
make -C "$root" build >/dev/null
new_bin=$root/build/cwhisper old_bin=$old/build/cwhisper
mdir=$root/models/$model

# one NAME BIN I: a whole process under /usr/bin/time; appends "wall rss_kib" to $work/NAME.times
one() {
  local name=$1 bin=$2 i=$3
  mkdir -p "$work/$name-$i" # older builds want the directory to exist
  # shellcheck disable=SC2086
  if ! /usr/bin/time -f "%e %M" -o "$work/t" "$bin" transcribe --model "$mdir" --threads "$threads" $opts \
      --output-format json --output-dir "$work/$name-$i" "$file" >/dev/null 2>"$work/$name.err"; then
    echo "vs-commit: $name ($bin) failed: $(tail -1 "$work/$name.err")" >&2
    exit 1
  fi
  cat "$work/t" >>"$work/$name.times"
}
for i in $(seq 0 "$runs"); do  # run 0 is a warm-up (page cache, CPU clocks), not counted
  one old "$old_bin" "$i"
  one new "$new_bin" "$i"
done
base=$(basename "${file%.*}")
same=no
python3 - "$work/old-1/$base.json" "$work/new-1/$base.json" <<'PY' && same=yes
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda d: [(s["start"], s["end"], s["text"], s["tokens"]) for s in d["segments"]]
sys.exit(0 if key(a) == key(b) else 1)
PY
python3 - "$work" "$runs" "$rev" "$model" "$file" "$threads" "$opts" "$same" <<'PY' | tee ${OUT:+"$OUT"}
import statistics, sys, platform, subprocess
work, runs, rev, model, f, threads, opts, same = sys.argv[1:9]
def times(n): return [tuple(map(float, l.split())) for l in open(f"{work}/{n}.times")][1:]
o, n = times("old"), times("new")
ratios = [a[0] / b[0] for a, b in zip(o, n)]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
isa = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "baseline")
head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"- command: `bench/speed/vs-commit.sh {rev} {f}` (MODEL={model} THREADS={threads} RUNS={runs}); options `{opts}`")
print(f"- machine: {cpu} ({isa}), {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs; "
      f"date {subprocess.run(['date', '-u', '+%F %H:%M'], capture_output=True, text=True).stdout.strip()} UTC")
print(f"- transcripts identical (segments: times, text, tokens): {same}\n")
print("| build | wall s (median) | wall s (min-max) | peak RSS MiB |")
print("|---|---|---|---|")
for name, t in ((f"{rev}", o), (f"HEAD {head}", n)):
    w = [x[0] for x in t]
    print(f"| {name} | {statistics.median(w):.1f} | {min(w):.1f}-{max(w):.1f} | {max(x[1] for x in t) / 1024:.0f} |")
print(f"\nold/new wall ratio, pair by pair: median {statistics.median(ratios):.2f} "
      f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {len(ratios)} pairs)")
PY
