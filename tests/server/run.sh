#!/usr/bin/env bash
# `cwhisper serve` end to end: a server with tiny.en on a free loopback port;
# curl and the official `openai` Python client (pip-installed into
# build/server-venv, skipped with a message if pip cannot reach the registry)
# ask for every response_format of jfk.flac and must get the CLI's texts;
# the bad-request table gets OpenAI's error object with the right status
# and code; then SIGTERM must stop it cleanly, leaving no temporary file.
set -u
cli=${CW_CLI:?run through ctest}
models=${CW_MODELS_DIR:?}
speech=${CW_SHARED_DIR:?}/speech
bin=${CW_BINARY_DIR:?}
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

if [ ! -f "$models/tiny.en/model.bin" ]; then
  if [ -n "${CI:-}" ]; then echo "FAIL: models/tiny.en is missing"; exit 1; fi
  echo "skipped: no model"; echo "0 passed, 0 failed"; exit 0
fi
jfk=$speech/english-fixtures/audio/jfk.flac
key=test-key-123

# The server: its own TMPDIR, to check that uploads are cleaned up.
mkdir -p "$tmp/srvtmp"
TMPDIR=$tmp/srvtmp "$cli" serve --model "$models/tiny.en" --threads 2 --parallel 2 --port 0 \
  --max-request-bytes 2000000 --api-key "$key" 2>"$tmp/log" &
pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/log" | grep -o '[0-9]*$')
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: the server did not start: $(cat "$tmp/log")"
  exit 1
fi
url=http://127.0.0.1:$port
auth=(-H "Authorization: Bearer $key")

# The CLI's outputs, the reference for every format.
"$cli" transcribe --model "$models/tiny.en" --threads 2 --output-format all --output-dir "$tmp" "$jfk" 2>"$tmp/clierr" ||
  bad "cli: $(cat "$tmp/clierr")"

# post NAME CURL_ARGS...: body to $tmp/NAME, status to $tmp/NAME.code.
post() {
  local name=$1
  shift
  curl -s -o "$tmp/$name" -w '%{http_code}' "$@" >"$tmp/$name.code" 2>"$tmp/$name.err"
}

for f in json text srt vtt verbose_json; do
  post "r.$f" "${auth[@]}" -F "file=@$jfk" -F model=whisper-1 -F "response_format=$f" "$url/v1/audio/transcriptions"
  [ "$(cat "$tmp/r.$f.code")" = 200 ] && ok || bad "curl $f: status $(cat "$tmp/r.$f.code"): $(head -c 300 "$tmp/r.$f")"
done
python3 -c "import json,sys; t=open(sys.argv[1]).read(); assert t == json.load(open(sys.argv[2]))['text'].strip() + '\n', t" \
  "$tmp/r.text" "$tmp/jfk.json" && ok || bad "curl text is not the CLI's whole text on one line"
