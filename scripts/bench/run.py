#!/usr/bin/env python
"""`make bench`: the incoming-call webhook against its bare baseline, side by side, in one run.

1. Builds the data sets in the database BENCH_DB (a PostgreSQL URL; `make bench` uses roulette_bench):
   schema `large` with BENCH_TEAMS teams (10,000) × 10 members and 10 years of weekly shifts, schema `small`
   with one team (scripts/bench/dataset.py; kept between runs).
2. Starts three gunicorn servers, each `-w 2` with the same settings (DEBUG off, persistent connections):
   the project on `large`, the bare baseline (scripts/bench/bench_urls.py: signature check, one ORM INSERT,
   constant TwiML) on `large`, and the project on `small`.
3. Drives each with wrk (BENCH_CONNECTIONS 16, BENCH_SECONDS 8 per round, BENCH_ROUNDS 5, interleaved),
   every request signed with the same Auth Token as Twilio signs it, each with a fresh CallSid (no replay)
   and, on `large`, the number of a random team.
4. Prints per server the median req/s, p50 and p99, and the statements per call as PostgreSQL counted them:
   the database's committed and rolled-back transactions (pg_stat_database) over the first round divided by
   the requests; in autocommit mode every statement, health checks included, is one transaction; and the
   CPU milliseconds the gunicorn workers used per request (user and system, from /proc), and those every
   PostgreSQL process used (the machine's only database load during a round). Then the
   ratio ours / bare (the median of each round's pair, and of the medians) and the latency at 1 team
   against 10,000.

Not a test: no figure here is asserted anywhere. Only talks to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psycopg
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
BASE_URL = "https://bench.example.com"
TOKEN = "bench-auth-token"
ACCOUNT = "AC" + "b" * 32
CALLER = "+4915112345678"

DB = os.environ.get("BENCH_DB", "postgres://postgres@127.0.0.1:5432/roulette_bench")
TEAMS = int(os.environ.get("BENCH_TEAMS", "10000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
PORT = int(os.environ.get("BENCH_PORT", "8150"))
# Idle PostgreSQL backends report their counters within 10 s (PGSTAT_IDLE_INTERVAL).
STATS_SETTLE_SECONDS = 11


def schema_url(schema: str) -> str:
    return DB + ("&" if "?" in DB else "?") + "options=" + urllib.parse.quote(f"-c search_path={schema}")


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME", "REDIS_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SECRET_KEY="bench-secret-key",
        DJANGO_DEBUG="false",
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_ACCOUNT_SID="",
        PUBLIC_BASE_URL=BASE_URL,
        LOG_LEVEL="WARNING",
        SMS_BACKEND="console",
        PYTHONPATH=f"{ROOT}{os.pathsep}{HERE}",
        **extra,
    )
    return env


def create_database() -> None:
    parts = urllib.parse.urlsplit(DB)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres", query="").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def build_datasets(numbers_dir: Path) -> dict[str, list[str]]:
    create_database()
    with psycopg.connect(DB, autocommit=True) as conn:
        for schema in ("large", "small"):
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    numbers = {}
    for schema, teams in (("large", TEAMS), ("small", 1)):
        out = numbers_dir / f"{schema}.txt"
        subprocess.run(
            [PYTHON, str(HERE / "dataset.py"), str(out)],
            env=clean_env(DATABASE_URL=schema_url(schema), BENCH_TEAMS=str(teams)),
            cwd=ROOT,
            check=True,
        )
        numbers[schema] = out.read_text().split()
    return numbers


def start_server(name: str, port: int, wsgi: str, schema: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [GUNICORN, wsgi, "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=clean_env(DATABASE_URL=schema_url(schema)),
        cwd=ROOT,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # noqa: S310 (loopback)
            return process
        except urllib.error.HTTPError:
            return process  # answered (503 without a broker is still an answer)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{name} did not start on port {port}")


def lua_script(path: str, to_numbers: list[str], count: int) -> str:
    """A wrk script that sends `count` distinct signed requests, spread over wrk's threads."""
    validator = RequestValidator(TOKEN)
    url = BASE_URL + path
    rows = []
    for _ in range(count):
        params = {
            "AccountSid": ACCOUNT,
            "ApiVersion": "2010-04-01",
            "CallSid": "CA" + uuid.uuid4().hex,
            "CallStatus": "ringing",
            "Called": (to := random.choice(to_numbers)),
            "Caller": CALLER,
            "Direction": "inbound",
            "From": CALLER,
            "To": to,
        }
        rows.append(f'{{"{urllib.parse.urlencode(params)}","{validator.compute_signature(url, params)}"}}')
    return (
        "local reqs = {\n" + ",\n".join(rows) + "\n}\n"
        f'local path = "{path}"\n'
        """local n = #reqs
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args) i = tid; step = tonumber(args[1]) end
function request()
  local r = reqs[(i % n) + 1]
  i = i + step
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r[2]}, r[1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "non2xx": %d, "errors": %d, "p50_us": %d, "p99_us": %d, '
    .. '"duration_us": %d}\\n', summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""
    )


def transactions() -> int:
    with psycopg.connect(DB, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0])


def _stat(pid: str) -> tuple[str, list[str]] | None:
    """A process's name and the fields of /proc/<pid>/stat after it (None when it has ended)."""
    try:
        name, fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except OSError:
        return None
    return name.split("(", 1)[1], fields.split()


def _seconds(fields: list[str], *, ended_children: bool = False) -> float:
    """User and system CPU seconds of a /proc stat (and of the children it waited for)."""
    ticks = fields[11:15] if ended_children else fields[11:13]
    return sum(int(tick) for tick in ticks) / os.sysconf("SC_CLK_TCK")


def workers_cpu(master: int) -> float:
    """CPU seconds (user and system) the gunicorn workers of `master` have used so far."""
    try:
        pids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return float("nan")
    return sum(_seconds(stat[1]) for pid in pids if (stat := _stat(pid)) is not None)


def database_cpu() -> float:
    """CPU seconds (user and system) every PostgreSQL process on this machine has used so far: the backends
    of the servers' connections and the writers behind them, alive or ended (an ended backend's time is
    counted in the postmaster's, which waited for it; a connection lives CONN_MAX_AGE)."""
    stats = (_stat(proc.name) for proc in Path("/proc").iterdir() if proc.name.isdigit())
    return sum(_seconds(stat[1], ended_children=True) for stat in stats if stat is not None and stat[0] == "postgres")


def drive(port: int, path: str, numbers: list[str], seconds: int, scripts: Path) -> dict:
    script = scripts / f"{port}-{uuid.uuid4().hex[:8]}.lua"
    script.write_text(lua_script(path, numbers, max(20_000, 2_500 * seconds)))
    result = subprocess.run(
        ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}", "--", str(THREADS)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    script.unlink()
    line = next(line for line in result.stdout.splitlines() if line.startswith("BENCH "))
    figures = json.loads(line[len("BENCH ") :])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="roulette-bench-") as tmp:
        tmp = Path(tmp)
        numbers = build_datasets(tmp)
        servers = {
            "ours, 10,000 teams": (PORT, "roulette.wsgi", "large", "/telephony/voice/incoming/", numbers["large"]),
            "bare, 10,000 teams": (PORT + 1, "bench_wsgi", "large", "/telephony/voice/bare/", numbers["large"]),
            "ours, 1 team": (PORT + 2, "roulette.wsgi", "small", "/telephony/voice/incoming/", numbers["small"]),
        }
        processes = [start_server(name, port, wsgi, schema) for name, (port, wsgi, schema, _, _) in servers.items()]
        masters = {name: process.pid for name, process in zip(servers, processes, strict=True)}
        try:
            for port, _, _, path, nums in servers.values():
                drive(port, path, nums, 2, tmp)  # warm-up: imports, connections, caches
            results: dict[str, list[dict]] = {name: [] for name in servers}
            for round_number in range(ROUNDS):
                for name, (port, _, _, path, nums) in servers.items():
                    # The first round also counts statements (waiting for idle backends to report).
                    counting = round_number == 0
                    if counting:
                        time.sleep(STATS_SETTLE_SECONDS)
                        before = transactions()
                    cpu_started, db_started = workers_cpu(masters[name]), database_cpu()
                    figures = drive(port, path, nums, SECONDS, tmp)
                    # The workers' own CPU per answered request, and the database's.
                    answered = max(figures["requests"], 1)
                    figures["cpu_ms"] = (workers_cpu(masters[name]) - cpu_started) * 1000 / answered
                    figures["db_cpu_ms"] = (database_cpu() - db_started) * 1000 / answered
                    if counting:
                        time.sleep(STATS_SETTLE_SECONDS)
                        statements = (transactions() - before) / max(figures["requests"], 1)
                    figures["statements"] = statements if counting else results[name][0]["statements"]
                    results[name].append(figures)
                    print(
                        f"round {round_number + 1} {name}: {figures['rps']:.0f} req/s,"
                        f" p50 {figures['p50_us'] / 1000:.1f} ms, p99 {figures['p99_us'] / 1000:.1f} ms,"
                        f" {figures['statements']:.2f} statements/call, {figures['cpu_ms']:.2f} ms CPU/call,"
                        f" database {figures['db_cpu_ms']:.2f} ms CPU/call,"
                        f" non-2xx {figures['non2xx']}, errors {figures['errors']}",
                        flush=True,
                    )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    report(results)


