#!/usr/bin/env python3
"""Load test of `cwhisper serve` on loopback (standard library only).

Starts the server (or uses --url of a running one), warms it up, then fires
--requests transcriptions of short clips at once (--concurrency client
threads), mixed with --malformed bad uploads (not audio, empty, truncated
multipart, missing file, wrong field types, unknown model, not multipart)
and --oversized uploads over the server's limit. Reports requests/s and
latency percentiles of the transcriptions, the status of every request
(an unexpected status or a connection error counts as an error), whether
the server is still up (/health, and its process alive) and its RSS
before and after. Writes summary.json and summary.txt into --out if given.

  bench/server/load.py --cli build/cwhisper --model models/tiny.en \\
      --clips ../shared/speech/harvard-sentences/audio --out bench/results/DATE-server-load
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse


def multipart(fields, boundary="cwloadBOUNDARY7MA4"):
    """fields: list of (name, value) or (name, (filename, bytes))."""
    out = []
    for name, v in fields:
        if isinstance(v, tuple):
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                       f'filename="{v[0]}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
            out.append(v[1])
        else:
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{v}'.encode())
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def request(url, method, path, body=None, ctype=None, key=None, timeout=600):
    """Returns (status or None, seconds, body bytes or error text)."""
    u = urllib.parse.urlparse(url)
    headers = {}
    if ctype:
        headers["Content-Type"] = ctype
    if key:
        headers["Authorization"] = f"Bearer {key}"
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, time.monotonic() - t0, data
    except Exception as e:  # a reset or timeout is an error to count, not a crash of the test
        return None, time.monotonic() - t0, repr(e).encode()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            s = f.read()
        get = lambda k: int(re.search(rf"^{k}:\s+(\d+) kB", s, re.M).group(1))
        return {"VmRSS": get("VmRSS"), "VmHWM": get("VmHWM"), "Threads": int(re.search(r"^Threads:\s+(\d+)", s, re.M).group(1))}
    except (OSError, AttributeError):
        return None


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default="build/cwhisper")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--threads", type=int, default=1, help="threads per context")
    ap.add_argument("--parallel", type=int, default=2, help="server contexts")
    ap.add_argument("--dtype", default="fp32")
    ap.add_argument("--max-request-bytes", type=int, default=2_000_000)
    ap.add_argument("--url", help="use a running server instead of starting one (no RSS then)")
    ap.add_argument("--key", default=None, help="API key to send (and start the server with)")
    ap.add_argument("--clips", required=True, help="a directory of short audio clips")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--malformed", type=int, default=30)
    ap.add_argument("--oversized", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=0, help="client threads (0: every request at once)")
    ap.add_argument("--rounds", type=int, default=2, help="repeat the burst (RSS after each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="directory for summary.json / summary.txt")
    a = ap.parse_args()

    clips = sorted(os.path.join(a.clips, f) for f in os.listdir(a.clips)
                   if f.rsplit(".", 1)[-1].lower() in ("wav", "flac", "mp3", "ogg", "m4a", "webm"))
    if not clips:
        sys.exit(f"load.py: no audio clips in {a.clips}")
    audio = [(os.path.basename(p), open(p, "rb").read()) for p in clips]

    proc = None
    log = None
    url = a.url
    if not url:
        cmd = [a.cli, "serve", "--model", a.model, "--port", "0", "--threads", str(a.threads),
               "--parallel", str(a.parallel), "--dtype", a.dtype, "--max-request-bytes", str(a.max_request_bytes),
               "--quiet"]
        if a.key:
            cmd += ["--api-key", a.key]
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            log = open(os.path.join(a.out, "server.log"), "w")
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()
        m = re.search(r"listening on (http://\S+?:\d+)", line)
        if not m:
            sys.exit(f"load.py: server did not start: {line}{proc.stderr.read()}")
        url = m.group(1)
        if log:
            log.write(line)
        # Keep draining the server's stderr so it never blocks on a full pipe.
        def drain():
            for l in proc.stderr:
                if log:
                    log.write(l)
        threading.Thread(target=drain, daemon=True).start()
        print(f"server: {' '.join(cmd)}\n  {line.strip()}")

    rnd = random.Random(a.seed)
    jobs = []  # (kind, body, ctype, expected statuses)
    for i in range(a.requests):
        name, data = audio[i % len(audio)]
        fmt = ["json", "text", "verbose_json", "srt", "vtt"][i % 5]
        body, ct = multipart([("file", (name, data)), ("model", "whisper-1"), ("response_format", fmt)])
        jobs.append(("transcribe", body, ct, {200}))
    bad_kinds = [
        ("not-audio", lambda: multipart([("file", ("notes.mp3", b"this is not audio " * 50))])),
        ("random-bytes", lambda: multipart([("file", ("noise.wav", rnd.randbytes(20000)))])),
        ("empty-file", lambda: multipart([("file", ("empty.wav", b""))])),
        ("truncated-audio", lambda: multipart([("file", (audio[0][0], audio[0][1][:700]))])),
        ("no-file", lambda: multipart([("model", "whisper-1")])),
        ("file-as-text", lambda: multipart([("file", "hello")])),
        ("bad-temperature", lambda: multipart([("file", audio[0]), ("temperature", "hot")])),
        ("bad-format", lambda: multipart([("file", audio[0]), ("response_format", "docx")])),
        ("unknown-model", lambda: multipart([("file", audio[0]), ("model", "whisper-9")])),
        ("truncated-multipart", lambda: (multipart([("file", audio[0])])[0][:5000], multipart([])[1])),
        ("not-multipart", lambda: (b'{"file": "x"}', "application/json")),
        ("garbage-headers", lambda: (b"--cwloadBOUNDARY7MA4\r\nno colon\r\n\r\nx\r\n--cwloadBOUNDARY7MA4--", multipart([])[1])),
    ]
    for i in range(a.malformed):
        kind, make = bad_kinds[i % len(bad_kinds)]
        body, ct = make()
        # A truncated clip may still decode to a little audio: 200 or 400.
        jobs.append((kind, body, ct, {200, 400} if kind == "truncated-audio" else {400}))
    for i in range(a.oversized):
        body, ct = multipart([("file", ("big.wav", rnd.randbytes(a.max_request_bytes + 1000 + i)))])
        jobs.append(("oversized", body, ct, {413}))
    rnd.shuffle(jobs)

    # Warm-up (first request pays for lazy set-up), then RSS before.
    st, dt, _ = request(url, "POST", "/v1/audio/transcriptions", *multipart([("file", audio[0])]), key=a.key)
    print(f"warm-up: status {st}, {dt:.2f} s")
    rss_before = rss_kib(proc.pid) if proc else None

    n_threads = a.concurrency or len(jobs)
    start = threading.Barrier(min(n_threads, len(jobs)))

    def run(job):
        kind, body, ct, want = job
        if n_threads == len(jobs):
            start.wait()
        st, dt, data = request(url, "POST", "/v1/audio/transcriptions", body, ct, key=a.key)
        return kind, st, dt, want, data

    # Several rounds of the same burst: RSS after each shows whether it
    # keeps growing or settles. Figures below are over every round.
    results, walls, rss_rounds = [], [], []
    for rd in range(a.rounds):
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(max_workers=n_threads) as ex:
            results += list(ex.map(run, jobs))
        walls.append(time.monotonic() - t0)
        rss_rounds.append(rss_kib(proc.pid) if proc else None)
        print(f"round {rd + 1}: {walls[-1]:.2f} s, server RSS "
              f"{rss_rounds[-1]['VmRSS'] / 1024 if rss_rounds[-1] else float('nan'):.1f} MiB", flush=True)
    wall = sum(walls)

    health, _, hbody = request(url, "GET", "/health", key=a.key)
    alive = proc.poll() is None if proc else None
    rss_after = rss_kib(proc.pid) if proc else None

    n_tr = a.requests * a.rounds
    good = [r for r in results if r[0] == "transcribe" and r[1] == 200]
    lat = [r[2] for r in good]
    errors = [r for r in results if r[1] not in r[3]]
    by_kind = {}
    for kind, st, dt, want, data in results:
        k = by_kind.setdefault(kind, {})
        k[str(st)] = k.get(str(st), 0) + 1
    bad_shape = 0
    for kind, st, dt, want, data in results:
        if st and st >= 400:
            try:
                e = json.loads(data)["error"]
                assert set(e) == {"message", "type", "param", "code"} and e["message"]
            except Exception:
                bad_shape += 1
    summary = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": {"cpu": cpu_model(), "cpus_online": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
        "server": {"model": a.model, "parallel": a.parallel, "threads_per_context": a.threads, "dtype": a.dtype,
                   "max_request_bytes": a.max_request_bytes, "url": url},
        "clips": {"dir": a.clips, "n": len(audio), "bytes_mean": sum(len(d) for _, d in audio) / len(audio)},
        "requests": {"rounds": a.rounds, "transcriptions": a.requests, "malformed": a.malformed, "oversized": a.oversized,
                     "client_threads": n_threads},
        "wall_s": wall,
        "transcriptions_ok": len(good),
        "transcriptions_per_s": len(good) / wall if wall > 0 else None,
        "all_requests_per_s": len(results) / wall if wall > 0 else None,
        "latency_s": {"p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99),
                      "max": max(lat) if lat else None},
        "status_by_kind": by_kind,
        "unexpected": len(errors),
        "unexpected_examples": [(k, s, d[:200].decode("utf-8", "replace")) for k, s, _, _, d in errors[:5]],
        "error_bodies_not_openai_shape": bad_shape,
        "after": {"health_status": health, "health": hbody.decode("utf-8", "replace").strip(),
                  "process_alive": alive},
        "rss_kib": {"before": rss_before, "after_each_round": rss_rounds, "after": rss_after},
        "round_wall_s": walls,
    }
    lines = [
        f"date (UTC): {summary['date_utc']}",
        f"machine: {summary['machine']['cpu']}, {summary['machine']['cpus_online']} CPUs online, "
        f"load average at end {summary['machine']['loadavg_at_end'][0]:.1f}",
        f"server: {a.model}, {a.parallel} contexts x {a.threads} threads, dtype {a.dtype}",
        f"requests: {a.requests} transcriptions of {len(audio)} clips + {a.malformed} malformed + "
        f"{a.oversized} oversized, {n_threads} client threads, all at once" if n_threads == len(jobs) else
        f"requests: {len(results)} over {n_threads} client threads",
        f"rounds: {a.rounds} ({', '.join(f'{w:.1f}' for w in walls)} s)",
        f"wall: {wall:.2f} s; transcriptions ok: {len(good)}/{n_tr}; "
        f"{summary['transcriptions_per_s']:.2f} transcriptions/s, {summary['all_requests_per_s']:.2f} requests/s",
        f"latency of transcriptions (s, queueing included): p50 {summary['latency_s']['p50']:.2f}, "
        f"p90 {summary['latency_s']['p90']:.2f}, p99 {summary['latency_s']['p99']:.2f}",
        f"status by kind: {json.dumps(by_kind, sort_keys=True)}",
        f"unexpected statuses or connection errors: {len(errors)}; error bodies not in OpenAI's shape: {bad_shape}",
        f"after: /health {health}, process alive: {alive}",
    ]
    if rss_before and rss_after:
        per = ", ".join(f"{r['VmRSS'] / 1024:.1f}" for r in rss_rounds if r)
        lines.append(f"server RSS: {rss_before['VmRSS'] / 1024:.1f} MiB before (after warm-up), after each round "
                     f"{per} MiB, at end {rss_after['VmRSS'] / 1024:.1f} MiB (peak {rss_after['VmHWM'] / 1024:.1f} MiB); "
                     f"threads {rss_before['Threads']} -> {rss_after['Threads']}")
    text = "\n".join(lines)
    print(text)
    if proc:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "killed after 60 s"
        summary["server_exit_on_sigterm"] = rc
        text += f"\nserver exit status on SIGTERM: {rc}"
        print(f"server exit status on SIGTERM: {rc}")
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
        with open(os.path.join(a.out, "summary.txt"), "w") as f:
            f.write(text + "\n")
    ok = (not errors and not bad_shape and health == 200 and alive is not False
          and summary.get("server_exit_on_sigterm", 0) == 0)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
