#!/usr/bin/env python
"""Benchmark the incoming-call webhook against a running server, next to the same server's /healthz.

Not a test: it prints requests per second and latency percentiles so a change that adds queries or a
network call to the hot path shows up. It only talks to 127.0.0.1 / localhost and sends a bounded number
of requests. Each request is signed exactly as Twilio signs it (a fresh CallSid each time, so every
request does the full work: team lookup, on-call, Call and DialAttempt rows).

Typical run (gunicorn on PostgreSQL, demo data; the demo Web number is +493012340001):

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/roulette_bench DJANGO_SECRET_KEY=bench
    export PUBLIC_BASE_URL=https://roulette.example.com TWILIO_AUTH_TOKEN=bench-token
    createdb -h 127.0.0.1 -U postgres roulette_bench
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo
    .venv/bin/gunicorn roulette.wsgi -w 2 -b 127.0.0.1:8011 &
    .venv/bin/python scripts/bench_incoming.py --base-url http://127.0.0.1:8011 --to +493012340001

The server must share PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN with this script (read from the environment
or given as options), or every request is a 403 (counted as an error).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

INCOMING_PATH = "/telephony/voice/incoming/"
HEALTH_PATH = "/healthz"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS = 20_000
MAX_CONCURRENCY = 64


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Runner:
    """Sends `total` requests over `concurrency` keep-alive connections; collects latencies in seconds."""

    def __init__(self, host: str, port: int, concurrency: int, timeout: float):
        self.host, self.port, self.concurrency, self.timeout = host, port, concurrency, timeout
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        if getattr(self.local, "connection", None) is None:
            self.local.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.local.connection

    def _one(self, make_request) -> tuple[float, bool]:
        method, path, body, headers = make_request()
        started = time.perf_counter()
        try:
            connection = self._connection()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            self.local.connection = None
            ok = False
        return time.perf_counter() - started, ok

    def run(self, make_request, total: int) -> dict:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = list(pool.map(lambda _: self._one(make_request), range(total)))
        elapsed = time.perf_counter() - started
        latencies = sorted(latency for latency, _ in results)
        return {
            "requests": total,
            "errors": sum(1 for _, ok in results if not ok),
            "rps": total / elapsed if elapsed else float("nan"),
            "p50": percentile(latencies, 0.50),
            "p90": percentile(latencies, 0.90),
            "p99": percentile(latencies, 0.99),
            "max": latencies[-1] if latencies else float("nan"),
            "mean": statistics.fmean(latencies) if latencies else float("nan"),
        }


def incoming_request_factory(*, public_base_url: str, token: str, to_number: str, from_number: str):
    validator = RequestValidator(token)
    url = public_base_url.rstrip("/") + INCOMING_PATH

    def make():
        params = {
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
            "CallSid": "CA" + uuid.uuid4().hex,
            "From": from_number,
            "To": to_number,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        return "POST", INCOMING_PATH, urlencode(params), headers

    return make


def health_request():
    return "GET", HEALTH_PATH, None, {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="The server to drive (loopback only).")
    parser.add_argument("--to", required=True, help="A support number of the server's database (E.164).")
    parser.add_argument("--from-number", default="+4917099990000", help="The caller's number.")
    parser.add_argument("--requests", type=int, default=500, help=f"Requests per endpoint (max {MAX_REQUESTS}).")
    parser.add_argument("--concurrency", type=int, default=8, help=f"Parallel connections (max {MAX_CONCURRENCY}).")
    parser.add_argument("--warmup", type=int, default=20, help="Unmeasured requests first.")
    parser.add_argument("--timeout", type=float, default=15.0, help="Per-request timeout in seconds (Twilio's).")
    parser.add_argument("--public-base-url", default=os.environ.get("PUBLIC_BASE_URL", ""))
    parser.add_argument("--token", default=os.environ.get("TWILIO_AUTH_TOKEN", ""))
    args = parser.parse_args(argv)

    target = urlsplit(args.base_url)
    if target.scheme != "http" or target.hostname not in LOOPBACK:
        parser.error("--base-url must be http:// on 127.0.0.1 or localhost: this only benchmarks a local server.")
    if not args.public_base_url or not args.token:
        parser.error("PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN (or --public-base-url / --token) must match the server.")
    if not 1 <= args.requests <= MAX_REQUESTS or not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--requests must be 1..{MAX_REQUESTS} and --concurrency 1..{MAX_CONCURRENCY}.")

    runner = Runner(target.hostname, target.port or 80, args.concurrency, args.timeout)
    incoming = incoming_request_factory(
        public_base_url=args.public_base_url, token=args.token, to_number=args.to, from_number=args.from_number
    )
    runner.run(incoming, min(args.warmup, args.requests))
    runner.run(health_request, min(args.warmup, args.requests))
    rows = [
        ("/healthz", runner.run(health_request, args.requests)),
        (INCOMING_PATH, runner.run(incoming, args.requests)),
    ]
    print(f"{args.requests} requests per endpoint, {args.concurrency} connections, against {args.base_url}")
    print(f"{'endpoint':<30} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
    for name, result in rows:
        print(
            f"{name:<30} {result['rps']:>8.1f} {result['p50'] * 1000:>8.1f} {result['p90'] * 1000:>8.1f} "
            f"{result['p99'] * 1000:>8.1f} {result['max'] * 1000:>8.1f} {result['errors']:>7}"
        )
    health, calls = rows[0][1], rows[1][1]
    if health["p50"] > 0:
        print(f"incoming p50 is {calls['p50'] / health['p50']:.1f}x the /healthz p50")
    if calls["errors"]:
        print("Errors on the incoming webhook: check --to, PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
