#!/usr/bin/env bash
# `cwhisper transcribe --dtype`: bf16 and int8 (lowp kernels) still transcribe
# jfk right, fp16 is token-identical to fp32 for the fp16 model files, --verbose
# names the kernels, and a bad value is one line on stderr with exit 2.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"
want="and so my fellow americans ask not what your country can do for you ask what you can do for your country"
norm() { tr 'A-Z\n' 'a-z ' | tr -d '.,!?' | tr -s ' ' | sed 's/^ //; s/ $//'; }

for d in fp32 fp16 bf16 int8; do
  if ! "$cli" transcribe "${m[@]}" --dtype "$d" --verbose "$jfk" >"$tmp/$d.txt" 2>"$tmp/$d.err"; then
    bad "--dtype $d: exit $?: $(tail -1 "$tmp/$d.err")"; continue
  fi
  got=$(norm <"$tmp/$d.txt")
  if [ "$got" = "$want" ]; then ok; else bad "--dtype $d: '$got'"; fi
  if grep -q "^cwhisper: kernels: .*dtype $d" "$tmp/$d.err"; then ok; else bad "--dtype $d: no kernels line: $(head -1 "$tmp/$d.err")"; fi
done
for d in bf16 int8; do
  if grep -q "$d GEMM: " "$tmp/$d.err"; then ok; else bad "--verbose does not name the $d kernel"; fi
done
if cmp -s "$tmp/fp32.txt" "$tmp/fp16.txt"; then ok; else bad "fp16 differs from fp32"; fi

# --int8-attention: jfk still right; --verbose names the attention kernel (int8
# where the CPU has AVX512-VNNI, avx2 int8 where it has AVX2
# and no AVX-512, else the dtype's own)
if "$cli" transcribe "${m[@]}" --dtype int8 --int8-attention --verbose "$jfk" >"$tmp/a8.txt" 2>"$tmp/a8.err"; then
  got=$(norm <"$tmp/a8.txt")
  if [ "$got" = "$want" ]; then ok; else bad "--int8-attention: '$got'"; fi
  if grep -q 'avx512_vnni' /proc/cpuinfo && grep -qw 'avx512bw' /proc/cpuinfo; then
    if grep -q "attention: avx512-vnni int8" "$tmp/a8.err"; then ok; else bad "--int8-attention: $(head -1 "$tmp/a8.err")"; fi
  elif grep -qw 'avx2' /proc/cpuinfo && ! grep -qw 'avx512f' /proc/cpuinfo; then
    if grep -q "attention: avx2 int8" "$tmp/a8.err"; then ok; else bad "--int8-attention: $(head -1 "$tmp/a8.err")"; fi
  fi
else
  bad "--int8-attention: exit $?: $(tail -1 "$tmp/a8.err")"
fi

# the AVX2 table's int8 attention on any AVX2 CPU (CW_ISA=avx2: what a CPU
# without AVX-512 runs): jfk right, and --verbose names it
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo; then
  if CW_ISA=avx2 "$cli" transcribe "${m[@]}" --dtype int8 --int8-attention --verbose "$jfk" >"$tmp/a8v2.txt" 2>"$tmp/a8v2.err"; then
    got=$(norm <"$tmp/a8v2.txt")
    if [ "$got" = "$want" ]; then ok; else bad "CW_ISA=avx2 --int8-attention: '$got'"; fi
    if grep -q "cpu/avx2, .*attention: avx2 int8" "$tmp/a8v2.err"; then ok; else bad "CW_ISA=avx2 --int8-attention: $(head -1 "$tmp/a8v2.err")"; fi
  else
    bad "CW_ISA=avx2 --int8-attention: exit $?: $(tail -1 "$tmp/a8v2.err")"
  fi
fi

refused 2 "--dtype int4" "--dtype: 'int4'" "${m[@]}" --dtype int4 "$jfk"
refused 2 "--int8-attention with fp32" "int8 attention needs dtype int8 or bf16, not fp32" "${m[@]}" --int8-attention "$jfk"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