def report(results: dict[str, list[dict]]) -> None:
    def median(name, key):
        return statistics.median(r[key] for r in results[name])

    print(f"\nIncoming call, gunicorn -w {WORKERS}, wrk -t{THREADS} -c{CONNECTIONS}, medians of {ROUNDS} × {SECONDS} s")
    print(f"| {'server':<20} | req/s | p50 ms | p99 ms | statements/call | worker CPU ms/call | database CPU ms/call |")
    print(f"|{'-' * 22}|-------|--------|--------|-----------------|--------------------|----------------------|")
    for name in results:
        print(
            f"| {name:<20} | {median(name, 'rps'):5.0f} | {median(name, 'p50_us') / 1000:6.1f} |"
            f" {median(name, 'p99_us') / 1000:6.1f} | {median(name, 'statements'):15.2f} |"
            f" {median(name, 'cpu_ms'):18.2f} | {median(name, 'db_cpu_ms'):20.2f} |"
        )
    ours, bare, small = "ours, 10,000 teams", "bare, 10,000 teams", "ours, 1 team"
    # Each round's pair ran one after the other: on a machine whose load drifts, the ratio of each pair
    # is the steadier figure; both are printed.
    paired = [o["rps"] / b["rps"] for o, b in zip(results[ours], results[bare], strict=True)]
    print(
        f"\nratio ours / bare (req/s): median of the rounds' pairs {statistics.median(paired):.2f}"
        f" ({', '.join(f'{r:.2f}' for r in paired)}); of the medians {median(ours, 'rps') / median(bare, 'rps'):.2f}"
    )
    print(f"p99 / p50 (ours): {median(ours, 'p99_us') / median(ours, 'p50_us'):.2f}")
    print(
        f"flatness: p50 at 10,000 teams / at 1 team: {median(ours, 'p50_us') / median(small, 'p50_us'):.2f};"
        f" req/s at 10,000 teams / at 1 team: {median(ours, 'rps') / median(small, 'rps'):.2f}"
    )
    bad = sum(r["non2xx"] + r["errors"] for rs in results.values() for r in rs)
    if bad:
        print(f"WARNING: {bad} requests failed or answered non-2xx", file=sys.stderr)


if __name__ == "__main__":
    main()
