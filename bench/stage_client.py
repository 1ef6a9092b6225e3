#!/usr/bin/env python3
"""The client side of bench/stage-throughput.sh: standard library only, keep-alive connections,
so the client costs the two cores as little as it can.

  latency API TOKEN PACKAGE BUILDPACK N
      N stagings one at a time: POST /v3/packages/:guid/droplets, then follow the droplet's log
      (server-sent events) until its `end` event; prints one line per staging, in ms.
  drain API TOKEN PACKAGE BUILDPACK APP N SERVER_PID
      N stagings POSTed at once (8 connections), then waits until all are final, while a probe
      GETs /v3/apps/:guid every 10 ms on its own connection and the server's RSS is sampled every
      20 ms; prints a JSON object with the drain time, the probe's latencies and the peak RSS.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse


class Api:
    def __init__(self, base, token):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.headers = {"Authorization": f"bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, method, path, body=None, expect=(200, 201, 202)):
        data = json.dumps(body) if body is not None else None
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        text = response.read()
        if response.status not in expect:
            raise SystemExit(f"{method} {path}: {response.status} {text[:500]!r}")
        return json.loads(text) if text else None

    def follow_log(self, droplet):
        """Reads the droplet's log as server-sent events until `event: end`; its data."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = dict(self.headers, Accept="text/event-stream")
        conn.request("GET", f"/v3/droplets/{droplet}/logs", headers=headers)
        response = conn.getresponse()
        if response.status != 200:
            raise SystemExit(f"log of {droplet}: {response.status} {response.read()[:300]!r}")
        event = None
        while True:
            line = response.fp.readline()
            if not line:
                raise SystemExit(f"log of {droplet} ended without an end event")
            line = line.decode().rstrip("\n")
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "end":
                conn.close()
                return json.loads(line.split(":", 1)[1])
            elif line == "":
                event = None


def stage_body(buildpack):
    return {"buildpack_guid": buildpack}


def latency(base, token, package, buildpack, n):
    api = Api(base, token)
    for _ in range(int(n)):
        start = time.perf_counter()
        droplet = api.call("POST", f"/v3/packages/{package}/droplets", stage_body(buildpack))
        end = api.follow_log(droplet["guid"])
        elapsed = (time.perf_counter() - start) * 1000
        if end.get("state") != "STAGED":
            raise SystemExit(f"droplet {droplet['guid']} ended {end}")
        print(f"{elapsed:.1f}")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def drain(base, token, package, buildpack, app, n, server_pid):
    n = int(n)
    done = threading.Event()
    probe_ms, peak_rss = [], [rss_kb(server_pid)]

    def probe():
        api = Api(base, token)
        while not done.is_set():
            start = time.perf_counter()
            api.call("GET", f"/v3/apps/{app}")
            probe_ms.append((time.perf_counter() - start) * 1000)
            time.sleep(0.01)

    def sample_rss():
        while not done.is_set():
            peak_rss[0] = max(peak_rss[0], rss_kb(server_pid))
            time.sleep(0.02)

    def post(count):
        api = Api(base, token)
        for _ in range(count):
            api.call("POST", f"/v3/packages/{package}/droplets", stage_body(buildpack))

    poller = Api(base, token)

    def final_count(state):
        page = poller.call("GET", f"/v3/packages/{package}/droplets?states={state}&per_page=1")
        return page["pagination"]["total_results"]

    already = final_count("STAGED")
    side = [threading.Thread(target=probe), threading.Thread(target=sample_rss)]
    for thread in side:
        thread.start()
    start = time.perf_counter()
    posters = [threading.Thread(target=post, args=(n // 8 + (i < n % 8),)) for i in range(8)]
    for thread in posters:
        thread.start()
    for thread in posters:
        thread.join()
    queued_s = time.perf_counter() - start
    while final_count("STAGED") < already + n:
        if final_count("FAILED") > 0:
            done.set()
            raise SystemExit("a staging failed")
        time.sleep(0.02)
    drain_s = time.perf_counter() - start
    done.set()
    for thread in side:
        thread.join()
    probe_ms.sort()

    def pct(p):
        return probe_ms[min(len(probe_ms) - 1, max(0, int(p * len(probe_ms) / 100 + 0.999) - 1))]

    print(json.dumps({
        "stagings": n,
        "drain_s": round(drain_s, 3),
        "queue_s": round(queued_s, 3),
        "rate": round(n / drain_s, 1),
        "probe_requests": len(probe_ms),
        "probe_p50_ms": round(pct(50), 1),
        "probe_p99_ms": round(pct(99), 1),
        "probe_max_ms": round(probe_ms[-1], 1),
        "peak_rss_mb": round(peak_rss[0] / 1024, 1),
    }))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"latency": latency, "drain": drain}[command](*args)
