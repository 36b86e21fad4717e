#!/usr/bin/env bash
# bench/speed/run.sh [MODEL...]   (default: tiny.en base)
#
# Speed and peak memory of cwhisper against openai-whisper (PyTorch, CPU,
# fp32, transcribe() defaults), both on the same CT2 weights, the same
# 2 threads and the same 22.7-minute file (longform/english-mix-16k-concat),
# one after the other in this run on this machine. Run it on an idle machine.
# Writes bench/results/DATE-speed-cpu.md (and the raw JSON lines beside it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python3}
threads=${THREADS:-2}
file=${FILE:-$(cd "$root/../shared/speech" && pwd)/longform/audio/english-mix-16k-concat.flac}
models=${*:-tiny.en base}
day=$(date +%Y-%m-%d)
res=$root/bench/results/$day-speed-cpu
mkdir -p "$res"
make -C "$root" build >/dev/null
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$file")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "# Speed and memory on the CPU: cwhisper vs openai-whisper"
  echo
  echo "- date: $day; machine: $cpu, $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- command: \`bench/speed/run.sh $models\` (THREADS=$threads)"
  echo "- input: $(basename "$file"), $(printf '%.1f' "$dur") s; sequential long-form, transcribe() defaults (greedy + fallback + conditioning), fp32 compute on both sides"
  echo "- reference: openai-whisper $($PY -c 'import whisper;print(whisper.__version__)'), torch $($PY -c 'import torch;print(torch.__version__)'), torch.set_num_threads($threads)"
  echo "- cwhisper: $("$root/build/cwhisper" version), --threads $threads, weights as stored (float16) widened to float32 in the kernels"
  echo
  echo "| model | implementation | load s | transcribe s | wall s | real-time factor | peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|"
} >"$res.md"
for m in $models; do
  mdir=$root/models/$m
  [ -f "$mdir/model.bin" ] || "$root/scripts/fetch-model" "$m"
  "$PY" "$root/bench/parity/reference.py" "$mdir" "$res/$m-ref.jsonl" --threads "$threads" "$file"
  "$PY" "$root/bench/parity/cwhisper.py" "$root/build/cwhisper" "$mdir" "$res/$m-cw.jsonl" --threads "$threads" "$file"
  "$PY" - "$m" "$dur" "$res/$m-ref.jsonl" "$res/$m-cw.jsonl" >>"$res.md" <<'PY'
import json, sys
m, dur, ref, cw = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
r = [json.loads(l) for l in open(ref)][-1]
c = [json.loads(l) for l in open(cw)][-1]
rw = r["load_seconds"] + r["transcribe_seconds"]
print(f"| {m} | openai-whisper | {r['load_seconds']:.2f} | {r['transcribe_seconds']:.1f} | {rw:.1f} | {dur / rw:.1f}x | {r['peak_rss_bytes'] / 2**20:.0f} |")
print(f"| {m} | cwhisper | (in wall) | | {c['wall_seconds']:.1f} | {dur / c['wall_seconds']:.1f}x | {c['peak_rss_bytes'] / 2**20:.0f} |")
print(f"| {m} | ratio | | | **{rw / c['wall_seconds']:.2f}x** faster | | **{c['peak_rss_bytes'] / r['peak_rss_bytes']:.2f}** of the reference's RSS |")
PY
done
cat "$res.md"