cmp -s "$tmp/r.srt" "$tmp/jfk.srt" && ok || bad "curl srt differs from the CLI's srt"
cmp -s "$tmp/r.vtt" "$tmp/jfk.vtt" && ok || bad "curl vtt differs from the CLI's vtt"
python3 - "$tmp" <<'EOF' && ok || bad "curl json / verbose_json against the CLI's json"
import json, sys
d = sys.argv[1]
cli = json.load(open(f"{d}/jfk.json"))
j = json.load(open(f"{d}/r.json"))
assert list(j) == ["text"] and j["text"] == cli["text"].strip(), (j, cli["text"])
v = json.load(open(f"{d}/r.verbose_json"))
assert v["task"] == "transcribe" and v["language"] == "english", v
assert abs(v["duration"] - 11.0) < 1e-9 and v["text"] == cli["text"].strip()
assert len(v["segments"]) == len(cli["segments"]) > 0
for s, c in zip(v["segments"], cli["segments"]):
    for k in ("id", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio", "no_speech_prob"):
        assert s[k] == c[k], (k, s[k], c[k])
    assert isinstance(s["seek"], int)
EOF

# timestamp_granularities[]=word: OpenAI's top-level words (no segments unless
# asked for too), the CLI's --word-timestamps words without their spaces.
"$cli" transcribe --model "$models/tiny.en" --threads 2 --word-timestamps --output-format json "$jfk" \
  >"$tmp/jfk-words.json" 2>>"$tmp/clierr" || bad "cli words: $(cat "$tmp/clierr")"
post r.words "${auth[@]}" -F "file=@$jfk" -F response_format=verbose_json -F 'timestamp_granularities[]=word' \
  "$url/v1/audio/transcriptions"
post r.both "${auth[@]}" -F "file=@$jfk" -F response_format=verbose_json -F 'timestamp_granularities[]=word' \
  -F 'timestamp_granularities[]=segment' "$url/v1/audio/transcriptions"
python3 - "$tmp" <<'EOF' && ok || bad "word granularity: $(head -c 300 "$tmp/r.words")"
import json, sys
d = sys.argv[1]
cli = [w for s in json.load(open(f"{d}/jfk-words.json"))["segments"] for w in s["words"]]
v = json.load(open(f"{d}/r.words"))
assert "segments" not in v and len(v["words"]) == len(cli) > 10, v
for w, c in zip(v["words"], cli):
    assert w == {"word": c["word"].strip(), "start": c["start"], "end": c["end"]}, (w, c)
b = json.load(open(f"{d}/r.both"))
assert b["words"] == v["words"] and len(b["segments"]) > 0
EOF

# GET routes.
post models "${auth[@]}" "$url/v1/models"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['object']=='list' and [m['id'] for m in j['data']]==['whisper-1','tiny.en']" \
  "$tmp/models" && [ "$(cat "$tmp/models.code")" = 200 ] && ok || bad "/v1/models: $(cat "$tmp/models")"
post health "$url/health"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['status']=='ok' and j['contexts']==2" \
  "$tmp/health" && [ "$(cat "$tmp/health.code")" = 200 ] && ok || bad "/health: $(cat "$tmp/health")"

# The bad-request table: NAME STATUS CODE NEEDLE CURL_ARGS... must answer
# STATUS with OpenAI's error object whose code is CODE (- for null) and whose
# message contains NEEDLE.
err() {
  local name=$1 status=$2 code=$3 needle=$4
  shift 4
  post "e.$name" "$@"
  local got
  got=$(cat "$tmp/e.$name.code")
  if [ "$got" != "$status" ]; then bad "$name: status $got, not $status: $(head -c 300 "$tmp/e.$name")"; return; fi
  python3 - "$tmp/e.$name" "$code" "$needle" <<'EOF' && ok || bad "$name: $(head -c 300 "$tmp/e.$name")"
import json, sys
j = json.load(open(sys.argv[1]))
e = j["error"]
assert set(j) == {"error"} and set(e) == {"message", "type", "param", "code"}, j
assert isinstance(e["message"], str) and sys.argv[3] in e["message"], (e["message"], sys.argv[3])
assert e["type"] in ("invalid_request_error", "server_error")
assert e["code"] == (None if sys.argv[2] == "-" else sys.argv[2]), e["code"]
EOF
}
T=$url/v1/audio/transcriptions
printf 'this is not audio, just some text' >"$tmp/notes.mp3"
: >"$tmp/empty.wav"
head -c 3000000 /dev/urandom >"$tmp/big.bin"
head -c 1200 "$jfk" >"$tmp/truncated.flac"
err no-file 400 missing_file "named 'file'" "${auth[@]}" -F model=whisper-1 "$T"
err not-audio 400 invalid_file "notes.mp3" "${auth[@]}" -F "file=@$tmp/notes.mp3" "$T"
err empty 400 empty_file "empty.wav" "${auth[@]}" -F "file=@$tmp/empty.wav" "$T"
err oversized 413 request_too_large "limit of 2000000 bytes" "${auth[@]}" -F "file=@$tmp/big.bin" "$T"
err oversized-no-expect 413 request_too_large "limit" "${auth[@]}" -H 'Expect:' -F "file=@$tmp/big.bin" "$T"
err bad-key 401 invalid_api_key "Incorrect API key" -H "Authorization: Bearer wrong" -F "file=@$jfk" "$T"
err no-key 401 invalid_api_key "API key" -F "file=@$jfk" "$T"
err unknown-route 404 unknown_url "POST /v1/audio/nope" "${auth[@]}" -F "file=@$jfk" "$url/v1/audio/nope"
err unknown-get 404 unknown_url "GET /" "${auth[@]}" "$url/"
err wrong-method 405 method_not_allowed "GET" "${auth[@]}" "$T"
err file-as-text 400 invalid_type "file upload" "${auth[@]}" -F "file=hello" "$T"
err unknown-model 400 model_not_found "whisper-9" "${auth[@]}" -F "file=@$jfk" -F model=whisper-9 "$T"
err bad-format 400 invalid_value "response_format 'doc'" "${auth[@]}" -F "file=@$jfk" -F response_format=doc "$T"
err bad-temperature 400 invalid_value "temperature 'hot'" "${auth[@]}" -F "file=@$jfk" -F temperature=hot "$T"
err bad-language 400 invalid_language "'xx'" "${auth[@]}" -F "file=@$jfk" -F language=xx "$T"
err words-not-verbose 400 invalid_value "verbose_json" "${auth[@]}" -F "file=@$jfk" \
  -F response_format=json -F 'timestamp_granularities[]=word' "$T"
err not-multipart 400 invalid_multipart "not multipart/form-data" "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"file": "x"}' "$T"
err truncated-multipart 400 invalid_multipart "truncated" "${auth[@]}" \
  -H 'Content-Type: multipart/form-data; boundary=XX' --data-binary $'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF' "$T"
err translate-english-only 400 invalid_value "English-only" "${auth[@]}" -F "file=@$jfk" "$url/v1/audio/translations"
# A truncated FLAC decodes to little or nothing: a transcript or a 400, never a crash.
post trunc "${auth[@]}" -F "file=@$tmp/truncated.flac" "$T"
case $(cat "$tmp/trunc.code") in 200|400) ok ;; *) bad "truncated flac: $(cat "$tmp/trunc.code") $(cat "$tmp/trunc")" ;; esac

