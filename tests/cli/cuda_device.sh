#!/usr/bin/env bash
# `cwhisper transcribe --device`: cpu gives the default's output; a malformed
# device is one line with exit 2; cuda on a machine that cannot run it (built
# without CUDA, no driver, no GPU) is one line naming the reason, exit 2, not
# a crash; where a GPU is present, cuda --dtype fp32 gives the CPU's text.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"

"$cli" transcribe "${m[@]}" "$jfk" >"$tmp/default.txt" 2>"$tmp/default.err" || bad "default: exit $?"
"$cli" transcribe "${m[@]}" --device cpu "$jfk" >"$tmp/cpu.txt" 2>"$tmp/cpu.err" || bad "--device cpu: exit $?"
if [ -s "$tmp/cpu.txt" ] && cmp -s "$tmp/default.txt" "$tmp/cpu.txt"; then ok; else bad "--device cpu differs from the default"; fi

refused 2 "--device gpu" "not cpu, cuda or cuda:N" "${m[@]}" --device gpu "$jfk"
refused 2 "--device cuda:x" "not cpu, cuda or cuda:N" "${m[@]}" --device cuda:x "$jfk"
refused 2 "--device cuda:-1" "not cpu, cuda or cuda:N" "${m[@]}" --device cuda:-1 "$jfk"

"$cli" transcribe "${m[@]}" --device cuda --dtype fp32 "$jfk" >"$tmp/cuda.txt" 2>"$tmp/cuda.err"
rc=$?
if [ "$rc" -eq 0 ]; then
  echo "a CUDA device is present: comparing its fp32 text with the CPU's"
  if cmp -s "$tmp/cpu.txt" "$tmp/cuda.txt"; then ok; else bad "cuda fp32 text differs: $(cat "$tmp/cuda.txt")"; fi
else
  reason='this cwhisper was built without CUDA|no NVIDIA driver|driver .* is older|no GPU found|no device|compute capability|cuBLAS'
  echo "no usable CUDA device here: $(cat "$tmp/cuda.err")"
  if [ "$rc" -ne 2 ]; then bad "--device cuda: exit $rc, not 2"
  elif [ "$(wc -l <"$tmp/cuda.err")" -ne 1 ]; then bad "--device cuda: stderr is not one line: $(cat "$tmp/cuda.err")"
  elif ! grep -Eq "^cwhisper: --device cuda: CUDA: ($reason)" "$tmp/cuda.err"; then bad "--device cuda: no reason: $(cat "$tmp/cuda.err")"
  elif [ -s "$tmp/cuda.txt" ]; then bad "--device cuda: wrote to stdout"
  else ok; fi
  # a GPU index on such a machine: the same reason, never a crash
  refused 2 "--device cuda:3" "CUDA: " "${m[@]}" --device cuda:3 "$jfk"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
