#!/bin/sh
# Builds and runs bench/mel/bench_fft.c against the Release library and FFTW
# (Debian: libfftw3-dev; needed only here, not by the library), printing a
# markdown report. Usage: make build && sh bench/mel/run.sh > bench/results/mel-fft.md
set -e
cd "$(dirname "$0")/../.."
out=build/bench_fft
cc -O2 -std=gnu11 -Wall -Wextra -Iinclude -Isrc bench/mel/bench_fft.c build/libcwhisper.a \
   $(pkg-config --cflags --libs fftw3f fftw3 libavformat libavcodec libswresample libavutil) -lz -lpthread -lm -o $out
echo "# FFT for the log-mel: own mixed-radix vs FFTW vs naive DFT"
echo
echo "- command: \`make build && sh bench/mel/run.sh\`"
echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; cc $(cc -dumpversion) -O2; FFTW $(pkg-config --modversion fftw3f)"
echo "- date: $(date -u +%Y-%m-%d)"
echo
$out