# The official client, every response_format, plus its error classes.
venv=$bin/server-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import openai" 2>/dev/null; then
  python3 -m venv "$venv" >/dev/null 2>&1 && timeout 180 "$venv/bin/pip" install -q openai >"$tmp/pip.log" 2>&1
fi
if "$venv/bin/python" -c "import openai" 2>/dev/null; then
  "$venv/bin/python" - "$url" "$key" "$jfk" "$tmp" <<'EOF' && ok || bad "openai client"
import json, sys
import openai
url, key, jfk, d = sys.argv[1:]
c = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
cli = json.load(open(f"{d}/jfk.json"))
def create(**kw):
    with open(jfk, "rb") as f:
        return c.audio.transcriptions.create(model="whisper-1", file=f, **kw)
r = create()
assert r.text == cli["text"].strip(), r
r = create(response_format="json")
assert r.text == cli["text"].strip(), r
r = create(response_format="verbose_json", timestamp_granularities=["segment"])
assert r.language == "english" and r.duration == 11.0 and r.text == cli["text"].strip(), r
assert [s.text for s in r.segments] == [s["text"] for s in cli["segments"]]
assert [s.tokens for s in r.segments] == [s["tokens"] for s in cli["segments"]]
assert create(response_format="text") == cli["text"].strip() + "\n"
for fmt, ext in (("srt", "srt"), ("vtt", "vtt")):
    r = create(response_format=fmt)
    assert isinstance(r, str) and r == open(f"{d}/jfk.{ext}").read(), (fmt, r)
assert [m.id for m in c.models.list()] == ["whisper-1", "tiny.en"]
try:
    openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).audio.transcriptions.create(
        model="whisper-1", file=open(jfk, "rb"))
    raise SystemExit("a wrong key was accepted")
except openai.AuthenticationError as e:
    assert e.status_code == 401 and e.code == "invalid_api_key", e
try:
    c.audio.transcriptions.create(model="whisper-1", file=("notes.mp3", b"not audio at all"))
    raise SystemExit("not-audio accepted")
except openai.BadRequestError as e:
    assert e.code == "invalid_file" and "notes.mp3" in e.message, e
print("openai client", openai.__version__, "ok")
EOF
else
  echo "skipped: openai client (pip could not install 'openai' into $venv: $(tail -n 1 "$tmp/pip.log" 2>/dev/null))"
fi

# Still up after all that, then a clean stop on SIGTERM.
post health2 "$url/health"
[ "$(cat "$tmp/health2.code")" = 200 ] && ok || bad "server down after the bad requests"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] && grep -q "cwhisper serve: stopped" "$tmp/log" && ok || bad "SIGTERM: exit $rc: $(tail -n 3 "$tmp/log")"
[ -z "$(ls -A "$tmp/srvtmp")" ] && ok || bad "temporary files left: $(ls "$tmp/srvtmp")"
grep -qi -e "sanitizer" -e "runtime error" "$tmp/log" && bad "sanitizer report: $(grep -i -A5 sanitizer "$tmp/log")" || ok

# --int8-attention without a low-precision dtype: one line, exit 2, no server
"$cli" serve --model "$models/tiny.en" --int8-attention --port 0 >"$tmp/a8.out" 2>"$tmp/a8.err"
rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/a8.err")" -eq 1 ] && grep -q "int8 attention needs dtype int8 or bf16" "$tmp/a8.err" && ok \
  || bad "serve --int8-attention with fp32: exit $rc: $(cat "$tmp/a8.err")"

# --device: a bad name is one line, exit 2; cuda where it cannot run (no GPU,
# no driver, or built without CUDA) likewise, naming the reason, no server
"$cli" serve --model "$models/tiny.en" --device tpu --port 0 >"$tmp/dev.out" 2>"$tmp/dev.err"
rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/dev.err")" -eq 1 ] && grep -q "device 'tpu' is not cpu, cuda or cuda:N" "$tmp/dev.err" && ok \
  || bad "serve --device tpu: exit $rc: $(cat "$tmp/dev.err")"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  "$cli" serve --model "$models/tiny.en" --device cuda --port 0 >"$tmp/cuda.out" 2>"$tmp/cuda.err"
  rc=$?
  [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/cuda.err")" -eq 1 ] && grep -q "CUDA" "$tmp/cuda.err" && ok \
    || bad "serve --device cuda without a GPU: exit $rc: $(cat "$tmp/cuda.err")"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
