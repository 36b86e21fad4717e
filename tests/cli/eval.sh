#!/usr/bin/env bash
# `cwhisper eval` on a tiny pair of transcript files: the printed corpus WER
# (normalised and not), a missing hypothesis, and one-line errors for bad input.
set -u
cli=${CW_CLI:?run through ctest}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then echo "FAIL $1: expected [$2], got [$3]"; fail=1; else echo "ok   $1"; fi
}

printf 'a1 The cat sat on the mat.\nb2 Mr. Smith paid twenty dollars.\nc3 Hello world\n' > "$tmp/refs.txt"
printf 'a1 the cat sat on mat\nb2 mister smith paid $20\nd4 not in the references\n' > "$tmp/hyps.txt"

# english: a1 one deletion (6 words), b2 exact (4), c3 missing: two deletions (2) -> 3/12
out=$("$cli" eval --refs "$tmp/refs.txt" --hyps "$tmp/hyps.txt" 2>"$tmp/err")
check "english WER" "WER 25.00% (0 substitutions, 3 deletions, 0 insertions, 12 reference words, 3 files)" "$out"
check "missing hypothesis reported" 1 "$(grep -c "no hypothesis for 'c3'" "$tmp/err")"

# none (13 words): a1 The/the, mat./mat substituted and one 'the' deleted; b2 Mr./mister,
# Smith/smith, twenty/$20 substituted and dollars. deleted; c3 two deletions (jiwer agrees)
out=$("$cli" eval --refs "$tmp/refs.txt" --hyps "$tmp/hyps.txt" --normalizer none 2>/dev/null)
check "no normaliser WER" "WER 69.23% (5 substitutions, 4 deletions, 0 insertions, 13 reference words, 3 files)" "$out"

out=$("$cli" eval --refs "$tmp/refs.txt" --hyps "$tmp/hyps.txt" --verbose 2>/dev/null | head -1)
check "verbose per-file line" "a1 WER 16.67% (S 0, D 1, I 0, N 6)" "$out"

# bad input: one line naming the file, non-zero exit
expect_error() { # NAME FILE-NAMED ARGS...
    local name=$1 needle=$2; shift 2
    "$cli" eval "$@" >/dev/null 2>"$tmp/err"; local rc=$?
    if [ $rc -eq 0 ] || ! grep -q "$needle" "$tmp/err" || [ "$(wc -l < "$tmp/err")" -ne 1 ]; then
        echo "FAIL $name: rc $rc, stderr: $(cat "$tmp/err")"; fail=1
    else
        echo "ok   $name"
    fi
}
expect_error "missing refs file" "nope.txt" --refs "$tmp/nope.txt" --hyps "$tmp/hyps.txt"
expect_error "missing hyps file" "nohyps.txt" --refs "$tmp/refs.txt" --hyps "$tmp/nohyps.txt"
: > "$tmp/empty.txt"
expect_error "empty refs" "empty.txt" --refs "$tmp/empty.txt" --hyps "$tmp/hyps.txt"
printf 'a1 fine\n   no id on this line\n' > "$tmp/noid.txt"
expect_error "line without an id" "noid.txt" --refs "$tmp/noid.txt" --hyps "$tmp/hyps.txt"
expect_error "unknown normaliser" "klingon" --refs "$tmp/refs.txt" --hyps "$tmp/hyps.txt" --normalizer klingon
exit $fail
