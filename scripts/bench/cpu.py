#!/usr/bin/env python
"""CPU time per incoming call in one process, ours against the bare baseline: the Python cost that `make bench`
measures through gunicorn and wrk, without the network and robust on a loaded machine (time.process_time).

Each request goes through Django's WSGI handler with the bench's settings (scripts/bench/bench_settings.py:
the project's middleware and URLs plus the bare view), signed as Twilio signs it, with a fresh CallSid, on
the database of DATABASE_URL (a data set of scripts/bench/dataset.py; the numbers called are read from it).

    DATABASE_URL=postgres://…/roulette_bench?options=-c%20search_path%3Dsmall \
        PYTHONPATH=.:scripts/bench python scripts/bench/cpu.py [requests] [--profile ours|bare]

Prints the CPU milliseconds per request of each (best of BENCH_CPU_ROUNDS rounds, interleaved) and their
difference; `--profile ours|bare` prints pyinstrument's call tree of one of them instead (wall clock;
`pip install pyinstrument`, not a project dependency).
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
import urllib.parse
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("TWILIO_AUTH_TOKEN", "bench-auth-token")
os.environ.setdefault("PUBLIC_BASE_URL", "https://bench.example.com")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from django.core.wsgi import get_wsgi_application  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

application = get_wsgi_application()

from django.conf import settings  # noqa: E402

from teams.models import SupportNumber  # noqa: E402

CALLER = "+4915112345678"
PATHS = {"ours": "/telephony/voice/incoming/", "bare": "/telephony/voice/bare/"}


def environ_for(path: str, to: str) -> dict:
    params = {
        "AccountSid": "AC" + "b" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": "CA" + uuid.uuid4().hex,
        "CallStatus": "ringing",
        "Called": to,
        "Caller": CALLER,
        "Direction": "inbound",
        "From": CALLER,
        "To": to,
    }
    body = urllib.parse.urlencode(params).encode()
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(settings.PUBLIC_BASE_URL + path, params)
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_TWILIO_SIGNATURE": signature,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def backend_cpu() -> tuple[int, float | None]:
    """The PostgreSQL backend serving this process and the CPU seconds it has used (None if it runs
    elsewhere)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return pid, None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fire(environs: list[dict]) -> tuple[float, float | None]:
    """CPU seconds per request for these requests (ours, and the database backend's), each answered and
    its body read as a server would."""

    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            raise SystemExit(f"answered {status}")

    pid_started, database_started = backend_cpu()
    started = time.process_time()
    for environ in environs:
        result = application(environ, start_response)
        b"".join(result)
        if hasattr(result, "close"):
            result.close()
    python = (time.process_time() - started) / len(environs)
    pid_ended, database_ended = backend_cpu()
    # A new connection in between (CONN_MAX_AGE passed): another backend, no figure for this batch.
    if database_started is None or database_ended is None or pid_started != pid_ended:
        database = None
    else:
        database = (database_ended - database_started) / len(environs)
    return python, database


def main() -> None:
    args = sys.argv[1:]
    profile = None
    if "--profile" in args:
        profile = args[args.index("--profile") + 1]
        del args[args.index("--profile") : args.index("--profile") + 2]
    only = None
    if "--only" in args:  # scripts/bench/instructions.py: these requests of one server, nothing printed
        only = args[args.index("--only") + 1]
        del args[args.index("--only") : args.index("--only") + 2]
    # scripts/bench/instructions.py: the same requests built, none sent (what building them costs).
    unsent = "--unsent" in args
    if unsent:
        args.remove("--unsent")
    count = int(args[0]) if args else 2000
    random.seed(int(os.environ.get("BENCH_SEED", "15")))
    numbers = list(SupportNumber.objects.values_list("phone_number", flat=True)[:10_000])
    make = {
        name: (lambda n, path=path: [environ_for(path, random.choice(numbers)) for _ in range(n)])
        for name, path in PATHS.items()
    }
    if only:
        fire(make[only](50))
        environs = make[only](count)
        if not unsent:
            fire(environs)
        return
    for name in PATHS:
        fire(make[name](200))  # warm-up: imports, connection, prepared statements
    if profile:
        from pyinstrument import Profiler  # pip install pyinstrument (not a project dependency)

        environs = make[profile](count)
        profiler = Profiler(interval=0.0001)
        profiler.start()
        fire(environs)
        profiler.stop()
        print(profiler.output_text(unicode=False, show_all=False, timeline=False))
        return
    best = {name: float("inf") for name in PATHS}
    database = {name: float("inf") for name in PATHS}
    for _ in range(int(os.environ.get("BENCH_CPU_ROUNDS", "5"))):
        for name in PATHS:
            python, backend = fire(make[name](count))
            best[name] = min(best[name], python)
            database[name] = min(database[name], backend if backend is not None else float("nan"))
    for name, seconds in best.items():
        print(f"{name}: {seconds * 1000:.3f} ms CPU per request; the database backend {database[name] * 1000:.3f} ms")
    print(f"ours - bare: {(best['ours'] - best['bare']) * 1000:.3f} ms; bare / ours: {best['bare'] / best['ours']:.2f}")


if __name__ == "__main__":
    main()
