#!/usr/bin/env bash
# bench/memory/run.sh
#
# Peak memory of `cwhisper transcribe` on a short and a long recording, to
# show that memory does not grow with the length (the log-mel is streamed
# into an unlinked temporary file; see src/audio/mel_source.h).
#
# Inputs are built once into bench/.data/ (ignored by git) by concatenating
# the shared 22.7-minute english-mix-16k-concat.flac with the ffmpeg
# program's concat demuxer (cut with -t and re-encoded to FLAC, so that the
# header holds the true length; a stream copy keeps the first file's):
#   memory-1800s.flac (SHORT_S, 30 min) and memory-36000s.flac (LONG_S, 10 h).
# Each file runs under `/usr/bin/time -v`; peak RSS is its "Maximum resident
# set size". A run may be stopped early (STOP_SHORT / STOP_LONG seconds, 0 =
# run to the end) with SIGINT through timeout(1): time(1) still reports the
# peak of the stopped process. While it runs, a sampler logs every
# SAMPLE_S seconds the process's RSS and the size of its temporary log-mel
# file (an fd "cwhisper-mel-... (deleted)" in /proc/PID/fd): the file stops
# growing when the mel pass ends and the windows begin.
#
# Environment: MODEL (tiny.en), THREADS (2), CWHISPER (build/cwhisper),
# SHORT_S, LONG_S, STOP_SHORT (0), STOP_LONG (0), SAMPLE_S (5), RUNS
# ("short long": which to run), OUT (a directory for the logs; default
# bench/.data/memory-logs).
# Prints one line per run: file, seconds of audio, wall s, peak RSS MiB,
# exit status, and whether it was stopped.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=${MODEL:-tiny.en}
THREADS=${THREADS:-2}
CWHISPER=${CWHISPER:-$root/build/cwhisper}
SHORT_S=${SHORT_S:-1800}
LONG_S=${LONG_S:-36000}
STOP_SHORT=${STOP_SHORT:-0}
STOP_LONG=${STOP_LONG:-0}
SAMPLE_S=${SAMPLE_S:-5}
RUNS=${RUNS:-short long}
data=$root/bench/.data
OUT=${OUT:-$data/memory-logs}
src=$(cd "$root/../shared/speech" && pwd)/longform/audio/english-mix-16k-concat.flac
mkdir -p "$data" "$OUT"
[ -x "$CWHISPER" ] || make -C "$root" build >/dev/null

# make_input SECONDS NAME: src repeated enough times, cut to SECONDS.
make_input() {
  local secs=$1 out=$data/$2
  [ -s "$out" ] && return 0
  local src_s reps list
  src_s=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$src")
  reps=$(awk -v a="$secs" -v b="$src_s" 'BEGIN { n = int(a / b); if (n * b < a) n++; print n }')
  list=$data/$2.list
  : >"$list"
  for _ in $(seq "$reps"); do echo "file '$src'" >>"$list"; done
  ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$list" -t "$secs" -c:a flac "$out.tmp.flac"
  mv "$out.tmp.flac" "$out"
  rm -f "$list"
}

# sample PID LOG: RSS and temp-file size every SAMPLE_S s while PID lives.
sample() {
  local pid=$1 log=$2 t0=$SECONDS
  echo "# elapsed_s rss_mib tmp_mel_mib" >"$log"
  while kill -0 "$pid" 2>/dev/null; do
    local rss tmp=0 fd
    rss=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    for fd in /proc/"$pid"/fd/*; do
      case $(readlink "$fd" 2>/dev/null) in
        *cwhisper-mel-*) tmp=$(( $(stat -L -c %s "$fd" 2>/dev/null || echo 0) / 1048576 )) ;;
      esac
    done
    echo "$((SECONDS - t0)) ${rss:-0} $tmp" >>"$log"
    sleep "$SAMPLE_S"
  done
}

# run NAME STOP: one transcription under time -v, the sampler beside it.
run() {
  local name=$1 stop=$2 file=$data/$1.flac
  local tlog=$OUT/$name.time.txt slog=$OUT/$name.samples.txt
  local dur
  dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$file")
  local cmd=("$CWHISPER" transcribe --model "$MODEL" --threads "$THREADS" "$file")
  [ "$stop" -gt 0 ] && cmd=(timeout -s INT "$stop" "${cmd[@]}")
  local t0=$SECONDS
  /usr/bin/time -v -o "$tlog" "${cmd[@]}" >"$OUT/$name.txt" 2>"$OUT/$name.stderr" &
  local tpid=$! pid=""
  for _ in $(seq 50); do # the cwhisper process under time (and timeout)
    pid=$(pgrep -n -f "^$CWHISPER transcribe .*$name.flac" || true)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] && sample "$pid" "$slog" &
  local spid=$!
  local rc=0
  wait "$tpid" || rc=$?
  wait "$spid" 2>/dev/null || true
  local wall=$((SECONDS - t0))
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$tlog")
  local how=complete
  [ "$rc" = 124 ] && how="stopped after ${stop}s"
  printf '%s\t%.0f s audio\twall %d s\tpeak RSS %s MiB\texit %s\t%s\n' "$name" "$dur" "$wall" "$rss" "$rc" "$how"
}

short=memory-${SHORT_S}s long=memory-${LONG_S}s
make_input "$SHORT_S" "$short.flac"
make_input "$LONG_S" "$long.flac"
echo "cwhisper: $CWHISPER, model $MODEL, threads $THREADS; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
case " $RUNS " in *" short "*) run "$short" "$STOP_SHORT" ;; esac
case " $RUNS " in *" long "*) run "$long" "$STOP_LONG" ;; esac
echo "logs: $OUT"
