#!/usr/bin/env bash
# bench/speed/vs-commit.sh REV [FILE...] : this tree's cwhisper against the
# one built from commit REV, same model, options and files (one process
# each, all files given to it: with OPTS' --batch-size N they run in
# lockstep), run in turn (A B A B ...) so that the machine's drift hits both
# alike; the ratio is taken pair by pair. Also says whether the two builds'
# transcripts (JSON segments: text, tokens, times) are identical, file by
# file. Run it on an idle machine.
#
# Environment: MODEL (tiny.en), THREADS (2), RUNS (3), OPTS (extra transcribe
# options for both, default the greedy preset), OUT (results markdown; default
# stdout only).
set -euo pipefail
rev=${1:?usage: bench/speed/vs-commit.sh REV [FILE...]}
root=$(cd "$(dirname "$0")/../.." && pwd)
shift
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$root/bench/.data/quick.flac")
model=${MODEL:-tiny.en}
threads=${THREADS:-2}
runs=${RUNS:-3}
opts=${OPTS:---language en --no-fallback --no-condition-on-previous-text}
old=$(mktemp -d /tmp/cw-rev.XXXXXX)
work=$(mktemp -d /tmp/cw-vs.XXXXXX)
trap 'git -C "$root" worktree remove --force "$old" >/dev/null 2>&1 || rm -rf "$old"; rm -rf "$work"' EXIT
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "vs-commit: no input $f (bench/data/make_inputs.py makes bench/.data/)" >&2; exit 2; }
done
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
      --output-format json --output-dir "$work/$name-$i" "${files[@]}" >/dev/null 2>"$work/$name.err"; then
    echo "vs-commit: $name ($bin) failed: $(tail -1 "$work/$name.err")" >&2
    exit 1
  fi
  cat "$work/t" >>"$work/$name.times"
}
for i in $(seq 0 "$runs"); do  # run 0 is a warm-up (page cache, CPU clocks), not counted
  one old "$old_bin" "$i"
  one new "$new_bin" "$i"
done
same=$(python3 - "$work/old-1" "$work/new-1" "${files[@]}" <<'PY'
import json, os, sys
key = lambda d: [(s["start"], s["end"], s["text"], s["tokens"]) for s in d["segments"]]
names = [os.path.splitext(os.path.basename(f))[0] + ".json" for f in sys.argv[3:]]
diff = [n for n in names if key(json.load(open(os.path.join(sys.argv[1], n)))) !=
        key(json.load(open(os.path.join(sys.argv[2], n))))]
print(("yes" if not diff else "no: " + ", ".join(diff[:5])) + f" ({len(names) - len(diff)} of {len(names)} files)")
PY
)
what="${files[0]}"
[ ${#files[@]} -eq 1 ] || what="${files[0]} ... ($(( ${#files[@]} )) files)"
python3 - "$work" "$runs" "$rev" "$model" "$what" "$threads" "$opts" "$same" <<'PY' | tee ${OUT:+"$OUT"}
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
